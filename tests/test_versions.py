"""The supported versions: pyproject.toml's lower bounds, requirements-min.txt (what CI's minimum
leg installs) and elmo_lib.versions (what `import elmo_lib` checks) say the same thing, and an
environment older than the bounds gets one clear ImportError at import."""

import importlib.util
import pathlib
import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest

from elmo_lib import versions

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(,.*)?", requirement.replace(" ", ""))
        assert match, f"every dependency has a lower bound: {requirement}"
        bounds[match.group(1).lower()] = match.group(2)
    return bounds


def test_checked_minimums_are_pyprojects_lower_bounds():
    bounds = _lower_bounds()
    assert versions.MINIMUM_VERSIONS == {name: bounds[name] for name in versions.MINIMUM_VERSIONS}


def _tool():
    spec = importlib.util.spec_from_file_location("min_requirements",
                                                  ROOT / "tools" / "min_requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requirements_min_is_generated_from_pyproject():
    """Regenerate with `python tools/min_requirements.py` after changing a bound."""
    assert (ROOT / "requirements-min.txt").read_text() == _tool().render()


def test_requirements_min_pins_every_lower_bound_exactly():
    pins = dict(line.split("==") for line in (ROOT / "requirements-min.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for name, lower in _lower_bounds().items():
        assert pins[name] == lower, name
    # tf-keras (TF Hub's Keras 2) is released in step with TensorFlow: same major.minor.
    assert pins["tf-keras"].split(".")[:2] == pins["tensorflow"].split(".")[:2]


def _fake(found: dict[str, str]):
    def version_of(distribution: str) -> str:
        if distribution in found:
            return found[distribution]
        raise metadata.PackageNotFoundError(distribution)
    return version_of


def test_minimum_versions_pass():
    versions.check_installed(_fake(dict(versions.MINIMUM_VERSIONS)))
    newer = {"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6"}
    versions.check_installed(_fake(newer))
    # TensorFlow installed under another distribution name (tensorflow-cpu) counts.
    versions.check_installed(_fake({**newer, "tensorflow-cpu": "2.21.0"}))


def test_older_versions_get_one_error_naming_them_and_the_upgrade_command():
    found = {**versions.MINIMUM_VERSIONS, "keras": "3.2.1", "tensorflow": "2.15.1"}
    with pytest.raises(ImportError) as error:
        versions.check_installed(_fake(found))
    message = str(error.value)
    minimum = versions.MINIMUM_VERSIONS
    assert "keras 3.2.1" in message and "tensorflow 2.15.1" in message
    assert f'pip install -U "tensorflow>={minimum["tensorflow"]}" "keras>={minimum["keras"]}"' in message
    assert "numpy" not in message  # only what is too old
    # a release candidate of an older version is older; one of the minimum's patch is not
    assert versions._at_least("2.16.1rc0", "2.16.1") and not versions._at_least("2.16.0", "2.16.1")


def test_import_elmo_lib_raises_the_error_when_keras_is_too_old():
    """In a fresh interpreter whose metadata reports Keras 3.2.1 (as a venv with keras==3.2.1
    would), `import elmo_lib` fails with that one ImportError and never reaches Keras."""
    code = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '3.2.1' if name == 'keras' else real(name)\n"
        "import sys\n"
        "try:\n"
        "    import elmo_lib\n"
        "except ImportError as error:\n"
        "    print(error)\n"
        "    print('keras imported:', 'keras' in sys.modules)\n"
        "    sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert "keras 3.2.1" in result.stdout and "pip install -U" in result.stdout
    assert "keras imported: False" in result.stdout


def test_ci_runs_the_minimum_leg_and_it_fails_on_an_empty_run():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("\nmake test\n") < ci.index("\nmake install-min") < ci.index("\nmake test-min")
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-min:", 1)[1].split("\n\n", 1)[0]
    # pytest exits 5 when it collects nothing: both calls are plain commands, so make fails on it.
    assert recipe.count("pytest") == 2 and "|| true" not in recipe
    assert not any(line.startswith("\t-") for line in recipe.splitlines())
    install = makefile.split("\n$(STAMP_MIN):", 1)[1].split("\n\n", 1)[0]
    assert "-r requirements-min.txt" in install and "--no-deps -e ." in install
    for lesson in ("02", "03", "05"):
        assert f"notebooks/{lesson}_*.ipynb" in makefile

"""Repository hygiene: environment.yml mirrors pyproject.toml, the lock file pins every
dependency, the CI script fails on an empty test run, no data files are tracked, and the repo
points only to its own files."""

import pathlib
import re
import subprocess
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements |= set(extra)
    return {r.replace(" ", "") for r in requirements}


def _environment_pip_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    entries = [line.strip()[2:] for line in lines[start + 1:] if line.startswith("      - ")]
    return {e.replace(" ", "") for e in entries if not e.startswith("-e")}


def test_environment_yml_mirrors_pyproject():
    assert _environment_pip_requirements() == _pyproject_requirements()


def test_lock_file_pins_every_dependency():
    pinned = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[name.lower().replace("_", "-")] = version
    for requirement in _pyproject_requirements():
        assert _name(requirement).replace("_", "-") in pinned, requirement


def test_ci_script_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make lab" in readme
    assert "set -euo pipefail" in ci
    makefile = (ROOT / "Makefile").read_text()
    # pytest exits 5 when it collects nothing; make fails on any non-zero exit, so both
    # pytest calls in `make test` are plain commands (no `|| true`, no `-` prefix).
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "pytest" in test_recipe and "|| true" not in test_recipe
    assert not any(line.startswith("\t-") for line in test_recipe.splitlines())


def _tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()


def _shipped_preset_files() -> set[str]:
    """The files that models/<preset>/preset.json lists: the one trained model the repo ships."""
    import json

    shipped = set()
    for manifest in (ROOT / "models").glob("*/preset.json"):
        files = json.loads(manifest.read_text())["files"]
        shipped |= {f"models/{manifest.parent.name}/{name}" for name in files}
    return shipped


def test_no_data_or_weights_tracked():
    """Datasets never; weights only as the files of a shipped preset's manifest."""
    tracked = _tracked()
    shipped = _shipped_preset_files()
    bad = [p for p in tracked
           if p.endswith((".tokens", ".conllu", ".hdf5", ".h5", ".keras")) and p not in shipped
           or p.startswith("data/") and p not in ("data/README.md", "data/manifest.json")]
    assert bad == []
    assert {p for p in shipped if p.endswith(".hdf5")} <= set(tracked)  # and they are committed


# House notes kept beside the repository, not in it (spelled in pieces so this file passes).
OUTSIDE_NOTES = re.compile(r"\b(" + "DESIGN" + "|" + "STYLE" + r")\.md\b")
TEXT_SUFFIXES = (".py", ".md", ".ipynb", ".toml", ".yml", ".txt", ".sh", ".json", ".cfg")


def test_no_reference_to_notes_outside_the_repo():
    """Readers get the repo's docs (docs/architecture.md, docs/contributing.md), never files
    that only exist next to the repository."""
    offenders = [path for path in _tracked() if (path.endswith(TEXT_SUFFIXES) or path == "Makefile")
                 and OUTSIDE_NOTES.search((ROOT / path).read_text(encoding="utf-8"))]
    assert offenders == []


def test_relative_markdown_links_resolve():
    link = re.compile(r"\]\(([^)\s]+)\)")
    documents = [p for p in _tracked()
                 if p.endswith(".md") or (p.startswith("notebooks/") and p.endswith(".py"))]
    broken = []
    for document in documents:
        for target in link.findall((ROOT / document).read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#") or "=" in target:
                continue  # URLs, in-page anchors, and code that happens to look like a link
            if not (ROOT / document).parent.joinpath(target.split("#")[0]).exists():
                broken.append(f"{document} -> {target}")
    assert broken == []


def _readme_results():
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_results",
                                                  ROOT / "tools" / "readme_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_result_tables_match_the_results_files():
    """The README's tables are generated from results/*.json (tools/readme_results.py)."""
    module = _readme_results()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.render(readme) == readme, "run tools/readme_results.py and commit README.md"


def test_readme_labels_for_seeds_and_dev_checks_read_as_english():
    module = _readme_results()
    assert module._seed_list([0, 1, 2, 3, 4]) == "seeds 0-4"
    assert module._seed_list([3]) == "seed 3" and module._seed_list([0, 2]) == "seeds 0, 2"
    assert module._seed_list(5) == "5 seeds"  # a count, as older results files stored it
    assert module._checks({"baseline": 1, "elmo_baseline": 1}) == "once a pass"
    assert module._checks({"baseline": 4, "elmo_baseline": 4}) == "4 times a pass"
    assert module._checks({"baseline": 1, "elmo_baseline": 4}) == (
        "once a pass (baseline), 4 times a pass (ELMo + baseline)")


def test_readme_spread_never_prints_a_nonzero_sd_as_zero():
    module = _readme_results()
    assert module._mean_sd({"mean": 0.6313, "sd": 0.00031}) == "63.1 ± 0.03"  # not "± 0.0"
    assert module._mean_sd({"mean": 0.8204, "sd": 0.0060}) == "82.0 ± 0.6"
    assert module._mean_sd({"mean": 0.5, "sd": 0.0}) == "50.0 ± 0.0"  # identical seeds
    assert module._mean_sd({"mean": 0.5, "sd": None}) == "50.0 (one seed)"

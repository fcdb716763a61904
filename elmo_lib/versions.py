"""The oldest TensorFlow, Keras and NumPy that elmo_lib works with, checked when it is imported.

``MINIMUM_VERSIONS`` equals the lower bounds in ``pyproject.toml`` (a test ties the two), and CI runs
the unit tests and lessons with exactly these versions (``make test-min``). An older environment
(an old Colab runtime, a venv made for another project) gets one ``ImportError`` that names the
versions found and the ``pip`` command that upgrades them, instead of a deep traceback later.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from importlib import metadata

# package -> oldest version tested (CI's minimum-versions leg); keep equal to pyproject.toml.
MINIMUM_VERSIONS = {
    "tensorflow": "2.19.0",
    "keras": "3.12.0",
    "numpy": "1.26.0",
}

# TensorFlow is published under several distribution names; the first one installed counts.
_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel",
                   "tf-nightly"),
    "keras": ("keras", "keras-nightly"),
    "numpy": ("numpy",),
}


def _release(version: str) -> tuple[int, ...]:
    """The leading numbers of a version: ``"2.16.1rc0"`` -> ``(2, 16, 1)``."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def _at_least(found: str, minimum: str) -> bool:
    found_parts, minimum_parts = _release(found), _release(minimum)
    width = max(len(found_parts), len(minimum_parts))
    return (found_parts + (0,) * (width - len(found_parts))
            >= minimum_parts + (0,) * (width - len(minimum_parts)))


def installed_version(package: str,
                      version_of: Callable[[str], str] = metadata.version) -> str | None:
    """The installed version of ``package`` (any of its distribution names), or ``None``."""
    for distribution in _DISTRIBUTIONS.get(package, (package,)):
        try:
            return version_of(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_installed(version_of: Callable[[str], str] = metadata.version) -> None:
    """Raise one ``ImportError`` if TensorFlow, Keras or NumPy is older than ``MINIMUM_VERSIONS``.

    Args:
        version_of: looks up a distribution's version (``importlib.metadata.version``; tests pass
            a fake).

    A package without metadata that can still be imported is not judged (its version is unknown);
    one that is neither installed nor importable is reported with the old ones.
    """
    problems = []
    for package, minimum in MINIMUM_VERSIONS.items():
        found = installed_version(package, version_of)
        if found is None:
            if importlib.util.find_spec(package) is None:
                problems.append((package, "not installed", minimum))
        elif not _at_least(found, minimum):
            problems.append((package, found, minimum))
    if not problems:
        return
    found_text = ", ".join(f"{package} {found}" for package, found, _ in problems)
    needed_text = ", ".join(f"{package}>={minimum}" for package, _, minimum in problems)
    command = "pip install -U " + " ".join(f'"{package}>={minimum}"'
                                           for package, _, minimum in problems)
    raise ImportError(
        f"elmo_lib needs {needed_text}, but this environment has {found_text}. Upgrade with\n"
        f"    {command}\n"
        "and restart Python (on Colab: Runtime > Restart session).")

"""Each lesson's key numbers as JSON, so every number quoted in a lesson or the README can be re-checked.

A lesson opens a :class:`LessonResults` in its setup cell (the clock starts), adds its numbers as it
computes them, and saves at the end::

    results = el.results.LessonResults("04_training_the_bilm")
    results["test_perplexity"] = {"forward": 139.9, "backward": 141.2}
    results.save()   # -> results/04_training_the_bilm.json

The file holds the numbers plus ``lesson``, ``quick`` (whether ``ELMO_QUICK=1``), ``date`` (UTC,
ISO 8601), ``wall_seconds`` (from the opening to ``save``) and ``machine`` (:func:`machine`).

Where files go: ``$ELMO_RESULTS_DIR`` if set (CI points it at a temporary directory), else, in
QUICK mode (``ELMO_QUICK=1``), ``<temp dir>/elmo_quick/results`` (so a QUICK run, in CI or in
``ELMO_QUICK=1 make lab``, never overwrites the committed full-run results), else
``<repo>/results`` for a source checkout
(found from this package's location, as :func:`elmo_lib.plotting.figures_dir` does), else
``./results``. The README's result tables are generated from these files
(``tools/readme_results.py``; a test fails when they disagree). Introduced in lesson 01.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import numpy as np


def results_dir() -> pathlib.Path:
    """The directory results are written to (created if missing); see the module docstring."""
    env = os.environ.get("ELMO_RESULTS_DIR")
    root = pathlib.Path(__file__).resolve().parents[1]
    if env:
        path = pathlib.Path(env)
    elif os.environ.get("ELMO_QUICK") == "1":  # a QUICK run never overwrites the full run's files
        path = pathlib.Path(tempfile.gettempdir()) / "elmo_quick" / "results"
    elif (root / "results").is_dir() or (root / "pyproject.toml").is_file():
        path = root / "results"
    else:
        path = pathlib.Path.cwd() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """What ran the lesson: CPU model, cores, AVX-512 or not, OS, Python/TensorFlow/Keras versions.

    Imports TensorFlow and Keras only if they are already loaded (a lesson that never used them
    records ``None``).
    """
    import sys

    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        pass
    tf_module, keras_module = sys.modules.get("tensorflow"), sys.modules.get("keras")
    gpus = []
    if tf_module is not None:
        gpus = [device.name for device in tf_module.config.list_physical_devices("GPU")]
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "avx512": "avx512f" in flags.split(),
        "gpus": gpus,
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": getattr(tf_module, "__version__", None),
        "keras": getattr(keras_module, "__version__", None),
    }


def _plain(value: Any) -> Any:
    """NumPy scalars/arrays and tuples -> JSON types (floats stay floats, ints stay ints)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            raise ValueError(f"results must be finite numbers, received {value!r}")
        return float(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to a results file")


class LessonResults(dict):
    """A lesson's key numbers; :meth:`save` writes them to ``results/<lesson>.json``.

    A ``dict`` (set numbers with ``results[key] = value`` or ``update``) that remembers when it was
    opened. Values may be numbers, strings, lists and nested dicts (NumPy scalars and arrays are
    converted); NaN and infinity raise ``ValueError`` on save.

    Args:
        lesson: the notebook's name without ``.ipynb``, e.g. ``"04_training_the_bilm"``.
        directory: where to write (default :func:`results_dir`).

    Raises:
        ValueError: ``lesson`` is not ``NN_slug`` (two digits, an underscore, a name).
    """

    def __init__(self, lesson: str, directory: str | os.PathLike | None = None):
        super().__init__()
        parts = lesson.split("_", 1)
        if len(parts) != 2 or not (parts[0].isdigit() and len(parts[0]) == 2) or not parts[1]:
            raise ValueError(f"`lesson` must look like '04_training_the_bilm', received {lesson!r}")
        self.lesson = lesson
        self.directory = pathlib.Path(directory) if directory is not None else None
        self.started = time.monotonic()

    @property
    def path(self) -> pathlib.Path:
        return (self.directory or results_dir()) / f"{self.lesson}.json"

    def save(self) -> pathlib.Path:
        """Write the JSON file (atomically: a temporary file, then a rename) and return its path."""
        record = {
            "lesson": self.lesson,
            "quick": os.environ.get("ELMO_QUICK") == "1",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(time.monotonic() - self.started, 1),
            "machine": machine(),
            **_plain(dict(self)),
        }
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def measured_on(lesson: str, directory: str | os.PathLike | None = None) -> str:
    """One line saying what ran ``lesson`` and how long it took, from its results file.

    e.g. ``"Measured on: Intel Xeon (2 cores, AVX-512, no GPU), TensorFlow 2.21.0, 2026-11-30:
    full run 412 s."`` Lessons print it in their last cell.
    """
    record = load(lesson, directory)
    info = record["machine"]
    features = [f"{info['cores']} cores", "AVX-512" if info.get("avx512") else "no AVX-512",
                ", ".join(info["gpus"]) if info.get("gpus") else "no GPU"]
    mode = "QUICK run" if record.get("quick") else "full run"
    versions = f", TensorFlow {info['tensorflow']}" if info.get("tensorflow") else ""
    return (f"Measured on: {info['cpu']} ({', '.join(features)}){versions}, "
            f"{record['date'][:10]}: {mode} {record['wall_seconds']:.0f} s.")


def load(lesson: str, directory: str | os.PathLike | None = None) -> dict:
    """The saved results of ``lesson`` (e.g. ``"05_elmo_representations"``).

    Raises:
        FileNotFoundError: no results file for that lesson (the message names the path).
    """
    path = pathlib.Path(directory or results_dir()) / f"{lesson}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the lesson {lesson} in full to write it")
    return json.loads(path.read_text(encoding="utf-8"))


def find(lesson: str) -> dict | None:
    """The results of ``lesson`` from the current results directory (:func:`results_dir`), else
    the copy committed in this repository's ``results/`` (a QUICK run writes elsewhere), else
    ``None`` (e.g. a pip-installed library on Colab before that lesson ran). A lesson that quotes
    another lesson's numbers reads them with this (lesson 06 quotes lesson 05's probe)."""
    committed = pathlib.Path(__file__).resolve().parents[1] / "results"
    for directory in (results_dir(), committed):
        if (directory / f"{lesson}.json").exists():
            return load(lesson, directory)
    return None

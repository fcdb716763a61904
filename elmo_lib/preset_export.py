"""Export a run directory of ``train.train_bilm`` as a shipped preset (see :mod:`elmo_lib.presets`).

- :func:`export_preset`    the run -> ``models/<dir>``: bilm-tf files, softmax, vocabulary, records,
  model card and ``preset.json``; swapped in atomically
- :func:`update_registry`  add or replace its entry in ``elmo_lib/presets.json`` (atomically)

Both are re-exported by :mod:`elmo_lib.presets`; ``scripts/export_preset.py`` calls them. Lesson 04.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

from elmo_lib import atomic
from elmo_lib.presets import (
    MANIFEST,
    REGISTRY_FILE,
    SOFTMAX_FILE,
    read_registry,
    sha256_file,
    verify_preset,
)

_COPIED = ("config.json", "history.json", "perplexity.json", "run.json")


def _copy_json(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy a run's JSON file; absolute paths in its top-level "output" and "command" become their
    last part (no path of the training machine goes into a committed preset)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    for key in ("output", "command"):
        if isinstance(data, dict) and isinstance(data.get(key), str):
            data[key] = " ".join(pathlib.Path(word).name if os.path.isabs(word) else word
                                 for word in data[key].split(" "))
    atomic.write_text(target, json.dumps(data, indent=1) + "\n")


def _write_softmax(trainer, path: pathlib.Path) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "w") as handle:
        handle.create_dataset("softmax/W", data=np.asarray(trainer.softmax.kernel, np.float32))
        handle.create_dataset("softmax/b", data=np.asarray(trainer.softmax.bias, np.float32))


def export_preset(run_dir: str | os.PathLike, preset_dir: str | os.PathLike, *, name: str,
                  description: str = "", weights: str = "best.weights.h5",
                  dataset: str = "wikitext-2", training_command: str | None = None,
                  machine: str | None = None, registry: str | os.PathLike | None = REGISTRY_FILE,
                  overwrite: bool = False, max_megabytes: float = 30.0) -> dict:
    """Turn a run directory of :func:`elmo_lib.train.train_bilm` into a shipped preset.

    Writes the files listed in this module's docstring into a temporary sibling of ``preset_dir``
    and renames it into place, so a failed export leaves nothing behind; with ``overwrite`` the
    old preset is renamed aside first and deleted last (a kill leaves the old or the new preset;
    the next export puts an old one left aside back and deletes temporaries of killed exports).
    Then adds or replaces the preset's entry in the registry, written atomically
    (``registry=None``: leave it alone).

    Args:
        run_dir: the run directory (``config.json``, ``vocab.txt``, ``best.weights.h5``, ...).
        preset_dir: the new preset directory, normally ``models/<directory>``.
        name: the preset name (``BiLMEncoder.from_preset(name)``).
        description: its one-line description in :func:`list_presets`.
        weights: the run's weights file to export.
        dataset: the training data, for the model card (``elmo_lib.model_card.DATASETS``).
        training_command: the exact training command (default: ``run.json``'s, if recorded).
        machine: the training machine (default: ``run.json``'s, if recorded).
        registry: the registry file to update.
        overwrite: replace an existing ``preset_dir``.
        max_megabytes: refuse to write a preset bigger than this (it is committed to git).

    Returns:
        the manifest (``preset.json``) as a dict.

    Raises:
        FileExistsError: ``preset_dir`` exists and ``overwrite`` is False.
        FileNotFoundError / ValueError: from :func:`elmo_lib.train.load_trained`, or the preset
            would be bigger than ``max_megabytes``.
    """
    from elmo_lib import interop, model_card, train

    run_dir, preset_dir = pathlib.Path(run_dir), pathlib.Path(preset_dir)
    if preset_dir.exists() and not overwrite:
        raise FileExistsError(f"{preset_dir} exists; pass overwrite=True (--overwrite) to replace")
    trainer, vocab = train.load_trained(run_dir, weights=weights)
    preset_dir.parent.mkdir(parents=True, exist_ok=True)
    atomic.restore_aside(preset_dir)  # a killed swap left the old preset aside: put it back
    atomic.clean_stale(preset_dir.parent)  # temporary directories of killed exports
    tmp = atomic.temporary_name(preset_dir)
    tmp.mkdir(mode=0o700)
    try:
        interop.save_bilm_tf(trainer, tmp)
        _write_softmax(trainer, tmp / SOFTMAX_FILE)
        vocab.save(tmp / "vocab.txt")
        for file in _COPIED:
            if (run_dir / file).is_file():
                _copy_json(run_dir / file, tmp / file)
        card = model_card.write_model_card(
            tmp, trainer=trainer, name=name, description=description, dataset=dataset,
            training_command=training_command, machine=machine, weights=weights)
        files = {path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
                 for path in sorted(tmp.iterdir())}
        total = sum(entry["bytes"] for entry in files.values())
        if total > max_megabytes * 1e6:
            raise ValueError(f"the preset would take {total / 1e6:.1f} MB, more than "
                             f"max_megabytes={max_megabytes} (files: "
                             f"{ {k: v['bytes'] for k, v in files.items()} })")
        manifest = {"name": name, "description": description, "format": 1,
                    "weights": weights, "config": trainer.config.to_dict(),
                    "parameters": card["parameters"], "files": files}
        atomic.write_text(tmp / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        for path in tmp.iterdir():  # temporary files are private (0600): these are published
            path.chmod(0o644)
        tmp.chmod(0o755)
        for path in tmp.iterdir():
            atomic.fsync_file(path)
        atomic.replace_directory(tmp, preset_dir)  # old aside, new in, old deleted
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if registry is not None:
        update_registry(registry, name, preset_dir, description)
    return manifest


def update_registry(registry: str | os.PathLike, name: str, preset_dir: str | os.PathLike,
                    description: str = "") -> dict:
    """Add or replace ``name`` in the registry file with the files (and sha256) of ``preset_dir``,
    including ``preset.json`` itself; returns the entry."""
    preset_dir = pathlib.Path(preset_dir)
    manifest = verify_preset(preset_dir)
    files = dict(manifest["files"])
    files[MANIFEST] = {"sha256": sha256_file(preset_dir / MANIFEST),
                       "bytes": (preset_dir / MANIFEST).stat().st_size}
    entry = {"directory": preset_dir.name, "description": description or manifest["description"],
             "files": files}
    path = pathlib.Path(registry)
    data = read_registry(path) if path.exists() else {"presets": {}}
    data["presets"][name] = entry
    data["presets"] = dict(sorted(data["presets"].items()))
    atomic.write_text(path, json.dumps(data, indent=1) + "\n")
    return entry

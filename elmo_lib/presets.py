"""Pretrained biLMs by name, in KerasHub's ``from_preset`` idiom.

- :func:`list_presets`      every preset name with a one-line description
- :func:`resolve_preset`    a name or directory -> the local directory holding the preset's files
- :func:`load_encoder` / :func:`load_trainer` / :func:`load_vocabulary`  what the
  ``from_preset`` classmethods of ``BiLMEncoder``, ``BiLMTrainer`` and ``ELMo`` return
- :func:`export_preset`     a run directory of ``train.train_bilm`` -> a shipped preset (see
  ``scripts/export_preset.py``); :func:`verify_preset` checks one against its manifest

A shipped preset is a directory under the repository's ``models/``: the encoder in bilm-tf's format
(``options.json`` + ``weights.hdf5``, readable by AllenNLP and :func:`elmo_lib.interop.load_bilm_tf`),
the shared softmax in ``softmax.hdf5`` (bilm-tf's names ``softmax/W`` ``[V, P]`` and ``softmax/b``
``[V]``), ``vocab.txt``, ``config.json`` (the full ``BiLMConfig``), the training records
(``history.json``, ``perplexity.json``, ``run.json`` when the run wrote them), ``MODEL_CARD.md``
(:mod:`elmo_lib.model_card`) and ``preset.json``, the manifest: name, description, config and the
sha256 and size of every other file. The package-side registry ``elmo_lib/presets.json`` (package
data) lists each shipped preset's files and sha256, so an elmo_lib installed without the repository
downloads them from GitHub and verifies them.

Introduced in lesson 04 (the lessons' biLM, shipped under ``models/``) and lesson 07 (the published
AllenNLP models).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import urllib.parse

# GitHub "owner/name" of this repository. The one place it is written down: the Colab badge and the
# Colab install cell of every lesson (checked by tests/test_notebooks.py) and the download of the
# shipped biLM when elmo_lib was pip-installed without the repository all use this value.
REPOSITORY = "elmo-keras-lessons/elmo-keras-lessons"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"
# Where the files of models/ are served from (overridden by the ELMO_PRESETS_URL env var or the
# `base_url` arguments, e.g. by the tests' local HTTP server).
MODELS_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/models"
MODELS_DIR_ENV = "ELMO_MODELS_DIR"
PRESETS_URL_ENV = "ELMO_PRESETS_URL"
REGISTRY_FILE = pathlib.Path(__file__).with_name("presets.json")
MANIFEST = "preset.json"
SOFTMAX_FILE = "softmax.hdf5"
CACHE_SUBDIR = "elmo_lib_presets"  # under Keras' cache (~/.keras)

_ALLENNLP = "https://s3-us-west-2.amazonaws.com/allennlp/models/elmo"


def _allennlp(stem: str, description: str) -> dict:
    base = f"{_ALLENNLP}/{stem}/elmo_{stem}"
    return {"description": description, "options": f"{base}_options.json",
            "weights": f"{base}_weights.hdf5", "sha256": None}


# The published AllenNLP/bilm-tf models (Peters et al. 2018; allennlp.org/elmo), encoder only: no
# softmax or vocabulary was published with them. Their sha256 are not known here (this repo was
# built offline), so they are recorded as None and these downloads are NOT checksum-verified.
ALLENNLP_PRESETS = {
    "allennlp_small": _allennlp("2x1024_128_2048cnn_1xhighway",
                                "AllenNLP ELMo small: 13.6M weights, ELMo vectors 256 wide"),
    "allennlp_medium": _allennlp("2x2048_256_2048cnn_1xhighway",
                                 "AllenNLP ELMo medium: 28.0M weights, vectors 512 wide"),
    "allennlp_original": _allennlp("2x4096_512_2048cnn_2xhighway",
                                   "AllenNLP ELMo original: 93.6M weights, vectors 1024 wide"),
    "allennlp_original_5.5B": _allennlp(
        "2x4096_512_2048cnn_2xhighway_5.5B",
        "AllenNLP ELMo original trained on 5.5B tokens: 93.6M weights, vectors 1024 wide"),
}


# ----------------------------------------------------------------------------------------------
# Registry and resolution
# ----------------------------------------------------------------------------------------------
def read_registry(path: str | os.PathLike | dict | None = None) -> dict:
    """The registry of shipped presets: ``{"presets": {name: {"directory", "description",
    "files": {file: {"sha256", "bytes"}}}}}`` (default: ``elmo_lib/presets.json``; a dict is
    returned as it is)."""
    if isinstance(path, dict):
        return {"presets": {}, **path}
    path = pathlib.Path(path or REGISTRY_FILE)
    if not path.exists():
        return {"presets": {}}
    try:
        registry = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    registry.setdefault("presets", {})
    return registry


def list_presets(registry: str | os.PathLike | dict | None = None) -> dict[str, str]:
    """Every preset name -> a one-line description: the shipped ones, then AllenNLP's.

    Example:
        >>> for name, description in el.presets.list_presets().items():
        ...     print(f"{name:24} {description}")
    """
    shipped = {name: entry.get("description", "")
               for name, entry in read_registry(registry)["presets"].items()}
    published = {name: entry["description"] + " (encoder only; download not checksum-verified)"
                 for name, entry in ALLENNLP_PRESETS.items()}
    return {**shipped, **published}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file (:func:`elmo_lib.download.sha256_of`, the datasets' checksum too)."""
    from elmo_lib.download import sha256_of

    return sha256_of(path)


def _repo_models_dir() -> pathlib.Path | None:
    """``models/`` of the repository this package sits in (a clone or an editable install)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root / "models"
    return None


def models_dirs() -> list[pathlib.Path]:
    """Directories searched for shipped presets: ``$ELMO_MODELS_DIR``, then the repo's ``models/``."""
    dirs = []
    if os.environ.get(MODELS_DIR_ENV):
        dirs.append(pathlib.Path(os.environ[MODELS_DIR_ENV]))
    repo = _repo_models_dir()
    if repo is not None:
        dirs.append(repo)
    return dirs


def _check_files(directory: pathlib.Path, files: dict, what: str) -> None:
    """Every file listed exists in ``directory`` with its sha256 (ValueError naming the first bad)."""
    for name, entry in files.items():
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"{what}: {path} is missing")
        found = sha256_file(path)
        if entry.get("sha256") and found != entry["sha256"]:
            raise ValueError(f"{what}: {path} has sha256 {found}, expected {entry['sha256']} "
                             "(a corrupt or changed file)")


def verify_preset(directory: str | os.PathLike) -> dict:
    """Check every file of a preset directory against its ``preset.json``; return the manifest.

    Raises:
        FileNotFoundError: ``preset.json`` or a file it lists is missing.
        ValueError: a file's sha256 differs from the manifest's (the message names the file).
    """
    directory = pathlib.Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: {directory} is not a preset directory "
                                "(written by elmo_lib.presets.export_preset)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    _check_files(directory, manifest["files"], f"preset {manifest.get('name', directory.name)!r}")
    return manifest


def _download(entry: dict, base_url: str, cache_dir) -> pathlib.Path:
    """Fetch every file of a registry entry into Keras' cache, each checked against its sha256."""
    import keras

    subdir = f"{CACHE_SUBDIR}/{entry['directory']}"
    if cache_dir is not None:  # Keras falls back to /tmp/.keras when it cannot write there
        pathlib.Path(cache_dir).mkdir(parents=True, exist_ok=True)
    target = None
    for file, info in entry["files"].items():
        url = f"{base_url.rstrip('/')}/{urllib.parse.quote(entry['directory'])}/{file}"
        found = None
        for force in (False, True):  # a cached file that fails the check is downloaded again
            try:
                path = keras.utils.get_file(fname=file, origin=url, cache_dir=cache_dir,
                                            cache_subdir=subdir, force_download=force)
            except Exception as error:  # urllib/Keras raise several types: name the URL anyway
                raise OSError(f"{url}: download failed ({type(error).__name__}: {error})"
                              ) from error
            found = sha256_file(path)
            if found == info["sha256"]:
                break
        if found != info["sha256"]:
            os.remove(path)  # never leave a file that failed its check in the cache
            raise ValueError(f"{url}: sha256 {found} does not match the registry's "
                             f"{info['sha256']}; the downloaded file was deleted")
        target = pathlib.Path(path).parent
    return target


def resolve_preset(name_or_dir: str | os.PathLike, *, base_url: str | None = None,
                   cache_dir: str | os.PathLike | None = None,
                   registry: str | os.PathLike | dict | None = None) -> pathlib.Path:
    """The local directory of a shipped preset, found (or downloaded) and verified.

    Resolution order:

    1. ``name_or_dir`` is a directory: used as it is (checked against its ``preset.json``).
    2. A name in the registry (or a directory name under ``models/``): ``$ELMO_MODELS_DIR/<dir>``,
       then the repository's ``models/<dir>`` (present in a clone or editable install).
    3. A registry name not found locally: every file is downloaded from
       ``<base_url>/<dir>/<file>`` (default :data:`MODELS_URL` on raw.githubusercontent.com, or
       ``$ELMO_PRESETS_URL``) with ``keras.utils.get_file`` into Keras' cache, and its sha256
       checked against the registry; a file that fails the check is deleted.

    Args:
        name_or_dir: a preset name (``list_presets()``) or a preset directory.
        base_url: where ``models/`` is served (tests use a local server).
        cache_dir: Keras' cache root (default ``~/.keras``).
        registry: a registry dict or file (default ``elmo_lib/presets.json``).

    Returns:
        the directory holding the preset's files.

    Raises:
        ValueError: the name is unknown (the message lists the known presets and every place
            looked in), a file's sha256 is wrong, or ``name_or_dir`` is an AllenNLP preset (those
            have no preset directory: use :func:`load_encoder`).
        FileNotFoundError / OSError: a file is missing or a download failed; the message names the
            preset, every directory and URL tried, and what failed.
    """
    path = pathlib.Path(name_or_dir)
    if path.is_dir():
        verify_preset(path)
        return path
    name = os.fspath(name_or_dir)
    if name in ALLENNLP_PRESETS:
        raise ValueError(f"preset {name!r} is a published AllenNLP model: it has no preset "
                         "directory (options.json + weights.hdf5 by URL); use "
                         "elmo_lib.presets.load_encoder or BiLMEncoder.from_preset")
    registry = read_registry(registry)
    entries = registry["presets"]
    entry = entries.get(name) or next(
        (e for e in entries.values() if e.get("directory") == name), None)
    directory = entry["directory"] if entry else name
    tried = [f"{path} (not a directory)"]
    for models in models_dirs():
        candidate = models / directory
        if (candidate / MANIFEST).is_file():
            files = entry["files"] if entry else verify_preset(candidate)["files"]
            _check_files(candidate, files, f"preset {name!r}")
            return candidate
        tried.append(f"{candidate} (absent)")
    if not os.environ.get(MODELS_DIR_ENV):
        tried.append(f"${MODELS_DIR_ENV} (unset)")
    if entry is None:
        known = ", ".join(sorted(list_presets(registry)))
        raise ValueError(f"unknown preset {name!r}; known presets: {known}. Looked in: "
                         + "; ".join(tried))
    base_url = base_url or os.environ.get(PRESETS_URL_ENV) or MODELS_URL
    try:
        return _download(entry, base_url, cache_dir)
    except (OSError, ValueError) as error:
        raise type(error)(f"preset {name!r}: not found locally (looked in: {'; '.join(tried)}) "
                          f"and the download from {base_url}/{directory}/ failed: {error}"
                          ) from error


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
def _read_config(directory: pathlib.Path):
    from elmo_lib.bilm import BiLMConfig

    config = BiLMConfig.from_dict(json.loads((directory / "config.json").read_text()))
    options = json.loads((directory / "options.json").read_text())
    expected = json.loads(json.dumps(config.to_options()))
    if options != expected:
        diff = sorted(k for k in set(options) | set(expected) if options.get(k) != expected.get(k))
        raise ValueError(f"{directory}: options.json and config.json describe different models "
                         f"(keys that differ: {diff})")
    return config


def load_encoder(name_or_dir: str | os.PathLike, **kwargs):
    """The inference encoder of a preset: :func:`elmo_lib.bilm.build_encoder`'s functional model.

    char ids ``int32 [B, T, C]`` in, ``{"word_emb" [B, T, P], "lstm_outputs{k}" [B, T, 2P],
    "mask" bool [B, T]}`` out (float32). AllenNLP presets are read by URL through
    :func:`elmo_lib.interop.load_bilm_tf` (downloaded into Keras' cache, not checksum-verified).
    ``kwargs`` go to :func:`resolve_preset`.
    """
    from elmo_lib import interop

    name = os.fspath(name_or_dir)
    if name in ALLENNLP_PRESETS and not pathlib.Path(name).is_dir():
        entry = ALLENNLP_PRESETS[name]
        return interop.load_bilm_tf(entry["options"], entry["weights"])
    directory = resolve_preset(name_or_dir, **kwargs)
    _read_config(directory)
    return interop.load_bilm_tf(directory / "options.json", directory / "weights.hdf5")


def load_vocabulary(name_or_dir: str | os.PathLike, **kwargs):
    """The :class:`elmo_lib.text.Vocabulary` of a shipped preset (its softmax rows, in id order).

    Raises:
        ValueError: for AllenNLP presets (no vocabulary was published with their weights).
    """
    from elmo_lib import text

    if os.fspath(name_or_dir) in ALLENNLP_PRESETS:
        raise ValueError(f"preset {os.fspath(name_or_dir)!r} has no vocabulary: AllenNLP "
                         "published the encoder only")
    return text.Vocabulary.load(resolve_preset(name_or_dir, **kwargs) / "vocab.txt")


def load_trainer(name_or_dir: str | os.PathLike, **kwargs):
    """``(trainer, vocab)``: a :class:`elmo_lib.bilm.BiLMTrainer` with the preset's encoder and
    softmax weights (ready for ``train.evaluate_perplexity`` and ``train.sample_sentences``).

    Raises:
        ValueError: an AllenNLP preset (no softmax was published), or ``softmax.hdf5`` does not fit
            the config (the message names the dataset and both shapes).
    """
    import h5py

    from elmo_lib import bilm, text

    if os.fspath(name_or_dir) in ALLENNLP_PRESETS:
        raise ValueError(f"preset {os.fspath(name_or_dir)!r} has no softmax: AllenNLP published "
                         "the encoder only; use BiLMEncoder.from_preset or ELMo.from_preset")
    directory = resolve_preset(name_or_dir, **kwargs)
    if not (directory / SOFTMAX_FILE).is_file():
        raise ValueError(f"preset {os.fspath(name_or_dir)!r} has no softmax ({directory} holds no "
                         f"{SOFTMAX_FILE}: an encoder-only preset); use BiLMEncoder.from_preset "
                         "or ELMo.from_preset")
    config = _read_config(directory)
    encoder = load_encoder(directory)
    trainer = bilm.BiLMTrainer(config)
    trainer.build()
    trainer.encoder.set_weights(bilm.encoder_layer(encoder).get_weights())
    expected = {"softmax/W": (config.vocab_size, config.projection_dim),
                "softmax/b": (config.vocab_size,)}
    with h5py.File(directory / SOFTMAX_FILE, "r") as handle:
        arrays = {}
        for key, shape in expected.items():
            if key not in handle or tuple(handle[key].shape) != shape:
                found = tuple(handle[key].shape) if key in handle else "missing"
                raise ValueError(f"{directory / SOFTMAX_FILE}: dataset {key!r} is {found}, "
                                 f"expected shape {shape} from config.json")
            arrays[key] = handle[key][...]
    trainer.softmax.kernel.assign(arrays["softmax/W"])
    trainer.softmax.bias.assign(arrays["softmax/b"])
    return trainer, text.Vocabulary.load(directory / "vocab.txt")


def has_softmax(name_or_dir: str | os.PathLike, **kwargs) -> bool:
    """Whether a preset ships its softmax, which perplexity, sampling and domain adaptation need
    (:func:`load_trainer`): False for the AllenNLP presets and for encoder-only presets
    (:func:`export_encoder_only`). Lessons 06-08 run on any preset and skip, with one printed
    line, what needs a softmax. ``kwargs`` go to :func:`resolve_preset` (and its errors)."""
    name = os.fspath(name_or_dir)
    if name in ALLENNLP_PRESETS and not pathlib.Path(name).is_dir():
        return False
    return (resolve_preset(name_or_dir, **kwargs) / SOFTMAX_FILE).is_file()


def export_encoder_only(name_or_dir: str | os.PathLike, destination: str | os.PathLike, *,
                        name: str | None = None) -> pathlib.Path:
    """Copy a preset without its softmax: what ELMo needs (the encoder's bilm-tf files, config,
    vocabulary, card), with a ``preset.json`` listing only those files and their sha256.

    The result loads with ``BiLMEncoder.from_preset(destination)`` and ``ELMo.from_preset``, and
    :func:`has_softmax` is False for it (so lesson 08 skips domain adaptation). CI runs the
    lessons on one made from the shipped biLM.

    Raises:
        FileExistsError: ``destination`` exists. As :func:`resolve_preset` / :func:`verify_preset`
            for the source.
    """
    source = resolve_preset(name_or_dir)
    manifest = verify_preset(source)
    destination = pathlib.Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} exists: choose a new directory for the preset")
    staging = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    files = {k: v for k, v in manifest["files"].items() if k != SOFTMAX_FILE}
    for file in files:
        shutil.copyfile(source / file, staging / file)
    manifest = {**manifest, "name": name or f"{manifest.get('name', source.name)}_encoder",
                "files": files,
                "parameters": {**(parameters := manifest.get("parameters", {})), "softmax": 0,
                               "total": parameters.get("encoder")}}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    staging.rename(destination)
    return destination


# ----------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------
_COPIED = ("config.json", "history.json", "perplexity.json", "run.json")


def _copy_json(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy a run's JSON file; absolute paths in its top-level "output" and "command" become their
    last part (no path of the training machine goes into a committed preset)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    for key in ("output", "command"):
        if isinstance(data, dict) and isinstance(data.get(key), str):
            data[key] = " ".join(pathlib.Path(word).name if os.path.isabs(word) else word
                                 for word in data[key].split(" "))
    target.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


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
    and renames it into place, so a failed export leaves nothing behind; then adds or replaces the
    preset's entry in the registry (``registry=None``: leave it alone).

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
    tmp = pathlib.Path(tempfile.mkdtemp(dir=preset_dir.parent, prefix=f".{preset_dir.name}."))
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
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        for path in tmp.iterdir():  # temporary files are private (0600): these are published
            path.chmod(0o644)
        tmp.chmod(0o755)
        if preset_dir.exists():
            shutil.rmtree(preset_dir)
        tmp.rename(preset_dir)
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
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return entry

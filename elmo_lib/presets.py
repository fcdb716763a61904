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
import urllib.parse

from elmo_lib import atomic

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
    registry = atomic.read_json(path, "preset registry")
    if not isinstance(registry, dict) or not isinstance(registry.setdefault("presets", {}), dict):
        raise ValueError(f"{path}: damaged preset registry (no 'presets' mapping)")
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
    from elmo_lib.download import confined

    if not isinstance(files, dict):
        raise ValueError(f"{what}: the file list is not a mapping of names to sha256 entries")
    for name, entry in files.items():
        path = confined(directory, name, f"file of {what}")
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
        ValueError: ``preset.json`` is damaged or incomplete, lists a path outside the directory,
            or a file's sha256 differs from the manifest's (the message names the file).
    """
    directory = pathlib.Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: {directory} is not a preset directory "
                                "(written by elmo_lib.presets.export_preset)")
    from elmo_lib.atomic import read_json

    manifest = read_json(manifest_path, "preset manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ValueError(f"{manifest_path}: incomplete preset manifest (no 'files' mapping); "
                         "export the preset again")
    _check_files(directory, manifest["files"], f"preset {manifest.get('name', directory.name)!r}")
    return manifest


def _cache_root(cache_dir) -> pathlib.Path:
    """Keras' cache root, as ``keras.utils.get_file`` picks it (``$KERAS_HOME`` or ``~/.keras``)."""
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    return pathlib.Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()


def _download(entry: dict, base_url: str, cache_dir, timeout: float) -> pathlib.Path:
    """Fetch every file of a registry entry into ``<cache>/elmo_lib_presets/<directory>/`` with
    :func:`elmo_lib.download.download_file` (declared size and sha256 checked while and after
    streaming, atomic rename); a cached file that checks out is kept, any other is replaced."""
    from elmo_lib import download

    root = _cache_root(cache_dir) / CACHE_SUBDIR
    target = download.confined(root, entry["directory"], "registry directory")
    for file, info in entry["files"].items():
        path = download.confined(target, file, f"registry file of {entry['directory']!r}")
        if not isinstance(info.get("sha256"), str) or not isinstance(info.get("bytes", 0), int):
            raise ValueError(f"registry entry {entry['directory']!r}/{file!r}: needs a sha256 "
                             "string and a byte count")
        if path.is_file() and path.stat().st_size == info.get("bytes", path.stat().st_size) \
                and sha256_file(path) == info["sha256"]:
            continue
        url = f"{base_url.rstrip('/')}/{urllib.parse.quote(entry['directory'])}/{file}"
        path.parent.mkdir(parents=True, exist_ok=True)
        download.download_file(url, path, sha256=info["sha256"], size=info.get("bytes"),
                               timeout=timeout)
    return target


def resolve_preset(name_or_dir: str | os.PathLike, *, base_url: str | None = None,
                   cache_dir: str | os.PathLike | None = None,
                   registry: str | os.PathLike | dict | None = None,
                   timeout: float | None = None) -> pathlib.Path:
    """The local directory of a shipped preset, found (or downloaded) and verified.

    Resolution order:

    1. ``name_or_dir`` is a directory: used as it is (checked against its ``preset.json``).
    2. A name in the registry (or a directory name under ``models/``): ``$ELMO_MODELS_DIR/<dir>``,
       then the repository's ``models/<dir>`` (present in a clone or editable install).
    3. A registry name not found locally: every file is downloaded from
       ``<base_url>/<dir>/<file>`` (default :data:`MODELS_URL` on raw.githubusercontent.com, or
       ``$ELMO_PRESETS_URL``) with :func:`elmo_lib.download.download_file` into Keras' cache
       (``<cache>/elmo_lib_presets/<dir>/``): a User-Agent, a timeout, the declared size checked
       while streaming and the sha256 after; only a file that passes is renamed into place.
       Directory and file names of the registry must stay inside the cache (``../x`` is refused).

    Args:
        name_or_dir: a preset name (``list_presets()``) or a preset directory.
        base_url: where ``models/`` is served (tests use a local server).
        cache_dir: Keras' cache root (default ``~/.keras``).
        registry: a registry dict or file (default ``elmo_lib/presets.json``).
        timeout: seconds to wait for a connection or a read (default
            ``elmo_lib.download.TIMEOUT_SECONDS``).

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
    if path.parent.is_dir():
        atomic.restore_aside(path)  # an export killed mid-swap left the old preset aside
    if path.is_dir():
        verify_preset(path)
        return path
    name = os.fspath(name_or_dir)
    if name in ALLENNLP_PRESETS:
        raise ValueError(f"preset {name!r} is a published AllenNLP model: it has no preset "
                         "directory (options.json + weights.hdf5 by URL); use "
                         "elmo_lib.presets.load_encoder or BiLMEncoder.from_preset")
    from elmo_lib import download

    registry = read_registry(registry)
    entries = registry["presets"]
    entry = entries.get(name) or next(
        (e for e in entries.values() if e.get("directory") == name), None)
    directory = entry["directory"] if entry else name
    tried = [f"{path} (not a directory)"]
    for models in models_dirs():
        try:
            candidate = download.confined(models, directory, f"directory of preset {name!r}")
        except ValueError:
            if entry is not None:  # a hostile registry entry
                raise
            tried.append(f"{models} (not a preset name)")
            continue
        atomic.restore_aside(candidate)
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
    from elmo_lib.download import TIMEOUT_SECONDS

    try:
        return _download(entry, base_url, cache_dir, timeout or TIMEOUT_SECONDS)
    except (OSError, ValueError) as error:
        checks = getattr(error, "errors", None)  # a DownloadError: the copies that came were bad
        kind = ValueError if isinstance(error, ValueError) or (
            checks and all(isinstance(e, ValueError) for e in checks)) else OSError
        raise kind(f"preset {name!r}: not found locally (looked in: {'; '.join(tried)}) "
                          f"and the download from {base_url}/{directory}/ failed: {error}"
                          ) from error


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
def _read_config(directory: pathlib.Path):
    from elmo_lib.atomic import read_json
    from elmo_lib.bilm import BiLMConfig

    try:
        config = BiLMConfig.from_dict(read_json(directory / "config.json", "config"))
    except (TypeError, KeyError) as error:
        raise ValueError(f"{directory / 'config.json'}: not a BiLMConfig ({error})") from error
    options = read_json(directory / "options.json", "options")
    expected = json.loads(json.dumps(config.to_options()))
    if options != expected:
        diff = sorted(k for k in set(options) | set(expected) if options.get(k) != expected.get(k))
        raise ValueError(f"{directory}: options.json and config.json describe different models "
                         f"(keys that differ: {diff})")
    return config


def _check_vocab_size(vocab, config, path: pathlib.Path) -> None:
    if len(vocab) != config.vocab_size:
        raise ValueError(f"{path} has {len(vocab):,} tokens but config.json says vocab_size="
                         f"{config.vocab_size:,}: the file is damaged (cut short?)")


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
        ValueError: for AllenNLP presets (no vocabulary was published with their weights), or a
            ``vocab.txt`` whose length is not ``config.json``'s ``vocab_size`` (names the file).
    """
    from elmo_lib import text

    if os.fspath(name_or_dir) in ALLENNLP_PRESETS:
        raise ValueError(f"preset {os.fspath(name_or_dir)!r} has no vocabulary: AllenNLP "
                         "published the encoder only")
    directory = resolve_preset(name_or_dir, **kwargs)
    vocab = text.Vocabulary.load(directory / "vocab.txt")
    _check_vocab_size(vocab, _read_config(directory), directory / "vocab.txt")
    return vocab


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
    try:
        handle = h5py.File(directory / SOFTMAX_FILE, "r")
    except OSError as error:
        raise ValueError(f"{directory / SOFTMAX_FILE}: not a readable HDF5 file, damaged or cut "
                         f"short ({error})") from error
    with handle:
        arrays = {}
        for key, shape in expected.items():
            if key not in handle or tuple(handle[key].shape) != shape:
                found = tuple(handle[key].shape) if key in handle else "missing"
                raise ValueError(f"{directory / SOFTMAX_FILE}: dataset {key!r} is {found}, "
                                 f"expected shape {shape} from config.json")
            arrays[key] = handle[key][...]
    trainer.softmax.kernel.assign(arrays["softmax/W"])
    trainer.softmax.bias.assign(arrays["softmax/b"])
    vocab = text.Vocabulary.load(directory / "vocab.txt")
    _check_vocab_size(vocab, config, directory / "vocab.txt")
    return trainer, vocab


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
# Export (elmo_lib.preset_export; re-exported here, where users look for it)
from elmo_lib.preset_export import export_preset, update_registry  # noqa: E402,F401

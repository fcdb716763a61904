"""The files of :func:`elmo_lib.elmo.embed_file`: which ones it may resume, replace or must leave.

- :func:`finished`      is ``OUTPUT`` already this embedding (return at once), an older output of
  embed_file (recompute), or another file (refuse unless ``overwrite``)?
- :func:`open_partial`  open ``OUTPUT.partial`` to resume it: only a file embed_file wrote itself
  (the attribute ``written_by``), keeping only the sentences its ``.partial.done`` log lists

Every file embed_file writes carries ``written_by = "elmo_lib.embed_file"``; outputs of earlier
versions are recognised by their ``input_sha256``/``model_sha256`` attributes. Lesson 05.
"""

from __future__ import annotations

import pathlib

import h5py

WRITTEN_BY = "elmo_lib.embed_file"
SENTENCE_TO_INDEX = "sentence_to_index"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _ours(handle: h5py.File) -> bool:
    attrs = handle.attrs
    return attrs.get("written_by") == WRITTEN_BY or (
        "input_sha256" in attrs and "model_sha256" in attrs)


def _refuse(path: pathlib.Path, why: str):
    raise FileExistsError(f"{path} exists and {why}: embed_file does not replace it; pass "
                          "overwrite=True (CLI --overwrite) to replace it, or choose another "
                          "output")


def finished(output_path: pathlib.Path, attrs: dict, n_sentences: int, overwrite: bool) -> bool:
    """True when ``output_path`` holds this very embedding (same ``attrs``, every sentence).

    Raises:
        FileExistsError: ``output_path`` exists and embed_file did not write it (not HDF5, or an
            HDF5 file without its attributes), and ``overwrite`` is False.
    """
    if not output_path.exists():
        return False
    try:
        with h5py.File(output_path, "r") as handle:
            if not _ours(handle):
                if not overwrite:
                    _refuse(output_path, "is an HDF5 file that embed_file did not write")
                return False
            return (all(handle.attrs.get(k) == v for k, v in attrs.items())
                    and SENTENCE_TO_INDEX in handle
                    and all(str(i) in handle for i in range(n_sentences)))
    except OSError:
        if not overwrite:
            _refuse(output_path, "is not an HDF5 file")
        return False


def _read_done(log_path: pathlib.Path) -> set[int]:
    done: set[int] = set()
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").split("\n"):
            if line.strip().isdigit():  # a line cut by a kill is dropped
                done.add(int(line))
    return done


def _killed_partial(partial: pathlib.Path, log_path: pathlib.Path) -> bool:
    """An unreadable partial file that a killed embed_file left: HDF5's signature and a log."""
    with open(partial, "rb") as handle:
        return handle.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE and log_path.exists()


def open_partial(partial: pathlib.Path, log_path: pathlib.Path, attrs: dict, expected_shape,
                 overwrite: bool = False) -> tuple[h5py.File, set[int]]:
    """Open the partial file for appending; keep only logged, well-formed datasets.

    A partial file of embed_file from another input/model/layer, or one a kill left unreadable,
    is started over. ``expected_shape(i)`` is the shape of sentence ``i``'s dataset.

    Returns:
        ``(handle, done)``: the open file (``"a"`` mode) and the sentence indices already in it.

    Raises:
        FileExistsError: the partial file was not written by embed_file and ``overwrite`` is
            False (the message names it).
    """
    if partial.exists():
        try:
            handle = h5py.File(partial, "a")
        except OSError:
            handle = None
            if not overwrite and not _killed_partial(partial, log_path):
                _refuse(partial, "is not a partial file of embed_file")
        if handle is not None and not _ours(handle) and not overwrite:
            handle.close()
            _refuse(partial, "is an HDF5 file that embed_file did not write")
        if handle is not None:
            try:
                same = all(handle.attrs.get(k) == v for k, v in attrs.items())
                done = _read_done(log_path) if same else set()
                done = {i for i in done if str(i) in handle
                        and handle[str(i)].shape == expected_shape(i)}
                for key in list(handle.keys()):  # written but not logged: maybe half-written
                    if key != SENTENCE_TO_INDEX and (not key.isdigit() or int(key) not in done):
                        del handle[key]
                if same:
                    return handle, done
            except (OSError, KeyError, ValueError, RuntimeError):
                pass
            handle.close()
        partial.unlink()
    log_path.unlink(missing_ok=True)
    log_path.touch()  # before the partial file: an unreadable partial with a log is ours
    handle = h5py.File(partial, "w")
    handle.attrs.update(attrs)
    handle.flush()
    return handle, set()

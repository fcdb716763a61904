"""The training state of a run directory, written so that a kill at any moment loses nothing.

- :func:`save_weights`  ``model.save_weights`` through a temporary file (atomic)
- :func:`load_weights`  ``model.load_weights`` whose errors name the file
- :class:`BestWeights`  keep the weights of the best epoch (``ModelCheckpoint(save_best_only=True)``
  written atomically)
- :class:`Backup`       ``BackupAndRestore`` written atomically; a resume takes the newest complete
  state and names the damaged files when there is none
- :class:`HistoryJSON`  one record per epoch in ``history.json`` and ``history.csv`` (atomically);
  :func:`read_history` reads them back (``elmo_lib.train`` re-exports both)

The backup keeps Keras' layout (``backup/latest.weights.h5``, ``training_metadata.json`` and their
``.bkp`` copies: the previous epoch), so run directories of older versions resume. Each metadata
file records the sha256 of the weights it belongs to; a resume pairs every readable metadata file
with the weights file of that sha256 (or, for Keras' own files, the file of the same name) and
restores the newest pair that loads. Saving renames the current pair to ``.bkp`` and then writes
the new pair, so at every moment one complete pair is on disk. Introduced in lesson 04.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
import shutil
import time

import keras

from elmo_lib import atomic
from elmo_lib.download import sha256_of

logger = logging.getLogger(__name__)

WEIGHTS = "latest.weights.h5"
METADATA = "training_metadata.json"
PREVIOUS = ".bkp"


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """``model.save_weights(path)`` through a temporary file in the same folder (atomic)."""
    with atomic.writing(path) as tmp:
        model.save_weights(tmp)


def load_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """``model.load_weights(path)``; a file that cannot be read is a ``ValueError`` naming it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is damaged (cut short) or holds another model's weights.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        model.load_weights(path)
    except Exception as error:  # h5py raises OSError, Keras ValueError: name the file either way
        raise ValueError(f"cannot load weights from {path}: damaged (cut short?) or from another "
                         f"model ({type(error).__name__}: {error})") from error


class BestWeights(keras.callbacks.Callback):
    """Save the weights whenever ``monitor`` improves on the best value so far (atomically).

    The same choice as ``keras.callbacks.ModelCheckpoint(save_best_only=True,
    save_weights_only=True, mode="min", initial_value_threshold=best)``.

    Args:
        path: the ``.weights.h5`` file.
        monitor: the log key to minimise (``"val_loss"``).
        best: the best value of earlier, interrupted runs (None: none yet).
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 best: float | None = None):
        super().__init__()
        self.path, self.monitor = pathlib.Path(path), monitor
        self.best = float("inf") if best is None else float(best)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            logger.warning("BestWeights: %r is not in the logs (%s)", self.monitor,
                           sorted(logs or {}))
            return
        if float(current) < self.best:
            self.best = float(current)
            save_weights(self.model, self.path)


class Backup(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True,
    delete_checkpoint=False)`` with atomic writes and a resume that survives damaged files.

    Raises (at the start of ``fit``):
        ValueError: ``backup_dir`` holds backup files but no complete state; the message names
            every file and what is wrong with it (delete ``backup_dir`` to start afresh).
    """

    def __init__(self, backup_dir: str | os.PathLike):
        super().__init__(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
        self.directory = pathlib.Path(backup_dir)

    # -- resume ---------------------------------------------------------------------------------
    def _candidates(self, problems: list[str]) -> list[tuple[int, pathlib.Path, dict]]:
        """``(epoch, weights file, metadata)`` of every readable metadata file, newest first."""
        weights = [self.directory / WEIGHTS, self.directory / (WEIGHTS + PREVIOUS)]
        shas = {}
        for path in weights:
            if path.is_file():
                shas[path] = sha256_of(path)
        found = []
        for name, own in ((METADATA, weights[0]), (METADATA + PREVIOUS, weights[1])):
            path = self.directory / name
            if not path.is_file():
                continue
            try:
                metadata = atomic.read_json(path, "backup metadata")
                epoch = int(metadata["epoch"])
            except (ValueError, KeyError, TypeError) as error:
                problems.append(f"{path}: {error}")
                continue
            wanted = metadata.get("weights_sha256")
            match = (next((p for p, sha in shas.items() if sha == wanted), None) if wanted
                     else own if own in shas else None)
            if match is None:
                present = ", ".join(p.name for p in shas) or "none"
                problems.append(f"{path}: epoch {epoch}, but no weights file with "
                                + (f"sha256 {wanted}" if wanted else f"the name {own.name}")
                                + f" (weights files: {present}; damaged or cut short)")
                continue
            found.append((epoch, match, metadata))
        return sorted(found, key=lambda item: -item[0])

    def on_train_begin(self, logs=None):
        if not self.directory.is_dir():
            return
        atomic.clean_stale(self.directory)
        problems: list[str] = []
        for epoch, weights, _ in self._candidates(problems):
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            try:
                self._load(weights)
            except ValueError as error:
                problems.append(str(error))
                continue
            self.model._initial_epoch = epoch  # as Keras' BackupAndRestore does
            self._current_epoch = epoch
            if problems:
                logger.warning("resumed from %s (epoch %d); skipped: %s", weights, epoch,
                               "; ".join(problems))
            return
        if problems:  # metadata files exist (they are written last), but no state loads
            raise ValueError(f"{self.directory}: no complete backup to resume from ("
                             + "; ".join(problems)
                             + f"); delete {self.directory} to train from the start")
        # No metadata at all: killed before the first backup finished; weights alone are not a
        # state (the epoch is unknown), so training starts from the beginning.

    def _load(self, weights: pathlib.Path) -> None:
        """Load a backup weights file; Keras reads only names ending in ``.weights.h5``, so a
        ``.bkp`` copy is read through a temporary copy of that name."""
        if weights.name.endswith(".weights.h5"):
            load_weights(self.model, weights)
            return
        copy = atomic.temporary_name(self.directory / "restore.weights.h5")
        try:
            shutil.copyfile(weights, copy)
            try:
                load_weights(self.model, copy)
            except ValueError as error:
                raise ValueError(str(error).replace(str(copy), str(weights))) from error
        finally:
            copy.unlink(missing_ok=True)

    # -- save -----------------------------------------------------------------------------------
    def _save_model(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        weights, metadata = self.directory / WEIGHTS, self.directory / METADATA
        with atomic.writing(weights) as tmp:  # the new weights, complete before anything moves
            self.model.save_weights(tmp)
            sha = sha256_of(tmp)
            if weights.exists():
                os.replace(weights, weights.with_name(WEIGHTS + PREVIOUS))
            if metadata.exists():
                os.replace(metadata, metadata.with_name(METADATA + PREVIOUS))
        atomic.write_text(metadata, json.dumps({"epoch": self._current_epoch,
                                                "batch": self._last_batch_seen,
                                                "weights_sha256": sha}))


class HistoryJSON(keras.callbacks.Callback):
    """Append one record per epoch to ``history.json``: logs, perplexities, time, tokens/s.

    On resume, records of epochs that are being redone are dropped, and ``elapsed_seconds`` carries
    on from the last record. Both files are rewritten whole and atomically each epoch (a kill keeps
    the previous version); ``csv_path`` also gets the rows of ``keras.callbacks.CSVLogger``.
    Place it before the backup callback: a kill between the two then leaves a record that the
    resumed run redoes, never a finished epoch without its record.
    """

    def __init__(self, path: str | os.PathLike, tokens_per_step: int,
                 csv_path: str | os.PathLike | None = None):
        super().__init__()
        self.path = pathlib.Path(path)
        self.csv_path = pathlib.Path(csv_path) if csv_path is not None else None
        self.tokens_per_step = tokens_per_step
        self.records = read_history(self.path)
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:
            self.records = [r for r in self.records if r["epoch"] < epoch]
            self._first_epoch = False
        self.epoch_start = time.monotonic()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.monotonic() - self.epoch_start
        record = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        for prefix in ("val_", ""):
            for direction in ("forward", "backward"):
                key = f"{prefix}{direction}_loss"
                if prefix and key in record:  # only validation losses are full-softmax
                    record[f"{prefix}{direction}_perplexity"] = math.exp(min(record[key], 50.0))
        if "val_forward_perplexity" in record:
            record["val_perplexity"] = 0.5 * (record["val_forward_perplexity"]
                                              + record["val_backward_perplexity"])
        record["steps"] = self.steps
        record["epoch_seconds"] = seconds
        record["tokens_per_second"] = self.steps * self.tokens_per_step / max(seconds, 1e-9)
        previous = self.records[-1]["elapsed_seconds"] if self.records else 0.0
        record["elapsed_seconds"] = previous + seconds
        self.records.append(record)
        atomic.write_json(self.path, self.records)
        if self.csv_path is not None:
            atomic.write_text(self.csv_path, history_csv(self.records))


_DERIVED = ("steps", "epoch_seconds", "tokens_per_second", "elapsed_seconds")


def history_csv(records: list[dict]) -> str:
    """``history.csv``: ``epoch`` and the sorted ``fit`` log keys, one row per record (the columns
    of ``keras.callbacks.CSVLogger``; perplexities and timings stay in ``history.json``)."""
    keys = sorted({k for r in records for k in r
                   if k != "epoch" and k not in _DERIVED and not k.endswith("perplexity")})
    rows = [",".join(["epoch", *keys])]
    rows += [",".join(str(r.get(k, "")) for k in ("epoch", *keys)) for r in records]
    return "\n".join(rows) + "\n"


def read_history(path: str | os.PathLike) -> list[dict]:
    """The records of a ``history.json`` (empty list if the file does not exist).

    Raises:
        ValueError: the file is damaged (the message names it).
    """
    path = pathlib.Path(path)
    if not path.exists():
        return []
    records = atomic.read_json(path, "history")
    if not isinstance(records, list) or not all(isinstance(r, dict) and "epoch" in r
                                                for r in records):
        raise ValueError(f"{path}: damaged history, not a list of epoch records")
    return records

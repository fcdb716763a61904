"""Run directories survive kills, damaged files and a second trainer (elmo_lib.train, .checkpoint).

Real faults: a child process (tests/fault_worker.py) SIGKILLs itself at a chosen rename, while a
weights file is being written, or is killed at a seeded random moment; files are cut short; a
second process holds the directory. Every case ends in a complete older or newer state (the
resumed run finishes with one record per epoch and every step trained once) or in an error that
names the file or the owner. Tiny model: 2 steps per epoch.
"""

import os
import random
import shutil
import time

import keras
import numpy as np
import pytest
from fault_worker import EPOCHS, STEPS, finish, start, tiny_run

from elmo_lib import atomic, checkpoint, runs, train
from tests.test_train import EpochRecorder


@pytest.fixture(scope="module")
def tiny():
    return tiny_run()


@pytest.fixture()
def finished_run(tiny_finished_run):
    return tiny_finished_run


def copy_of(run, tmp_path, unfinished=True):
    out = tmp_path / "run"
    shutil.copytree(run, out)
    if unfinished:
        (out / "run.json").unlink()
    return out


def resume(tiny, out, epochs=EPOCHS):
    """Train ``out`` to ``epochs`` in this process; returns (trainer, records, first epoch run)."""
    sentences, _, config, kwargs = tiny
    recorder = EpochRecorder()
    trainer, history = train.train_bilm(config, sentences, sentences[:8], output_dir=out,
                                        epochs=epochs, callbacks=[recorder], **kwargs)
    return trainer, history["epochs"], (recorder.epochs or [epochs])[0]


def assert_complete(trainer, records, out, epochs=EPOCHS):
    """One record per epoch, every step trained exactly once, the marker agrees."""
    assert [r["epoch"] for r in records] == list(range(epochs))
    assert int(trainer.optimizer.iterations.numpy()) == epochs * STEPS
    marker = runs.read_marker(out)
    assert marker["epochs"] == epochs and marker["steps"] == epochs * STEPS
    assert [r["epoch"] for r in train.read_history(out / "history.json")] == list(range(epochs))
    rows = (out / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == [str(e) for e in range(epochs)]


class Killed(BaseException):
    """Stands for SIGKILL in the in-process sweep (no handler of elmo_lib catches it)."""


def _small_fit(out, extra=()):
    """A Dense model fitted 2 epochs with train_bilm's run-directory callbacks, in its order."""
    keras.utils.set_random_seed(0)
    out.mkdir(exist_ok=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.arange(24, dtype="float32").reshape(8, 3) / 24
    previous = train.read_history(out / "history.json") if (out / "backup").exists() else []
    best = min((r["loss"] for r in previous), default=None)
    callbacks = [checkpoint.BestWeights(out / "best.weights.h5", "loss", best),
                 train.HistoryJSON(out / "history.json", 1, out / "history.csv"),
                 checkpoint.Backup(out / "backup"), *extra]
    model.fit(x, x[:, :2], batch_size=4, epochs=2, shuffle=False, verbose=0,
              callbacks=callbacks)
    return model


class DieAt:
    """``os.replace`` that raises :class:`Killed` instead of its ``point``-th call (0-based)."""

    def __init__(self, point, names, original):
        self.point, self.names, self.original, self.calls = point, names, original, 0

    def __call__(self, source, target, *args, **kwargs):
        self.calls += 1
        if self.calls > self.point:
            raise Killed(self.names[self.point])
        return self.original(source, target, *args, **kwargs)


def test_every_rename_of_a_run_directory_is_a_safe_place_to_die(tmp_path, monkeypatch):
    """A sweep over every rename of two epochs (a BaseException stands for the kill: nothing
    after it runs): the resumed run ends with exactly the uninterrupted run's weights, one record
    per epoch, and never redoes an epoch whose backup had finished."""
    names, original = [], os.replace

    def record(source, target, *args, **kwargs):
        names.append(os.path.basename(os.fspath(target)))
        return original(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", record)
    reference = _small_fit(tmp_path / "reference").get_weights()
    monkeypatch.setattr(os, "replace", original)
    assert {"latest.weights.h5.bkp", "training_metadata.json.bkp", "history.csv"} <= set(names)
    for point in range(len(names)):
        out = tmp_path / f"kill{point}"
        monkeypatch.setattr(os, "replace", DieAt(point, names, original))
        with pytest.raises(Killed):
            _small_fit(out)
        monkeypatch.setattr(os, "replace", original)
        backups = names[:point].count("training_metadata.json")  # finished backups
        recorder = EpochRecorder()
        resumed = _small_fit(out, [recorder])
        for got, want in zip(resumed.get_weights(), reference):
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"killed before {point}")
        assert [r["epoch"] for r in train.read_history(out / "history.json")] == [0, 1]
        assert (recorder.epochs or [2])[0] == backups, (point, names[point])


FAULTS = {
    "backup weights half-written": ["--cut-save", "4"],
    "seeded random moment": None,
}


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory):
    """Every fault of FAULTS, each in its own child process, all started at once."""
    root = tmp_path_factory.mktemp("killed")
    children = {}
    for name, fault in FAULTS.items():
        out = root / name.replace(" ", "_").replace(",", "").replace(".", "")
        children[name] = (out, start("train", out, EPOCHS, *(fault or [])))
    delay = random.Random(27).uniform(1.0, 6.0)
    random_child = children["seeded random moment"][1]
    assert random_child.stdout.readline().strip() == "READY"
    time.sleep(delay)
    random_child.kill()
    return {name: (out, *finish(child)) for name, (out, child) in children.items()}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_sigkill_then_resume_finishes_the_run(fault, killed_runs, tiny):
    out, code, printed = killed_runs[fault]
    if FAULTS[fault] is not None:
        assert code == -9 and "EPOCH 0" in printed, printed  # it died where it was told to
        assert not (out / "run.json").exists()
    trainer, records, first_run = resume(tiny, out)
    assert_complete(trainer, records, out)
    assert first_run >= printed.count("EPOCH") - 1  # at most the epoch being saved is redone
    assert not list(out.rglob(".tmp-*"))  # the dead writer's temporaries are gone


def test_damaged_current_backup_resumes_from_the_bkp_copy(tiny, finished_run, tmp_path):
    out = copy_of(finished_run, tmp_path)
    (out / "backup" / checkpoint.METADATA).write_text("")  # a kill mid-write, old Keras style
    trainer, records, first_run = resume(tiny, out, epochs=3)
    assert first_run == 1  # from training_metadata.json.bkp: 1 epoch finished
    assert_complete(trainer, records, out, epochs=3)


def test_damaged_backup_without_a_good_copy_names_the_files(tiny, finished_run, tmp_path):
    out = copy_of(finished_run, tmp_path)
    for name in (checkpoint.WEIGHTS, checkpoint.WEIGHTS + checkpoint.PREVIOUS):
        path = out / "backup" / name
        path.write_bytes(path.read_bytes()[:1000])  # cut short
    with pytest.raises(ValueError) as error:
        resume(tiny, out, epochs=3)
    message = str(error.value)
    assert "no complete backup" in message and str(out / "backup" / checkpoint.METADATA) in message
    assert "latest.weights.h5.bkp" in message


def test_cut_weights_and_vocabulary_are_errors_naming_the_file(tiny, finished_run, tmp_path):
    out = copy_of(finished_run, tmp_path, unfinished=False)
    best = out / "best.weights.h5"
    best.write_bytes(best.read_bytes()[:5000])
    with pytest.raises(ValueError, match=f"{best}: damaged"):
        train.load_trained(out)
    vocab = out / "vocab.txt"
    lines = vocab.read_text().splitlines()
    vocab.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    with pytest.raises(ValueError, match=f"{vocab} has .* tokens but"):
        train.load_trained(out, weights="last.weights.h5")
    with pytest.raises(ValueError, match=f"{vocab} has"):
        resume(tiny, out, epochs=3)
    (out / "history.json").write_text('[{"epoch": 0, "lo')
    with pytest.raises(ValueError, match="history.json: damaged history"):
        train.read_history(out / "history.json")


def test_a_second_trainer_is_refused_naming_the_directory_and_owner(tiny, finished_run,
                                                                    tmp_path):
    out = copy_of(finished_run, tmp_path)
    holder = start("hold", out, out / train.LOCK_FILE)
    try:
        assert holder.stdout.readline().startswith("READY")
        before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
        with pytest.raises(atomic.PathLockedError) as error:
            resume(tiny, out)
        assert str(out) in str(error.value) and f"process {holder.pid}" in str(error.value)
        assert error.value.owner_pid == holder.pid
        assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # untouched
    finally:
        holder.kill()
        finish(holder)
    # The holder died (SIGKILL): its lock file is still there, and taken over.
    assert (out / train.LOCK_FILE).exists()
    trainer, records, _ = resume(tiny, out)
    assert_complete(trainer, records, out)
    assert not (out / train.LOCK_FILE).exists()

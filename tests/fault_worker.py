"""A child process for the fault tests: does one job of elmo_lib and can be killed at chosen points.

    python tests/fault_worker.py train OUT_DIR EPOCHS [--kill-before NAME:N] [--cut-save K]
    python tests/fault_worker.py export RUN_DIR PRESET_DIR REGISTRY [--kill-before NAME:N]
    python tests/fault_worker.py hold PATH [LOCK_FILE]   (hold PATH's lock until killed)

``--kill-before NAME:N``: ``os.replace`` is wrapped so that the process SIGKILLs itself just
before the N-th rename onto a file named NAME: a file is complete under its temporary name but
not yet renamed, or one of several renames is done and the next not. ``--cut-save K``: the
K-th ``save_weights`` writes its file, cuts it to half its size and SIGKILLs the process (a kill
while the file is being written). Each step prints ``READY`` / ``EPOCH n`` lines (flushed) so a
parent can kill it at seeded random moments too. The tiny corpus and config are shared with the
tests through :func:`tiny_run`.
"""

from __future__ import annotations

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WORDS = "the cat sat on a mat . a dog ran to the red door and the cat saw it".split()
STEPS = 2  # per epoch
EPOCHS = 2  # of the tiny runs


def tiny_run():
    """``(sentences, vocab, config, kwargs)`` of the tiny training runs (kwargs minus epochs)."""
    import numpy as np

    from elmo_lib import bilm, text

    rng = np.random.default_rng(0)
    sentences = [WORDS[: rng.integers(6, len(WORDS))] for _ in range(40)]
    vocab = text.Vocabulary.from_corpus(sentences)
    config = bilm.BiLMConfig.tiny(vocab_size=len(vocab), num_sampled=8, batch_size=4,
                                  unroll_steps=6)
    kwargs = dict(vocab=vocab, steps_per_epoch=STEPS, validation_steps=1, jit_compile=False,
                  verbose=0, patience=None)
    return sentences, vocab, config, kwargs


def _die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_before(name: str, k: int) -> None:
    original, calls = os.replace, [0]

    def replace(source, target, *args, **kwargs):
        if os.path.basename(os.fspath(target)) == name:
            calls[0] += 1
            if calls[0] == k:
                _die()
        return original(source, target, *args, **kwargs)

    os.replace = replace  # this child process only: the point of the test


def _cut_save(k: int) -> None:
    import keras

    original, calls = keras.Model.save_weights, [0]

    def save_weights(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        calls[0] += 1
        if calls[0] == k:
            size = os.path.getsize(filepath)
            with open(filepath, "r+b") as handle:
                handle.truncate(size // 2)
            _die()

    keras.Model.save_weights = save_weights


def _option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


def main() -> None:
    command = sys.argv[1]
    if command == "hold":
        from elmo_lib import atomic

        lock = atomic.PathLock(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None).acquire()
        print("READY", lock.lock_file, flush=True)
        signal.pause()
    if (point := _option("--kill-before")) is not None:
        name, k = point.rsplit(":", 1)
        _kill_before(name, int(k))
    if (k := _option("--cut-save")) is not None:
        _cut_save(int(k))
    if command == "train":
        import keras

        from elmo_lib import train

        class Say(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                print("EPOCH", epoch, flush=True)

        sentences, _, config, kwargs = tiny_run()
        print("READY", flush=True)
        train.train_bilm(config, sentences, sentences[:8], output_dir=sys.argv[2],
                         epochs=int(sys.argv[3]), callbacks=[Say()], **kwargs)
        print("DONE", flush=True)
    elif command == "export":
        from elmo_lib import presets

        print("READY", flush=True)
        presets.export_preset(sys.argv[2], sys.argv[3], name="fault_test", registry=sys.argv[4],
                              overwrite=True, training_command="pytest", machine="test")
        print("DONE", flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()


def start(*args: str):
    """Start this script with ``args`` (``subprocess.Popen``, stdout piped, text mode)."""
    import pathlib
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, __file__, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def finish(process, timeout: float = 120.0) -> tuple[int, str]:
    """Wait for a started worker; ``(returncode, stdout)``. -9 means it SIGKILLed itself."""
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out

"""Run directories: one marker decides "load or train", no run overwrites another model.

- :func:`load_or_train`      load a finished run, resume an unfinished one, or train a new one
- :func:`check_output_dir`   refuse a directory that holds another model (``train_bilm`` calls it)
- :func:`write_marker` / :func:`read_marker`  ``run.json``, written only when a run finished
- :class:`Progress`          a callback that prints step, tokens/s, loss, elapsed and ETA every N s

``run.json`` holds the config, how the run ended (``stopped_by``: ``"epochs"``, ``"time_budget"``
or ``"early_stopping"``), epochs, steps, training seconds, the finish time, the machine and the
vocabulary's sha256. ``train_bilm`` deletes it when a run starts and writes it when ``fit``
returns, so its presence means "finished"; a killed run has ``config.json`` but no marker, and
calling ``train_bilm`` again resumes it from ``backup/``. Introduced in lesson 04.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import platform
import sys
import time

import keras

from elmo_lib import atomic, text
from elmo_lib.bilm import BiLMConfig

MARKER = "run.json"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"


def _vocab_sha256(vocab: text.Vocabulary) -> str:
    return hashlib.sha256("".join(f"{t}\n" for t in vocab.tokens).encode("utf-8")).hexdigest()


def config_differences(a: BiLMConfig, b: BiLMConfig) -> dict[str, tuple]:
    """``{field: (a's value, b's value)}`` for the fields where two configs differ (``note``, a
    comment, is ignored as in ``BiLMConfig.__eq__``)."""
    left, right = a.to_dict(), b.to_dict()
    return {k: (left[k], right[k]) for k in left if k != "note" and left[k] != right.get(k)}


def check_output_dir(output_dir: str | os.PathLike, config: BiLMConfig,
                     vocab: text.Vocabulary | None = None) -> str:
    """Refuse to train into a directory that holds another model; say what it holds.

    Returns:
        ``"new"`` (no ``config.json``), ``"finished"`` (same config, ``run.json`` present) or
        ``"unfinished"`` (same config, no marker: a run to resume).

    Raises:
        ValueError: the directory is a shipped preset (``preset.json``), or its ``config.json``
            (or ``run.json``'s config) differs from ``config`` (the message names the directory and
            every differing field with both values), or its ``vocab.txt`` differs from ``vocab``
            (the message names the first differing id).
    """
    out = pathlib.Path(output_dir)
    if (out / "preset.json").exists():
        raise ValueError(f"{out} holds a shipped preset (preset.json): train into another "
                         "directory")
    stored = None
    for name in (CONFIG_FILE, MARKER):
        path = out / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            stored = BiLMConfig.from_dict(data["config"] if name == MARKER else data)
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{path} is not a BiLMConfig of elmo_lib ({error}); {out} may hold "
                             "another program's files: train into another directory") from error
        differences = config_differences(stored, config)
        if differences:
            listed = "; ".join(f"{k}: {old!r} there, {new!r} requested"
                               for k, (old, new) in differences.items())
            raise ValueError(f"{out} holds another model ({name} differs: {listed}); use another "
                             "output directory, or delete that one to retrain")
    if stored is None:
        return "new"
    if vocab is not None and (out / VOCAB_FILE).is_file():
        saved = text.Vocabulary.load(out / VOCAB_FILE).tokens
        if len(saved) != stored.vocab_size:
            raise ValueError(f"{out / VOCAB_FILE} has {len(saved):,} tokens but the stored config "
                             f"says vocab_size={stored.vocab_size:,}: the file is damaged (cut "
                             "short?); delete the directory to retrain")
        if saved != vocab.tokens:
            first = next((i for i, (a, b) in enumerate(zip(saved, vocab.tokens)) if a != b),
                         min(len(saved), len(vocab.tokens)))
            raise ValueError(f"{out} holds a model with another vocabulary ({VOCAB_FILE} differs "
                             f"first at id {first}: {saved[first:first + 1]} there, "
                             f"{vocab.tokens[first:first + 1]} requested)")
    return "finished" if (out / MARKER).is_file() else "unfinished"


def machine_description() -> str:
    """CPU model, core count, OS and library versions, for ``run.json`` and the model card."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    import tensorflow as tf

    return (f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}")


def _command() -> str | None:
    """The command line, when the run came from the ``elmo-lib`` CLI (not from a notebook)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    if program in ("elmo-lib", "cli.py"):
        return " ".join(["elmo-lib", *sys.argv[1:]])
    return None


def clear_marker(output_dir: str | os.PathLike) -> None:
    """Delete ``run.json``: the run in this directory is not finished (any more)."""
    (pathlib.Path(output_dir) / MARKER).unlink(missing_ok=True)


def write_marker(output_dir: str | os.PathLike, config: BiLMConfig, vocab: text.Vocabulary, *,
                 stopped_by: str, records: list[dict]) -> dict:
    """Write ``run.json`` atomically (a finished run); returns its content."""
    marker = {
        "finished": True,
        "stopped_by": stopped_by,
        "epochs": len(records),
        "steps": sum(int(r.get("steps", 0)) for r in records),
        "train_seconds": records[-1]["elapsed_seconds"] if records else 0.0,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": _command(),
        "machine": machine_description(),
        "vocab_sha256": _vocab_sha256(vocab),
        "config": config.to_dict(),
    }
    atomic.write_json(pathlib.Path(output_dir) / MARKER, marker)
    return marker


def read_marker(output_dir: str | os.PathLike) -> dict | None:
    """The ``run.json`` of a finished run, or None (``ValueError`` naming a damaged file)."""
    path = pathlib.Path(output_dir) / MARKER
    return atomic.read_json(path, "run marker") if path.is_file() else None


def load_or_train(output_dir: str | os.PathLike, config: BiLMConfig, train_data, valid_data=None,
                  *, vocab: text.Vocabulary, progress_every_seconds: float | None = 60.0,
                  **train_kwargs):
    """Load the finished run in ``output_dir``, or train (resuming an unfinished one).

    One file decides: ``run.json`` (written by :func:`elmo_lib.train.train_bilm` only when a run
    finished). With it and the same config and vocabulary, the run's best weights are loaded and
    nothing is trained; without it, ``train_bilm`` trains, resuming from ``backup/`` when a killed
    run with the same config left one. A directory holding another model is refused.

    Args:
        output_dir: the run directory.
        config, train_data, valid_data, vocab: as :func:`elmo_lib.train.train_bilm`.
        progress_every_seconds: print progress at least this often while training (None: off).
        **train_kwargs: passed to ``train_bilm`` (``epochs``, ``time_budget_minutes``, ...).

    Returns:
        ``(trainer, run)``: the trainer with the best weights, and ``run.json``'s content plus
        ``"action"``: ``"loaded"``, ``"resumed"`` or ``"trained"``.

    Raises:
        ValueError: ``output_dir`` holds another model (see :func:`check_output_dir`).

    Example:
        >>> trainer, run = el.runs.load_or_train("runs/lesson04", config, train, valid,
        ...                                      vocab=vocab, time_budget_minutes=10)
        >>> run["action"]  # "trained" the first time, "loaded" after that
    """
    from elmo_lib import train

    state = check_output_dir(output_dir, config, vocab)
    if state == "finished":
        trainer, _ = train.load_trained(output_dir)
        return trainer, {**read_marker(output_dir), "action": "loaded"}
    action = "resumed" if state == "unfinished" else "trained"
    trainer, _ = train.train_bilm(config, train_data, valid_data, vocab=vocab,
                                  output_dir=output_dir,
                                  progress_every_seconds=progress_every_seconds, **train_kwargs)
    return trainer, {**(read_marker(output_dir) or {}), "action": action}


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class Progress(keras.callbacks.Callback):
    """Print one line at least every ``every_seconds`` of training: for notebooks and logs.

    ``step 1,200/9,000 | 2,310 tokens/s | sampled loss 5.123 | elapsed 0:10:02 | ETA 0:49:58``

    The step counts over epochs (and resumes: it starts from the epoch Keras resumes at); tokens/s
    is measured since the previous line; the loss is ``fit``'s running mean of the epoch's
    *sampled*-softmax loss (not a perplexity); the ETA is the smaller of the time budget left and
    ``steps left x seconds per step`` (the steps left come from ``total_steps``).

    Args:
        every_seconds: the longest gap between two lines.
        tokens_per_step: ``batch_size * unroll_steps``.
        steps_per_epoch: steps in one epoch.
        total_steps: ``epochs * steps_per_epoch`` (None: unknown).
        time_budget_seconds: the run's time budget (None: none).
        already_spent_seconds: training time of earlier, interrupted runs of the same training.
        clock: a monotonic clock (tests pass a fake one).
        print_fn: where lines go.
    """

    def __init__(self, every_seconds: float = 60.0, *, tokens_per_step: int, steps_per_epoch: int,
                 total_steps: int | None = None, time_budget_seconds: float | None = None,
                 already_spent_seconds: float = 0.0, clock=time.monotonic, print_fn=print):
        super().__init__()
        if not every_seconds > 0:
            raise ValueError(f"`every_seconds` must be positive, received "
                             f"every_seconds={every_seconds!r}")
        self.every_seconds = float(every_seconds)
        self.tokens_per_step, self.steps_per_epoch = int(tokens_per_step), int(steps_per_epoch)
        self.total_steps, self.time_budget_seconds = total_steps, time_budget_seconds
        self.already_spent_seconds = float(already_spent_seconds)
        self.clock, self.print_fn = clock, print_fn
        self.lines: list[str] = []

    def on_train_begin(self, logs=None):
        self.start = self.last_time = self.clock()
        self.first_step = self.last_step = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.first_step is None:  # Keras resumes at a later epoch after an interruption
            self.first_step = self.last_step = epoch * self.steps_per_epoch

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        if now - self.last_time < self.every_seconds:
            return
        step = self.epoch * self.steps_per_epoch + batch + 1
        rate = (step - self.last_step) * self.tokens_per_step / max(now - self.last_time, 1e-9)
        elapsed = now - self.start + self.already_spent_seconds
        line = f"step {step:,}" + (f"/{self.total_steps:,}" if self.total_steps else "")
        line += f" | {rate:,.0f} tokens/s"
        if logs and "loss" in logs:
            line += f" | sampled loss {float(logs['loss']):.3f}"
        line += f" | elapsed {_clock(elapsed)}"
        etas = []
        if self.total_steps:
            seconds_per_step = (now - self.start) / max(step - self.first_step, 1)
            etas.append(max(self.total_steps - step, 0) * seconds_per_step)
        if self.time_budget_seconds:
            etas.append(max(self.time_budget_seconds - elapsed, 0.0))
        if etas:
            line += f" | ETA {_clock(min(etas))}"
        self.print_fn(line)
        self.lines.append(line)
        self.last_time, self.last_step = now, step


"""Train the biLM with checkpoints, resume, early stopping and a time budget; full-softmax perplexity.

- :func:`train_bilm`          compile a :class:`~elmo_lib.bilm.BiLMTrainer` and ``fit`` it; writes a run dir
- :func:`load_trained`        ``(trainer, vocab)`` back from a run dir
- :func:`evaluate_perplexity` token-weighted full-softmax perplexity of both directions
- :func:`evaluate_stream_perplexity` the same with the LSTM state carried through the text
- :func:`sample_sentences`    sample text from the forward LM (lesson 04)

A run directory holds ``config.json``, ``vocab.txt``, ``best.weights.h5`` (best ``val_loss``),
``last.weights.h5``, ``history.json``/``history.csv`` (one row per epoch) and ``backup/`` (the
``BackupAndRestore`` state, or a ``tf.train.CheckpointManager``'s under
``MultiWorkerMirroredStrategy``: call :func:`train_bilm` again with the same ``output_dir`` and a
killed run continues from its last finished epoch). With several workers only the chief writes
there; worker ``i`` writes to ``output_dir/workers/<i>``. Introduced in lesson 04.
"""

from __future__ import annotations

import math
import os
import pathlib
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from elmo_lib import atomic, checkpoint, data, distribute, runs, text
from elmo_lib.bilm import BiLMConfig, BiLMTrainer
from elmo_lib.checkpoint import HistoryJSON, history_csv, read_history  # noqa: F401 (API)
from elmo_lib.lstm import run_lstmps

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
HISTORY_FILE = "history.json"
BEST_WEIGHTS = "best.weights.h5"
LAST_WEIGHTS = "last.weights.h5"
BACKUP_DIR = "backup"
HISTORY_CSV = "history.csv"
LOCK_FILE = ".lock"  # atomic.PathLock: the pid of the process training here


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly once ``minutes`` of wall-clock time have passed.

    The epoch in progress ends early; Keras then still runs its validation and ``on_epoch_end``
    (checkpoints), so the stopped run is a complete, resumable state. ``already_spent_seconds``
    counts time from earlier (interrupted) runs of the same training.
    """

    def __init__(self, minutes: float, already_spent_seconds: float = 0.0):
        super().__init__()
        if not minutes > 0:
            raise ValueError(f"`minutes` must be positive, received minutes={minutes!r}")
        self.minutes = float(minutes)
        self.already_spent_seconds = float(already_spent_seconds)
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.monotonic() - self.already_spent_seconds

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start >= 60.0 * self.minutes:
            self.stopped = True
            self.model.stop_training = True


class TimeCosineSchedule(keras.callbacks.Callback):
    """Cosine learning-rate decay over a wall-clock budget: ``lr = base * (1 + cos(pi * f)) / 2``.

    ``f`` is the fraction of ``minutes`` spent (over resumes, like :class:`TimeBudget`), after a
    linear warm-up of ``warmup_steps``. On a shared or unknown machine the number of steps that fit
    in the budget is unknown in advance; this schedule still ends at a small learning rate when the
    budget runs out. It is not reproducible step for step (it depends on the machine's speed).
    """

    def __init__(self, base_lr: float, minutes: float, already_spent_seconds: float = 0.0,
                 warmup_steps: int = 0, final_fraction: float = 0.02):
        super().__init__()
        self.base_lr, self.minutes = float(base_lr), float(minutes)
        self.already_spent_seconds = float(already_spent_seconds)
        self.warmup_steps, self.final_fraction = int(warmup_steps), float(final_fraction)

    def on_train_begin(self, logs=None):
        self.start = time.monotonic() - self.already_spent_seconds

    def on_train_batch_begin(self, batch, logs=None):
        spent = min((time.monotonic() - self.start) / (60.0 * self.minutes), 1.0)
        lr = self.base_lr * (self.final_fraction + (1 - self.final_fraction)
                             * 0.5 * (1.0 + math.cos(math.pi * spent)))
        step = int(self.model.optimizer.iterations.numpy())
        if step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        self.model.optimizer.learning_rate.assign(lr)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


class StepLogger(keras.callbacks.Callback):
    """Print ``step, loss, tokens/s`` every ``every`` steps (progress for log files / nohup)."""

    def __init__(self, every: int, tokens_per_step: int):
        super().__init__()
        self.every, self.tokens_per_step = every, tokens_per_step

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start, self.count = epoch, time.monotonic(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count % self.every == 0:
            rate = self.count * self.tokens_per_step / (time.monotonic() - self.start)
            print(f"epoch {self.epoch + 1} step {batch + 1}: loss {float(logs['loss']):.4f}, "
                  f"{rate:.0f} tokens/s", flush=True)


def make_optimizer(config: BiLMConfig, name: str = "adam", total_steps: int | None = None,
                   schedule: str = "constant", warmup_steps: int = 0,
                   replicas: int = 1) -> keras.optimizers.Optimizer:
    """Adam or Adagrad (bilm-tf's choice) with global-norm clipping at ``config.clip_norm``.

    ``schedule="cosine"`` decays the learning rate to 0 over ``total_steps`` after a linear
    warm-up of ``warmup_steps``.

    The optimizer is :class:`elmo_lib.distribute.ClipSummedAdam` / ``ClipSummedAdagrad`` (create it
    inside the strategy's scope), not Keras' own with ``global_clipnorm``, for two reasons:

    - with ``replicas > 1`` it clips the gradient *summed over the replicas* by its exact global
      norm, as one device would; ``global_clipnorm`` clips each replica's gradient before the sum
      (up to N times looser);
    - it merges the repeated rows of ``IndexedSlices`` gradients (the softmax rows of frequent
      words, the character embeddings) before the update. Keras 3.15's Adam squares the *pieces*
      of a sparse gradient one by one, so a row that appears k times in a batch gets a second
      moment ~k times too small and an Adam step up to sqrt(k) times too large; ``global_clipnorm``
      underestimates the norm the same way. TF1's optimizers (bilm-tf) merged them first.
    """
    lr = config.learning_rate
    if schedule == "cosine":
        if not total_steps:
            raise ValueError("schedule='cosine' needs total_steps, received "
                             f"total_steps={total_steps!r}")
        lr = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else lr, decay_steps=max(total_steps - warmup_steps, 1),
            warmup_target=lr if warmup_steps else None, warmup_steps=warmup_steps)
    elif schedule != "constant":
        raise ValueError(f"`schedule` must be 'constant' or 'cosine', received schedule={schedule!r}")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"`replicas` must be a positive int, received replicas={replicas!r}")
    clip = {"summed_clipnorm": config.clip_norm}
    adam, adagrad = distribute.ClipSummedAdam, distribute.ClipSummedAdagrad
    if name == "adam":
        return adam(lr, **clip)
    if name == "adagrad":
        return adagrad(lr, initial_accumulator_value=1.0, **clip)
    raise ValueError(f"`optimizer` must be 'adam' or 'adagrad', received optimizer={name!r}")


def _check_steps(**steps) -> None:
    """Step counts must be positive ints (or None): Keras takes 0 as "until the data ends", which
    on an endless dataset is never."""
    for name, value in steps.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"`{name}` must be a positive integer or None, received "
                             f"{name}={value!r}")


def _as_dataset(sentences_or_dataset, vocab, config: BiLMConfig, *, training: bool, seed: int,
                drop_remainder: bool = False):
    """Sentences -> ``lm_dataset`` (endless and shuffled for training); datasets pass through."""
    if isinstance(sentences_or_dataset, tf.data.Dataset):
        return sentences_or_dataset, None
    sentences = sentences_or_dataset
    if training and config.stateful:  # contiguous rows in order, the LSTM state carried over
        dataset = data.lm_stateful_dataset(
            sentences, vocab, config.batch_size, config.unroll_steps,
            max_characters_per_token=config.max_characters_per_token,
            include_char_ids=config.token_input == "chars",
            include_token_ids=config.token_input == "words")
        stream_tokens = sum(len(s) + 2 for s in sentences if len(s))
        return dataset, (stream_tokens - 2) // (config.batch_size * config.unroll_steps)
    drop_remainder = training or drop_remainder
    steps = data.lm_steps_per_epoch(sentences, config.batch_size, config.unroll_steps,
                                    drop_remainder=drop_remainder)
    dataset = data.lm_dataset(sentences, vocab, config.batch_size, config.unroll_steps,
                              shuffle=training, seed=seed, repeat=training,
                              drop_remainder=drop_remainder,
                              max_characters_per_token=config.max_characters_per_token,
                              include_char_ids=config.token_input == "chars",
                              include_token_ids=config.token_input == "words")
    return dataset, steps


def build_trainer(config: BiLMConfig, *, seed: int = 0, optimizer=None, jit_compile: bool = True,
                  strategy: tf.distribute.Strategy | None = None) -> BiLMTrainer:
    """A built and compiled :class:`BiLMTrainer` (inside ``strategy.scope()`` if given).

    With several replicas in one process (``MirroredStrategy``) XLA is turned off: TF 2.21 fails
    with "Trying to access resource ... on CPU:1 from CPU:0" when it compiles a mirrored step.
    The default optimizer is ``make_optimizer(config, replicas=...)`` (clip after the all-reduce
    with 2+ replicas). Several hosts (``MultiWorkerMirroredStrategy``): Keras 3.15's ``fit`` cannot
    reduce the biLM's nested batches there (keras-team/keras#20585); :func:`train_bilm` trains with
    ``elmo_lib.distribute.fit_loop`` then (docs/full_size_training.md).
    """
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        jit_compile = False
    scope = strategy.scope() if strategy is not None else _NullScope()
    with scope:
        trainer = BiLMTrainer(config, seed=seed)
        trainer.build()
        if callable(optimizer):  # a factory: the optimizer's variables belong in the scope too
            optimizer = optimizer()
        if optimizer is None:
            replicas = strategy.num_replicas_in_sync if strategy is not None else 1
            optimizer = make_optimizer(config, replicas=replicas)
        trainer.compile(optimizer=optimizer, jit_compile=jit_compile)
    return trainer


class _NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def train_bilm(config: BiLMConfig, train_data, valid_data=None, *, vocab: text.Vocabulary,
               output_dir: str | os.PathLike, epochs: int = 10,
               steps_per_epoch: int | None = None, validation_steps: int | None = None,
               strategy: tf.distribute.Strategy | None = None, jit_compile: bool = True,
               seed: int = 0, patience: int | None = 3, time_budget_minutes: float | None = None,
               optimizer: str = "adam", schedule: str = "constant", warmup_steps: int = 0,
               log_every: int | None = None, callbacks: Sequence[keras.callbacks.Callback] = (),
               verbose: int | str = "auto", training_loop: str = "auto",
               progress_every_seconds: float | None = None) -> tuple[BiLMTrainer, dict]:
    """Train a biLM language model and keep everything needed to use or resume it in ``output_dir``.

    Distribution. With a strategy of 2+ replicas the optimizer clips the gradient summed over the
    replicas (``make_optimizer(replicas=...)``), so a step equals the single-device step on the
    same global batch; with one replica nothing changes. Under ``MultiWorkerMirroredStrategy``
    (several hosts, ``TF_CONFIG``) Keras 3.15's ``fit`` fails before the first step (it reduces the
    nested batch with ``strategy.reduce``, which that strategy refuses: keras-team/keras#20585), so
    training runs in :func:`elmo_lib.distribute.fit_loop`: the same ``train_step``/``test_step``,
    the same callbacks, and a ``tf.train.CheckpointManager`` backup in ``backup/`` instead of
    ``BackupAndRestore`` (a restarted worker continues from the last finished epoch). Every worker
    runs the same steps and callbacks (saving reads mirrored variables, and all workers must take
    part), but only the chief (worker 0) writes into ``output_dir``; worker ``i`` writes its
    copies into ``distribute.worker_output_dir(output_dir)`` = ``output_dir/workers/<i>``, so no
    two processes write the same file even on a shared file system. A restarted worker restores
    the chief's ``backup/`` if it can read it (shared storage), else its own. With several
    replicas a validation ``sentences`` input is batched with ``drop_remainder=True`` (each replica
    needs a full share; at most one batch of windows is left out).

    Args:
        config: model and training sizes (``batch_size``, ``unroll_steps``, ``learning_rate``,
            ``clip_norm`` are used here).
        train_data: tokenized sentences (batched with ``elmo_lib.data.lm_dataset``) or an endless
            ``tf.data.Dataset`` of ``lm_dataset`` batches (then give ``steps_per_epoch``).
        valid_data: sentences or a dataset for ``val_loss`` (full softmax) after each epoch;
            ``None`` monitors the training loss instead.
        vocab: the output vocabulary (saved as ``vocab.txt``); ``len(vocab)`` must be
            ``config.vocab_size``.
        output_dir: the run directory (created). If it holds a ``backup/``, training resumes.
        epochs: maximum number of epochs.
        steps_per_epoch: batches per epoch (default: one pass over ``train_data`` sentences).
        validation_steps: batches per validation (default: the whole ``valid_data``).

    Raises:
        ValueError: ``steps_per_epoch``/``validation_steps`` not a positive int; sentences too
            few for one batch of training windows (stateful or not) or for one validation window
            (the message gives the windows and stream tokens found and what one batch needs);
            a vocabulary that does not match ``config.vocab_size``.
        strategy: a ``tf.distribute`` strategy; the model is built and compiled in its scope.
        jit_compile: XLA-compile the train/eval steps.
        seed: weights, dropout, candidate sampling and shuffling seed.
        patience: early-stopping patience in epochs on the monitored loss (``None``: off).
        time_budget_minutes: stop cleanly after this much training time (over resumes).
        optimizer: ``"adam"`` or ``"adagrad"``.
        schedule: ``"constant"``, ``"cosine"`` (to 0 over ``epochs * steps_per_epoch``) or
            ``"time_cosine"`` (over ``time_budget_minutes``, see :class:`TimeCosineSchedule`).
        warmup_steps: linear learning-rate warm-up for the cosine schedules.
        log_every: also print loss and tokens/s every this many steps.
        callbacks: extra Keras callbacks.
        verbose: ``fit`` verbosity (1 = progress bar, 2 = one line per epoch).
        training_loop: ``"fit"`` (Keras' ``fit``), ``"custom"`` (``distribute.fit_loop``) or
            ``"auto"``: custom under ``MultiWorkerMirroredStrategy``, else fit.
        progress_every_seconds: print step, tokens/s, loss, elapsed and ETA at least this often
            (:class:`elmo_lib.runs.Progress`; None: off).

    ``output_dir`` must be new or hold this same model (``config.json`` and ``vocab.txt``):
    another model's directory is refused with ``ValueError`` (:func:`elmo_lib.runs.check_output_dir`).
    ``run.json`` is deleted when training starts and written when it ends (a finished run; see
    :func:`elmo_lib.runs.load_or_train`).
    While it trains, ``output_dir/.lock`` holds this process's pid: a second trainer on the same
    directory gets :class:`elmo_lib.atomic.PathLockedError` (an ``OSError`` naming the directory
    and the owner's pid). Every file is written atomically and a resume takes the newest complete
    backup (:mod:`elmo_lib.checkpoint`; docs/what_survives_what.md).

    Returns:
        ``(trainer, history)``: the trainer with the best weights loaded and the per-epoch records
        of ``history.json`` (a list of dicts) under ``history["epochs"]``, plus ``"stopped_by"``.

    Example:
        >>> vocab = text.Vocabulary.from_corpus(sentences)
        >>> config = BiLMConfig.tiny(vocab_size=len(vocab))
        >>> trainer, history = train_bilm(config, sentences, vocab=vocab, output_dir="runs/t",
        ...                               epochs=2)
    """
    if len(vocab) != config.vocab_size:
        raise ValueError(f"config.vocab_size={config.vocab_size} but the vocabulary has "
                         f"{len(vocab)} tokens")
    if training_loop not in ("auto", "fit", "custom"):
        raise ValueError("`training_loop` must be 'auto', 'fit' or 'custom', received "
                         f"training_loop={training_loop!r}")
    multi_worker = distribute.is_multi_worker(strategy)
    if training_loop == "fit" and multi_worker:
        raise ValueError("training_loop='fit' does not work under MultiWorkerMirroredStrategy "
                         "(keras-team/keras#20585); use 'auto' or 'custom'")
    custom = training_loop == "custom" or (training_loop == "auto" and multi_worker)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    if replicas > 1 and config.batch_size % replicas:
        raise ValueError(f"config.batch_size={config.batch_size} (the global batch) must be a "
                         f"multiple of the {replicas} replicas")
    if config.stateful and replicas > 1:
        raise ValueError("config.stateful=True carries one LSTM state per batch row and needs a "
                         f"single replica; the strategy has {replicas}")
    chief_dir = pathlib.Path(output_dir)
    out = distribute.worker_output_dir(chief_dir) if multi_worker else chief_dir
    runs.check_output_dir(out, config, vocab)  # never overwrite another model
    out.mkdir(parents=True, exist_ok=True)
    with atomic.PathLock(out, out / LOCK_FILE):  # one trainer per run directory
        return _train_locked(config, train_data, valid_data, vocab, out, chief_dir, epochs,
                             steps_per_epoch, validation_steps, strategy, jit_compile, seed,
                             patience, time_budget_minutes, optimizer, schedule, warmup_steps,
                             log_every, callbacks, verbose, custom, replicas,
                             progress_every_seconds)


def _train_locked(config, train_data, valid_data, vocab, out, chief_dir, epochs, steps_per_epoch,
                  validation_steps, strategy, jit_compile, seed, patience, time_budget_minutes,
                  optimizer, schedule, warmup_steps, log_every, callbacks, verbose, custom,
                  replicas, progress_every_seconds):
    """The body of :func:`train_bilm`, run while this process holds the directory's lock."""
    runs.check_output_dir(out, config, vocab)  # again: another process may have written it
    atomic.clean_stale(out)
    runs.clear_marker(out)
    keras.utils.set_random_seed(seed)
    _check_steps(steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
    train_ds, default_steps = _as_dataset(train_data, vocab, config, training=True, seed=seed)
    steps_per_epoch = steps_per_epoch or default_steps
    if steps_per_epoch is None:
        raise ValueError("`steps_per_epoch` is required when `train_data` is a tf.data.Dataset")
    # Keras reads steps_per_epoch=0 on an endless dataset as "no limit": never pass it on.
    _check_steps(steps_per_epoch=steps_per_epoch)
    valid_ds = None
    if valid_data is not None:
        valid_ds, _ = _as_dataset(valid_data, vocab, config, training=False, seed=seed,
                                  drop_remainder=replicas > 1)

    atomic.write_json(out / CONFIG_FILE, config.to_dict())
    vocab.save(out / VOCAB_FILE)
    history_path = out / HISTORY_FILE
    previous = read_history(history_path) if (out / BACKUP_DIR).exists() else []
    if not previous and history_path.exists():
        history_path.unlink()  # a fresh run: don't mix in records of an older one

    monitor = "val_loss" if valid_ds is not None else "loss"
    best_so_far = min((r[monitor] for r in previous if monitor in r), default=None)
    tokens_per_step = config.batch_size * config.unroll_steps
    budget = (TimeBudget(time_budget_minutes,
                         previous[-1]["elapsed_seconds"] if previous else 0.0)
              if time_budget_minutes else None)
    time_schedule = None
    if schedule == "time_cosine":
        if not time_budget_minutes:
            raise ValueError("schedule='time_cosine' needs time_budget_minutes")
        time_schedule = TimeCosineSchedule(config.learning_rate, time_budget_minutes,
                                           budget.already_spent_seconds, warmup_steps)
    early = (keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, mode="min")
             if patience is not None else None)
    progress = (runs.Progress(progress_every_seconds, tokens_per_step=tokens_per_step,
                              steps_per_epoch=steps_per_epoch, total_steps=epochs * steps_per_epoch,
                              time_budget_seconds=60.0 * (time_budget_minutes or 0) or None,
                              already_spent_seconds=budget.already_spent_seconds if budget else 0.0)
                if progress_every_seconds else None)
    # Every file is written atomically, in this order at the end of an epoch: best weights,
    # history, backup. A kill between two of them leaves an epoch that the resumed run redoes.
    backup = checkpoint.Backup(out / BACKUP_DIR) if not custom else None
    all_callbacks = [
        *([time_schedule] if time_schedule is not None else []),
        checkpoint.BestWeights(out / BEST_WEIGHTS, monitor, best_so_far),
        HistoryJSON(history_path, tokens_per_step, out / HISTORY_CSV),
        *([backup] if backup is not None else []),
        *(c for c in (early, budget) if c is not None),
        *([StepLogger(log_every, tokens_per_step)] if log_every else []),
        *([progress] if progress is not None else []),
        *callbacks,
    ]
    trainer = build_trainer(
        config, seed=seed, jit_compile=jit_compile, strategy=strategy,
        optimizer=lambda: make_optimizer(config, optimizer, epochs * steps_per_epoch,
                                         "constant" if schedule == "time_cosine" else schedule,
                                         warmup_steps, replicas=replicas))
    if custom:
        restore = [chief_dir / BACKUP_DIR] if out != chief_dir else []
        distribute.fit_loop(trainer, train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            validation_data=valid_ds, validation_steps=validation_steps,
                            callbacks=all_callbacks, backup_dir=out / BACKUP_DIR,
                            restore_dirs=restore, verbose=1 if verbose == "auto" else verbose,
                            strategy=strategy)
    else:
        trainer.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                    validation_data=valid_ds, validation_steps=validation_steps,
                    callbacks=all_callbacks, verbose=verbose, shuffle=False)  # lm_dataset shuffles
    checkpoint.save_weights(trainer, out / LAST_WEIGHTS)
    if (out / BEST_WEIGHTS).exists():
        checkpoint.load_weights(trainer, out / BEST_WEIGHTS)
    records = read_history(history_path)
    stopped_by = ("time_budget" if budget is not None and budget.stopped else
                  "early_stopping" if early is not None and early.stopped_epoch > 0 else "epochs")
    runs.write_marker(out, config, vocab, stopped_by=stopped_by, records=records)
    return trainer, {"epochs": records, "stopped_by": stopped_by}


def check_vocab_size(vocab: text.Vocabulary, config: BiLMConfig, path: str | os.PathLike) -> None:
    """Raise ``ValueError`` naming ``path`` when the vocabulary read from it has not
    ``config.vocab_size`` tokens (a file cut short, or another model's)."""
    if len(vocab) != config.vocab_size:
        raise ValueError(f"{path} has {len(vocab):,} tokens but the config says vocab_size="
                         f"{config.vocab_size:,}: the file is damaged (cut short?) or belongs to "
                         "another model")


def load_trained(output_dir: str | os.PathLike, *, weights: str = BEST_WEIGHTS,
                 jit_compile: bool = False) -> tuple[BiLMTrainer, text.Vocabulary]:
    """``(trainer, vocab)`` from a run directory written by :func:`train_bilm`.

    Raises:
        FileNotFoundError: a needed file is missing (the message names it).
        ValueError: a file exists but cannot be read, is cut short, or does not fit
            ``config.json`` (the message names it).
    """
    out = pathlib.Path(output_dir)
    paths = {name: out / name for name in (CONFIG_FILE, VOCAB_FILE, weights)}
    if weights == BEST_WEIGHTS and not paths[weights].exists() and (out / LAST_WEIGHTS).exists():
        paths[weights] = out / LAST_WEIGHTS
    for path in paths.values():
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: is {out} a run directory of train_bilm?")
    try:
        config = BiLMConfig.from_dict(atomic.read_json(paths[CONFIG_FILE], "config"))
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{paths[CONFIG_FILE]}: not a valid BiLMConfig ({error})") from error
    vocab = text.Vocabulary.load(paths[VOCAB_FILE])
    check_vocab_size(vocab, config, paths[VOCAB_FILE])
    trainer = build_trainer(config, jit_compile=jit_compile)
    trainer.optimizer.build(trainer.trainable_variables)  # the file holds the optimizer state too
    checkpoint.load_weights(trainer, paths[weights])
    return trainer, vocab


def _loss_sums(trainer: BiLMTrainer, element_spec=None):
    # One trace for every batch size (the last batch is smaller): the batch axis is left open when
    # the dataset's structure is known, so a few evaluations in a row do not retrace.
    signature = None
    if element_spec is not None:
        signature = list(tf.nest.map_structure(
            lambda s: tf.TensorSpec([None, *s.shape[1:]], s.dtype), element_spec))

    @tf.function(jit_compile=False, autograph=False, input_signature=signature)
    def sums(x, y):  # no tensor-dependent Python control flow
        hidden = trainer(x, training=False)
        weights = tf.cast(y["mask"], tf.float32)
        out = {"tokens": tf.reduce_sum(weights), "tokens_by_position": tf.reduce_sum(weights, 0)}
        for direction, key in (("forward", "next_token_ids"), ("backward", "previous_token_ids")):
            losses = trainer.softmax.token_losses(hidden[direction], y[key]) * weights
            out[direction] = tf.reduce_sum(losses)
            out[f"{direction}_by_position"] = tf.reduce_sum(losses, 0)  # [T]: sum over rows
        return out
    return sums


def evaluate_perplexity(trainer: BiLMTrainer, dataset, steps: int | None = None, *,
                        vocab: text.Vocabulary | None = None, verbose: int = 1,
                        by_position: bool = False) -> dict:
    """Full-softmax perplexity of both directions, weighted by tokens.

    ``perplexity = exp(sum of token losses / number of real tokens)`` over the whole dataset (not a
    mean of batch means), per direction. ``mean`` is the arithmetic mean of the forward and
    backward perplexities, ``geometric_mean`` ``exp`` of the mean of their losses.

    Args:
        trainer: a :class:`BiLMTrainer`.
        dataset: ``lm_dataset`` batches, or tokenized sentences (then ``vocab`` is needed; every
            window is kept, the last one padded).
        steps: stop after this many batches (default: the whole, finite, dataset).
        vocab: the vocabulary, when ``dataset`` is sentences.
        verbose: 1 shows a progress bar.
        by_position: also return the mean loss at each position of the windows (position ``t``
            is predicted from ``t`` tokens of the window: how much a zero start state costs;
            lesson 04, "Going further").

    Returns:
        dict ``forward``, ``backward``, ``mean``, ``geometric_mean`` (perplexities),
        ``forward_loss``, ``backward_loss`` (nats per token) and ``tokens``; with
        ``by_position``, also ``forward_loss_by_position``, ``backward_loss_by_position`` (float64
        ``[unroll_steps]``, nats per token; the token-weighted mean of each is its ``*_loss``) and
        ``tokens_by_position`` (int ``[unroll_steps]``). Positions are those of the windows in
        reading order: for the backward LM, position 0 is the window's first token too.
    """
    _check_steps(steps=steps)
    if not isinstance(dataset, tf.data.Dataset):
        if vocab is None:
            raise ValueError("evaluate_perplexity needs `vocab` when `dataset` is sentences")
        dataset, total = _as_dataset(dataset, vocab, trainer.config, training=False, seed=0)
        steps = steps if steps is not None else total
    sums = _loss_sums(trainer, getattr(dataset, "element_spec", None))
    totals = {"forward": 0.0, "backward": 0.0, "tokens": 0.0}
    positions = {}
    bar = keras.utils.Progbar(steps, unit_name="batch") if verbose else None
    for i, (x, y) in enumerate(dataset):
        if steps is not None and i >= steps:
            break
        for key, value in sums(x, y).items():
            if key.endswith("_by_position"):
                positions[key] = positions.get(key, 0.0) + np.asarray(value, np.float64)
            else:
                totals[key] += float(value)
        if bar is not None:
            bar.update(i + 1)
    if totals["tokens"] == 0:
        raise ValueError("evaluate_perplexity: the dataset has no real tokens (mask is all 0)")
    result = _perplexities(totals)
    if by_position:
        counts = positions["tokens_by_position"]
        for direction in ("forward", "backward"):
            result[f"{direction}_loss_by_position"] = (
                positions[f"{direction}_by_position"] / np.maximum(counts, 1.0))
        result["tokens_by_position"] = counts.astype(np.int64)
    return result


def _perplexities(totals: dict) -> dict:
    """Summed losses per direction and the token count -> perplexities (see evaluate_perplexity)."""
    result = {"tokens": int(totals["tokens"])}
    for direction in ("forward", "backward"):
        loss = totals[direction] / totals["tokens"]
        result[f"{direction}_loss"] = loss
        result[direction] = math.exp(loss)
    result["mean"] = 0.5 * (result["forward"] + result["backward"])
    result["geometric_mean"] = math.exp(0.5 * (result["forward_loss"] + result["backward_loss"]))
    return result


def _stream_step(trainer: BiLMTrainer, direction: str):
    """One window of one direction's LM with the LSTM state carried in and out (no dropout)."""
    encoder = trainer.encoder
    layers = encoder.forward_layers if direction == "forward" else encoder.backward_layers

    @tf.function(jit_compile=False, reduce_retracing=True, autograph=False)
    def step(inputs, targets, mask, states):
        x = encoder.embed_tokens(trainer._inputs(inputs))
        new_states = []
        for k, layer in enumerate(layers):
            (h,), state = run_lstmps([layer], [x], mask=mask, training=False,
                                     initial_state=states[k], return_state=True)
            if encoder.config.use_skip_connections and k > 0:
                h = h + x
            new_states.append(state)
            x = h
        losses = trainer.softmax.token_losses(x, targets)
        return tf.reduce_sum(losses * mask), new_states

    return step


def evaluate_stream_perplexity(trainer: BiLMTrainer, sentences: Sequence[Sequence[str]], *,
                               vocab: text.Vocabulary, n_streams: int = 8, window: int = 128,
                               verbose: int = 1) -> dict:
    """Full-softmax perplexity with the LSTM state carried through the text (bilm-tf's protocol).

    :func:`evaluate_perplexity` scores ``unroll_steps``-token windows that each start from a zero
    state, as in training: the first tokens of a window are predicted from almost no context.
    bilm-tf's test instead reads the text as one stream, carrying the state from batch to batch,
    so each token is predicted from everything before it (after it, for the backward LM). This
    does the same with ``n_streams`` pieces read in parallel (:func:`elmo_lib.data.lm_stream_windows`;
    ``n_streams=1`` is exactly one stream). It scores the same ``N - 2`` tokens as
    :func:`evaluate_perplexity`, so the two are directly comparable.

    Args:
        trainer: a :class:`BiLMTrainer`.
        sentences: tokenized sentences (read in order, as one text).
        vocab: the vocabulary.
        n_streams: rows read in parallel, each from a zero state (faster; a few more cold starts).
        window: steps per call; with the state carried it changes speed and memory, not the result.
        verbose: 1 shows a progress bar.

    Returns:
        the dict of :func:`evaluate_perplexity` (``forward``, ``backward``, ``mean``, ...).
    """
    c = trainer.config
    totals = {"forward": 0.0, "backward": 0.0, "tokens": 0.0}
    bar = None
    for pass_index, direction in enumerate(("forward", "backward")):
        n_windows, windows = data.lm_stream_windows(
            sentences, vocab, n_streams, window, direction=direction,
            max_characters_per_token=c.max_characters_per_token,
            include_char_ids=c.token_input == "chars", include_token_ids=c.token_input == "words")
        if verbose and bar is None:
            bar = keras.utils.Progbar(2 * n_windows, unit_name="window")
        step = _stream_step(trainer, direction)
        states = None
        for k, (inputs, targets) in enumerate(windows):
            if states is None:
                rows = targets["mask"].shape[0]
                states = [(tf.zeros((1, rows, c.projection_dim)), tf.zeros((1, rows, c.lstm_dim)))
                          for _ in range(c.n_layers)]
            loss, states = step(inputs, tf.constant(targets["token_ids"]),
                                tf.constant(targets["mask"]), states)
            totals[direction] += float(loss)
            if direction == "forward":
                totals["tokens"] += float(targets["mask"].sum())
            if bar is not None:
                bar.update(pass_index * n_windows + k + 1)
    return _perplexities(totals)


def sample_sentences(trainer: BiLMTrainer, vocab: text.Vocabulary, prefix: Sequence[str],
                     n_tokens: int = 20, temperature: float = 1.0, n_samples: int = 1,
                     seed: int = 0) -> list[list[str]]:
    """Continue ``prefix`` with the forward LM, sampling from the full softmax.

    The char ids of each sampled token are built from its spelling (the model reads characters).
    Sampling stops at ``</S>``. ``<S>`` is prepended to the prefix.
    """
    if not temperature > 0:
        raise ValueError(f"`temperature` must be positive, received temperature={temperature!r}")
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_samples):
        tokens = [text.BOS_TOKEN, *prefix]
        for _ in range(n_tokens):
            if trainer.config.token_input == "chars":
                x = {"char_ids": text.char_ids([tokens], trainer.config.max_characters_per_token)}
            else:
                x = {"token_ids": vocab.encode(tokens)[None, :]}
            hidden = trainer(x, training=False)["forward"][:, -1]
            logits = keras.ops.convert_to_numpy(trainer.softmax(hidden))[0] / temperature
            probs = np.exp(logits - logits.max())
            token = vocab.id_to_token(int(rng.choice(len(probs), p=probs / probs.sum())))
            if token == text.EOS_TOKEN:
                break
            tokens.append(token)
        samples.append(tokens[1:])
    return samples

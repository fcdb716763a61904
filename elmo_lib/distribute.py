"""Training on several devices or hosts: strategies, loss scaling, clipping, mixed precision.

- :func:`make_strategy`          ``"auto" | "default" | "mirrored" | "multi_worker"`` strategies
- :func:`scale_loss_for_replicas` divide a per-replica mean loss by the number of replicas
- :func:`all_reduce_and_clip`    clip by the global norm of the *summed* gradient (see below)
- :class:`ClipSummedAdam`, :class:`ClipSummedAdagrad` optimizers that clip after the all-reduce
- :func:`train_loop`             training steps without ``fit`` (``fit`` fails on 2+ workers)
- :func:`fit_loop`               epochs, validation, callbacks and resume without ``fit``
- :func:`set_precision`          ``"float32" | "mixed_float16" | "mixed_bfloat16"``

What ``fit`` does under a strategy (Keras 3.15, TensorFlow backend; read in
``keras/src/backend/tensorflow/trainer.py`` and ``optimizer.py``, and checked in
``tests/test_distributed.py``):

1. Each replica runs ``train_step`` on its slice of the global batch; the optimizer **sums** the
   replicas' gradients (``all_reduce(SUM)``). Keras' own losses divide by the number of replicas
   (``scale_loss_for_distribution``) so that the sum is the global mean; a model that overrides
   ``compute_loss`` must do it itself (:func:`scale_loss_for_replicas`). The ``loss`` shown in the
   logs is multiplied back (``unscale_loss_for_distribution``).
2. ``clipnorm``/``global_clipnorm`` of the optimizer are applied to each replica's **local**
   gradient, *before* the sum: with N replicas the effective global-norm bound is up to N times the
   one asked for. :func:`all_reduce_and_clip` clips the summed gradient instead, and
   :class:`ClipSummedAdam` does it inside the optimizer (``train.train_bilm`` uses it with 2+
   replicas).
3. Random ops seeded from a ``keras.random.SeedGenerator`` read the same (mirrored) state on every
   replica, so the sampled-softmax candidates are the same on all replicas of a step, as with one
   device. Across *hosts* they agree only if every worker starts from the same seed (pass
   ``seed`` to the trainer, or call ``keras.utils.set_random_seed`` with the same value).

Sharded corpora (the data side) are in ``elmo_lib.corpus``. Introduced in
``docs/full_size_training.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
from collections.abc import Iterator, Sequence

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

STRATEGY_KINDS = ("auto", "default", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


# ----------------------------------------------------------------------------------- strategies
def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` environment variable (``{}`` if unset)."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, received {raw[:80]!r}")
    return config


def worker_info() -> tuple[int, int]:
    """``(num_workers, worker_index)`` from ``TF_CONFIG`` (``(1, 0)`` without one).

    Counts the ``"chief"`` and ``"worker"`` tasks of the cluster; the chief is worker 0 and
    ``worker`` task ``i`` is ``i + 1`` if there is a chief, ``i`` otherwise (the order that
    ``MultiWorkerMirroredStrategy`` uses for its input pipelines).
    """
    config = tf_config()
    cluster = config.get("cluster", {})
    n_chief = len(cluster.get("chief", []))
    n_workers = n_chief + len(cluster.get("worker", []))
    if n_workers == 0:
        return 1, 0
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if kind == "chief":
        return n_workers, 0
    if kind != "worker":
        raise ValueError(f"TF_CONFIG task type {kind!r} does not read training data")
    return n_workers, index + n_chief


def is_chief() -> bool:
    """True on the process that should write shared outputs (worker 0, or with no ``TF_CONFIG``)."""
    return worker_info()[1] == 0


def worker_output_dir(output_dir: str | os.PathLike) -> pathlib.Path:
    """``output_dir`` for the chief; ``output_dir/workers/<index>`` for other workers.

    Every worker must run the same callbacks (saving reads mirrored variables, which is local), but
    only the chief's files are the run's: the others write to their own folder so that nobody
    overwrites the chief's checkpoint half-way.
    """
    index = worker_info()[1]
    out = pathlib.Path(output_dir)
    return out if index == 0 else out / "workers" / str(index)


def make_strategy(kind: str = "auto", devices: Sequence[str] | None = None
                  ) -> tf.distribute.Strategy:
    """A ``tf.distribute`` strategy for training the biLM.

    Args:
        kind: ``"default"`` (one device, no distribution), ``"mirrored"`` (all local GPUs, or
            ``devices``; one process), ``"multi_worker"`` (``MultiWorkerMirroredStrategy``: the
            cluster and this process's role are read from ``TF_CONFIG``), or ``"auto"``:
            multi_worker if ``TF_CONFIG`` names a cluster, mirrored if ``devices`` are given or
            there are 2+ GPUs, else default.
        devices: device names for ``"mirrored"`` (e.g. ``["/gpu:0", "/gpu:1"]`` or, for tests,
            logical CPUs ``["/cpu:0", "/cpu:1"]``).

    Returns:
        the strategy; build and compile the model inside ``strategy.scope()`` (as
        ``elmo_lib.train.build_trainer`` does).

    Example:
        >>> strategy = make_strategy("auto")
        >>> trainer, history = train.train_bilm(config, dataset, ..., strategy=strategy)
    """
    if kind not in STRATEGY_KINDS:
        raise ValueError(f"`kind` must be one of {STRATEGY_KINDS}, received kind={kind!r}")
    if kind == "auto":
        if worker_info()[0] > 1:
            kind = "multi_worker"
        elif devices or len(tf.config.list_logical_devices("GPU")) > 1:
            kind = "mirrored"
        else:
            kind = "default"
    if kind == "default":
        if devices:
            if len(devices) != 1:
                raise ValueError(f"kind='default' takes at most one device, received {devices!r}")
            return tf.distribute.OneDeviceStrategy(devices[0])
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(list(devices) if devices else None)
    if devices:
        raise ValueError("kind='multi_worker' uses the devices of each worker; `devices` must be "
                         f"None, received devices={devices!r}")
    if not tf_config().get("cluster"):
        raise ValueError("kind='multi_worker' reads the cluster from the TF_CONFIG environment "
                         "variable, which is unset or has no 'cluster' (see "
                         "docs/full_size_training.md)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    """True for a ``MultiWorkerMirroredStrategy`` (``fit`` cannot train under it, see
    :func:`fit_loop`)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def num_replicas() -> int:
    """Replicas in sync of the current strategy (1 outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_loss_for_replicas(loss):
    """``loss / num_replicas`` inside a replica context with several replicas; ``loss`` otherwise.

    A per-replica *mean* loss, scaled so, makes the optimizer's sum of replica gradients the
    gradient of the global-batch mean: exactly when every replica has the same number of real
    (mask 1) positions, which is the case for full windows (``drop_remainder=True``); otherwise it
    weights each replica's positions by ``1 / (N * local count)`` instead of ``1 / global count``.
    This is what Keras' ``Loss`` classes do (``keras.src.losses.loss.scale_loss_for_distribution``).
    """
    replicas = num_replicas()
    if replicas > 1:
        loss = loss * tf.cast(1.0 / replicas, loss.dtype)
    return loss


def _merge_duplicates(gradient):
    """An ``IndexedSlices`` with each row index once (rows of the same index summed)."""
    unique, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.size(unique))
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


def global_norm(gradients: Sequence) -> tf.Tensor:
    """The L2 norm of all gradients together, ``IndexedSlices`` with repeated rows counted right.

    ``keras.optimizers``' ``global_clipnorm`` (Keras 3.15) and ``tf.linalg.global_norm`` square the
    *values* of an ``IndexedSlices``: when a row index repeats (a frequent word in
    ``ops.take(kernel, labels)``, a candidate drawn twice) they get ``a**2 + b**2`` instead of
    ``(a + b)**2``, so they underestimate the norm of the biLM's softmax and embedding gradients.
    """
    squares = []
    for g in gradients:
        if g is None:
            continue
        if isinstance(g, tf.IndexedSlices):
            g = _merge_duplicates(g).values
        squares.append(tf.reduce_sum(tf.square(tf.cast(g, tf.float32))))
    return tf.sqrt(tf.add_n(squares)) if squares else tf.constant(0.0)


def all_reduce_and_clip(gradients: Sequence, clip_norm: float | None, loss_scale=1.0) -> list:
    """Clip gradients by the global norm of their sum over replicas, ready for ``apply_gradients``.

    In a replica context with N > 1 replicas: sum the gradients over replicas, clip the sum to
    global norm ``clip_norm`` (as one device would), and return shares that the Keras optimizer's
    own all-reduce (a second one: the price of clipping after the sum without touching Keras
    internals) adds back into the clipped sum: ``clipped / N`` on every replica for dense
    gradients; for ``IndexedSlices`` (kept sparse, repeated rows merged, see :func:`global_norm`)
    the whole clipped sum on replica 0 and no rows on the others. An ``IndexedSlices`` all-reduce
    concatenates rows, and Keras' Adam/Adagrad square ``IndexedSlices`` values row by row, so N
    copies of ``c / N`` would add ``N (c / N)**2`` to the second moment instead of ``c**2``. With
    one replica it only clips (and merges repeated rows). Use it in a ``train_step`` or an
    optimizer's ``apply`` (:class:`ClipSummedAdam`) with **no** ``clipnorm``/``global_clipnorm``.

    Args:
        gradients: list of gradient tensors (or ``IndexedSlices``, or ``None``).
        clip_norm: the bound of the global norm; ``None`` only does the sum (and ``/ N``).
        loss_scale: the factor the loss was multiplied by before differentiation (the
            ``LossScaleOptimizer`` of ``mixed_float16``: ``optimizer.scale_loss(1.0)``); the bound
            applies to the unscaled gradient. Non-finite gradients stay non-finite, so the loss
            scale optimizer still skips the step.

    Returns:
        list (same order; ``None`` kept).
    """
    positions = [i for i, g in enumerate(gradients) if g is not None]
    values = [gradients[i] for i in positions]
    context = tf.distribute.get_replica_context()
    replicas = num_replicas()
    distributed = context is not None and replicas > 1
    if distributed:
        values = context.all_reduce(tf.distribute.ReduceOp.SUM, values)
    values = [_merge_duplicates(g) if isinstance(g, tf.IndexedSlices) else g for g in values]
    factor = tf.constant(1.0 / replicas if distributed else 1.0, tf.float32)
    if clip_norm is not None:
        bound = tf.cast(clip_norm, tf.float32) * tf.cast(loss_scale, tf.float32)
        norm = global_norm(values)
        # min(1, bound / norm), NaN if the norm is not finite (as tf.clip_by_global_norm)
        factor = factor * tf.minimum(1.0, bound / norm) + (norm - norm)
    sparse_factor, first = factor, None
    if distributed:
        sparse_factor = factor * replicas  # the whole sum, on replica 0 only
        first = tf.equal(context.replica_id_in_sync_group, 0)
    result = list(gradients)
    for i, g in zip(positions, values):
        if isinstance(g, tf.IndexedSlices):
            g_values, g_indices = g.values * tf.cast(sparse_factor, g.values.dtype), g.indices
            if first is not None:
                rows = tf.where(first, tf.shape(g_indices)[0], 0)
                g_values, g_indices = g_values[:rows], g_indices[:rows]
            result[i] = tf.IndexedSlices(g_values, g_indices, g.dense_shape)
        else:
            result[i] = g * tf.cast(factor, g.dtype)
    return result


class _ClipSummedGradients:
    """Optimizer mixin: clip by the global norm of the gradient summed over replicas.

    Keras 3.15 (``BaseOptimizer._backend_apply_gradients``) applies ``global_clipnorm`` to each
    replica's gradient, and only then does ``TFOptimizer._backend_update_step`` sum the replicas'
    gradients. This mixin overrides the public ``apply``: it runs :func:`all_reduce_and_clip` on
    the replica gradients first (sum, clip the sum by its exact global norm, divide by N), then
    hands over to the base optimizer, whose own all-reduce adds the N equal parts back into the
    clipped sum. The result is the single-device update; the price is a second all-reduce of the
    gradients per step. Only Keras' public optimizer API is used (``apply``/``get_config``), so the
    model's ``train_step`` (``fit`` and :func:`train_loop`) is unchanged.

    With one replica the clip is the same exact clip (``IndexedSlices`` rows merged,
    :func:`global_norm`), not Keras' ``global_clipnorm``.
    """

    def __init__(self, *args, summed_clipnorm: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            raise ValueError(f"{type(self).__name__} clips the summed gradient itself: give "
                             "`summed_clipnorm`, not clipnorm/global_clipnorm/clipvalue")
        if summed_clipnorm is not None and not summed_clipnorm > 0:
            raise ValueError(f"`summed_clipnorm` must be positive or None, received "
                             f"summed_clipnorm={summed_clipnorm!r}")
        self.summed_clipnorm = summed_clipnorm

    def apply(self, grads, trainable_variables=None):
        scale = self.loss_scale_factor  # the base class divides by it after this point
        grads = all_reduce_and_clip(list(grads), self.summed_clipnorm,
                                    loss_scale=1.0 if scale is None else scale)
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "summed_clipnorm": self.summed_clipnorm}


@keras.saving.register_keras_serializable(package="elmo_lib")
class ClipSummedAdam(_ClipSummedGradients, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` that clips the replica-summed gradient to ``summed_clipnorm``.

    Example:
        >>> with strategy.scope():
        ...     optimizer = ClipSummedAdam(1e-3, summed_clipnorm=10.0)
    """


@keras.saving.register_keras_serializable(package="elmo_lib")
class ClipSummedAdagrad(_ClipSummedGradients, keras.optimizers.Adagrad):
    """``keras.optimizers.Adagrad`` that clips the replica-summed gradient to ``summed_clipnorm``."""


def train_loop(trainer: keras.Model, dataset: tf.data.Dataset, steps: int, *,
               strategy: tf.distribute.Strategy | None = None,
               log_every: int | None = None) -> list[dict[str, float]]:
    """Run ``steps`` training steps of a compiled model without ``fit``: the multi-worker path.

    Keras 3.15 ``fit`` fails under ``MultiWorkerMirroredStrategy`` with 2+ workers: before the
    first step it calls ``strategy.reduce("MEAN", batch)`` on the whole nested batch, which that
    strategy only accepts for single tensors ("Attempt to convert a value ({...PerReplica...})";
    keras-team/keras#20585, #20329). This loop runs the model's own ``train_step`` per replica
    (``strategy.run``) on a distributed iterator, so the loss scaling, clipping and metrics are
    those of ``fit``; it has no callbacks: :func:`fit_loop` adds epochs, validation, callbacks
    and a resumable backup (``train.train_bilm`` uses that).

    Args:
        trainer: a compiled model (built inside ``strategy.scope()``).
        dataset: batches of the **global** batch size (e.g. :func:`sharded_lm_dataset`).
        steps: steps to run.
        strategy: default: ``trainer.distribute_strategy``.
        log_every: print the logs every this many steps (chief only).

    Returns:
        one dict of floats per step (the metrics ``train_step`` returns, averaged over replicas).
    """
    strategy = strategy or trainer.distribute_strategy
    with strategy.scope():
        if not trainer.optimizer.built:
            trainer.optimizer.build(trainer.trainable_variables)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))

    @tf.function
    def one_step(iterator):
        logs = strategy.run(trainer.train_step, args=(next(iterator),))
        # one reduce per value: this strategy's reduce does not take nested structures
        return {key: strategy.reduce("MEAN", value, axis=None) for key, value in logs.items()}

    history = []
    for step in range(steps):
        logs = {key: float(value) for key, value in one_step(iterator).items()}
        history.append(logs)
        if log_every and (step + 1) % log_every == 0 and is_chief():
            print(f"step {step + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in logs.items()),
                  flush=True)
    return history


def _cross_replica_max(strategy: tf.distribute.Strategy):
    """A function ``values -> max over every replica of every worker`` (float32 vector)."""

    def gather_max(values):  # ReduceOp has only SUM and MEAN: gather, then max
        gathered = tf.distribute.get_replica_context().all_gather(values[None], axis=0)
        return tf.reduce_max(gathered, axis=0)

    @tf.function
    def reduce_max(values):
        per_replica = strategy.run(gather_max, args=(values,))
        return strategy.experimental_local_results(per_replica)[0]

    return lambda values: reduce_max(tf.constant(values, tf.float32)).numpy()


def fit_loop(trainer: keras.Model, dataset: tf.data.Dataset, *, epochs: int, steps_per_epoch: int,
             validation_data: tf.data.Dataset | None = None, validation_steps: int | None = None,
             callbacks: Sequence[keras.callbacks.Callback] = (),
             backup_dir: str | os.PathLike | None = None,
             restore_dirs: Sequence[str | os.PathLike] = (), verbose: int = 0,
             strategy: tf.distribute.Strategy | None = None) -> dict:
    """``fit`` for strategies where Keras' ``fit`` fails: epochs of steps, validation, callbacks,
    and a resumable backup.

    Why: Keras 3.15's ``fit``/``evaluate`` fail under ``MultiWorkerMirroredStrategy`` before the
    first step (``_maybe_symbolic_build`` calls ``strategy.reduce("MEAN", batch)`` on the nested
    batch, which that strategy refuses; keras-team/keras#20585). This loop calls the model's own
    ``train_step``/``test_step`` through ``strategy.run`` (so loss scaling, clipping and metrics
    are those of ``fit``) and drives ordinary Keras callbacks in ``fit``'s order: ``on_train_begin``,
    per epoch ``on_epoch_begin``, per step ``on_train_batch_begin``/``_end`` (logs: the running
    means, averaged over replicas), validation after the last step, ``on_epoch_end`` with the
    ``val_`` logs, ``on_train_end``. ``model.stop_training`` ends the epoch after the current step,
    as in ``fit`` (validation and ``on_epoch_end`` still run). With several workers the stop flag
    is agreed by an all-reduce (max) after every step, so that a time budget that runs out on one
    worker stops every worker at the same step instead of leaving the others waiting in a
    collective.

    Backup (the ``BackupAndRestore`` equivalent): a ``tf.train.CheckpointManager`` in
    ``backup_dir`` holds the model, optimizer and the number of finished epochs, saved after each
    epoch by every worker (into its own ``backup_dir``; TensorFlow wants every worker to save). At
    start the newest checkpoint of ``backup_dir`` and ``restore_dirs`` (first match wins) is
    restored and training continues with the next epoch; the workers check (all-reduce) that they
    restored the same epoch (an all-gather). As with ``BackupAndRestore``, the data iterator
    starts afresh. The steps are not XLA-compiled.

    Args:
        trainer: a compiled model built inside ``strategy.scope()``.
        dataset: endless dataset of **global** batches.
        epochs, steps_per_epoch: as in ``fit``.
        validation_data: finite dataset of global batches (split evenly between replicas: build it
            with ``drop_remainder=True`` when there are several).
        validation_steps: at most this many validation batches (default: all).
        callbacks: Keras callbacks (``BackupAndRestore`` is not supported here: use
            ``backup_dir``).
        backup_dir: where this process saves its backup (``None``: no backup, no resume).
        restore_dirs: other directories to look for a backup in, before ``backup_dir``.
        verbose: 1 shows Keras' progress bar.
        strategy: default ``trainer.distribute_strategy``.

    Returns:
        ``{"initial_epoch": int, "epochs": [logs of each epoch run, with "epoch"]}``.
    """
    strategy = strategy or trainer.distribute_strategy
    if any(isinstance(c, keras.callbacks.BackupAndRestore) for c in callbacks):
        raise ValueError("fit_loop does not run keras.callbacks.BackupAndRestore: pass backup_dir")
    with strategy.scope():
        if not trainer.optimizer.built:
            trainer.optimizer.build(trainer.trainable_variables)
    several_workers = worker_info()[0] > 1 and is_multi_worker(strategy)
    agree = _cross_replica_max(strategy)

    finished = tf.Variable(0, dtype=tf.int64, trainable=False, name="finished_epochs")
    checkpoint = tf.train.Checkpoint(model=trainer, optimizer=trainer.optimizer, epoch=finished)
    manager = (tf.train.CheckpointManager(checkpoint, str(backup_dir), max_to_keep=2)
               if backup_dir is not None else None)
    candidates = [*restore_dirs, *([backup_dir] if backup_dir is not None else [])]
    latest = next((found for d in candidates
                   if (found := tf.train.latest_checkpoint(str(d))) is not None), None)
    if latest is not None:
        checkpoint.restore(latest).assert_existing_objects_matched()
        logger.info("fit_loop: restored %s (%d finished epochs)", latest, int(finished.numpy()))
    initial_epoch = int(finished.numpy())
    low, high = agree([-initial_epoch, initial_epoch])
    if -low != high:
        raise ValueError(f"workers restored different epochs ({-low:.0f} to {high:.0f}); this "
                         f"worker restored {latest!r}: delete the backups or make them agree")

    @tf.function
    def train_one(iterator):
        logs = strategy.run(trainer.train_step, args=(next(iterator),))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

    @tf.function
    def test_one(batch):
        logs = strategy.run(trainer.test_step, args=(batch,))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=False, add_progbar=bool(verbose) and is_chief(),
        model=trainer, verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    trainer.stop_training = False
    records = []
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        trainer.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        logs = {}
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = {k: float(v) for k, v in train_one(iterator).items()}
            callback_list.on_train_batch_end(step, logs)
            if several_workers:
                trainer.stop_training = bool(agree([float(trainer.stop_training)])[0])
            if trainer.stop_training:
                break
        epoch_logs = dict(logs)
        if validation_data is not None:
            trainer.reset_metrics()
            val_logs = {}
            for step, batch in enumerate(strategy.experimental_distribute_dataset(
                    validation_data)):
                if validation_steps is not None and step >= validation_steps:
                    break
                val_logs = {k: float(v) for k, v in test_one(batch).items()}
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        records.append({"epoch": epoch, **epoch_logs})
        if manager is not None:
            finished.assign(epoch + 1)
            manager.save(checkpoint_number=epoch + 1)
        if trainer.stop_training:
            break
    callback_list.on_train_end()
    return {"initial_epoch": initial_epoch, "epochs": records}


# ---------------------------------------------------------------------------- mixed precision
def set_precision(precision: str = "float32") -> str:
    """Set Keras' global dtype policy for models built afterwards; returns the previous name.

    ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights (CPUs with AVX512-BF16 / AMX,
    TPUs, Ampere+ GPUs); ``"mixed_float16"`` needs loss scaling, which ``compile`` adds (Keras wraps
    the optimizer in a ``LossScaleOptimizer``). The biLM's softmax, losses and the LSTM clipping
    must stay float32: see ``docs/full_size_training.md``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}, received "
                         f"precision={precision!r}")
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(precision)
    return previous


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[None]:
    """``with precision_scope("mixed_bfloat16"): ...`` sets the policy and restores it after."""
    previous = set_precision(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

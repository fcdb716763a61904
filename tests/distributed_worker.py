"""Subprocess side of ``tests/test_distributed.py`` (TensorFlow's devices must be set up before TF
initialises them, so each scenario runs in a fresh process and writes a JSON report).

    python tests/distributed_worker.py mirrored OUT.json [--cases scaled,clip,jit]
    python tests/distributed_worker.py train_bilm_clip OUT.npz
    python tests/distributed_worker.py multi_worker OUT.json --index I --ports P0,P1 --corpus GLOB
        --output RUN_DIR --valid VALID.txt [--epochs E]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


# ------------------------------------------------------------------------------- mirrored
def _batch(config, batch_size: int, seed: int = 0):
    from elmo_lib import text

    rng = np.random.default_rng(seed)
    ids = rng.integers(3, config.vocab_size, (batch_size, config.unroll_steps + 2))
    words = [[f"w{int(i)}" for i in row[1:-1]] for row in ids]
    x = {"char_ids": text.char_ids(words, config.max_characters_per_token)}
    y = {"next_token_ids": ids[:, 2:].astype("int32"),
         "previous_token_ids": ids[:, :-2].astype("int32"),
         "mask": np.ones((batch_size, config.unroll_steps), "float32")}
    return x, y


def _trainer_classes():
    import keras

    from elmo_lib import bilm, distribute

    # BiLMTrainer.compute_loss divides its per-replica mean loss by the replica count itself.
    ScaledTrainer = bilm.BiLMTrainer

    class ClipAfterSumTrainer(ScaledTrainer):
        """all_reduce_and_clip in a train_step (the function-level API; train_bilm uses the
        optimizer-level ClipSummedAdam/Adagrad)."""

        clip_norm = None

        def train_step(self, data):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x, y, y_pred, training=True)
                scaled = self.optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, self.trainable_weights)
            grads = distribute.all_reduce_and_clip(grads, self.clip_norm,
                                                   loss_scale=self.optimizer.scale_loss(1.0))
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"forward_loss": self.forward_loss_tracker.result(),
                    "backward_loss": self.backward_loss_tracker.result()}

    return {"BiLMTrainer": bilm.BiLMTrainer, "ScaledTrainer": ScaledTrainer,
            "ClipAfterSumTrainer": ClipAfterSumTrainer}


def _one_step(strategy, cls, config, initial, batch, clipnorm, jit_compile, clip_after_sum=None):
    import keras

    with strategy.scope():
        trainer = cls(config, seed=3)
        trainer.build()
        if clip_after_sum is not None:
            trainer.clip_norm = clip_after_sum
        trainer.compile(optimizer=keras.optimizers.SGD(0.5, global_clipnorm=clipnorm),
                        jit_compile=jit_compile)
    trainer.set_weights(initial)
    dataset = tf.data.Dataset.from_tensors(batch)
    logs = trainer.fit(dataset, epochs=1, verbose=0).history
    return {k: float(v[-1]) for k, v in logs.items()}, [w.numpy() for w in trainer.weights]


def run_mirrored(out: pathlib.Path, cases: set[str]) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from elmo_lib import bilm, distribute

    config = bilm.BiLMConfig.tiny(vocab_size=64, num_sampled=16, unroll_steps=6, batch_size=8,
                                  dropout=0.0)
    keras.utils.set_random_seed(1)
    reference = bilm.BiLMTrainer(config, seed=3)
    reference.build()
    initial = [w.numpy() for w in reference.weights]
    batch = _batch(config, config.batch_size)
    single = distribute.make_strategy("default")
    mirrored = distribute.make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    classes = _trainer_classes()
    report = {"replicas": mirrored.num_replicas_in_sync, "cases": {}}

    def compare(name, single_run, mirrored_run):
        (logs_a, weights_a), (logs_b, weights_b) = single_run, mirrored_run
        init_delta = np.sqrt(sum(float(np.sum((a - w0) ** 2))
                                 for a, w0 in zip(weights_a, initial)))
        mirror_delta = np.sqrt(sum(float(np.sum((b - w0) ** 2))
                                   for b, w0 in zip(weights_b, initial)))
        report["cases"][name] = {
            "single_logs": logs_a, "mirrored_logs": logs_b,
            "max_weight_diff": max(float(np.max(np.abs(a - b)))
                                   for a, b in zip(weights_a, weights_b)),
            "update_norm_ratio": mirror_delta / max(init_delta, 1e-30),
        }

    big, small = 1e6, 0.05  # a clip norm that never triggers, and one that does here
    start = time.monotonic()
    if "scaled" in cases:
        scaled_single = _one_step(single, classes["ScaledTrainer"], config, initial, batch, big,
                                  False)  # with one replica, identical to BiLMTrainer
        compare("ScaledTrainer", scaled_single,
                _one_step(mirrored, classes["ScaledTrainer"], config, initial, batch, big, False))
        compare("BiLMTrainer", scaled_single,
                _one_step(mirrored, classes["BiLMTrainer"], config, initial, batch, big, False))
    if "clip" in cases:
        compare("ClipAfterSumTrainer",
                _one_step(single, classes["ClipAfterSumTrainer"], config, initial, batch, None,
                          False, clip_after_sum=small),
                _one_step(mirrored, classes["ClipAfterSumTrainer"], config, initial, batch, None,
                          False, clip_after_sum=small))
        compare("ScaledTrainer_keras_global_clipnorm",
                _one_step(single, classes["ScaledTrainer"], config, initial, batch, small, False),
                _one_step(mirrored, classes["ScaledTrainer"], config, initial, batch, small,
                          False))
    if "jit" in cases:
        try:
            _one_step(mirrored, classes["ScaledTrainer"], config, initial, batch, big, True)
            report["jit_error"] = None
        except Exception as error:  # noqa: BLE001 - reported, the test decides
            message = str(error)
            report["jit_error"] = f"{type(error).__name__}: {message[-600:]}"
    report["seconds"] = time.monotonic() - start
    out.write_text(json.dumps(report, indent=1))


def _key(variable) -> str:
    """The variable's path without the model's (auto-numbered) name."""
    return variable.path.split("/", 1)[1]


def run_train_bilm_clip(out: pathlib.Path) -> None:
    """One ``train_bilm`` step under MirroredStrategy on 2 logical CPUs, with a clip norm small
    enough to be active and Adagrad (whose update depends on the gradient's scale, unlike Adam's
    first step). Saves the initial and updated weights and, for the test's own NumPy reference,
    the single-device gradients (dense) of each replica's half batch and of the whole batch."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tempfile

    import keras

    from elmo_lib import bilm, distribute, text, train

    seed, clip_norm, learning_rate = 3, 0.05, 0.5
    config = bilm.BiLMConfig.tiny(vocab_size=64, num_sampled=16, unroll_steps=6, batch_size=8,
                                  dropout=0.0, clip_norm=clip_norm, learning_rate=learning_rate)
    vocab = text.Vocabulary([*text.SPECIAL_TOKENS, *(f"w{i}" for i in range(3, 64))])
    batch = _batch(config, config.batch_size)
    strategy = distribute.make_strategy("mirrored", ["/cpu:0", "/cpu:1"])

    class Capture(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.initial = {_key(v): v.numpy() for v in self.model.trainable_weights}
            self.optimizer = type(self.model.optimizer).__name__

    capture = Capture()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer, _ = train.train_bilm(
            config, tf.data.Dataset.from_tensors(batch).repeat(), vocab=vocab,
            output_dir=run_dir, epochs=1, steps_per_epoch=1, strategy=strategy,
            optimizer="adagrad", jit_compile=False, seed=seed, patience=None, verbose=0,
            callbacks=[capture])
    updated = {_key(v): v.numpy() for v in trainer.trainable_weights}

    def dense_gradients(x, y, scale):
        # A fresh single-device trainer with the same seed draws the same candidates.
        reference = bilm.BiLMTrainer(config, seed=seed)
        reference.build()
        for variable in reference.trainable_weights:
            variable.assign(capture.initial[_key(variable)])
        with tf.GradientTape() as tape:
            y_pred = reference(x, training=True)
            loss = reference.compute_loss(x, y, y_pred, training=True) * scale
        grads = tape.gradient(loss, reference.trainable_weights)
        return {_key(v): tf.convert_to_tensor(g).numpy()
                for v, g in zip(reference.trainable_weights, grads)}

    half = config.batch_size // 2
    parts = [dense_gradients(*[{k: v[i * half:(i + 1) * half] for k, v in d.items()}
                               for d in batch], 0.5) for i in range(2)]
    full = dense_gradients(*batch, 1.0)
    arrays = {"meta/clip_norm": clip_norm, "meta/learning_rate": learning_rate,
              "meta/replicas": strategy.num_replicas_in_sync}
    for path in updated:
        arrays[f"initial/{path}"] = capture.initial[path]
        arrays[f"updated/{path}"] = updated[path]
        arrays[f"grad_replica0/{path}"] = parts[0][path]
        arrays[f"grad_replica1/{path}"] = parts[1][path]
        arrays[f"grad_full/{path}"] = full[path]
    np.savez(out, **arrays)
    out.with_suffix(".json").write_text(json.dumps({"optimizer": capture.optimizer}))


# ---------------------------------------------------------------------------- multi-worker
def run_multi_worker(out: pathlib.Path, index: int, ports: list[int], corpus: str,
                     output: str, valid: str, epochs: int, steps_per_epoch: int,
                     die_after_first_backup: bool = False, minutes: float | None = None
                     ) -> None:
    """``elmo-lib train --train-shards ... --strategy multi_worker`` as worker ``index`` of a
    loopback cluster, then a report: the CLI summary, this worker's shard files and the shards
    its batches came from, the files in ``output`` and this worker's history and weights.

    ``die_after_first_backup``: the process kills itself (``os._exit(17)``, no clean-up) as soon
    as its first epoch backup is complete, i.e. early in the second epoch. ``minutes``: a time
    budget for this worker only."""
    import contextlib
    import io
    import threading

    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index}})
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    import h5py

    from elmo_lib import cli, distribute, train
    from elmo_lib import corpus as shards

    argv = ["train", "--train-shards", corpus, "--valid-file", valid, "--output", output,
            "--strategy", "multi_worker", "--preset", "tiny", "--lstm-dim", "8",
            "--projection-dim", "4", "--n-layers", "1", "--batch-size", "4",
            "--unroll-steps", "5", "--num-sampled", "8", "--epochs", str(epochs),
            "--steps-per-epoch", str(steps_per_epoch), "--no-jit", "--verbose", "0",
            "--seed", "0", *(["--minutes", str(minutes)] if minutes else [])]
    if die_after_first_backup:
        # The CheckpointManager writes its "checkpoint" state file last (atomically).
        state = distribute.worker_output_dir(output) / train.BACKUP_DIR / "checkpoint"

        def die():
            while not state.exists():
                time.sleep(0.005)
            os._exit(17)

        threading.Thread(target=die, daemon=True).start()
    started = time.monotonic()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(argv)
    if code != 0:
        raise SystemExit(f"elmo-lib train failed ({code}): {stdout.getvalue()[-2000:]}")
    summary = json.loads(stdout.getvalue().strip().splitlines()[-1])
    seconds = time.monotonic() - started

    # Which shards did this worker's pipeline read? Every token is spelled "s<shard>t<j>".
    vocab = shards.streaming_vocabulary(corpus)
    files = shards.worker_shards(corpus)
    dataset = shards.sharded_lm_dataset(corpus, vocab, 4, 5, shuffle_buffer=8, seed=0,
                                        repeat=True, cycle_length=2)
    seen = set()
    for inputs, _ in dataset.take(6):
        for token_id in np.unique(inputs["token_ids"].numpy()):
            token = vocab.id_to_token(int(token_id))
            if token.startswith("s"):
                seen.add(int(token[1:].split("t")[0]))
    run_dir = distribute.worker_output_dir(output)
    with h5py.File(run_dir / train.LAST_WEIGHTS, "r") as handle:
        arrays = []
        handle.visititems(lambda name, obj: arrays.append(np.asarray(obj))
                          if isinstance(obj, h5py.Dataset) else None)
    out.write_text(json.dumps({
        "num_workers": distribute.worker_info()[0], "worker_index": distribute.worker_info()[1],
        "summary": summary, "seconds": seconds,
        "files": [pathlib.Path(f).name for f in files], "shards_seen": sorted(seen),
        "run_dir": str(run_dir),
        "output_files": sorted(str(f.relative_to(output)) for f in pathlib.Path(output).rglob("*")
                               if f.is_file()),
        "history": train.read_history(run_dir / train.HISTORY_FILE),
        "latest_backup": tf.train.latest_checkpoint(str(run_dir / train.BACKUP_DIR)),
        "weights_checksum": float(sum(float(np.sum(np.abs(a))) for a in arrays
                                      if a.dtype.kind == "f"))}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["mirrored", "train_bilm_clip", "multi_worker"])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--ports", default="")
    parser.add_argument("--corpus", default="")
    parser.add_argument("--output", default="")
    parser.add_argument("--valid", default="")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps-per-epoch", type=int, default=2)
    parser.add_argument("--die-after-first-backup", action="store_true")
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--cases", default="scaled", help="mirrored: scaled,clip,jit")
    args = parser.parse_args()
    if args.mode == "mirrored":
        run_mirrored(args.out, set(args.cases.split(",")))
    elif args.mode == "train_bilm_clip":
        run_train_bilm_clip(args.out)
    else:
        run_multi_worker(args.out, args.index, [int(p) for p in args.ports.split(",")],
                         args.corpus, args.output, args.valid, args.epochs,
                         args.steps_per_epoch, args.die_after_first_backup, args.minutes)


if __name__ == "__main__":
    main()

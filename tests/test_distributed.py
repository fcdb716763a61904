"""tf.distribute, sharded corpora and mixed precision (``elmo_lib.distribute``).

Scenarios that need their own TensorFlow process (two logical CPUs, two workers on loopback) run
``tests/distributed_worker.py`` in subprocesses and read its JSON report. Select with
``pytest -k distributed``.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf

from elmo_lib import bilm, corpus, data, distribute, text

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")
TOLERANCE = 1e-5


def _run_worker(args: list[str], timeout: float) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    result = subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True,
                            timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def mirrored_report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("mirrored") / "report.json"
    _run_worker(["mirrored", str(out), "--cases", "scaled"], timeout=300)
    return json.loads(out.read_text())


def _assert_same_step(case: dict) -> None:
    for key in ("forward_loss", "backward_loss"):
        assert abs(case["single_logs"][key] - case["mirrored_logs"][key]) < TOLERANCE, case
    assert case["max_weight_diff"] < TOLERANCE, case


def test_distributed_mirrored_step_equals_single_device(mirrored_report):
    """2 replicas, one SGD step on the same global batch: same loss and same new weights (1e-5),
    when the per-replica loss is divided by the replica count (``scale_loss_for_replicas``)."""
    assert mirrored_report["replicas"] == 2
    case = mirrored_report["cases"]["ScaledTrainer"]
    _assert_same_step(case)
    assert abs(case["single_logs"]["loss"] - case["mirrored_logs"]["loss"]) < TOLERANCE
    # Identical sampled-softmax losses also show that both replicas drew the same candidates.


def test_distributed_mirrored_bilm_trainer_as_shipped(mirrored_report):
    """The library's own BiLMTrainer under MirroredStrategy: same step as on one device."""
    case = mirrored_report["cases"]["BiLMTrainer"]
    _assert_same_step(case)
    assert abs(case["single_logs"]["loss"] - case["mirrored_logs"]["loss"]) < TOLERANCE


@pytest.mark.slow
def test_distributed_mirrored_clip_after_sum_equals_single_device(tmp_path):
    """With clipping active, clipping the *summed* gradient matches one device; Keras'
    ``global_clipnorm`` (clipped per replica, before the sum) does not."""
    out = tmp_path / "report.json"
    _run_worker(["mirrored", str(out), "--cases", "clip"], timeout=400)
    report = json.loads(out.read_text())
    _assert_same_step(report["cases"]["ClipAfterSumTrainer"])
    keras_clip = report["cases"]["ScaledTrainer_keras_global_clipnorm"]
    print("Keras global_clipnorm under 2 replicas: update norm ratio "
          f"{keras_clip['update_norm_ratio']:.3f}, max weight diff {keras_clip['max_weight_diff']:.2e}")


def test_distributed_train_bilm_clips_the_summed_gradient(tmp_path):
    """One train_bilm step under MirroredStrategy (2 logical CPUs, Adagrad, clip active) equals
    the single-device step on the same global batch, computed here in NumPy from the replicas'
    dense gradients: clip factor = clip_norm / ||g_replica0 + g_replica1||, then Keras' Adagrad
    formula. The factor recovered from the update itself matches that ratio."""
    out = tmp_path / "clip.npz"
    _run_worker(["train_bilm_clip", str(out)], timeout=300)
    assert json.loads(out.with_suffix(".json").read_text())["optimizer"] == "ClipSummedAdagrad"
    arrays = np.load(out)
    assert int(arrays["meta/replicas"]) == 2
    clip_norm, lr = float(arrays["meta/clip_norm"]), float(arrays["meta/learning_rate"])
    keys = sorted(k.split("/", 1)[1] for k in arrays.files if k.startswith("initial/"))
    summed = {k: arrays[f"grad_replica0/{k}"].astype(np.float64) + arrays[f"grad_replica1/{k}"]
              for k in keys}
    for k in keys:  # the replicas' gradients add up to the whole batch's (sanity of the inputs)
        np.testing.assert_allclose(summed[k], arrays[f"grad_full/{k}"], atol=1e-6)
    norm = np.sqrt(sum(np.sum(g ** 2) for g in summed.values()))
    factor = min(1.0, clip_norm / norm)
    assert factor < 0.5, "the clip must be active for this test to mean anything"
    recovered_num = recovered_den = 0.0
    for k in keys:
        initial, updated = arrays[f"initial/{k}"].astype(np.float64), arrays[f"updated/{k}"]
        clipped = factor * summed[k]
        # keras.optimizers.Adagrad: accumulator = 1.0 + g**2; w -= lr * g / sqrt(acc + 1e-7)
        expected = initial - lr * clipped / np.sqrt(1.0 + clipped ** 2 + 1e-7)
        np.testing.assert_allclose(updated, expected, atol=TOLERANCE, err_msg=k)
        step = (initial - updated) / lr  # = c / sqrt(1 + c**2), c = factor * g
        recovered = step / np.sqrt(1.0 - step ** 2)
        recovered_num += float(np.sum(recovered * summed[k]))
        recovered_den += float(np.sum(summed[k] ** 2))
    assert recovered_num / recovered_den == pytest.approx(clip_norm / norm, rel=1e-4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_shards(root: pathlib.Path, n_shards: int, lines_per_shard: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for k in range(n_shards):
        lines = [" ".join(f"s{k}t{j}" for j in rng.integers(0, 6, rng.integers(0, 8)))
                 for _ in range(lines_per_shard)]
        (root / f"news.en-{k:05d}-of-{n_shards:05d}").write_text("\n".join(lines) + "\n")
    return str(root / f"news.en-000??-of-{n_shards:05d}")


STEPS_PER_EPOCH = 4


def _launch_two_workers(tmp_path: pathlib.Path, corpus: str, valid: pathlib.Path, tag: str,
                        die_worker: int | None = None,
                        budget_worker: int | None = None) -> list[subprocess.Popen]:
    """Workers 0 and 1 of a loopback cluster running ``elmo-lib train`` for 2 epochs; two output
    dirs, as two hosts without shared storage would have (the chief's is ``chief``)."""
    ports = f"{_free_port()},{_free_port()}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    return [subprocess.Popen(
        [sys.executable, str(WORKER), "multi_worker", str(tmp_path / f"worker{i}_{tag}.json"),
         "--index", str(i), "--ports", ports, "--corpus", corpus,
         "--output", str(tmp_path / ("chief" if i == 0 else "host1")), "--valid", str(valid),
         "--epochs", "2", "--steps-per-epoch", str(STEPS_PER_EPOCH),
         *(["--die-after-first-backup"] if i == die_worker else []),
         *(["--minutes", "1e-4"] if i == budget_worker else [])],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / f"worker{i}_{tag}.log").open("w"), env=env)
        for i in range(2)]


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_distributed_multi_worker_cli_loopback(tmp_path):
    """``elmo-lib train --strategy multi_worker --train-shards GLOB`` on two processes
    (TF_CONFIG, 127.0.0.1). Run 1: worker 1 kills itself once its epoch-0 backup is written, the
    chief (stuck in the next collective) is killed too. Run 2 (a restart): both workers restore
    epoch 0 and run only epoch 1, which ends after one step on both, although only worker 1 has
    a (spent) time budget; they read disjoint shard files, train in sync (same losses and
    weights), and only the chief writes the run directory (worker 1 only under workers/1)."""
    corpus = _write_shards(tmp_path / "corpus", n_shards=4, lines_per_shard=40)
    valid = tmp_path / "valid.txt"
    valid.write_text((tmp_path / "corpus" / "news.en-00000-of-00004").read_text())
    chief_dir = tmp_path / "chief"

    processes = _launch_two_workers(tmp_path, corpus, valid, "killed", die_worker=1)
    try:
        assert processes[1].wait(timeout=150) == 17, (tmp_path / "worker1_killed.log").read_text()
        deadline = time.monotonic() + 60
        while not (chief_dir / "backup" / "checkpoint").exists():
            assert time.monotonic() < deadline, (tmp_path / "worker0_killed.log").read_text()
            time.sleep(0.1)
    finally:
        _stop(processes)
    before = json.loads((chief_dir / "history.json").read_text())
    assert [r["epoch"] for r in before] == [0]

    # Worker 1 alone has a time budget (already spent): the stop flag must reach the chief.
    processes = _launch_two_workers(tmp_path, corpus, valid, "restarted", budget_worker=1)
    try:
        for i, process in enumerate(processes):
            assert process.wait(timeout=150) == 0, \
                (tmp_path / f"worker{i}_restarted.log").read_text()[-3000:]
    finally:
        _stop(processes)
    reports = [json.loads((tmp_path / f"worker{i}_restarted.json").read_text()) for i in range(2)]
    for i, report in enumerate(reports):
        print(f"worker {i}: {report['seconds']:.0f} s, read {report['files']} (shards seen in "
              f"its batches: {report['shards_seen']}), losses "
              f"{[round(r['loss'], 4) for r in report['history']]}")
        assert report["num_workers"] == 2 and report["worker_index"] == i
        assert report["shards_seen"], "the worker's batches contained no shard tokens"
        assert set(report["shards_seen"]) <= {int(f.split("-")[1]) for f in report["files"]}
        assert [r["epoch"] for r in report["history"]] == [0, 1]
        assert report["history"][1]["steps"] == 1  # both stopped after the same step
        assert np.isfinite(report["history"][1]["val_loss"])
        assert report["latest_backup"].endswith("ckpt-2")
    assert reports[0]["history"][0] == before[0]  # restored, not redone
    assert not set(reports[0]["files"]) & set(reports[1]["files"])
    assert len(reports[0]["files"]) + len(reports[1]["files"]) == 4
    for key in ("loss", "val_loss"):
        assert reports[0]["history"][1][key] == pytest.approx(reports[1]["history"][1][key],
                                                              abs=1e-6)
    assert reports[0]["weights_checksum"] == pytest.approx(reports[1]["weights_checksum"])
    chief_files, other_files = reports[0]["output_files"], reports[1]["output_files"]
    for name in ("config.json", "vocab.txt", "history.json", "history.csv", "best.weights.h5",
                 "last.weights.h5", "perplexity.json", "backup/checkpoint"):
        assert name in chief_files, name
        assert f"workers/1/{name}" in other_files or name == "perplexity.json", name
    assert not any(f.startswith("workers/") for f in chief_files)
    assert all(f.startswith("workers/1/") for f in other_files), other_files
    assert "valid" in reports[0]["summary"] and "valid" not in reports[1]["summary"]


# ----------------------------------------------------------------------- streaming corpora
def _sentences_of(pattern: str) -> list[list[str]]:
    sentences = []
    for path in sorted(pathlib.Path(pattern).parent.glob(pathlib.Path(pattern).name)):
        sentences += [line.split() for line in path.read_text().split("\n")[:-1]]
    return sentences


def test_distributed_streaming_vocabulary_equals_from_corpus(tmp_path):
    pattern = _write_shards(tmp_path / "corpus", n_shards=3, lines_per_shard=50)
    sentences = _sentences_of(pattern)
    for min_count, max_size in ((1, None), (2, 10)):
        streamed = corpus.streaming_vocabulary(pattern, min_count, max_size,
                                                   path=tmp_path / "vocab.txt")
        expected = text.Vocabulary.from_corpus(sentences, min_count=min_count, max_size=max_size)
        assert streamed.tokens == expected.tokens
        assert text.Vocabulary.load(tmp_path / "vocab.txt").tokens == expected.tokens


def test_distributed_streaming_counts_bound_when_pruned(tmp_path):
    pattern = _write_shards(tmp_path / "corpus", n_shards=3, lines_per_shard=50)
    true = Counter(t for s in _sentences_of(pattern) for t in s)
    k = 6
    counts, total, undercount = corpus.streaming_counts(pattern, max_memory_tokens=k)
    assert total == sum(true.values()) and len(counts) <= k
    assert 0 < undercount <= total / (k // 2 + 1)
    for token, count in true.items():
        assert true[token] - undercount <= counts.get(token, 0) <= count


def test_distributed_tf_char_ids_match_text():
    tokens = ["the", "", "<S>", "</S>", "héllo", "x" * 60, "日本語" * 10, "<UNK>"]
    expected = np.stack([text.token_char_ids(t) for t in tokens])
    got = corpus.tf_char_ids(tf.constant(tokens)).numpy()
    np.testing.assert_array_equal(got, expected)
    got_small = corpus.tf_char_ids(tf.constant([tokens]), max_characters_per_token=7).numpy()
    np.testing.assert_array_equal(got_small[0], np.stack([text.token_char_ids(t, 7) for t in tokens]))


def test_distributed_sharded_dataset_matches_lm_dataset(tmp_path):
    """One file, no shuffling: exactly ``data.lm_dataset(shuffle=False)``'s batches."""
    sentences = [["The", "cat", "sat"], [], ["on", "the", "mat", "."], ["héllo"], ["a"] * 9]
    sentences = sentences * 4
    path = tmp_path / "one.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n")
    vocab = text.Vocabulary.from_corpus(sentences, max_size=8)  # some tokens become <UNK>
    streamed = list(corpus.sharded_lm_dataset(str(path), vocab, 3, 4, shuffle_buffer=0,
                                                  cycle_length=1))
    reference = list(data.lm_dataset(sentences, vocab, 3, 4, shuffle=False))
    assert len(streamed) == len(reference) > 0
    for (x, y), (x_ref, y_ref) in zip(streamed, reference):
        assert set(x) == set(x_ref) and set(y) == set(y_ref)
        for key in x:
            np.testing.assert_array_equal(x[key], x_ref[key])
        for key in y:
            np.testing.assert_array_equal(y[key], y_ref[key])


def test_distributed_sharded_dataset_workers_partition_windows(tmp_path):
    """Two workers' datasets together hold every window of every file once, and no file twice."""
    pattern = _write_shards(tmp_path / "corpus", n_shards=5, lines_per_shard=20)
    vocab = corpus.streaming_vocabulary(pattern)

    def windows(num_workers, worker_index):
        dataset = corpus.sharded_lm_dataset(pattern, vocab, 1, 3, shuffle_buffer=16, seed=1,
                                                num_workers=num_workers,
                                                worker_index=worker_index, cycle_length=2)
        options = dataset.options().experimental_distribute.auto_shard_policy
        return [tuple(x["token_ids"].numpy()[0]) + tuple(y["next_token_ids"].numpy()[0][-1:])
                for x, y in dataset], options

    everything, _ = windows(1, 0)
    first, policy = windows(2, 0)
    second, _ = windows(2, 1)
    assert policy == tf.data.experimental.AutoShardPolicy.OFF
    assert sorted(first + second) == sorted(everything)
    shards = [corpus.worker_shards(pattern, 2, i) for i in range(2)]
    assert not set(shards[0]) & set(shards[1]) and len(shards[0]) + len(shards[1]) == 5
    with pytest.raises(ValueError, match="num_workers=6"):
        corpus.sharded_lm_dataset(pattern, vocab, 1, 3, num_workers=6, worker_index=0)
    with pytest.raises(ValueError, match="no file matches"):
        corpus.sharded_lm_dataset(str(tmp_path / "nothing*"), vocab, 1, 3)


# ----------------------------------------------------------------------------- strategies
def test_distributed_worker_info_and_strategy_kinds(monkeypatch, tmp_path):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.worker_info() == (1, 0) and distribute.is_chief()
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    assert distribute.make_strategy("auto").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="kind='gpu'"):
        distribute.make_strategy("gpu")
    cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2", "127.0.0.1:3"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 1}}))
    assert distribute.worker_info() == (3, 2) and not distribute.is_chief()
    assert distribute.worker_output_dir(tmp_path) == tmp_path / "workers" / "2"
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.worker_info()
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multi_worker")
    assert not distribute.is_multi_worker(None)
    assert not distribute.is_multi_worker(tf.distribute.get_strategy())


def test_distributed_clip_summed_optimizer_one_replica():
    """ClipSummedAdagrad on one replica: the applied gradient is the input clipped to norm
    ``summed_clipnorm``, repeated IndexedSlices rows merged first (Adagrad's accumulator, g**2,
    shows it: rows [3 + 1, 3] -> norm 5 -> [0.8, 0.6]; unmerged pieces would give
    [10/19, 9/19])."""
    variable = keras.Variable(np.zeros(3, "float32"))
    optimizer = distribute.ClipSummedAdagrad(1.0, initial_accumulator_value=0.0,
                                             summed_clipnorm=1.0)
    optimizer.apply([tf.IndexedSlices(tf.constant([3.0, 1.0, 3.0]), tf.constant([0, 0, 1]),
                                      tf.constant([3]))], [variable])
    accumulator = optimizer.variables[-1].numpy()
    np.testing.assert_allclose(accumulator, [0.8 ** 2, 0.6 ** 2, 0.0], rtol=1e-6)
    assert optimizer.get_config()["summed_clipnorm"] == 1.0
    with pytest.raises(ValueError, match="summed_clipnorm"):
        distribute.ClipSummedAdam(1e-3, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="summed_clipnorm=-1"):
        distribute.ClipSummedAdam(1e-3, summed_clipnorm=-1)


def test_distributed_global_norm_counts_repeated_rows():
    """Keras' global_clipnorm squares IndexedSlices values row by row; the true norm merges
    repeated rows first (the softmax gradient repeats frequent words and candidates)."""
    sparse = tf.IndexedSlices(tf.constant([[1.0, 0.0], [1.0, 0.0]]), tf.constant([0, 0]),
                              tf.constant([3, 2]))
    dense = tf.constant([3.0, 4.0])
    assert float(distribute.global_norm([sparse, dense, None])) == pytest.approx(np.sqrt(29.0))
    clipped = distribute.all_reduce_and_clip([sparse, dense, None], clip_norm=1.0)
    assert clipped[2] is None and isinstance(clipped[0], tf.IndexedSlices)
    assert float(distribute.global_norm(clipped)) == pytest.approx(1.0, rel=1e-6)
    loss_scaled = distribute.all_reduce_and_clip([dense * 8.0], clip_norm=1.0, loss_scale=8.0)
    assert float(tf.norm(loss_scaled[0])) == pytest.approx(8.0, rel=1e-6)


# ----------------------------------------------------------------------- mixed precision
def _mixed_step(trainer_class, precision: str) -> dict:
    config = bilm.BiLMConfig.tiny(vocab_size=32, num_sampled=8, unroll_steps=5, batch_size=4,
                                  n_layers=1)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config.vocab_size, (4, 7)).astype("int32")
    x = {"char_ids": text.char_ids([[f"w{i}" for i in row[1:-1]] for row in ids])}
    y = {"next_token_ids": ids[:, 2:], "previous_token_ids": ids[:, :-2],
         "mask": np.ones((4, 5), "float32")}
    with distribute.precision_scope(precision):
        trainer = trainer_class(config, seed=0)
        trainer.build()
        trainer.compile(optimizer=keras.optimizers.Adam(1e-2, global_clipnorm=1.0),
                        jit_compile=False)
        logs = trainer.train_on_batch(x, y, return_dict=True)
        hidden = trainer(x, training=True)
        return {"logs": logs, "hidden_dtype": str(hidden["forward"].dtype),
                "train_loss": trainer.compute_loss(x, y, hidden, training=True),
                "eval_loss": trainer.compute_loss(x, y, hidden, training=False),
                "variable_dtypes": {v.dtype for v in trainer.trainable_variables}}


def _assert_float32_loss(result: dict) -> None:
    assert "bfloat16" in result["hidden_dtype"]  # the LSTMs did compute in bfloat16
    assert result["variable_dtypes"] == {"float32"}
    for key in ("train_loss", "eval_loss"):
        assert result[key].dtype == "float32" and np.isfinite(float(result[key]))
    assert all(np.isfinite(v) for v in result["logs"].values())


def test_distributed_mixed_bfloat16_step_keeps_the_loss_float32():
    """Under mixed_bfloat16 the trainer's softmax runs in float32 (hidden states are cast to
    float32 before it): the step runs and its loss is float32 and finite."""
    _assert_float32_loss(_mixed_step(bilm.BiLMTrainer, "mixed_bfloat16"))
    assert keras.config.dtype_policy().name == "float32"  # precision_scope restored it


def test_distributed_set_precision_validates():
    with pytest.raises(ValueError, match="precision='float64'"):
        distribute.set_precision("float64")
    previous = distribute.set_precision("mixed_bfloat16")
    try:
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy(previous)

"""elmo_lib.train: training loop, resume, checkpoints, full-softmax perplexity (tiny models)."""

import json
import math

import keras
import numpy as np
import pytest

from elmo_lib import bilm, data, text, train

WORDS = ("the cat sat on a mat . a dog ran to the red door and the cat saw it").split()


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    # A very regular corpus (the same sentence with small variations): an LM can learn it fast.
    sentences = [WORDS[: rng.integers(6, len(WORDS))] for _ in range(60)]
    vocab = text.Vocabulary.from_corpus(sentences)
    return sentences, vocab


def tiny_config(vocab, **overrides):
    return bilm.BiLMConfig.tiny(vocab_size=len(vocab), num_sampled=8, batch_size=4,
                                unroll_steps=6, **overrides)


class Interrupt(keras.callbacks.Callback):
    """Simulates a killed run: raises in epoch ``epoch`` after ``batches`` batches."""

    def __init__(self, epoch, batches):
        super().__init__()
        self.epoch, self.batches = epoch, batches

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch + 1 >= self.batches:
            raise KeyboardInterrupt("simulated interruption")


class EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.mark.slow
def test_loss_falls_and_run_dir_is_complete(corpus, tmp_path):
    sentences, vocab = corpus
    config = tiny_config(vocab)
    trainer, history = train.train_bilm(config, sentences, sentences[:20], vocab=vocab,
                                        output_dir=tmp_path, epochs=3, jit_compile=False,
                                        verbose=0)
    losses = [r["loss"] for r in history["epochs"]]
    assert len(losses) == 3 and losses[-1] < 0.8 * losses[0], losses
    for name in ("config.json", "vocab.txt", "history.json", "history.csv",
                 "best.weights.h5", "last.weights.h5"):
        assert (tmp_path / name).is_file(), name
    record = history["epochs"][-1]
    assert math.isclose(record["val_forward_perplexity"], math.exp(record["val_forward_loss"]))
    assert record["tokens_per_second"] > 0 and record["elapsed_seconds"] > 0
    loaded, loaded_vocab = train.load_trained(tmp_path)
    assert loaded_vocab.tokens == vocab.tokens
    assert loaded.config == config
    best = min(history["epochs"], key=lambda r: r["val_loss"])
    ppl = train.evaluate_perplexity(loaded, sentences[:20], vocab=vocab, verbose=0)
    assert abs(0.5 * (ppl["forward_loss"] + ppl["backward_loss"]) - best["val_loss"]) < 0.15


@pytest.mark.parametrize("chars", [50, 20])  # 20: batches must follow the config's token width
def test_uniform_model_perplexity_is_vocab_size(corpus, chars):
    sentences, vocab = corpus
    config = tiny_config(vocab, max_characters_per_token=chars)
    trainer = train.build_trainer(config, jit_compile=False)
    trainer.softmax.kernel.assign(np.zeros(trainer.softmax.kernel.shape, "float32"))
    trainer.softmax.bias.assign(np.zeros(trainer.softmax.bias.shape, "float32"))
    result = train.evaluate_perplexity(trainer, sentences, vocab=vocab, verbose=0)
    for key in ("forward", "backward", "mean", "geometric_mean"):
        assert result[key] == pytest.approx(len(vocab), rel=1e-5)
    # every stream position that has a next token is scored once: N - 2 of the N stream tokens
    assert result["tokens"] == sum(len(s) + 2 for s in sentences) - 2


def _numpy_losses(trainer, x, y):
    hidden = trainer(x, training=False)
    kernel = keras.ops.convert_to_numpy(trainer.softmax.kernel).astype(np.float64)
    bias = keras.ops.convert_to_numpy(trainer.softmax.bias).astype(np.float64)
    out = {}
    for direction, key in (("forward", "next_token_ids"), ("backward", "previous_token_ids")):
        logits = keras.ops.convert_to_numpy(hidden[direction]).astype(np.float64) @ kernel.T + bias
        top = logits.max(-1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]
        labels = np.asarray(y[key])
        true = np.take_along_axis(logits, labels[..., None], -1)[..., 0]
        out[direction] = ((log_z - true) * np.asarray(y["mask"])).sum()
    return out


def test_perplexity_is_token_weighted(corpus):
    sentences, vocab = corpus
    config = tiny_config(vocab)
    trainer = train.build_trainer(config, jit_compile=False)
    bias = np.zeros(len(vocab), "float32")
    bias[3] = 4.0  # token 3 is likely: batches predicting it have a much lower loss
    trainer.softmax.bias.assign(bias)
    rng = np.random.default_rng(1)
    batches = []
    # very different numbers of real tokens and per-token losses in the two batches
    for real, targets in ((24, np.full((4, 6), 3)), (5, rng.integers(4, len(vocab), (4, 6)))):
        x, y = next(iter(data.lm_dataset(sentences, vocab, 4, 6, shuffle=False)))
        mask = np.zeros((4, 6), np.float32)
        mask.reshape(-1)[:real] = 1.0
        y = {**{k: v.numpy() for k, v in y.items()}, "mask": mask}
        y["next_token_ids"] = targets.astype(np.int32)
        batches.append(({"char_ids": x["char_ids"].numpy()}, y))
    result = train.evaluate_perplexity(trainer, batches_dataset(batches), verbose=0)
    sums = [_numpy_losses(trainer, x, y) for x, y in batches]
    tokens = 24 + 5
    assert result["tokens"] == tokens
    for direction in ("forward", "backward"):
        expected = math.exp(sum(s[direction] for s in sums) / tokens)
        assert result[direction] == pytest.approx(expected, rel=1e-4)
    batch_means = np.mean([s["forward"] / n for s, n in zip(sums, (24, 5))])
    assert abs(result["forward_loss"] - batch_means) > 0.5  # not a mean of batch means
    assert result["mean"] == pytest.approx(0.5 * (result["forward"] + result["backward"]))


def test_perplexity_by_position_against_numpy(corpus):
    sentences, vocab = corpus
    trainer = train.build_trainer(tiny_config(vocab), jit_compile=False)
    dataset = data.lm_dataset(sentences, vocab, 4, 6, shuffle=False, drop_remainder=False)
    result = train.evaluate_perplexity(trainer, dataset, verbose=0, by_position=True)
    batches = list(dataset)
    sums, counts = {"forward": np.zeros(6), "backward": np.zeros(6)}, np.zeros(6)
    for x, y in batches:
        hidden = trainer(x, training=False)
        kernel = keras.ops.convert_to_numpy(trainer.softmax.kernel).astype(np.float64)
        bias = keras.ops.convert_to_numpy(trainer.softmax.bias).astype(np.float64)
        mask = np.asarray(y["mask"], np.float64)
        counts += mask.sum(0)
        for direction, key in (("forward", "next_token_ids"), ("backward", "previous_token_ids")):
            logits = keras.ops.convert_to_numpy(hidden[direction]).astype(np.float64) @ kernel.T + bias
            log_z = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
            true = np.take_along_axis(logits, np.asarray(y[key])[..., None], -1)[..., 0]
            sums[direction] += ((log_z - true) * mask).sum(0)
    np.testing.assert_array_equal(result["tokens_by_position"], counts)
    for direction in ("forward", "backward"):
        np.testing.assert_allclose(result[f"{direction}_loss_by_position"],
                                   sums[direction] / counts, rtol=1e-4)
        weighted = (result[f"{direction}_loss_by_position"] * counts).sum() / counts.sum()
        assert weighted == pytest.approx(result[f"{direction}_loss"], rel=1e-5)


def batches_dataset(batches):
    import tensorflow as tf

    return tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=tf.nest.map_structure(
            lambda a: tf.TensorSpec(a.shape, tf.as_dtype(a.dtype)), batches[0]))


@pytest.mark.slow
def test_resume_after_interruption_continues_from_saved_epoch(corpus, tmp_path):
    sentences, vocab = corpus
    config = tiny_config(vocab)
    kwargs = dict(vocab=vocab, output_dir=tmp_path, epochs=3, steps_per_epoch=5,
                  jit_compile=False, verbose=0, patience=None)
    with pytest.raises(KeyboardInterrupt):
        train.train_bilm(config, sentences, sentences[:20], callbacks=[Interrupt(1, 3)],
                         **kwargs)
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1  # epoch 0 finished, epoch 1 was interrupted
    assert [r["epoch"] for r in train.read_history(tmp_path / "history.json")] == [0]
    recorder = EpochRecorder()
    trainer, history = train.train_bilm(config, sentences, sentences[:20], callbacks=[recorder],
                                        **kwargs)
    assert recorder.epochs == [1, 2]
    assert [r["epoch"] for r in history["epochs"]] == [0, 1, 2]
    assert int(trainer.optimizer.iterations.numpy()) == 15  # 5 steps restored + 10 new
    elapsed = [r["elapsed_seconds"] for r in history["epochs"]]
    assert elapsed == sorted(elapsed)


def test_time_budget_stops_cleanly(corpus, tmp_path):
    sentences, vocab = corpus
    trainer, history = train.train_bilm(tiny_config(vocab), sentences, sentences[:20],
                                        vocab=vocab, output_dir=tmp_path, epochs=50,
                                        time_budget_minutes=1e-4, jit_compile=False, verbose=0)
    assert history["stopped_by"] == "time_budget"
    assert len(history["epochs"]) == 1 and history["epochs"][0]["steps"] == 1
    assert "val_loss" in history["epochs"][0]  # the stopped epoch was still validated
    assert (tmp_path / "best.weights.h5").is_file()


def test_missing_or_corrupt_checkpoint_names_the_file(corpus, tmp_path):
    sentences, vocab = corpus
    with pytest.raises(FileNotFoundError, match="config.json"):
        train.load_trained(tmp_path)
    config = tiny_config(vocab)
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    vocab.save(tmp_path / "vocab.txt")
    with pytest.raises(FileNotFoundError, match="best.weights.h5"):
        train.load_trained(tmp_path)
    (tmp_path / "best.weights.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="best.weights.h5"):
        train.load_trained(tmp_path)


def test_vocab_size_mismatch_is_an_error(corpus, tmp_path):
    sentences, vocab = corpus
    with pytest.raises(ValueError, match="vocab_size"):
        train.train_bilm(bilm.BiLMConfig.tiny(vocab_size=len(vocab) + 1), sentences, vocab=vocab,
                         output_dir=tmp_path, epochs=1)


def test_sample_sentences(corpus):
    sentences, vocab = corpus
    trainer = train.build_trainer(tiny_config(vocab), jit_compile=False)
    samples = train.sample_sentences(trainer, vocab, ["the", "cat"], n_tokens=4, n_samples=2)
    assert len(samples) == 2
    for sample in samples:
        assert sample[:2] == ["the", "cat"] and len(sample) <= 6
        assert all(token in vocab for token in sample)


# ---------------------------------------------- the custom loop (distribute.fit_loop) used for
# MultiWorkerMirroredStrategy, checked here on one device against Keras' fit.
def test_distributed_custom_loop_equals_fit(corpus, tmp_path):
    """train_bilm(training_loop="custom") runs the same steps, validation and callbacks as fit:
    the same per-epoch logs and the same final weights (one device, same seeds and data)."""
    sentences, vocab = corpus
    config = tiny_config(vocab, dropout=0.0)
    runs = {}
    for loop in ("fit", "custom"):
        trainer, history = train.train_bilm(
            config, sentences, sentences[:20], vocab=vocab, output_dir=tmp_path / loop,
            epochs=2, steps_per_epoch=3, jit_compile=False, verbose=0, patience=None,
            training_loop=loop)
        runs[loop] = (trainer.get_weights(), history["epochs"])
    (weights_fit, records_fit), (weights_custom, records_custom) = runs["fit"], runs["custom"]
    assert [r["epoch"] for r in records_custom] == [0, 1]
    for a, b in zip(records_fit, records_custom):
        for key in ("loss", "forward_loss", "val_loss", "val_forward_loss", "val_backward_loss"):
            assert b[key] == pytest.approx(a[key], abs=1e-5), key
        assert a["steps"] == b["steps"] == 3
    assert max(float(np.max(np.abs(a - b)))
               for a, b in zip(weights_fit, weights_custom)) < 1e-5
    for name in ("config.json", "vocab.txt", "history.csv", "best.weights.h5",
                 "last.weights.h5", "backup/checkpoint"):
        assert (tmp_path / "custom" / name).is_file(), name


def test_distributed_custom_loop_resumes_from_backup(corpus, tmp_path):
    """A killed custom-loop run restarts from its tf.train.CheckpointManager backup: the finished
    epoch is not redone and the optimizer's step count carries on."""
    sentences, vocab = corpus
    config = tiny_config(vocab)
    kwargs = dict(vocab=vocab, output_dir=tmp_path, epochs=3, steps_per_epoch=4,
                  jit_compile=False, verbose=0, patience=None, training_loop="custom")
    with pytest.raises(KeyboardInterrupt):
        train.train_bilm(config, sentences, sentences[:20], callbacks=[Interrupt(1, 2)],
                         **kwargs)
    assert [r["epoch"] for r in train.read_history(tmp_path / "history.json")] == [0]
    recorder = EpochRecorder()
    trainer, history = train.train_bilm(config, sentences, sentences[:20], callbacks=[recorder],
                                        **kwargs)
    assert recorder.epochs == [1, 2]
    assert [r["epoch"] for r in history["epochs"]] == [0, 1, 2]
    assert int(trainer.optimizer.iterations.numpy()) == 12  # 4 restored + 8 new


def test_distributed_custom_loop_time_budget_and_bad_arguments(corpus, tmp_path):
    sentences, vocab = corpus
    trainer, history = train.train_bilm(tiny_config(vocab), sentences, sentences[:20],
                                        vocab=vocab, output_dir=tmp_path, epochs=50,
                                        time_budget_minutes=1e-4, jit_compile=False, verbose=0,
                                        training_loop="custom")
    assert history["stopped_by"] == "time_budget"
    assert len(history["epochs"]) == 1 and history["epochs"][0]["steps"] == 1
    assert "val_loss" in history["epochs"][0]
    with pytest.raises(ValueError, match="training_loop='loop'"):
        train.train_bilm(tiny_config(vocab), sentences, vocab=vocab, output_dir=tmp_path,
                         training_loop="loop")
    with pytest.raises(ValueError, match="replicas=0"):
        train.make_optimizer(tiny_config(vocab), replicas=0)


def test_make_optimizer_merges_repeated_sparse_rows_like_dense_adam():
    """A gather gradient with a row used 4 times must update like Adam on the dense gradient
    (NumPy Adam, one step), not like Keras 3.15's row-by-row squares (which give a 2x step)."""
    import tensorflow as tf

    config = bilm.BiLMConfig.tiny(learning_rate=0.1, clip_norm=100.0)
    optimizer = train.make_optimizer(config)
    variable = keras.Variable(np.zeros((3, 2), "float32"))
    optimizer.build([variable])
    rows = [0, 0, 0, 0, 1]
    values = np.array([[1.0, 2.0], [0.5, -1.0], [1.0, 1.0], [0.5, 1.0], [3.0, -2.0]], "float32")
    gradient = tf.IndexedSlices(tf.constant(values), tf.constant(rows), tf.constant([3, 2]))
    optimizer.apply([gradient], [variable])

    dense = np.zeros((3, 2), "float32")
    np.add.at(dense, rows, values)
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-7  # Keras' Adam defaults
    m, v = (1 - beta_1) * dense, (1 - beta_2) * dense**2
    alpha = 0.1 * math.sqrt(1 - beta_2) / (1 - beta_1)
    expected = -alpha * m / (np.sqrt(v) + epsilon)
    np.testing.assert_allclose(np.asarray(variable), expected, rtol=1e-5, atol=1e-6)
    assert np.abs(expected[0]).max() == pytest.approx(0.1, rel=1e-3)  # an Adam step is ~lr


# ----- every way of training or evaluating is bounded (issue 18, part 2) ----------------------
# One sentence of 8 tokens: a stream of 10 (<S> and </S> added), (10 - 2) // 8 = 1 window.
SMALL = [["a"] * 8]


def test_issue_example_small_corpus_stops_at_once_with_the_counts(tmp_path):
    vocab = text.Vocabulary.from_corpus(SMALL)
    config = bilm.BiLMConfig.tiny(vocab_size=len(vocab))  # batch_size 8, unroll_steps 8
    with pytest.raises(ValueError, match=r"gives 1 window\(s\) .*10 stream tokens.*"
                                         r"batch_size=8 windows \(66 stream tokens\)"):
        train.train_bilm(config, SMALL, vocab=vocab, output_dir=tmp_path, epochs=1)
    stateful = bilm.BiLMConfig.tiny(vocab_size=len(vocab), stateful=True)
    with pytest.raises(ValueError, match=r"10 stream tokens.*batch_size=8 rows of unroll_steps=8"):
        train.train_bilm(stateful, SMALL, vocab=vocab, output_dir=tmp_path, epochs=1)


@pytest.mark.parametrize("windows, batch_size", [(0, 1), (3, 4), (4, 5)])
def test_lm_dataset_refuses_fewer_windows_than_one_batch(windows, batch_size):
    # windows * 3 + 2 stream tokens give exactly `windows` windows of 3 (counted by hand).
    sentences = [["w"] * (windows * 3)] if windows else [[]]
    vocab = text.Vocabulary.from_corpus([["w"]])
    with pytest.raises(ValueError, match=rf"gives {windows} window\(s\)"):
        data.lm_dataset(sentences, vocab, batch_size, 3, repeat=True)
    if windows:  # a partial batch is fine when it is kept (validation, evaluation)
        batches = list(data.lm_dataset(sentences, vocab, batch_size, 3, drop_remainder=False))
        assert [int(b[1]["mask"].shape[0]) for b in batches] == [windows]


@pytest.mark.parametrize("name, value", [("steps_per_epoch", 0), ("steps_per_epoch", -2),
                                         ("validation_steps", 0), ("steps_per_epoch", 1.5)])
def test_step_counts_must_be_positive(corpus, tmp_path, name, value):
    sentences, vocab = corpus
    with pytest.raises(ValueError, match=rf"`{name}` must be a positive integer.*{value}"):
        train.train_bilm(tiny_config(vocab), sentences, sentences, vocab=vocab,
                         output_dir=tmp_path, epochs=1, **{name: value})
    dataset = data.lm_dataset(sentences, vocab, 4, 6, repeat=True)
    with pytest.raises(ValueError, match=rf"`{name}` must be a positive integer"):
        train.train_bilm(tiny_config(vocab), dataset, vocab=vocab, output_dir=tmp_path,
                         epochs=1, **{"steps_per_epoch": 1, name: value})


def test_validation_and_evaluation_need_one_window(corpus, tmp_path):
    sentences, vocab = corpus
    with pytest.raises(ValueError, match=r"gives 0 window\(s\)"):
        train.train_bilm(tiny_config(vocab), sentences, [[]], vocab=vocab, output_dir=tmp_path,
                         epochs=1)
    trainer = train.build_trainer(tiny_config(vocab))
    with pytest.raises(ValueError, match=r"gives 0 window\(s\)"):
        train.evaluate_perplexity(trainer, [["the"]][:0], vocab=vocab, verbose=0)
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        train.evaluate_perplexity(trainer, sentences, 0, vocab=vocab, verbose=0)

"""Stateful training (``BiLMConfig.stateful``, bilm-tf's way): each batch row continues the same
row of the previous batch, and the LSTM state flows across. Checked against the plain model run
over the joined windows in one call (which needs no carried state)."""

import numpy as np
import pytest
import tensorflow as tf

from elmo_lib import bilm, data, text, train

WORDS = "the cat sat on a mat . a dog ran to the red door and the cat saw it".split()
SENTENCES = [WORDS[: 5 + (k * 7) % 14] for k in range(12)]


@pytest.fixture(scope="module")
def vocab():
    return text.Vocabulary.from_corpus(SENTENCES)


def _stream(vocab):
    return vocab.encode([t for s in SENTENCES for t in (text.BOS_TOKEN, *s, text.EOS_TOKEN)])


def test_rows_continue_each_other_and_backward_reads_right_to_left(vocab):
    dataset = data.lm_stateful_dataset(SENTENCES, vocab, 3, 4, repeat=False)
    batches = list(dataset.as_numpy_iterator())
    stream = _stream(vocab)
    n = (len(stream) - 2) // 12
    length = 4 * n
    assert len(batches) == n > 2

    def joined(part, key):
        return np.concatenate([batch[part][key] for batch in batches], axis=1)

    for b in range(3):
        piece = slice(1 + b * length, 1 + (b + 1) * length)
        np.testing.assert_array_equal(joined(0, "token_ids")[b], stream[piece])
        np.testing.assert_array_equal(joined(1, "next_token_ids")[b],
                                      stream[piece.start + 1:piece.stop + 1])
        np.testing.assert_array_equal(joined(0, "backward_token_ids")[b], stream[piece][::-1])
        np.testing.assert_array_equal(joined(1, "previous_token_ids")[b],
                                      stream[piece.start - 1:piece.stop - 1][::-1])
    tokens = [t for s in SENTENCES for t in (text.BOS_TOKEN, *s, text.EOS_TOKEN)]
    np.testing.assert_array_equal(batches[0][0]["backward_char_ids"][1, 0],
                                  text.token_char_ids(tokens[2 * length]))
    np.testing.assert_array_equal(joined(1, "mask"), 1.0)
    with pytest.raises(ValueError, match="too few"):
        data.lm_stateful_dataset(SENTENCES[:1], vocab, 8, 8)


def test_stateful_steps_equal_one_long_call_and_reset(vocab):
    config = bilm.BiLMConfig.tiny(vocab_size=len(vocab), batch_size=3, unroll_steps=4,
                                  num_sampled=8, dropout=0.0, stateful=True)
    trainer = train.build_trainer(config, jit_compile=False)
    rng = np.random.default_rng(0)  # larger weights: the carried state changes the outputs a lot
    trainer.encoder.set_weights([rng.normal(scale=0.8, size=w.shape).astype("float32")
                                 for w in trainer.encoder.get_weights()])
    batches = list(data.lm_stateful_dataset(SENTENCES, vocab, 3, 4, repeat=False).take(2))
    outputs = [trainer(x, training=True) for x, _ in batches]
    joined = {key: tf.concat([x[key] for x, _ in batches], axis=1)
              for key in ("char_ids", "backward_char_ids")}
    plain = trainer({"char_ids": joined["char_ids"]}, training=False)
    # the backward LM read the joined backward windows right to left: un-reverse them for a plain
    # call, whose backward outputs (in reading order) are then reversed back
    plain_backward = trainer({"char_ids": joined["backward_char_ids"][:, ::-1]},
                             training=False)["backward"][:, ::-1]
    got_forward = tf.concat([o["forward"] for o in outputs], axis=1)
    got_backward = tf.concat([o["backward"] for o in outputs], axis=1)
    # the state loop is XLA-compiled in training (approximate tanh/sigmoid: 1e-4)
    np.testing.assert_allclose(got_forward, plain["forward"], atol=1e-4)
    np.testing.assert_allclose(got_backward, plain_backward, atol=1e-4)
    # without the carried state the second window would be different
    alone = trainer({"char_ids": batches[1][0]["char_ids"]}, training=False)["forward"]
    assert np.abs(np.asarray(alone) - np.asarray(outputs[1]["forward"])).max() > 1e-2
    trainer.reset_state()
    again = trainer(batches[0][0], training=True)
    np.testing.assert_allclose(again["forward"], outputs[0]["forward"], atol=1e-6)


def test_stateful_training_run(vocab, tmp_path):
    config = bilm.BiLMConfig.tiny(vocab_size=len(vocab), batch_size=3, unroll_steps=4,
                                  num_sampled=8, stateful=True)
    trainer, history = train.train_bilm(config, SENTENCES, SENTENCES[:4], vocab=vocab,
                                        output_dir=tmp_path, epochs=2, jit_compile=False,
                                        verbose=0)
    records = history["epochs"]
    assert len(records) == 2 and all(np.isfinite(r["val_loss"]) for r in records)
    assert records[0]["steps"] == (len(_stream(vocab)) - 2) // 12
    assert float(tf.reduce_max(tf.abs(trainer._carried.h))) > 0  # the state was carried
    # the carried state is not a weight: the saved weights load into a non-stateful model
    loaded, _ = train.load_trained(tmp_path)
    assert loaded.config.stateful
    assert len(loaded.get_weights()) == len(train.build_trainer(
        bilm.BiLMConfig.tiny(vocab_size=len(vocab)), jit_compile=False).get_weights())


def test_stateful_batches_need_a_stateful_built_trainer(vocab):
    x, _ = next(iter(data.lm_stateful_dataset(SENTENCES, vocab, 3, 4)))
    plain = train.build_trainer(bilm.BiLMConfig.tiny(vocab_size=len(vocab)), jit_compile=False)
    with pytest.raises(ValueError, match="config.stateful=False"):
        plain(x, training=True)

"""Stateful (bilm-tf protocol) perplexity: the LSTM state carried through the text.

The truth is the NumPy reference run over each stream piece as ONE sequence from a zero state
(no windows, no carried state): if the state were dropped or mixed up between windows, rows or
directions, the losses would differ.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import np_char_cnn, np_lstm_stack, np_token_char_ids, random_bilm_tf_weights
from test_interop import CHAR_OPTIONS, write_bilm_tf_files

from elmo_lib import bilm, data, interop, lstm, text, train

SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["dogs", "bark", "."],
             ["a", "cat", "saw", "the", "dog", "and", "ran", "away", "."], ["it", "rains"],
             [], ["the", "mat", "is", "red", "."]]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny char biLM with bilm-tf-format random weights (large enough that clipping and the
    carried state matter) and a random softmax."""
    vocab = text.Vocabulary.from_corpus(SENTENCES[:4])  # some later words are <UNK>
    weights = random_bilm_tf_weights(CHAR_OPTIONS, seed=11, scale=1.5)
    files = write_bilm_tf_files(tmp_path_factory.mktemp("fixture"), CHAR_OPTIONS, weights)
    encoder = bilm.encoder_layer(interop.load_bilm_tf(*files))
    config = bilm.BiLMConfig.from_options(CHAR_OPTIONS)
    config.vocab_size, config.num_sampled = len(vocab), 4
    trainer = train.build_trainer(config, jit_compile=False)
    trainer.encoder.set_weights(encoder.get_weights())
    rng = np.random.default_rng(5)
    softmax_kernel = rng.standard_normal(tuple(trainer.softmax.kernel.shape)).astype("float32")
    softmax_bias = rng.standard_normal(len(vocab)).astype("float32")
    trainer.softmax.kernel.assign(softmax_kernel)
    trainer.softmax.bias.assign(softmax_bias)
    return trainer, vocab, weights, softmax_kernel.astype(np.float64), softmax_bias


def numpy_stream_losses(weights, kernel, bias, vocab, n_streams):
    """Summed forward/backward losses: every piece of the stream is one sequence, zero state."""
    stream = [t for s in SENTENCES if s for t in (text.BOS_TOKEN, *s, text.EOS_TOKEN)]
    scored = np.arange(1, len(stream) - 1)
    size = -(-len(scored) // n_streams)  # equal rows, the last one shorter
    rows = [scored[i:i + size] for i in range(0, len(scored), size)]
    totals = {"forward": 0.0, "backward": 0.0}
    for row in rows:
        chars = np.stack([np_token_char_ids(stream[p]) for p in row])
        embedded = np_char_cnn(weights, chars, CHAR_OPTIONS).astype(np.float64)
        for direction, shift in (("forward", 1), ("backward", -1)):
            hidden = np_lstm_stack(weights, embedded, CHAR_OPTIONS, 0 if shift == 1 else 1)[-1]
            logits = hidden @ kernel.T + bias
            top = logits.max(-1, keepdims=True)
            log_z = np.log(np.exp(logits - top).sum(-1)) + top[:, 0]
            targets = vocab.encode([stream[p + shift] for p in row])
            totals[direction] += float((log_z - logits[np.arange(len(row)), targets]).sum())
    return totals, len(scored)


@pytest.mark.parametrize("n_streams, window", [(1, 4), (3, 5), (2, 100)])
def test_stream_perplexity_equals_numpy_reference_without_windows(model, n_streams, window):
    trainer, vocab, weights, kernel, bias = model
    result = train.evaluate_stream_perplexity(trainer, SENTENCES, vocab=vocab,
                                              n_streams=n_streams, window=window, verbose=0)
    totals, tokens = numpy_stream_losses(weights, kernel, bias, vocab, n_streams)
    assert result["tokens"] == tokens
    for direction in ("forward", "backward"):
        assert result[f"{direction}_loss"] == pytest.approx(totals[direction] / tokens, rel=1e-5)
    assert result["mean"] == pytest.approx(0.5 * (math.exp(totals["forward"] / tokens)
                                                  + math.exp(totals["backward"] / tokens)), rel=1e-5)


def test_stream_and_window_protocols_score_the_same_tokens(model):
    trainer, vocab, *_ = model
    stream = train.evaluate_stream_perplexity(trainer, SENTENCES, vocab=vocab, verbose=0)
    windows = train.evaluate_perplexity(trainer, SENTENCES, vocab=vocab, verbose=0)
    assert stream["tokens"] == windows["tokens"] == sum(len(s) + 2 for s in SENTENCES if s) - 2
    # the windowed protocol restarts the state every unroll_steps tokens: other numbers
    assert abs(stream["forward_loss"] - windows["forward_loss"]) > 1e-3


def test_stream_windows_layout():
    vocab = text.Vocabulary.from_corpus(SENTENCES)
    n_windows, windows = data.lm_stream_windows(SENTENCES, vocab, 2, 4, direction="backward",
                                                include_char_ids=False)
    batches = list(windows)
    # 33 scored tokens (35 stream tokens minus the first and the last) -> rows of 17 and 16
    assert len(batches) == n_windows == 5
    ids = np.concatenate([x["token_ids"] for x, _ in batches], axis=1)
    targets = np.concatenate([y["token_ids"] for _, y in batches], axis=1)
    mask = np.concatenate([y["mask"] for _, y in batches], axis=1)
    stream = vocab.encode([t for s in SENTENCES if s for t in (text.BOS_TOKEN, *s, text.EOS_TOKEN)])
    assert len(stream) == 35
    # row 0 reads stream positions 17..1 (right to left), row 1 positions 33..18; then padding
    np.testing.assert_array_equal(ids[0, :17], stream[17:0:-1])
    np.testing.assert_array_equal(targets[0, :17], stream[16::-1])
    np.testing.assert_array_equal(ids[1, :16], stream[33:17:-1])
    np.testing.assert_array_equal(targets[1, :16], stream[32:16:-1])
    np.testing.assert_array_equal(mask[0], [1.0] * 17 + [0.0] * 3)
    np.testing.assert_array_equal(mask[1], [1.0] * 16 + [0.0] * 4)


def test_stream_windows_reject_bad_arguments():
    vocab = text.Vocabulary.from_corpus(SENTENCES)
    with pytest.raises(ValueError, match="direction"):
        data.lm_stream_windows(SENTENCES, vocab, 1, 4, direction="sideways")
    with pytest.raises(ValueError, match="window"):
        data.lm_stream_windows(SENTENCES, vocab, 1, 0)
    with pytest.raises(ValueError, match="too few"):
        data.lm_stream_windows([[]], vocab, 1, 4)
    with pytest.raises(ValueError, match="nothing to feed"):
        data.lm_stream_windows(SENTENCES, vocab, 1, 4, include_char_ids=False,
                               include_token_ids=False)


def test_run_lstmps_state_carried_over_windows_equals_one_call():
    cell = lstm.LSTMP(6, 3, cell_clip=0.5, proj_clip=0.4)
    cell.build((None, None, 5))
    x = tf.random.stateless_normal((2, 9, 5), seed=(1, 2)) * 3.0
    whole, (h, c) = lstm.run_lstmps([cell], [x], training=False, return_state=True)
    state, parts = None, []
    for start in (0, 4, 7):
        (part,), state = lstm.run_lstmps([cell], [x[:, start:start + {0: 4, 4: 3, 7: 2}[start]]],
                                         training=False, initial_state=state, return_state=True)
        parts.append(part)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole[0], atol=1e-6)
    np.testing.assert_allclose(state[0], h, atol=1e-6)
    np.testing.assert_allclose(state[1], c, atol=1e-6)
    assert float(tf.reduce_max(tf.abs(c))) == pytest.approx(0.5)  # the cell clip was active

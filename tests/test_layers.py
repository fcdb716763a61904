"""elmo_lib.layers: each layer's standard checks plus numerics against NumPy written from the
equations (LSTMP: test_lstm.py). (The whole char CNN / LSTMP / encoder against an independent NumPy
implementation with loops over time is in test_interop.py, through tests/numpy_reference.py.)"""

import math

import keras
import numpy as np
import pytest
from layer_checks import check_layer, check_trainable_round_trip

from elmo_lib import layers, text


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def test_highway_matches_numpy_and_round_trips(tmp_path):
    x = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
    layer = layers.Highway(name="hw")
    check_layer(layer, x, expected_params=2 * (6 * 6 + 6), tmp_path=tmp_path)
    w_t, b_t = np.asarray(layer.gate_kernel), np.asarray(layer.gate_bias)
    w_h, b_h = np.asarray(layer.transform_kernel), np.asarray(layer.transform_bias)
    gate = _sigmoid(x @ w_t + b_t)
    expected = gate * np.maximum(x @ w_h + b_h, 0.0) + (1 - gate) * x
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)


def test_highway_gate_bias_starts_at_minus_two():
    layer = layers.Highway()
    layer.build((None, 4))
    np.testing.assert_array_equal(np.asarray(layer.gate_bias), -2.0 * np.ones(4))


def test_charcnn_standard_checks_and_padding(tmp_path):
    ids = text.char_ids([["The", "cat"], ["é"]])
    cnn = layers.CharCNN(filters=[(1, 3), (2, 4)], n_highway=1, projection_dim=5,
                         embedding_dim=4, name="cnn")
    expected_params = 262 * 4 + (1 * 4 * 3 + 3) + (2 * 4 * 4 + 4) + 2 * (7 * 7 + 7) + (7 * 5 + 5)
    check_layer(cnn, ids, expected_params=expected_params, tmp_path=tmp_path)
    out = np.asarray(cnn(ids))
    assert out.shape == (2, 2, 5)
    np.testing.assert_array_equal(out[1, 1], np.zeros(5))  # padding token -> zeros
    # A token's vector does not depend on its neighbours or batch position.
    alone = np.asarray(cnn(text.char_ids([["cat"]])))
    np.testing.assert_allclose(alone[0, 0], out[0, 1], atol=1e-6)


@pytest.mark.parametrize("kwargs, name", [
    (dict(filters=[]), "filters"),
    (dict(filters=[(60, 4)]), "filters"),
    (dict(activation="gelu"), "activation"),
    (dict(projection_dim=0), "projection_dim"),
])
def test_charcnn_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layers.CharCNN(**kwargs)


def test_charcnn_rejects_wrong_rank():
    cnn = layers.CharCNN(filters=[(1, 2)], n_highway=0, projection_dim=2)
    with pytest.raises(ValueError, match="char ids"):
        cnn(np.zeros((2, 50), "int32"))


def test_full_softmax_of_uniform_model_is_log_vocab():
    vocab = 37
    softmax = layers.LMSoftmax(vocab_size=vocab, num_sampled=5)
    hidden = np.random.default_rng(4).normal(size=(2, 3, 4)).astype("float32")
    softmax.build(hidden.shape)
    softmax.set_weights([np.zeros((vocab, 4), "float32"), np.zeros(vocab, "float32")])
    labels = np.array([[0, 5, 36], [1, 2, 3]])
    loss = float(softmax.full_loss(hidden, labels))
    assert math.isclose(loss, math.log(vocab), rel_tol=1e-6)  # perplexity = vocabulary size


def _random_softmax(rng, vocab, dim, num_sampled):
    """An ``LMSoftmax`` with random weights, and those weights ``(W, b)`` as NumPy arrays."""
    softmax = layers.LMSoftmax(vocab_size=vocab, num_sampled=num_sampled)
    softmax.build((None, dim))
    w = rng.normal(size=(vocab, dim)).astype("float32")
    b = rng.normal(size=vocab).astype("float32")
    softmax.set_weights([w, b])
    return softmax, w, b


def test_full_softmax_token_losses_match_numpy_with_large_logits():
    rng = np.random.default_rng(7)
    vocab, dim = 23, 5
    softmax, w, b = _random_softmax(rng, vocab, dim, num_sampled=3)
    hidden = (60.0 * rng.normal(size=(2, 4, dim))).astype("float32")  # logits in the hundreds
    labels = rng.integers(0, vocab, size=(2, 4))
    logits = hidden.astype(np.float64) @ w.T.astype(np.float64) + b  # float64, shifted by the max
    top = logits.max(-1, keepdims=True)
    log_z = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]
    expected = log_z - np.take_along_axis(logits, labels[..., None], -1)[..., 0]
    got = np.asarray(softmax.token_losses(hidden, labels))
    assert np.isfinite(got).all() and got.shape == (2, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], "float32")
    np.testing.assert_allclose(float(softmax.full_loss(hidden, labels, mask)),
                               expected[mask > 0].mean(), rtol=1e-5)


def test_sampled_loss_matches_numpy_for_known_candidates(monkeypatch):
    rng = np.random.default_rng(5)
    vocab, dim = 11, 3
    softmax, w, b = _random_softmax(rng, vocab, dim, num_sampled=4)
    sampled = np.array([0, 3, 3, 7], "int32")
    monkeypatch.setattr(softmax, "sample_candidates", lambda: keras.ops.convert_to_tensor(sampled))
    hidden = rng.normal(size=(1, 3, dim)).astype("float32")
    labels = np.array([[3, 1, 9]])
    mask = np.array([[1.0, 1.0, 0.0]], "float32")

    def log_q(k):  # log of the expected count K * P(k) under the log-uniform sampler
        return np.log(4 * np.log((k + 2) / (k + 1)) / np.log(vocab + 1))

    losses = []
    for t in range(2):  # position 2 is masked out
        h, y = hidden[0, t], labels[0, t]
        true = h @ w[y] + b[y] - log_q(y)
        others = [h @ w[s] + b[s] - log_q(s) for s in sampled if s != y]  # accidental hits out
        logits = np.array([true] + others)
        losses.append(np.log(np.exp(logits).sum()) - true)
    expected = np.mean(losses)
    got = float(softmax.sampled_loss(hidden, labels, mask))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sampled_candidates_follow_log_uniform_distribution():
    vocab = 50
    softmax = layers.LMSoftmax(vocab_size=vocab, num_sampled=20000, seed=3)
    draws = np.asarray(softmax.sample_candidates())
    assert draws.min() >= 0 and draws.max() < vocab
    expected = np.log((np.arange(vocab) + 2) / (np.arange(vocab) + 1)) / np.log(vocab + 1)
    observed = np.bincount(draws, minlength=vocab) / draws.size
    np.testing.assert_allclose(observed[:5], expected[:5], atol=0.01)
    assert math.isclose(expected.sum(), 1.0, rel_tol=1e-9)


def test_lm_softmax_round_trips(tmp_path):
    hidden = np.random.default_rng(6).normal(size=(2, 3, 4)).astype("float32")
    check_layer(layers.LMSoftmax(vocab_size=9, num_sampled=3, name="sm"), hidden,
                expected_params=9 * 4 + 9, tmp_path=tmp_path)


def test_charcnn_padding_row_starts_at_zero():
    cnn = layers.CharCNN(filters=[(1, 2)], n_highway=0, projection_dim=2, embedding_dim=3)
    cnn.build((None, None, 50))
    table = keras.ops.convert_to_numpy(cnn.char_embedding.embeddings)
    np.testing.assert_array_equal(table[0], np.zeros(3))
    assert np.abs(table[1:]).sum() > 0


# Frozen stays frozen (issue 18, part 1): every layer of elmo_lib, frozen and not.
@pytest.mark.parametrize("trainable", [True, False])
@pytest.mark.parametrize("make, inputs, n_weights", [
    (lambda **kw: layers.CharCNN(((1, 2), (2, 3)), n_highway=1, projection_dim=4,
                                 embedding_dim=3, **kw),
     lambda: text.char_ids([["ab", "c"], ["d"]]), 1 + 4 + 4 + 2),
    (lambda **kw: layers.Highway(**kw), lambda: np.ones((2, 3), "float32"), 4),
    (lambda **kw: layers.LSTMP(4, 2, **kw), lambda: np.ones((2, 3, 2), "float32"), 4),
    (lambda **kw: layers.ScalarMix(3, **kw), lambda: np.ones((2, 3, 2, 4), "float32"), 2),
    (lambda **kw: layers.LMSoftmax(6, 2, **kw), lambda: np.ones((2, 3), "float32"), 2),
])
def test_layers_keep_their_trainable_set(make, inputs, n_weights, trainable, tmp_path):
    keras.utils.set_random_seed(0)
    check_trainable_round_trip(make(trainable=trainable), inputs(), tmp_path,
                               expected_trainable=n_weights if trainable else 0)

"""elmo_lib.layers: each layer's standard checks plus numerics against NumPy written from the
equations. (The whole char CNN / LSTMP / encoder against an independent NumPy implementation with
loops over time is in test_interop.py, through tests/numpy_reference.py.)"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import check_layer

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


def _numpy_lstmp(x, kernel, recurrent, bias, projection, cell_clip, proj_clip):
    """One direction, loops over time, gates i, f, g, o (written from the LSTMP equations)."""
    batch, steps, _ = x.shape
    hidden = recurrent.shape[1] // 4
    h = np.zeros((batch, projection.shape[1]))
    c = np.zeros((batch, hidden))
    outputs, cells = [], []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c = np.clip(_sigmoid(f) * c + _sigmoid(i) * np.tanh(g), -cell_clip, cell_clip)
        h = np.clip((_sigmoid(o) * np.tanh(c)) @ projection, -proj_clip, proj_clip)
        outputs.append(h)
        cells.append(c)
    return np.stack(outputs, 1), np.stack(cells, 1)


def test_lstmp_matches_numpy_with_active_clipping(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 7, 3)).astype("float32")
    layer = layers.LSTMP(units=5, projection_dim=4, cell_clip=0.5, proj_clip=0.3, name="lstmp")
    layer.build(x.shape)
    # Large weights so both clips are really active.
    weights = [rng.normal(scale=2.0, size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    expected, cells = _numpy_lstmp(x, *weights, cell_clip=0.5, proj_clip=0.3)
    assert np.isclose(np.abs(cells).max(), 0.5) and np.isclose(np.abs(expected).max(), 0.3)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)
    check_layer(layer, x, expected_params=3 * 20 + 4 * 20 + 20 + 5 * 4, tmp_path=tmp_path)


def test_lstmp_right_padding_does_not_change_real_steps():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 4, 3)).astype("float32")
    layer = layers.LSTMP(units=6, projection_dim=2)
    padded = np.concatenate([x, rng.normal(size=(1, 3, 3)).astype("float32")], axis=1)
    mask = np.array([[1, 1, 1, 1, 0, 0, 0]], bool)
    out = np.asarray(layer(padded, mask=mask))
    np.testing.assert_allclose(out[:, :4], np.asarray(layer(x)), atol=1e-6)
    np.testing.assert_array_equal(out[:, 4:], 0.0)


def _unrolled_lstmp(x, kernel, recurrent, bias, projection, cell_clip, proj_clip):
    """The LSTMP equations as a Python loop of TF ops, for TF's automatic differentiation."""
    hidden = recurrent.shape[1] // 4
    h = tf.zeros((x.shape[0], projection.shape[1]))
    c = tf.zeros((x.shape[0], hidden))
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.clip_by_value(tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g), -cell_clip, cell_clip)
        h = tf.clip_by_value((tf.sigmoid(o) * tf.tanh(c)) @ projection, -proj_clip, proj_clip)
        outputs.append(h)
    return tf.stack(outputs, 1)


@pytest.mark.parametrize("compiled", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("clips", [(0.5, 0.3), (50.0, 50.0)], ids=["clipping", "no-clipping"])
def test_lstmp_hand_written_gradient_equals_autodiff_of_unrolled_loop(clips, compiled):
    cell_clip, proj_clip = clips
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(3, 6, 4)).astype("float32"))
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False  # right padding in one sentence
    layer = layers.LSTMP(units=5, projection_dim=3, cell_clip=cell_clip, proj_clip=proj_clip)
    layer.build(x.shape)
    layer.set_weights([rng.normal(scale=1.5, size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    probe = tf.constant(rng.normal(size=(3, 6, 3)).astype("float32"))  # a loss that weighs outputs

    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layers.run_lstmps([layer], [x], mask=tf.constant(mask), compiled=compiled)[0]
        ours = tf.reduce_sum(tf.sin(out) * probe)
    got = tape.gradient(ours, [x] + [w.value for w in layer.weights])

    weights = [tf.constant(w) for w in layer.get_weights()]
    with tf.GradientTape() as tape:
        tape.watch([x] + weights)
        out = _unrolled_lstmp(x, *weights, cell_clip, proj_clip) * mask[..., None]
        reference = tf.reduce_sum(tf.sin(out) * probe)
    expected = tape.gradient(reference, [x] + weights)
    np.testing.assert_allclose(float(ours), float(reference), rtol=1e-5)
    if cell_clip < 1:  # the clipped case really clips somewhere
        assert np.abs(np.asarray(out)).max() == pytest.approx(proj_clip)
    # XLA's CPU tanh/sigmoid are approximations good to ~1e-6 relative; through 6 steps of large
    # weights that reaches a few 1e-5 on gradients of size ~10, hence the looser bound there.
    tolerance = 1e-4 if compiled else 1e-5
    for name, g, e in zip(["inputs", "kernel", "recurrent", "bias", "projection"], got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=tolerance, atol=tolerance,
                                   err_msg=name)


def test_run_lstmps_equals_separate_layers_and_checks_sizes():
    rng = np.random.default_rng(5)
    cells = [layers.LSTMP(units=4, projection_dim=2, name=f"cell{k}") for k in range(2)]
    xs = [rng.normal(size=(2, 5, 3)).astype("float32") for _ in cells]
    for cell in cells:
        cell.build((None, None, 3))
    together = layers.run_lstmps(cells, [tf.constant(x) for x in xs])
    for cell, x, out in zip(cells, xs, together):
        np.testing.assert_allclose(np.asarray(out), np.asarray(cell(x)), atol=1e-6)
    other = layers.LSTMP(units=4, projection_dim=2, cell_clip=1.0, name="other")
    other.build((None, None, 3))
    with pytest.raises(ValueError, match="equal sizes"):
        layers.run_lstmps([cells[0], other], [xs[0], xs[1]])
    with pytest.raises(ValueError, match="2 layers but 1 inputs"):
        layers.run_lstmps(cells, [xs[0]])


def test_lstmp_forget_bias_initialised_to_one():
    layer = layers.LSTMP(units=3, projection_dim=2)
    layer.build((None, None, 4))
    np.testing.assert_array_equal(np.asarray(layer.bias), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("kwargs, name", [
    (dict(units=0, projection_dim=2), "units"),
    (dict(units=2, projection_dim=-1), "projection_dim"),
    (dict(units=2, projection_dim=2, cell_clip=-1.0), "cell_clip"),
])
def test_lstmp_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layers.LSTMP(**kwargs)


def test_full_softmax_of_uniform_model_is_log_vocab():
    vocab = 37
    softmax = layers.LMSoftmax(vocab_size=vocab, num_sampled=5)
    hidden = np.random.default_rng(4).normal(size=(2, 3, 4)).astype("float32")
    softmax.build(hidden.shape)
    softmax.set_weights([np.zeros((vocab, 4), "float32"), np.zeros(vocab, "float32")])
    labels = np.array([[0, 5, 36], [1, 2, 3]])
    loss = float(softmax.full_loss(hidden, labels))
    assert math.isclose(loss, math.log(vocab), rel_tol=1e-6)  # perplexity = vocabulary size


def test_sampled_loss_matches_numpy_for_known_candidates(monkeypatch):
    rng = np.random.default_rng(5)
    vocab, dim = 11, 3
    softmax = layers.LMSoftmax(vocab_size=vocab, num_sampled=4)
    softmax.build((None, dim))
    w = rng.normal(size=(vocab, dim)).astype("float32")
    b = rng.normal(size=vocab).astype("float32")
    softmax.set_weights([w, b])
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

"""elmo_lib.lstm: LSTMP against a NumPy loop written from the equations, its hand-written gradient
against TF's automatic differentiation of an unrolled loop, and run_lstmps (several cells, one loop).
(The whole encoder against an independent NumPy implementation is in test_interop.py.)"""

import numpy as np
import pytest
import tensorflow as tf
from layer_checks import check_layer

from elmo_lib import lstm


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


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
    layer = lstm.LSTMP(units=5, projection_dim=4, cell_clip=0.5, proj_clip=0.3, name="lstmp")
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
    layer = lstm.LSTMP(units=6, projection_dim=2)
    padded = np.concatenate([x, rng.normal(size=(1, 3, 3)).astype("float32")], axis=1)
    mask = np.array([[1, 1, 1, 1, 0, 0, 0]], bool)
    out = np.asarray(layer(padded, mask=mask))
    np.testing.assert_allclose(out[:, :4], np.asarray(layer(x)), atol=1e-6)
    np.testing.assert_array_equal(out[:, 4:], 0.0)


@pytest.mark.parametrize("layout", ["pre", "between", "both_ends"])
def test_lstmp_masked_steps_anywhere_do_not_change_real_steps(layout):
    """Issue 18, part 5: left padding (pad_sequences' default) and gaps, with a mask, give the
    outputs of the unpadded sequence; masked steps are zero, whatever they hold."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 4, 3)).astype("float32")
    real = {"pre": [0, 0, 0, 1, 1, 1, 1], "between": [1, 0, 1, 1, 0, 0, 1],
            "both_ends": [0, 1, 1, 1, 1, 0, 0]}[layout]
    mask = np.array([real], bool)
    padded = rng.normal(size=(1, 7, 3)).astype("float32")  # garbage at the masked steps
    padded[mask] = x[0]
    layer = lstm.LSTMP(units=6, projection_dim=2)
    alone = np.asarray(layer(x))
    for call in (layer, tf.function(layer)):
        out = np.asarray(call(padded, mask=mask))
        np.testing.assert_allclose(out[mask], alone[0], atol=1e-6)
        np.testing.assert_array_equal(out[~mask], 0.0)


def _unrolled_lstmp(x, kernel, recurrent, bias, projection, cell_clip, proj_clip, h0=None,
                    c0=None):
    """The LSTMP equations as a Python loop of TF ops, for TF's automatic differentiation."""
    hidden = recurrent.shape[1] // 4
    h = tf.zeros((x.shape[0], projection.shape[1])) if h0 is None else h0
    c = tf.zeros((x.shape[0], hidden)) if c0 is None else c0
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
    layer = lstm.LSTMP(units=5, projection_dim=3, cell_clip=cell_clip, proj_clip=proj_clip)
    layer.build(x.shape)
    layer.set_weights([rng.normal(scale=1.5, size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    probe = tf.constant(rng.normal(size=(3, 6, 3)).astype("float32"))  # a loss that weighs outputs

    with tf.GradientTape() as tape:
        tape.watch(x)
        out = lstm.run_lstmps([layer], [x], mask=tf.constant(mask), compiled=compiled)[0]
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
    _assert_gradients_close(got, expected, compiled)


def _assert_gradients_close(got, expected, compiled):
    """Two float32 computations of the same gradient, summed in different orders: equal to a
    tolerance relative to the gradient's largest entry (float32 matmuls round differently on
    AVX2 and AVX-512 machines). XLA's CPU tanh/sigmoid are approximations good to ~1e-6 relative;
    through 6 steps of large weights that reaches a few 1e-5, hence the looser bound there."""
    tolerance = 1e-4 if compiled else 2e-5
    for name, g, e in zip(["inputs", "kernel", "recurrent", "bias", "projection"], got, expected):
        e = np.asarray(e)
        np.testing.assert_allclose(np.asarray(g), e, rtol=tolerance,
                                   atol=tolerance * max(1.0, float(np.abs(e).max())), err_msg=name)


@pytest.mark.parametrize("compiled", [False, True], ids=["graph", "xla"])
def test_gradient_from_a_carried_state_equals_autodiff(compiled):
    """Stateful training: the loop starts from a given (h0, c0); no gradient flows into it."""
    rng = np.random.default_rng(6)
    x = tf.constant(rng.normal(size=(2, 5, 4)).astype("float32"))
    layer = lstm.LSTMP(units=5, projection_dim=3, cell_clip=0.8, proj_clip=0.6)
    layer.build(x.shape)
    layer.set_weights([rng.normal(scale=1.5, size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    h0 = tf.constant(rng.uniform(-0.6, 0.6, size=(1, 2, 3)).astype("float32"))
    c0 = tf.constant(rng.uniform(-0.8, 0.8, size=(1, 2, 5)).astype("float32"))
    probe = tf.constant(rng.normal(size=(2, 5, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        (out,), (h_last, c_last) = lstm.run_lstmps([layer], [x], compiled=compiled,
                                                   initial_state=(h0, c0), return_state=True)
        ours = tf.reduce_sum(tf.sin(out) * probe)
    got = tape.gradient(ours, [x] + [w.value for w in layer.weights])
    weights = [tf.constant(w) for w in layer.get_weights()]
    with tf.GradientTape() as tape:
        tape.watch([x] + weights)
        expected_out = _unrolled_lstmp(x, *weights, 0.8, 0.6, h0=h0[0], c0=c0[0])
        reference = tf.reduce_sum(tf.sin(expected_out) * probe)
    expected = tape.gradient(reference, [x] + weights)
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected_out), atol=1e-5)
    np.testing.assert_allclose(np.asarray(h_last[0]), np.asarray(expected_out[:, -1]), atol=1e-5)
    assert float(tf.reduce_max(tf.abs(c_last))) <= 0.8 + 1e-6
    # with a zero start the outputs differ: the state really was used
    assert np.abs(np.asarray(out) - np.asarray(layer(x))).max() > 1e-2
    _assert_gradients_close(got, expected, compiled)


def test_run_lstmps_equals_separate_layers_and_checks_sizes():
    rng = np.random.default_rng(5)
    cells = [lstm.LSTMP(units=4, projection_dim=2, name=f"cell{k}") for k in range(2)]
    xs = [rng.normal(size=(2, 5, 3)).astype("float32") for _ in cells]
    for cell in cells:
        cell.build((None, None, 3))
    together = lstm.run_lstmps(cells, [tf.constant(x) for x in xs])
    for cell, x, out in zip(cells, xs, together):
        np.testing.assert_allclose(np.asarray(out), np.asarray(cell(x)), atol=1e-6)
    # The forward-only inference loop gives the same outputs, and TF's own gradient through it
    # equals the hand-written one.
    x = [tf.constant(v) for v in xs]
    gradients = []
    for training in (True, False):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outs = lstm.run_lstmps(cells, x, training=training)
            loss = tf.reduce_sum(tf.sin(outs[0])) + tf.reduce_sum(outs[1] ** 2)
        gradients.append(tape.gradient(loss, x + [w.value for c in cells for w in c.weights]))
        for out, expected in zip(outs, together):
            np.testing.assert_allclose(np.asarray(out), np.asarray(expected), atol=1e-6)
    for hand, auto in zip(*gradients):
        np.testing.assert_allclose(np.asarray(hand), np.asarray(auto), rtol=1e-5, atol=1e-5)
    other = lstm.LSTMP(units=4, projection_dim=2, cell_clip=1.0, name="other")
    other.build((None, None, 3))
    with pytest.raises(ValueError, match="equal sizes"):
        lstm.run_lstmps([cells[0], other], [xs[0], xs[1]])
    with pytest.raises(ValueError, match="2 layers but 1 inputs"):
        lstm.run_lstmps(cells, [xs[0]])


def test_lstmp_forget_bias_initialised_to_one():
    layer = lstm.LSTMP(units=3, projection_dim=2)
    layer.build((None, None, 4))
    np.testing.assert_array_equal(np.asarray(layer.bias), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("kwargs, name", [
    (dict(units=0, projection_dim=2), "units"),
    (dict(units=2, projection_dim=-1), "projection_dim"),
    (dict(units=2, projection_dim=2, cell_clip=-1.0), "cell_clip"),
])
def test_lstmp_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lstm.LSTMP(**kwargs)

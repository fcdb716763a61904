"""ScalarMix against NumPy: ``gamma * sum_j softmax(s)_j * h_j``, masked layer norm, L2 penalty."""

import keras
import numpy as np
import pytest

from elmo_lib.layers import ScalarMix


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _numpy_mix(layers, s, gamma, mask=None, layer_norm=False):
    """Written from the formula: per sentence and layer, normalise over its non-padding values."""
    layers = [np.array(h, dtype=np.float64) for h in layers]
    if layer_norm:
        normed = []
        for h in layers:
            out = np.empty_like(h)
            for b in range(h.shape[0]):
                keep = mask[b] if mask is not None else np.ones(h.shape[1], bool)
                values = h[b][keep]  # [tokens kept, D]
                mean, var = values.mean(), values.var()
                out[b] = (h[b] - mean) / np.sqrt(var + 1e-12)
            normed.append(out)
        layers = normed
    weights = _softmax(np.asarray(s, np.float64))
    return gamma * sum(w * h for w, h in zip(weights, layers))


@pytest.fixture
def layers_and_mask():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(3, 5, 4)).astype("float32") * (k + 1) + k for k in range(3)]
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], bool)
    for h in layers:
        h[~mask] = 0.0  # the biLM's outputs are zero at padding
    return layers, mask


def _set(mix, s, gamma):
    mix.scalar_parameters.assign(np.asarray(s, "float32"))
    mix.gamma.assign(np.float32(gamma))


def test_scalar_mix_equals_numpy_formula(layers_and_mask):
    layers, _ = layers_and_mask
    mix = ScalarMix(3)
    mix(layers)
    # Fresh: s = 0, gamma = 1 -> the plain average.
    np.testing.assert_allclose(np.asarray(mix(layers)), np.mean(layers, axis=0), atol=1e-6)
    s, gamma = [0.5, -1.0, 2.0], 1.7
    _set(mix, s, gamma)
    np.testing.assert_allclose(np.asarray(mix(layers)), _numpy_mix(layers, s, gamma), atol=1e-5)
    # A stacked [B, L, T, D] tensor gives the same result as the list.
    stacked = np.stack(layers, axis=1)
    np.testing.assert_allclose(np.asarray(mix(stacked)), _numpy_mix(layers, s, gamma), atol=1e-5)


def test_scalar_mix_masked_layer_norm_equals_numpy(layers_and_mask):
    layers, mask = layers_and_mask
    mix = ScalarMix(3, layer_norm=True)
    mix(layers, mask=mask)
    s, gamma = [0.3, 0.1, -0.4], 0.8
    _set(mix, s, gamma)
    got = np.asarray(mix(layers, mask=mask))
    expected = _numpy_mix(layers, s, gamma, mask=mask, layer_norm=True)
    np.testing.assert_allclose(got[mask], expected[mask], atol=1e-5)
    # Statistics ignore padding: changing padded values does not change real positions.
    noisy = [h.copy() for h in layers]
    for h in noisy:
        h[~mask] = 123.0
    np.testing.assert_allclose(np.asarray(mix(noisy, mask=mask))[mask], got[mask], atol=1e-5)
    # Without a mask every position counts.
    np.testing.assert_allclose(np.asarray(mix(layers)),
                               _numpy_mix(layers, s, gamma, layer_norm=True), atol=1e-5)


def test_scalar_mix_l2_loss_value(layers_and_mask):
    layers, _ = layers_and_mask
    mix = ScalarMix(3, l2_coefficient=0.01)
    mix(layers)
    s = [0.5, -1.0, 2.0]
    _set(mix, s, 1.0)
    mix(layers)
    assert len(mix.losses) == 1
    np.testing.assert_allclose(float(mix.losses[0]), 0.01 * np.sum(np.square(s)), rtol=1e-6)
    fixed = ScalarMix(3, l2_coefficient=0.01, trainable_weights_fixed=True)
    fixed(layers)
    assert fixed.losses == [] and fixed.trainable_weights == []


def test_scalar_mix_weights_train_in_fit(layers_and_mask):
    layers, _ = layers_and_mask
    inputs = [keras.Input((5, 4)) for _ in range(3)]
    mix = ScalarMix(3, name="mix")
    model = keras.Model(inputs, keras.layers.Dense(1)(mix(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    before = [np.array(w) for w in (mix.scalar_parameters, mix.gamma)]
    model.fit(layers, np.ones((3, 5, 1), "float32"), epochs=3, verbose=0)
    after = [np.array(w) for w in (mix.scalar_parameters, mix.gamma)]
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[1], after[1])

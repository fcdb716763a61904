"""The shared check every elmo_lib layer passes (docs/contributing.md): config round trip, ``.keras`` save/load
with identical outputs, the expected number of weights, and one training step that changes them."""

from __future__ import annotations

import numpy as np


def check_layer(layer, inputs, *, expected_params: int | None = None, tmp_path=None,
                train_inputs=None, output_key=None, atol: float = 1e-6):
    """Run the standard checks on ``layer`` (built by calling it on ``inputs``)."""
    import keras

    def pick(outputs):
        if isinstance(outputs, dict):
            return outputs[output_key]
        return outputs

    reference = np.asarray(pick(layer(inputs)))

    # 1. get_config -> from_config builds an identical layer (same config, same outputs with the
    #    same weights).
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    clone(inputs)
    assert clone.get_config() == config
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(pick(clone(inputs))), reference, atol=atol)

    # 2. weight count.
    if expected_params is not None:
        assert layer.count_params() == expected_params

    # 3. .keras round trip inside a functional model (default safe_mode=True loading).
    if tmp_path is not None:
        input_tensor = keras.Input(shape=inputs.shape[1:], dtype=str(inputs.dtype))
        model = keras.Model(input_tensor, pick(layer(input_tensor)))
        path = tmp_path / f"{layer.name}.keras"
        model.save(path)
        restored = keras.saving.load_model(path)
        np.testing.assert_allclose(np.asarray(restored(inputs)), reference, atol=atol)

    # 4. one optimizer step changes the trainable weights and gives a finite loss.
    if train_inputs is not False:
        x = inputs if train_inputs is None else train_inputs
        input_tensor = keras.Input(shape=x.shape[1:], dtype=str(x.dtype))
        output = pick(layer(input_tensor))
        model = keras.Model(input_tensor, output)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        before = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
        target = np.ones(tuple(np.asarray(pick(layer(x))).shape), dtype="float32")
        history = model.fit(x, target, epochs=1, batch_size=len(x), verbose=0)
        assert np.isfinite(history.history["loss"][0])
        after = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
        assert any(not np.array_equal(b, a) for b, a in zip(before, after)), "no weight changed"

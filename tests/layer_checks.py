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


def _input_for(x):
    """A ``keras.Input`` matching the batch ``x`` (NumPy, tf.Tensor, strings)."""
    import keras

    dtype = keras.backend.standardize_dtype(x.dtype)
    return keras.Input(shape=tuple(x.shape[1:]), dtype=dtype)


def _numpy(weights):
    import keras

    return [keras.ops.convert_to_numpy(w).copy() for w in weights]


def check_trainable_round_trip(layer, inputs, tmp_path, *, expected_trainable: int,
                               output_key=None):
    """The trainable set of ``layer`` survives every save path, and frozen weights stay frozen.

    ``layer`` (unbuilt or built) must have ``expected_trainable`` trainable weights. Checked:
    ``get_config``/``from_config``; a model ``layer -> Dense(1)`` compiled with Adam, fitted one
    step, saved as ``.keras`` and loaded (same trainable count, the optimizer state restored
    variable by variable); ``save_weights``/``load_weights`` into a model rebuilt from the
    model's config; and one more ``fit`` step on the loaded model, which must leave every
    non-trainable weight bit-identical (and move a trainable one, if there is any).
    """
    import keras

    def pick(outputs):
        return outputs[output_key] if isinstance(outputs, dict) else outputs

    def count(obj):
        return len(obj.trainable_weights)

    pick(layer(inputs))
    assert count(layer) == expected_trainable, [w.path for w in layer.trainable_weights]

    # 1. get_config -> from_config.
    clone = layer.__class__.from_config(layer.get_config())
    pick(clone(inputs))
    assert count(clone) == expected_trainable, (
        f"from_config: {count(clone)} trainable weights, expected {expected_trainable}: "
        f"{[w.path for w in clone.trainable_weights]}")

    # 2. .keras save/load with the optimizer state.
    input_tensor = _input_for(inputs)
    features = pick(layer(input_tensor))
    model = keras.Model(input_tensor, keras.layers.Dense(1, name="head")(features))
    head = 2  # the Dense kernel and bias
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    target = np.ones(tuple(model.predict(inputs, verbose=0).shape), "float32")
    model.fit(inputs, target, epochs=1, batch_size=len(target), verbose=0)
    assert count(model) == expected_trainable + head
    path = tmp_path / f"{layer.name}_frozen_check.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert count(restored) == expected_trainable + head, (
        f".keras: {count(restored)} trainable weights, expected {expected_trainable + head}: "
        f"{[w.path for w in restored.trainable_weights]}")
    assert len(restored.optimizer.variables) == len(model.optimizer.variables)
    for saved, loaded in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded),
                                      keras.ops.convert_to_numpy(saved), err_msg=loaded.path)

    # 3. save_weights/load_weights into the same architecture rebuilt from its config.
    weights_path = tmp_path / f"{layer.name}_frozen_check.weights.h5"
    model.save_weights(weights_path)
    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.load_weights(weights_path)
    assert count(rebuilt) == expected_trainable + head

    # 4. one more step on the loaded model: frozen weights bit-identical.
    frozen_before = _numpy(restored.non_trainable_weights)
    trainable_before = _numpy(restored.trainable_weights)
    restored.fit(inputs, target, epochs=1, batch_size=len(target), verbose=0)
    for weight, before in zip(restored.non_trainable_weights, frozen_before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), before,
                                      err_msg=f"frozen weight {weight.path} moved")
    after = _numpy(restored.trainable_weights)
    assert any(not np.array_equal(b, a) for b, a in zip(trainable_before, after))

"""TF Hub: export our biLM with google/elmo/3's signatures, load it back with hub.load and HubELMo.

One tiny encoder is exported once per session; everything runs offline.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import check_trainable_round_trip

from elmo_lib import bilm, interop, text

hub = pytest.importorskip("tensorflow_hub")

SENTENCES = [["The", "cät", "sat", "on", "the", "mat"], ["Dogs", "x" * 300], ["Hi"]]
LAYERS = ("word_emb", "lstm_outputs1", "lstm_outputs2")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = bilm.build_encoder(bilm.BiLMConfig.tiny())
    rng = np.random.default_rng(0)
    for variable in model.weights:  # bigger than the initial weights, so layers differ clearly
        variable.assign(rng.standard_normal(variable.shape).astype(np.float32) * 0.5)
    path = interop.export_hub(model, tmp_path_factory.mktemp("hub") / "elmo")
    expected = {k: v.numpy() for k, v in model(text.char_ids(SENTENCES)).items()}
    return path, expected


def padded_tokens(garbage="zzz"):
    width = max(len(s) for s in SENTENCES)
    tokens = [s + [garbage] * (width - len(s)) for s in SENTENCES]
    return tf.constant(tokens), tf.constant([len(s) for s in SENTENCES], tf.int32)


def check_outputs(outputs, expected):
    lengths = np.array([len(s) for s in SENTENCES])
    mask = np.arange(expected["word_emb"].shape[1])[None, :] < lengths[:, None]
    for key in LAYERS:
        np.testing.assert_allclose(outputs[key].numpy(), expected[key], atol=1e-5, err_msg=key)
    word = expected["word_emb"]
    elmo = (np.concatenate([word, word], -1) + expected["lstm_outputs1"]
            + expected["lstm_outputs2"]) / 3.0
    np.testing.assert_allclose(outputs["elmo"].numpy(), elmo, atol=1e-5)
    mean = (elmo * mask[..., None]).sum(1) / lengths[:, None]
    np.testing.assert_allclose(outputs["default"].numpy(), mean, atol=1e-5)
    np.testing.assert_array_equal(outputs["sequence_len"].numpy(), lengths)
    assert outputs["word_emb"].shape[-1] * 2 == outputs["lstm_outputs1"].shape[-1]


def test_tokens_signature_matches_encoder_and_ignores_padding(exported):
    path, expected = exported
    module = hub.load(path)
    assert set(module.signatures) == {"default", "tokens"}
    tokens, lengths = padded_tokens(garbage="GARBAGE-" + "ü" * 40)
    check_outputs(module.signatures["tokens"](tokens=tokens, sequence_len=lengths), expected)
    tokens, lengths = padded_tokens(garbage="")
    check_outputs(module.signatures["tokens"](tokens=tokens, sequence_len=lengths), expected)


def test_default_signature_splits_on_spaces(exported):
    path, expected = exported
    module = hub.load(path)
    strings = tf.constant(["  ".join(s) + " " for s in SENTENCES])  # extra spaces are dropped
    check_outputs(module.signatures["default"](strings=strings), expected)


def hub_model(path, signature, output_mode):
    if signature == "default":
        inputs = keras.Input(shape=(), dtype="string", name="strings")
    else:
        inputs = {"tokens": keras.Input(shape=(None,), dtype="string", name="tokens"),
                  "sequence_len": keras.Input(shape=(), dtype="int32", name="sequence_len")}
    layer = interop.HubELMo(path, signature=signature, output_mode=output_mode, name="elmo")
    return inputs, layer, layer(inputs)


@pytest.mark.parametrize("signature", ["default", "tokens"])
def test_hub_elmo_fits_saves_and_reloads(exported, tmp_path, signature):
    path, _ = exported
    inputs, layer, vectors = hub_model(path, signature, "default")
    assert vectors.shape == (None, 8)
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(vectors))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    tokens, lengths = padded_tokens(garbage="")
    x = {"strings": tf.constant([" ".join(s) for s in SENTENCES])} if signature == "default" else {
        "tokens": tokens, "sequence_len": lengths}
    if signature == "default":
        x = x["strings"]
    data = tf.data.Dataset.from_tensor_slices((x, np.array([1.0, -1.0, 0.5], "float32"))).batch(3)
    before = [w.numpy().copy() for w in layer.scalar_mix.weights]
    model.fit(data.repeat(), steps_per_epoch=5, epochs=1, shuffle=False, verbose=0)
    after = [w.numpy() for w in layer.scalar_mix.weights]
    assert len(layer.trainable_weights) == 2  # s (3 values) and gamma; the module stays frozen
    assert not np.allclose(before[0], after[0]) and not np.isclose(before[1], after[1])
    predictions = model.predict(data, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded.predict(data, verbose=0), predictions)
    np.testing.assert_array_equal(reloaded.get_layer("elmo").scalar_mix.weights[0].numpy(),
                                  after[0])


@pytest.mark.parametrize("output_mode", ["word_emb", "lstm_outputs2", "elmo"])
def test_hub_elmo_sequence_modes(exported, output_mode):
    path, expected = exported
    inputs, layer, vectors = hub_model(path, "tokens", output_mode)
    model = keras.Model(inputs, vectors)
    tokens, lengths = padded_tokens()
    output = model({"tokens": tokens, "sequence_len": lengths}).numpy()
    word = expected["word_emb"]
    if output_mode == "elmo":  # the fresh mix is an equal average with gamma 1
        want = (np.concatenate([word, word], -1) + expected["lstm_outputs1"]
                + expected["lstm_outputs2"]) / 3.0
    else:
        want = expected[output_mode]
    np.testing.assert_allclose(output, want, atol=1e-5)
    mask = layer.compute_mask({"tokens": tokens, "sequence_len": lengths})
    np.testing.assert_array_equal(mask.numpy(), expected["mask"])


def test_hub_elmo_config_round_trip(exported):
    path, _ = exported
    layer = interop.HubELMo(path, signature="tokens", output_mode="elmo", layer_norm=True)
    clone = interop.HubELMo.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="output_mode"):
        interop.HubELMo(path, output_mode="mean")


def test_missing_handle_gives_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not an existing local directory"):
        interop.HubELMo(str(tmp_path / "missing"))(tf.constant(["a b"]))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(OSError, match="TFHUB_CACHE_DIR=.*no network access.*local directory"):
        interop.load_hub_module("https://example.invalid/elmo/3")


def test_export_rejects_word_models(tmp_path):
    model = bilm.build_encoder(bilm.BiLMConfig.tiny(token_input="words"))
    with pytest.raises(ValueError, match="export_hub needs a character-input biLM"):
        interop.export_hub(model, tmp_path / "x")


@pytest.mark.parametrize("trainable", [True, False])
def test_hub_elmo_keeps_its_trainable_set(exported, trainable, tmp_path):
    """Frozen stays frozen (issue 18, part 1): the module has no trainable weights; the mix has 2."""
    path, _ = exported
    layer = interop.HubELMo(path, signature="default", output_mode="elmo", trainable=trainable)
    strings = tf.constant([" ".join(s) for s in SENTENCES])
    check_trainable_round_trip(layer, strings, tmp_path, expected_trainable=2 if trainable else 0)

"""elmo_lib.bilm: presets, options.json mapping, and the encoder's contract (boundaries added and
stripped, zeros at padding, determinism, save/load)."""

import json

import keras
import numpy as np
import pytest
from layer_checks import check_trainable_round_trip

from elmo_lib import bilm, text

SENTENCES = [["The", "play", "began", "."], ["Hi"], []]


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return bilm.build_encoder(bilm.BiLMConfig.tiny())


def _hand_count(config):
    """Weights of the encoder counted by hand from the architecture (independent of Keras)."""
    e, filters = config.char_embedding_dim, config.filters
    n_filters = sum(n for _, n in filters)
    count = config.n_characters * e + sum(w * e * n + n for w, n in filters)
    count += config.n_highway * 2 * (n_filters * n_filters + n_filters)
    count += n_filters * config.projection_dim + config.projection_dim
    h, p = config.lstm_dim, config.projection_dim
    per_layer = (p + p) * 4 * h + 4 * h + h * p  # input + recurrent kernel, bias, projection
    return count + 2 * config.n_layers * per_layer


@pytest.mark.parametrize("preset, published", [("small", 13.6e6), ("original", 93.6e6)])
def test_published_parameter_counts(preset, published):
    config = getattr(bilm.BiLMConfig, preset)()
    count = bilm.count_parameters(config)
    assert round(count / 1e5) == round(published / 1e5)  # 13.6M and 93.6M, as published
    assert count == _hand_count(config)


def test_tiny_and_cpu_presets_count_as_by_hand():
    for config in (bilm.BiLMConfig.tiny(), bilm.BiLMConfig.cpu()):
        assert bilm.count_parameters(config) == _hand_count(config)


def test_options_json_round_trip(tmp_path):
    config = bilm.BiLMConfig.small()
    path = tmp_path / "options.json"
    path.write_text(json.dumps(config.to_options()))
    again = bilm.BiLMConfig.from_options(str(path))
    for name in ("filters", "n_highway", "lstm_dim", "projection_dim", "n_layers", "cell_clip",
                 "proj_clip", "use_skip_connections", "vocab_size", "num_sampled"):
        assert getattr(again, name) == getattr(config, name), name
    assert bilm.BiLMConfig.from_dict(config.to_dict()) == config


def test_published_options_layout_is_read():
    # The structure of AllenNLP's published elmo_2x1024_128_2048cnn_1xhighway_options.json.
    options = {"lstm": {"use_skip_connections": True, "projection_dim": 128, "cell_clip": 3,
                        "proj_clip": 3, "dim": 1024, "n_layers": 2},
               "char_cnn": {"activation": "relu", "filters": [[1, 32], [2, 32], [3, 64],
                                                              [4, 128], [5, 256], [6, 512],
                                                              [7, 1024]],
                            "n_highway": 1, "embedding": {"dim": 16}, "n_characters": 262,
                            "max_characters_per_token": 50}}
    config = bilm.BiLMConfig.from_options(options)
    assert bilm.count_parameters(config) == bilm.count_parameters(bilm.BiLMConfig.small())


@pytest.mark.parametrize("kwargs, name", [
    (dict(token_input="bytes"), "token_input"),
    (dict(lstm_dim=0), "lstm_dim"),
    (dict(dropout=1.0), "dropout"),
])
def test_config_rejects_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        bilm.BiLMConfig.tiny(**kwargs)


def test_encoder_output_shapes_and_zero_padding(encoder):
    out = encoder(text.char_ids(SENTENCES))
    p = bilm.BiLMConfig.tiny().projection_dim
    assert set(out) == {"word_emb", "lstm_outputs1", "lstm_outputs2", "mask"}
    assert out["word_emb"].shape == (3, 4, p)
    assert out["lstm_outputs2"].shape == (3, 4, 2 * p)
    np.testing.assert_array_equal(np.asarray(out["mask"]),
                                  [[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
    for key in ("word_emb", "lstm_outputs1", "lstm_outputs2"):
        values = np.asarray(out[key])
        assert np.all(values[1, 1:] == 0) and np.all(values[2] == 0)
        assert np.all(np.abs(values[0]).sum(-1) > 0)


def test_encoder_is_deterministic_and_independent_of_batch(encoder):
    batch = np.asarray(encoder(text.char_ids(SENTENCES))["lstm_outputs2"])
    again = np.asarray(encoder(text.char_ids(SENTENCES))["lstm_outputs2"])
    np.testing.assert_array_equal(batch, again)  # no state carried between calls
    alone = np.asarray(encoder(text.char_ids([["Hi"]]))["lstm_outputs2"])
    np.testing.assert_allclose(alone[0], batch[1, :1], atol=1e-6)


def test_encoder_adds_and_strips_boundaries(encoder):
    """The user-facing encoder equals the raw biLM run on [<S>, tokens, </S>] with ends cut."""
    layer = bilm.encoder_layer(encoder)
    raw = bilm.BiLMEncoder(layer.config, add_boundaries=False)
    raw(text.char_ids([["x"]]))
    raw.set_weights(layer.get_weights())
    tokens = SENTENCES[0]
    with_bounds = np.asarray(raw(text.char_ids([["<S>", *tokens, "</S>"]]))["lstm_outputs1"])
    direct = np.asarray(encoder(text.char_ids([tokens]))["lstm_outputs1"])
    np.testing.assert_allclose(direct[0], with_bounds[0, 1:-1], atol=1e-6)


def test_backward_direction_sees_the_future(encoder):
    p = bilm.BiLMConfig.tiny().projection_dim
    a = np.asarray(encoder(text.char_ids([["a", "b", "c"]]))["lstm_outputs1"])
    b = np.asarray(encoder(text.char_ids([["a", "b", "X"]]))["lstm_outputs1"])
    np.testing.assert_allclose(a[0, 0, :p], b[0, 0, :p], atol=1e-7)  # forward: past only
    assert not np.allclose(a[0, 0, p:], b[0, 0, p:])  # backward half changes with the future


def test_encoder_save_load_round_trip(encoder, tmp_path):
    ids = text.char_ids(SENTENCES)
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    restored = keras.saving.load_model(path)
    for key in ("word_emb", "lstm_outputs1", "lstm_outputs2"):
        np.testing.assert_array_equal(np.asarray(restored(ids)[key]), np.asarray(encoder(ids)[key]))


def test_encoder_rejects_wrong_rank():
    with pytest.raises(ValueError, match="char ids"):
        bilm.BiLMEncoder(bilm.BiLMConfig.tiny())(np.zeros((2, 3), "int32"))


def test_encoder_with_shorter_tokens_names_the_width_it_needs():
    config = bilm.BiLMConfig.tiny(max_characters_per_token=20)
    encoder = bilm.BiLMEncoder(config)
    out = encoder(text.char_ids([["The", "play"]], 20))
    assert out["word_emb"].shape == (1, 2, config.projection_dim)
    # Once built, 50-wide ids (text.char_ids's default) would run the CNN over 50 slots.
    with pytest.raises(ValueError, match=r"\[batch, tokens, 20\].*char_ids\(sentences, 20\)"):
        encoder(text.char_ids([["The", "play"]]))


def test_word_level_encoder():
    config = bilm.BiLMConfig.tiny(token_input="words", vocab_size=20)
    encoder = bilm.build_encoder(config)
    ids = np.array([[5, 6, 7], [8, 0, 0]], "int32")  # vocab id + 1, 0 = padding
    out = encoder(ids)
    assert out["lstm_outputs2"].shape == (2, 3, 2 * config.projection_dim)
    np.testing.assert_array_equal(np.asarray(out["mask"]), [[1, 1, 1], [1, 0, 0]])
    alone = np.asarray(encoder(ids[1:, :1])["lstm_outputs2"])
    np.testing.assert_allclose(alone[0, 0], np.asarray(out["lstm_outputs2"])[1, 0], atol=1e-6)


def test_trainer_fits_under_xla_and_encoder_copy_matches():
    """A trainer step runs under XLA, returns finite losses and the encoder copy matches."""
    config = bilm.BiLMConfig.tiny()
    trainer = bilm.BiLMTrainer(config, seed=0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    rng = np.random.default_rng(0)
    stream = rng.integers(3, config.vocab_size, size=(4, config.unroll_steps + 2))
    x = {"char_ids": text.char_ids([[str(t) for t in row[1:-1]] for row in stream])}
    y = {"next_token_ids": stream[:, 2:], "previous_token_ids": stream[:, :-2],
         "mask": np.ones((4, config.unroll_steps), "float32")}
    history = trainer.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert all(np.isfinite(v) for v in history.history["loss"])
    encoder = bilm.encoder_from_trainer(trainer)
    for a, b in zip(bilm.encoder_layer(encoder).get_weights(), trainer.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_word_level_boundaries_use_the_configured_vocab_ids():
    """bilm-tf vocab files may start </S>, <S>: the boundary ids come from the config."""
    config = bilm.BiLMConfig.tiny(token_input="words", vocab_size=20, bos_token_id=1,
                                  eos_token_id=0)
    encoder = bilm.build_encoder(config)
    raw = bilm.BiLMEncoder(config, add_boundaries=False)
    raw(np.ones((1, 1), "int32"))
    raw.set_weights(bilm.encoder_layer(encoder).get_weights())
    ids = np.array([[5, 6, 7]], "int32")
    direct = np.asarray(encoder(ids)["lstm_outputs1"])
    framed = np.asarray(raw(np.array([[1 + 1, 5, 6, 7, 0 + 1]], "int32"))["lstm_outputs1"])
    np.testing.assert_allclose(direct[0], framed[0, 1:-1], atol=1e-6)
    assert "char_cnn" not in config.to_options()
    assert bilm.BiLMConfig.from_options(config.to_options()).token_input == "words"


# Frozen stays frozen (issue 18, part 1): the encoder layer, the encoder model, the trainer.
@pytest.mark.parametrize("trainable", [True, False])
def test_encoder_layer_keeps_its_trainable_set(trainable, tmp_path):
    keras.utils.set_random_seed(0)
    layer = bilm.BiLMEncoder(bilm.BiLMConfig.tiny(), trainable=trainable)
    check_trainable_round_trip(layer, text.char_ids([["ab", "c"], ["d"]]), tmp_path,
                               expected_trainable=29 if trainable else 0,
                               output_key="lstm_outputs2")


@pytest.mark.parametrize("trainable", [True, False])
def test_encoder_model_and_trainer_keep_their_trainable_set(trainable, tmp_path):
    model = bilm.build_encoder(bilm.BiLMConfig.tiny())
    model.trainable = trainable
    path = tmp_path / "encoder.keras"
    model.save(path)
    expected = 29 if trainable else 0
    assert len(keras.saving.load_model(path).trainable_weights) == expected
    trainer = bilm.BiLMTrainer(bilm.BiLMConfig.tiny(), trainable=trainable)
    trainer.build()
    clone = bilm.BiLMTrainer.from_config(trainer.get_config())
    clone.build()
    expected += 2 if trainable else 0  # the softmax kernel and bias
    assert len(trainer.trainable_weights) == len(clone.trainable_weights) == expected

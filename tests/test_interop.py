"""bilm-tf / AllenNLP weight files: NumPy reference vs Keras, fixture loading, save round trip.

The truth is ``numpy_reference`` (written from the equations with bilm-tf's conventions: TF1 gate
order i, j, f, o, forget bias 1.0 added at run time, the highway "carry" gate multiplying the
transform branch, <S>/</S> added and stripped). Fixtures are written with h5py at tiny sizes.
"""

import json

import h5py
import keras
import numpy as np
import pytest
from numpy_reference import (
    np_char_cnn,
    np_encoder,
    random_bilm_tf_weights,
    tf1_lstm_from_keras,
)

from elmo_lib import bilm, interop, text

SENTENCES = [["The", "cat", "sat", "on", "the", "mat"], ["Dogs", "bark"], ["Ünïcödé", "x" * 300, "."]]

# bilm-tf options.json for a tiny char model; clip values small so that clipping really happens.
CHAR_OPTIONS = {
    "bidirectional": True,
    "char_cnn": {"activation": "relu", "embedding": {"dim": 4},
                 "filters": [[1, 4], [2, 4], [3, 8]], "max_characters_per_token": 50,
                 "n_characters": 262, "n_highway": 2},
    "dropout": 0.1,
    "lstm": {"cell_clip": 1.5, "dim": 8, "n_layers": 2, "proj_clip": 1.0, "projection_dim": 4,
             "use_skip_connections": True},
    "n_negative_samples_batch": 16, "n_tokens_vocab": 50,
}


def write_bilm_tf_files(directory, options, weights):
    """A bilm-tf style ``options.json`` + ``weights.hdf5`` (datasets named as in the module
    docstring of ``numpy_reference``: ``char_embed`` [261, E], ``CNN/W_cnn_i`` [1, w, E, n], ...,
    ``RNN_d/RNN/MultiRNNCell/Cell{l}/LSTMCell/{W_0, B, W_P_0}`` with TF1 gates i, j, f, o)."""
    options_path, weight_path = directory / "options.json", directory / "weights.hdf5"
    options_path.write_text(json.dumps(options))
    with h5py.File(weight_path, "w") as handle:
        for name, value in weights.items():
            handle.create_dataset(name, data=value)
    return options_path, weight_path


def keras_in_bilm_tf_layout(layer):
    """Our encoder's weights rewritten, by hand, in the bilm-tf layout (independent of interop)."""
    weights = {}
    cnn = layer.token_embedder
    weights["char_embed"] = cnn.char_embedding.embeddings.numpy()[1:]
    for i, conv in enumerate(cnn.convolutions):
        weights[f"CNN/W_cnn_{i}"] = conv.kernel.numpy()[None]
        weights[f"CNN/b_cnn_{i}"] = conv.bias.numpy()
    for k, highway in enumerate(cnn.highways):
        weights[f"CNN_high_{k}/W_carry"] = highway.gate_kernel.numpy()
        weights[f"CNN_high_{k}/b_carry"] = highway.gate_bias.numpy()
        weights[f"CNN_high_{k}/W_transform"] = highway.transform_kernel.numpy()
        weights[f"CNN_high_{k}/b_transform"] = highway.transform_bias.numpy()
    weights["CNN_proj/W_proj"] = cnn.projection.kernel.numpy()
    weights["CNN_proj/b_proj"] = cnn.projection.bias.numpy()

    for d, stack in enumerate((layer.forward_layers, layer.backward_layers)):
        for k, lstm in enumerate(stack):
            scope = f"RNN_{d}/RNN/MultiRNNCell/Cell{k}/LSTMCell"
            weights[f"{scope}/W_0"], weights[f"{scope}/B"] = tf1_lstm_from_keras(
                lstm.kernel.numpy(), lstm.recurrent_kernel.numpy(), lstm.bias.numpy())
            weights[f"{scope}/W_P_0"] = lstm.projection_kernel.numpy()
    return weights


def randomize(model, seed=0, scale=1.0, forget_range=None):
    """Random normal weights (char embedding row 0 = 0, as in a loaded model)."""
    rng = np.random.default_rng(seed)
    layer = bilm.encoder_layer(model)
    for variable in layer.weights:
        value = rng.standard_normal(variable.shape) * scale
        if variable.path.endswith("char_embedding/embeddings"):
            value[0] = 0.0
        if forget_range is not None and variable.path.endswith("lstm_0/bias") or (
                forget_range is not None and variable.path.endswith("lstm_1/bias")):
            hidden = variable.shape[0] // 4
            value[hidden:2 * hidden] = rng.uniform(*forget_range, hidden)
        variable.assign(value.astype(np.float32))
    return layer


def assert_matches_reference(model, weights, options, sentences, atol=1e-5):
    char_ids = text.char_ids(sentences)
    outputs = {k: keras.ops.convert_to_numpy(v) for k, v in model(char_ids).items()}
    trace = {}
    reference = np_encoder(weights, options, [char_ids[b, :len(s)] for b, s in enumerate(sentences)],
                           trace=trace)
    keys = ["word_emb"] + [f"lstm_outputs{k + 1}" for k in range(options["lstm"]["n_layers"])]
    for b, sentence in enumerate(sentences):
        n = len(sentence)
        for key in keys:
            np.testing.assert_allclose(outputs[key][b, :n], reference[b][key], atol=atol, rtol=1e-5,
                                       err_msg=f"{key}, sentence {b}")
            assert not outputs[key][b, n:].any(), f"{key} not zero past sentence {b}"
    return trace


def test_numpy_reference_matches_keras_encoder_with_clipping():
    config = bilm.BiLMConfig.tiny(n_highway=2, cell_clip=1.5, proj_clip=1.0)
    model = bilm.build_encoder(config)
    layer = randomize(model, seed=1, scale=0.7)
    options = config.to_options()
    weights = keras_in_bilm_tf_layout(layer)
    trace = assert_matches_reference(model, weights, options, SENTENCES)
    assert trace["cell_clipped"] > 0 and trace["proj_clipped"] > 0, trace
    # np_char_cnn reads filters/highways off the weights when no options are given
    ids = text.char_ids([SENTENCES[0]])[0]
    np.testing.assert_allclose(np_char_cnn(weights, ids), np_char_cnn(weights, ids, options))


def test_load_bilm_tf_fixture_matches_reference(tmp_path):
    weights = random_bilm_tf_weights(CHAR_OPTIONS, seed=3, scale=1.5)
    options_path, weight_path = write_bilm_tf_files(tmp_path, CHAR_OPTIONS, weights)
    model = interop.load_bilm_tf(options_path, weight_path)
    trace = assert_matches_reference(model, weights, CHAR_OPTIONS, SENTENCES)
    assert trace["cell_clipped"] > 0 and trace["proj_clipped"] > 0, trace
    layer = bilm.encoder_layer(model)
    assert layer.config.n_characters == 262
    np.testing.assert_array_equal(layer.token_embedder.char_embedding.embeddings.numpy()[0], 0.0)


def test_load_accepts_options_dict_and_training_n_characters(tmp_path):
    options = json.loads(json.dumps(CHAR_OPTIONS))
    options["char_cnn"]["n_characters"] = 261  # as in bilm-tf training options
    weights = random_bilm_tf_weights(options, seed=4)
    _, weight_path = write_bilm_tf_files(tmp_path, options, weights)
    model = interop.load_bilm_tf(options, weight_path)
    assert_matches_reference(model, weights, options, SENTENCES[:2])


def test_word_level_model(tmp_path):
    options = {key: value for key, value in CHAR_OPTIONS.items() if key != "char_cnn"}
    weights = random_bilm_tf_weights(options, seed=5, vocab_size=12)
    options_path, weight_path = write_bilm_tf_files(tmp_path, options, weights)
    model = interop.load_bilm_tf(options_path, weight_path)
    assert bilm.encoder_layer(model).config.vocab_size == 12
    sentences = [[3, 4, 5, 11], [7]]
    ids = np.zeros((2, 4), np.int32)
    for b, s in enumerate(sentences):
        ids[b, :len(s)] = np.asarray(s) + 1  # the encoder's word ids: vocab id + 1, 0 = padding
    outputs = model(ids)
    reference = np_encoder(weights, options, sentences, bos_id=0, eos_id=1)
    for b, s in enumerate(sentences):
        for key in ("word_emb", "lstm_outputs1", "lstm_outputs2"):
            np.testing.assert_allclose(outputs[key].numpy()[b, :len(s)], reference[b][key],
                                       atol=1e-5, rtol=1e-5)


def test_save_writes_bilm_tf_layout_that_the_reference_reads(tmp_path):
    config = bilm.BiLMConfig.tiny(cell_clip=1.5, proj_clip=1.0)
    model = bilm.build_encoder(config)
    randomize(model, seed=6, scale=0.7)
    options_path, weight_path = interop.save_bilm_tf(model, tmp_path / "out")
    options = json.loads(open(options_path).read())
    assert options["char_cnn"]["n_characters"] == 262
    with h5py.File(weight_path, "r") as handle:
        names = []
        handle.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset)
                          else None)
        weights = {name: handle[name][...] for name in names}
    assert {n: w.shape for n, w in weights.items()} == interop.expected_shapes(config)
    assert weights["char_embed"].shape == (261, 4)
    assert all(w.dtype == np.float32 for w in weights.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["options.json", "weights.hdf5"]
    assert_matches_reference(model, weights, options, SENTENCES)


def test_save_load_round_trip_is_bit_exact(tmp_path):
    model = bilm.build_encoder(bilm.BiLMConfig.tiny(n_highway=2))
    randomize(model, seed=7, forget_range=(0.5, 3.0))
    interop.save_bilm_tf(model, tmp_path)
    loaded = interop.load_bilm_tf(tmp_path / "options.json", tmp_path / "weights.hdf5")
    for a, b, variable in zip(model.get_weights(), loaded.get_weights(), model.weights):
        np.testing.assert_array_equal(a, b, err_msg=variable.path)
    ids = text.char_ids(SENTENCES)
    first, second = model(ids), loaded(ids)
    for key in ("word_emb", "lstm_outputs1", "lstm_outputs2"):
        np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())


def test_round_trip_of_other_forget_biases_is_within_one_rounding(tmp_path):
    model = bilm.build_encoder(bilm.BiLMConfig.tiny())
    randomize(model, seed=8)  # forget biases ~ N(0, 1): (b - 1) + 1 is not exact in float32
    interop.save_bilm_tf(model, tmp_path)
    loaded = interop.load_bilm_tf(tmp_path / "options.json", tmp_path / "weights.hdf5")
    for a, b, variable in zip(model.get_weights(), loaded.get_weights(), model.weights):
        if variable.path.endswith("/bias") and "lstm" in variable.path:
            # one float32 rounding of b - 1: at most half an ulp of |b - 1|
            assert np.all(np.abs(a - b) <= 2.0 ** -24 * (1.0 + np.abs(a))), variable.path
        else:
            np.testing.assert_array_equal(a, b, err_msg=variable.path)


@pytest.fixture()
def fixture_files(tmp_path):
    weights = random_bilm_tf_weights(CHAR_OPTIONS, seed=9)
    return tmp_path, weights


@pytest.mark.parametrize("name", ["char_embed", "CNN/W_cnn_2", "CNN_high_1/b_carry",
                                  "RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"])
def test_missing_dataset_is_named(fixture_files, name):
    directory, weights = fixture_files
    del weights[name]
    options_path, weight_path = write_bilm_tf_files(directory, CHAR_OPTIONS, weights)
    with pytest.raises(ValueError, match=f"dataset '{name}' is missing"):
        interop.load_bilm_tf(options_path, weight_path)


def test_wrong_shape_names_dataset_and_shapes(fixture_files):
    directory, weights = fixture_files
    name = "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B"
    weights[name] = np.zeros(31, np.float32)
    options_path, weight_path = write_bilm_tf_files(directory, CHAR_OPTIONS, weights)
    with pytest.raises(ValueError, match=r"'RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/B' has shape "
                                         r"\(31,\), expected \(32,\)"):
        interop.load_bilm_tf(options_path, weight_path)


def test_char_embed_with_padding_row_is_rejected(fixture_files):
    directory, weights = fixture_files
    weights["char_embed"] = np.zeros((262, 4), np.float32)
    options_path, weight_path = write_bilm_tf_files(directory, CHAR_OPTIONS, weights)
    with pytest.raises(ValueError, match=r"'char_embed' has shape \(262, 4\), expected \(261, 4\)"):
        interop.load_bilm_tf(options_path, weight_path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="weight file not found"):
        interop.load_bilm_tf(CHAR_OPTIONS, tmp_path / "nope.hdf5")


def test_tf_char_ids_matches_text_char_ids():
    tokens = [["Hello", "wörld", "x" * 300, "日本語" * 10], ["<S>", "</S>", "", "🙂" * 13]]
    ids = interop.tf_char_ids(np.array(tokens, dtype=object)).numpy()
    np.testing.assert_array_equal(ids, text.char_ids(tokens))

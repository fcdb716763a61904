"""The ELMo layer, ``embed_file`` and the fast char CNN (against plain computations)."""

import json
import os
import pathlib
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import check_layer, check_trainable_round_trip

from elmo_lib import bilm, elmo, layers, text

SENTENCES = [["The", "café", "in", "东京", "🙂", "x" * 300], ["Hello", "world"], ["é"]]
LINES = [" ".join(s) for s in SENTENCES]


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    model = bilm.build_encoder(bilm.BiLMConfig.tiny())
    # Non-trivial biases so that nothing is accidentally zero.
    layer = bilm.encoder_layer(model)
    rng = np.random.default_rng(0)
    layer.set_weights([w + 0.1 * rng.normal(size=w.shape).astype(w.dtype)
                       for w in layer.get_weights()])
    return model


def _reference_layers(encoder, sentences):
    """The encoder's outputs for char ids, as NumPy: (word_emb, [lstm_outputs...], mask)."""
    out = encoder(text.char_ids(sentences))
    n = len(out) - 2
    return (np.asarray(out["word_emb"]), [np.asarray(out[f"lstm_outputs{k + 1}"])
                                          for k in range(n)], np.asarray(out["mask"]))


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


# ----- output modes ---------------------------------------------------------------------------
def test_output_modes_equal_the_encoder_and_numpy(encoder):
    ids = text.char_ids(SENTENCES)
    word, lstms, mask = _reference_layers(encoder, SENTENCES)
    np.testing.assert_allclose(elmo.ELMo(encoder, output_mode="word_emb")(ids), word, atol=1e-6)
    for k, h in enumerate(lstms):
        got = elmo.ELMo(encoder, output_mode=f"lstm_outputs{k + 1}")(ids)
        np.testing.assert_allclose(got, h, atol=1e-6)
    layer = elmo.ELMo(encoder, output_mode="elmo")
    layer(ids)
    s, gamma = np.array([0.2, -0.5, 1.0], "float32"), 1.3
    layer.scalar_mix.scalar_parameters.assign(s)
    layer.scalar_mix.gamma.assign(gamma)
    stack = [np.concatenate([word, word], axis=-1), *lstms]
    expected = gamma * sum(w * h for w, h in zip(_softmax(s), stack))
    got = np.asarray(layer(ids))
    assert got.shape == (3, 6, 8)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # default = masked mean of elmo, computed in NumPy.
    default = elmo.ELMo(encoder, output_mode="default")
    default(ids)
    default.scalar_mix.set_weights(layer.scalar_mix.get_weights())
    means = np.stack([expected[b][mask[b]].mean(axis=0) for b in range(len(SENTENCES))])
    np.testing.assert_allclose(default(ids), means, atol=1e-5)


def test_elmo_layer_norm_keeps_padding_at_zero(encoder):
    ids = text.char_ids(SENTENCES)
    out = np.asarray(elmo.ELMo(encoder, layer_norm=True)(ids))
    mask = text.mask_from_char_ids(ids)
    assert np.all(out[~mask] == 0) and np.all(np.isfinite(out))


def test_standard_layer_checks(encoder, tmp_path):
    layer = elmo.ELMo(encoder, output_mode="elmo", l2_coefficient=0.01, name="elmo")
    check_layer(layer, text.char_ids(SENTENCES), tmp_path=tmp_path, atol=1e-6)


# ----- inputs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tokens", [
    ["a", "", "é", "东京", "🙂", "<S>", "</S>", "<UNK>", "a\u00a0b"],
    ["x" * 47, "y" * 48, "z" * 49, "w" * 300, "é" * 24, "é" * 25, "🙂" * 12 + "a", "東" * 17],
])
def test_token_strings_char_ids_equal_text(tokens):
    got = elmo.token_strings_char_ids(tf.constant(tokens)).numpy()
    np.testing.assert_array_equal(got, np.stack([text.token_char_ids(t) for t in tokens]))


def test_string_char_ids_split_like_python():
    sentences = ["The  cat\tsat .", "", "  lead and trail  ", "one", "é 东京 🙂 " + "q" * 60]
    got = elmo.string_char_ids(tf.constant(sentences)).numpy()
    np.testing.assert_array_equal(got, text.char_ids([s.split() for s in sentences]))


def test_token_ids_and_strings_give_the_char_id_vectors(encoder):
    expected = np.asarray(elmo.ELMo(encoder)(text.char_ids(SENTENCES)))
    strings = elmo.ELMo(encoder, input_type="strings")
    strings.set_weights(elmo.ELMo(encoder).get_weights())
    np.testing.assert_allclose(strings(tf.constant(LINES)), expected, atol=1e-6)
    np.testing.assert_allclose(strings(np.array(LINES, dtype=object)), expected, atol=1e-6)
    idx2word = ["<pad>"] + sorted({t for s in SENTENCES for t in s})
    ids = np.zeros((3, 6), "int32")
    for b, sentence in enumerate(SENTENCES):
        ids[b, :len(sentence)] = [idx2word.index(t) for t in sentence]
    tokens = elmo.ELMo(encoder, input_type="token_ids", idx2word=idx2word)
    np.testing.assert_allclose(tokens(ids), expected, atol=1e-6)
    # A Vocabulary works too; padding_id=None makes id 0 (<S>) a real token.
    vocab = text.Vocabulary.from_corpus(SENTENCES)
    by_vocab = elmo.ELMo(encoder, input_type="token_ids", idx2word=vocab, padding_id=None,
                         output_mode="word_emb")
    out = np.asarray(by_vocab(np.array([[vocab.bos_id, vocab.token_to_id("Hello")]])))
    assert np.all(np.abs(out).sum(-1) > 0)


def test_token_ids_out_of_range(encoder):
    layer = elmo.ELMo(encoder, input_type="token_ids", idx2word=["<pad>", "a", "b"])
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        layer(np.array([[1, 3]]))
    with pytest.raises(ValueError, match="outside"):
        layer(np.array([[-1, 1]]))
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in"):
        model.predict(np.array([[1, 7]]), verbose=0)


@pytest.mark.parametrize("input_type, bad", [
    ("char_ids", np.zeros((2, 3, 50), "float32")),
    ("char_ids", np.zeros((2, 50), "int32")),
    ("char_ids", np.zeros((2, 3, 49), "int32")),
    ("token_ids", np.zeros((2, 3, 50), "int32")),
    ("token_ids", np.zeros((2, 3), "float32")),
    ("strings", tf.constant([["a b"]])),
    ("strings", np.zeros((2,), "int32")),
])
def test_bad_inputs_raise_value_error_naming_the_input(encoder, input_type, bad):
    kwargs = {"idx2word": ["<pad>", "a"]} if input_type == "token_ids" else {}
    layer = elmo.ELMo(encoder, input_type=input_type, **kwargs)
    with pytest.raises(ValueError, match=f"input_type='{input_type}'.*inputs"):
        layer(bad)


def test_edge_case_batches(encoder):
    layer = elmo.ELMo(encoder, input_type="strings")
    assert tuple(layer(tf.zeros((0,), tf.string)).shape) == (0, 0, 8)
    assert tuple(layer(tf.constant(["", "  "])).shape) == (2, 0, 8)
    default = elmo.ELMo(encoder, input_type="strings", output_mode="default")
    out = np.asarray(default(tf.constant(["", "a b"])))
    np.testing.assert_array_equal(out[0], np.zeros(8))  # no tokens -> zeros (TF Hub: NaN)
    assert np.all(np.isfinite(out))
    chars = elmo.ELMo(encoder)
    assert tuple(chars(np.zeros((0, 4, 50), "int32")).shape) == (0, 4, 8)
    one = np.asarray(chars(text.char_ids([["word"]])))
    assert one.shape == (1, 1, 8) and np.all(np.isfinite(one))
    long = [f"w{i % 37}" for i in range(500)]
    out = np.asarray(layer(tf.constant([" ".join(long), "short"])))
    assert out.shape == (2, 500, 8) and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1, 1:], 0.0)


@pytest.mark.parametrize("kwargs, name", [
    (dict(output_mode="lstm_outputs3"), "output_mode"),
    (dict(input_type="bytes"), "input_type"),
    (dict(input_type="token_ids"), "idx2word"),
    (dict(input_type="token_ids", idx2word=["a"], padding_id=4), "padding_id"),
    (dict(idx2word=["a"]), "idx2word"),
])
def test_bad_arguments_name_the_argument(encoder, kwargs, name):
    with pytest.raises(ValueError, match=name):
        elmo.ELMo(encoder, **kwargs)


def test_rejects_a_training_encoder_and_word_models():
    trainer_encoder = bilm.BiLMEncoder(bilm.BiLMConfig.tiny(), add_boundaries=False)
    with pytest.raises(ValueError, match="add_boundaries"):
        elmo.ELMo(trainer_encoder)
    with pytest.raises(ValueError, match="token_input"):
        elmo.ELMo(bilm.BiLMConfig.tiny(token_input="words"))


# ----- masks, training, saving -----------------------------------------------------------------
@pytest.mark.parametrize("input_type", ["char_ids", "token_ids", "strings"])
def test_mask_reaches_a_downstream_lstm(encoder, input_type):
    idx2word = ["<pad>", "the", "cat", "sat", "on", "a", "mat"]
    kwargs = {"idx2word": idx2word} if input_type == "token_ids" else {}
    short, long = ["the", "cat", "sat"], ["a", "cat", "sat", "on", "the", "mat"]
    if input_type == "char_ids":
        inputs = keras.Input((None, 50), dtype="int32")
        alone, padded = text.char_ids([short]), text.char_ids([short, long])
    elif input_type == "token_ids":
        inputs = keras.Input((None,), dtype="int32")
        alone = np.array([[1, 2, 3]])
        padded = np.array([[1, 2, 3, 0, 0, 0], [5, 2, 3, 4, 1, 6]])
    else:
        inputs = keras.Input((), dtype="string")
        alone, padded = tf.constant(["the cat sat"]), tf.constant(["the cat sat", " ".join(long)])
    x = elmo.ELMo(encoder, input_type=input_type, **kwargs)(inputs)
    model = keras.Model(inputs, keras.layers.LSTM(3)(x))
    single = np.asarray(model(alone))[0]
    np.testing.assert_allclose(np.asarray(model(padded))[0], single, atol=1e-6)
    np.testing.assert_allclose(model.predict(padded, verbose=0)[0], single, atol=1e-6)
    # Without the mask the padded steps would change the final state.
    plain = keras.Model(inputs, keras.layers.LSTM(3)(
        elmo.ELMo(encoder, input_type=input_type, **kwargs)(inputs) * 1.0))
    assert not np.allclose(np.asarray(plain(padded))[0], np.asarray(plain(alone))[0], atol=1e-6)


def _classifier(encoder, **kwargs):
    inputs = keras.Input((), dtype="string")
    layer = elmo.ELMo(encoder, input_type="strings", output_mode="default", name="elmo", **kwargs)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(layer(inputs))
    return keras.Model(inputs, outputs), layer


def test_fit_trains_the_scalar_mix_not_the_frozen_bilm(encoder):
    model, layer = _classifier(encoder, layer_norm=True, l2_coefficient=1e-3)
    names = {w.path for w in model.trainable_weights}
    assert names == {"elmo/scalar_mix/scalar_parameters", "elmo/scalar_mix/gamma",
                     "head/kernel", "head/bias"}
    bilm_before = [np.array(w) for w in layer.encoder.weights]
    mix_before = [np.array(w) for w in layer.scalar_mix.weights]
    x = tf.constant(["the cat sat", "a dog ran far", "the cat", "dogs bark loudly here"] * 4)
    y = np.array([0, 1, 0, 1] * 4)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    for before, after in zip(mix_before, layer.scalar_mix.weights):
        assert not np.allclose(before, np.array(after)), after.path
    for before, after in zip(bilm_before, layer.encoder.weights):
        np.testing.assert_array_equal(before, np.array(after))


def test_bilm_trainable_and_fixed_mix():
    encoder = bilm.build_encoder(bilm.BiLMConfig.tiny())
    model, layer = _classifier(encoder, bilm_trainable=True, scalar_mix_trainable=False)
    names = {w.path for w in model.trainable_weights}
    assert not any("scalar_mix" in n for n in names) and any("char_cnn" in n for n in names)
    before = [np.array(w) for w in layer.encoder.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(tf.constant(["a b", "c d e"]), np.array([0, 1]), epochs=2, verbose=0)
    assert any(not np.allclose(b, np.array(a))
               for b, a in zip(before, layer.encoder.trainable_weights))


@pytest.mark.parametrize("input_type", ["char_ids", "token_ids", "strings"])
def test_keras_save_load_round_trip(encoder, input_type, tmp_path):
    idx2word = ["", "[UNK]", "the", "cat", "é", "东京"]
    kwargs = {"idx2word": idx2word} if input_type == "token_ids" else {}
    if input_type == "char_ids":
        inputs, x = keras.Input((None, 50), dtype="int32"), text.char_ids(SENTENCES)
    elif input_type == "token_ids":
        inputs, x = keras.Input((None,), dtype="int32"), np.array([[2, 3, 4, 5], [1, 2, 0, 0]])
    else:
        inputs, x = keras.Input((), dtype="string"), tf.constant(LINES)
    layer = elmo.ELMo(encoder, input_type=input_type, layer_norm=True, **kwargs)
    model = keras.Model(inputs, keras.layers.Dense(3)(layer(inputs)))
    layer.scalar_mix.scalar_parameters.assign([0.3, -0.2, 0.5])
    expected = np.asarray(model(x))
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(np.asarray(restored(x)), expected)
    restored_layer = next(x for x in restored.layers if isinstance(x, elmo.ELMo))
    # (JSON: a build_config shape comes back as a list instead of a tuple)
    assert (json.dumps(restored_layer.get_config(), sort_keys=True)
            == json.dumps(layer.get_config(), sort_keys=True))


# ----- the fast char CNN -------------------------------------------------------------------------
def _many_tokens(seed=0):
    rng = np.random.default_rng(seed)
    tokens = ["", "a", "é", "东京", "🙂", "<S>", "</S>", "x" * 46, "x" * 47, "y" * 48, "z" * 49,
              "w" * 300, "é" * 30, "🙂" * 13]
    tokens += ["".join(chr(c) for c in rng.integers(97, 123, size=n)) for n in range(1, 52)]
    return tokens


@pytest.mark.parametrize("filters", [((1, 4), (2, 4), (3, 8), (7, 6)), ((1, 3), (5, 4)),
                                     ((2, 5),)])
def test_fast_char_cnn_equals_the_plain_computation(filters):
    keras.utils.set_random_seed(1)
    cnn = layers.CharCNN(filters=filters, n_highway=2, projection_dim=6, embedding_dim=4)
    tokens = _many_tokens()
    ids = text.char_ids([tokens, tokens[:7], tokens[5:9]])
    cnn(ids)
    rng = np.random.default_rng(2)
    cnn.set_weights([w + 0.3 * rng.normal(size=w.shape).astype(w.dtype)
                     for w in cnn.get_weights()])
    flat = ids.reshape(-1, 50)
    reference = np.asarray(cnn.token_vectors_reference(flat))
    np.testing.assert_allclose(np.asarray(cnn.token_vectors(flat)), reference, atol=1e-5)
    graph = tf.function(cnn.token_vectors, reduce_retracing=True)
    np.testing.assert_allclose(np.asarray(graph(flat)), reference, atol=1e-5)
    # Each batch size / longest token (other truncation lengths) gives the same vectors.
    for subset in (flat[7:8], flat[:3], flat[60:65]):
        np.testing.assert_allclose(np.asarray(graph(subset)),
                                   np.asarray(cnn.token_vectors_reference(subset)), atol=1e-5)
    # Under XLA the plain computation runs (dynamic shapes are not allowed).
    xla = tf.function(cnn.token_vectors, jit_compile=True)
    np.testing.assert_allclose(np.asarray(xla(flat)), reference, rtol=1e-5, atol=1e-5)
    # Malformed rows (ids after PAD, zeros inside a token) are still exact.
    odd = flat[:4].copy()
    odd[0, 30] = 100
    odd[1, 3:6] = 0
    np.testing.assert_allclose(np.asarray(cnn.token_vectors(odd)),
                               np.asarray(cnn.token_vectors_reference(odd)), atol=1e-5)
    assert cnn.token_vectors(np.zeros((0, 50), "int32")).shape == (0, 6)


def test_fast_char_cnn_gradients_match():
    keras.utils.set_random_seed(3)
    cnn = layers.CharCNN(filters=((1, 4), (3, 5)), n_highway=1, projection_dim=3, embedding_dim=4)
    flat = text.char_ids([_many_tokens()]).reshape(-1, 50)
    cnn(flat[None])
    grads = []
    for function in (cnn.token_vectors, cnn.token_vectors_reference):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(function(flat)))
        grads.append([tf.convert_to_tensor(g).numpy()
                      for g in tape.gradient(loss, cnn.trainable_weights)])
    for fast, plain in zip(*grads):
        np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-4)


# ----- embed_file ------------------------------------------------------------------------------
FILE_LINES = ["The cat sat .", "", "Hello   world", "é 东京 🙂 " + "x" * 60, " ".join(["a"] * 30),
              "The cat sat .", "one"]


def _write_input(path: pathlib.Path) -> pathlib.Path:
    path.write_text("\n".join(FILE_LINES) + "\n", encoding="utf-8")
    return path


def _read_all(path):
    with h5py.File(path, "r") as handle:
        return {key: handle[key][()] for key in handle}


def test_embed_file_equals_the_encoder(encoder, tmp_path):
    source = _write_input(tmp_path / "in.txt")
    out = elmo.embed_file(source, tmp_path / "all.h5", encoder, batch_size=2, progress=False)
    assert out == str(tmp_path / "all.h5")
    assert sorted(os.listdir(tmp_path)) == ["all.h5", "in.txt"]  # no .partial left
    data = _read_all(out)
    assert sorted(data) == sorted([str(i) for i in range(len(FILE_LINES))] + ["sentence_to_index"])
    mapping = json.loads(data["sentence_to_index"][0])
    assert mapping == {line.strip(): str(i) for i, line in enumerate(FILE_LINES)}
    assert mapping["The cat sat ."] == "5"  # a repeated sentence maps to its last index
    for i, line in enumerate(FILE_LINES):
        tokens = line.split()
        if not tokens:
            assert data[str(i)].shape == (3, 0, 8)
            continue
        word, lstms, _ = _reference_layers(encoder, [tokens])
        expected = np.stack([np.concatenate([word[0], word[0]], -1)] + [h[0] for h in lstms])
        assert data[str(i)].dtype == np.float32
        np.testing.assert_allclose(data[str(i)], expected, atol=1e-5)
    for layer, reduce in (("top", lambda a: a[-1]), ("average", lambda a: a.mean(0))):
        other = _read_all(elmo.embed_file(source, tmp_path / f"{layer}.h5", encoder,
                                          output_layer=layer, progress=False))
        for i in range(len(FILE_LINES)):
            np.testing.assert_allclose(other[str(i)], reduce(data[str(i)]), atol=1e-6)
        assert other["1"].shape == (0, 8)


def test_embed_file_resumes_after_an_interruption(encoder, tmp_path, monkeypatch):
    source = _write_input(tmp_path / "in.txt")
    clean = _read_all(elmo.embed_file(source, tmp_path / "clean.h5", encoder, batch_size=2,
                                      progress=False))
    real, calls = elmo._embed_batch, []

    def crash_after_first_batch(run, sentences):
        if calls:
            raise KeyboardInterrupt("simulated kill")
        calls.append(len(sentences))
        return real(run, sentences)

    monkeypatch.setattr(elmo, "_embed_batch", crash_after_first_batch)
    target = tmp_path / "out.h5"
    with pytest.raises(KeyboardInterrupt):
        elmo.embed_file(source, target, encoder, batch_size=2, progress=False)
    assert not target.exists()
    done = (tmp_path / "out.h5.partial.done").read_text().split()
    assert len(done) == 2
    monkeypatch.setattr(elmo, "_embed_batch", real)
    seen = []
    monkeypatch.setattr(elmo, "_embed_batch",
                        lambda run, sentences: seen.append(sentences) or real(run, sentences))
    elmo.embed_file(source, target, encoder, batch_size=2, progress=False)
    assert sum(len(b) for b in seen) == sum(1 for i, line in enumerate(FILE_LINES)
                                            if line.split() and str(i) not in done)
    resumed = _read_all(target)
    assert sorted(resumed) == sorted(clean)
    # The resumed run batches other sentences together (other batch size and padding), and
    # float32 matmuls of other shapes may round differently in the last bit (seen on AVX2).
    assert resumed["sentence_to_index"][0] == clean["sentence_to_index"][0]
    for key in set(clean) - {"sentence_to_index"}:
        np.testing.assert_allclose(resumed[key], clean[key], rtol=1e-6, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["clean.h5", "in.txt", "out.h5"]
    # A rerun of the finished file does nothing.
    stamp = target.stat().st_mtime_ns
    seen.clear()
    time.sleep(0.01)
    elmo.embed_file(source, target, encoder, batch_size=2, progress=False)
    assert seen == [] and target.stat().st_mtime_ns == stamp
    # ... unless the input changed: then it is recomputed.
    source.write_text("new text\n", encoding="utf-8")
    elmo.embed_file(source, target, encoder, progress=False)
    assert sorted(_read_all(target)) == ["0", "sentence_to_index"]


def test_embed_file_keeps_a_foreign_partial_and_discards_its_own_stale_one(encoder, tmp_path):
    source = _write_input(tmp_path / "in.txt")
    partial = tmp_path / "out.h5.partial"
    partial.write_bytes(b"not an hdf5 file")  # a user's own file under that name
    (tmp_path / "out.h5.partial.done").write_text("0\n1\n")
    clean = _read_all(elmo.embed_file(source, tmp_path / "clean.h5", encoder, progress=False))
    with pytest.raises(FileExistsError, match=r"out\.h5\.partial.*overwrite"):
        elmo.embed_file(source, tmp_path / "out.h5", encoder, progress=False)
    assert partial.read_bytes() == b"not an hdf5 file"
    out = _read_all(elmo.embed_file(source, tmp_path / "out.h5", encoder, progress=False,
                                    overwrite=True))
    for key in clean:
        np.testing.assert_array_equal(out[key], clean[key])
    # A partial file of embed_file made with another output_layer is started over, not mixed.
    with h5py.File(partial, "w") as handle:
        handle.attrs.update({"written_by": "elmo_lib.embed_file", "output_layer": "top"})
        handle["0"] = np.zeros((4, 8), "float32")
    (tmp_path / "out.h5.partial.done").write_text("0\n")
    (tmp_path / "out.h5").unlink()
    out = _read_all(elmo.embed_file(source, tmp_path / "out.h5", encoder, progress=False))
    np.testing.assert_array_equal(out["0"], clean["0"])


@pytest.mark.slow
def test_embed_file_survives_sigkill(encoder, tmp_path):
    """A real kill (SIGKILL) of a process after its first batch; a rerun completes the file."""
    lines = [" ".join(f"w{(i * 7 + j) % 50}" for j in range(3 + i % 9)) for i in range(300)]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model_path = tmp_path / "encoder.keras"
    encoder.save(model_path)
    script = (
        "import sys, keras\n"
        "from elmo_lib import elmo\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "elmo.embed_file(sys.argv[2], sys.argv[3], model, batch_size=4, progress=False)\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[1])}
    target = tmp_path / "out.h5"
    log = tmp_path / "out.h5.partial.done"
    process = subprocess.Popen([sys.executable, "-c", script, str(model_path), str(source),
                                str(target)], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            if log.exists() and len(log.read_text().split()) >= 8:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the process finished before it could be killed"
        process.kill()
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert not target.exists() and log.exists()
    model = keras.saving.load_model(model_path)
    elmo.embed_file(source, target, model, batch_size=4, progress=False)
    clean = _read_all(elmo.embed_file(source, tmp_path / "clean.h5", model, batch_size=4,
                                      progress=False))
    resumed = _read_all(target)
    assert sorted(resumed) == sorted(clean)
    # The resumed run batches other sentences together (other batch size and padding), and
    # float32 matmuls of other shapes may round differently in the last bit (seen on AVX2).
    assert resumed["sentence_to_index"][0] == clean["sentence_to_index"][0]
    for key in set(clean) - {"sentence_to_index"}:
        np.testing.assert_allclose(resumed[key], clean[key], rtol=1e-6, atol=1e-6)


def test_embed_file_bad_arguments(encoder, tmp_path):
    source = _write_input(tmp_path / "in.txt")
    with pytest.raises(ValueError, match="output_layer"):
        elmo.embed_file(source, tmp_path / "o.h5", encoder, output_layer="bottom")
    with pytest.raises(ValueError, match="batch_size"):
        elmo.embed_file(source, tmp_path / "o.h5", encoder, batch_size=0)
    with pytest.raises(ValueError, match="not a directory"):
        elmo.embed_file(source, tmp_path / "o.h5", str(tmp_path / "missing"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(ValueError, match="line 2"):
        elmo.embed_file(bad, tmp_path / "o.h5", encoder)
    with pytest.raises(FileNotFoundError):
        elmo.embed_file(tmp_path / "nope.txt", tmp_path / "o.h5", encoder)


# ----- frozen stays frozen (issue 18, part 1) -------------------------------------------------
# Tiny biLM: char CNN 13 weights (embedding, 3 convolutions x 2, highway 4, projection 2) + 4
# LSTMs x 4 = 29; the scalar mix has 2 (s, gamma).
@pytest.mark.parametrize("bilm_trainable, mix_trainable, layer_trainable, expected", [
    (False, True, True, 2),     # the default: only the mix trains
    (False, False, True, 0),    # everything frozen by the arguments
    (True, True, True, 31),     # fine-tuning
    (True, False, True, 29),
    (False, True, False, 0),    # the ELMo layer itself frozen (layer.trainable = False)
    (True, True, False, 0),
])
def test_elmo_keeps_its_trainable_set_through_every_save_path(
        bilm_trainable, mix_trainable, layer_trainable, expected, tmp_path):
    keras.utils.set_random_seed(0)
    layer = elmo.ELMo(bilm.BiLMConfig.tiny(), bilm_trainable=bilm_trainable,
                      scalar_mix_trainable=mix_trainable, trainable=layer_trainable)
    check_trainable_round_trip(layer, text.char_ids(SENTENCES), tmp_path,
                               expected_trainable=expected)


def test_issue_example_clone_of_a_frozen_elmo_has_two_trainable_weights():
    layer = elmo.ELMo(bilm.BiLMConfig.tiny())
    layer(text.char_ids([["a"]]))
    clone = elmo.ELMo.from_config(layer.get_config())
    clone(text.char_ids([["a"]]))
    assert (len(layer.trainable_weights), len(clone.trainable_weights)) == (2, 2)


def test_freezing_a_part_after_construction_survives_the_config():
    layer = elmo.ELMo(bilm.BiLMConfig.tiny(), bilm_trainable=True)
    layer.encoder.trainable = False      # frozen by hand after construction
    layer.scalar_mix.trainable = False
    layer(text.char_ids([["a"]]))
    clone = elmo.ELMo.from_config(layer.get_config())
    clone(text.char_ids([["a"]]))
    assert len(layer.trainable_weights) == len(clone.trainable_weights) == 0


# ----- entry points that need a character biLM (issue 18, part 4) ----------------------------
def _word_run_directory(path, token_input="words"):
    """A run directory of train_bilm for an (untrained) biLM, without training."""
    from elmo_lib import train

    config = bilm.BiLMConfig.tiny(token_input=token_input, vocab_size=5)
    trainer = train.build_trainer(config, jit_compile=False)
    trainer.optimizer.build(trainer.trainable_variables)
    path.mkdir()
    (path / train.CONFIG_FILE).write_text(json.dumps(config.to_dict()))
    text.Vocabulary(["<S>", "</S>", "<UNK>", "a", "b"]).save(path / train.VOCAB_FILE)
    trainer.save_weights(path / train.BEST_WEIGHTS)
    return path


@pytest.mark.parametrize("form", ["model", "layer", "trainer", "run_directory"])
@pytest.mark.parametrize("entry", ["ELMo", "embed_file", "export_hub"])
def test_every_char_entry_point_refuses_a_word_level_bilm_up_front(entry, form, tmp_path):
    from elmo_lib import interop, train

    config = bilm.BiLMConfig.tiny(token_input="words", vocab_size=5)
    model = {"model": lambda: bilm.build_encoder(config),
             "layer": lambda: bilm.encoder_layer(bilm.build_encoder(config)),
             "trainer": lambda: train.build_trainer(config, jit_compile=False),
             "run_directory": lambda: _word_run_directory(tmp_path / "run")}[form]()
    if form == "run_directory" and entry != "embed_file":
        pytest.skip("only embed_file reads run directories")
    (tmp_path / "in.txt").write_text("a b\n", encoding="utf-8")
    call = {"ELMo": lambda: elmo.ELMo(model),
            "embed_file": lambda: elmo.embed_file(tmp_path / "in.txt", tmp_path / "o.hdf5",
                                                  model, progress=False),
            "export_hub": lambda: interop.export_hub(model, tmp_path / "hub")}[entry]
    with pytest.raises(ValueError, match=rf"^{entry} needs a character-input biLM "
                                         r"\(token_input='chars'\).*token_input='words'"):
        call()
    assert not (tmp_path / "o.hdf5.partial").exists() and not (tmp_path / "hub").exists()


def test_cli_embed_with_a_word_level_run_is_one_line(tmp_path, capsys):
    from elmo_lib import cli

    run = _word_run_directory(tmp_path / "run")
    (tmp_path / "in.txt").write_text("a b\n", encoding="utf-8")
    code = cli.main(["embed", str(tmp_path / "in.txt"), str(tmp_path / "o.hdf5"),
                     "--model", str(run)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "elmo-lib embed: error: embed_file needs a character-input biLM (token_input='chars'), "
        "received a model with token_input='words' (a word-level biLM reads vocabulary ids, "
        "not strings or char ids)"]


@pytest.mark.parametrize("case", ["not_utf8", "output_dir_missing", "model_dir_missing"])
def test_cli_embed_expected_errors_are_one_line(case, tmp_path, capsys):
    from elmo_lib import cli

    encoder_dir = tmp_path / "run"
    source = tmp_path / "in.txt"
    source.write_bytes(b"a b\n\xff\n" if case == "not_utf8" else b"a b\n")
    output = tmp_path / ("missing_dir/o.hdf5" if case == "output_dir_missing" else "o.hdf5")
    if case != "model_dir_missing":
        _word_run_directory(encoder_dir, token_input="chars")
    code = cli.main(["embed", str(source), str(output), "--model", str(encoder_dir)])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert {"not_utf8": "line 2", "output_dir_missing": "missing_dir",
            "model_dir_missing": "not a directory"}[case] in err


# ----- padding anywhere in a row gives the vectors of the unpadded sentence (issue 18, part 5)
# Rows of token ids (0 = padding) in every layout; the reference is each sentence run alone,
# without any padding.
LAYOUT_ROWS = {
    "post": [7, 5, 2, 8, 0, 0],
    "pre": [0, 0, 7, 5, 2, 8],      # keras.utils.pad_sequences' default
    "between": [7, 0, 5, 2, 0, 8],
    "both_ends": [0, 7, 5, 2, 8, 0],
}
WORDS = [f"w{i}" for i in range(10)]


def _alone(encoder, key):
    tokens = [WORDS[i] for i in (7, 5, 2, 8)]
    return np.asarray(encoder(text.char_ids([tokens]))[key])[0]


@pytest.mark.parametrize("mode", ["eager", "tf_function", "predict", "xla"])
@pytest.mark.parametrize("input_type", ["token_ids", "char_ids"])
def test_padding_anywhere_gives_the_unpadded_sentence_vectors(encoder, input_type, mode):
    rows = np.array(list(LAYOUT_ROWS.values()), "int32")
    table = np.stack([np.zeros(50, "int32")] + [text.token_char_ids(w) for w in WORDS[1:]])
    inputs = table[rows] if input_type == "char_ids" else rows
    key = "lstm_outputs2"
    layer = elmo.ELMo(encoder, output_mode=key, input_type=input_type,
                      idx2word=WORDS if input_type == "token_ids" else None)
    if mode == "eager":
        output = np.asarray(layer(inputs))
    elif mode == "tf_function":
        output = tf.function(layer)(tf.constant(inputs)).numpy()
    elif mode == "predict":
        x = keras.Input(inputs.shape[1:], dtype="int32")
        output = keras.Model(x, layer(x)).predict(inputs, verbose=0)
    else:  # the biLM under XLA (ELMo itself is not XLA-compilable): the char ids of the rows
        compiled = tf.function(lambda ids: layer.encoder(ids)[key], jit_compile=True)
        output = compiled(tf.constant(table[rows])).numpy()
    reference = _alone(encoder, key)
    for row, (name, ids) in zip(output, LAYOUT_ROWS.items()):
        real = np.array(ids) > 0
        np.testing.assert_allclose(row[real], reference, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(row[~real], 0.0, err_msg=name)


def test_pre_padded_sequences_train_like_post_padded(encoder):
    """fit on keras.utils.pad_sequences' default (pre) padding gives the same step as post."""
    sequences = [[7, 5, 2], [3, 9, 4, 6, 1]]
    losses = []
    for padding in ("pre", "post"):
        keras.utils.set_random_seed(0)
        layer = elmo.ELMo(encoder, output_mode="default", input_type="token_ids", idx2word=WORDS)
        x = keras.Input((None,), dtype="int32")
        model = keras.Model(x, keras.layers.Dense(1)(layer(x)))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        ids = keras.utils.pad_sequences(sequences, padding=padding)
        history = model.fit(ids, np.array([1.0, -1.0]), epochs=2, batch_size=2, verbose=0)
        losses.append(history.history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_word_level_encoder_reads_pre_padding_too():
    keras.utils.set_random_seed(0)
    layer = bilm.BiLMEncoder(bilm.BiLMConfig.tiny(token_input="words", vocab_size=12))
    post = np.asarray(layer(np.array([[4, 6, 9, 0, 0]]))["lstm_outputs1"])
    pre = np.asarray(layer(np.array([[0, 0, 4, 6, 9]]))["lstm_outputs1"])
    alone = np.asarray(layer(np.array([[4, 6, 9]]))["lstm_outputs1"])
    np.testing.assert_allclose(post[0, :3], alone[0], atol=1e-6)
    np.testing.assert_allclose(pre[0, 2:], alone[0], atol=1e-6)

"""The downstream path of lesson 06: the layer cache, the task model with and without ELMo, the
token probe, and domain adaptation of a biLM. Tiny models, checked against independent computations."""

import re

import keras
import numpy as np
import pytest

from elmo_lib import adapt, cache, downstream, probe, text
from elmo_lib.bilm import BiLMConfig, build_encoder
from elmo_lib.train import build_trainer, evaluate_perplexity
from tests.layer_checks import check_layer

SENTENCES = [["The", "cat", "sat"], ["A", "dog"], [], ["Birds", "fly", "over", "the", "river", "."],
             ["Yes"]]


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return build_encoder(BiLMConfig.tiny())


def test_cache_equals_the_encoder_on_each_sentence(encoder):
    layers = cache.cache_layers(encoder, SENTENCES, batch_size=2, dtype="float32", verbose=0)
    assert len(layers) == len(SENTENCES) and layers.lengths.tolist() == [3, 2, 0, 6, 1]
    for i, sentence in enumerate(SENTENCES):
        if not sentence:
            assert layers.sentence(i).shape == (0, 3, 8)
            continue
        out = encoder(text.char_ids([sentence]))  # one sentence alone: no padding at all
        expected = np.stack([np.concatenate([out["word_emb"][0]] * 2, -1),
                             out["lstm_outputs1"][0], out["lstm_outputs2"][0]], axis=1)
        np.testing.assert_allclose(layers.sentence(i), expected, atol=1e-5)
    half = cache.cache_layers(encoder, SENTENCES, verbose=0)  # default float16
    assert half.values.dtype == np.float16
    np.testing.assert_allclose(half.values, layers.values, atol=2e-3, rtol=2e-3)


def test_cache_subset_and_padding(encoder):
    layers = cache.cache_layers(encoder, SENTENCES, dtype="float32", verbose=0)
    rows = {3: layers.values[5:11], 0: layers.values[0:3], 1: layers.values[3:5]}  # lengths 3, 2, 0, 6
    part = layers.subset([3, 2, 0])
    assert part.lengths.tolist() == [6, 0, 3] and part.offsets.tolist() == [0, 6, 6, 9]
    np.testing.assert_array_equal(part.values, np.concatenate([rows[3], rows[0]]))
    padded = layers.padded([1, 3])
    assert padded.shape == (2, 6, 3, 8)
    np.testing.assert_array_equal(padded[0, :2], rows[1])
    np.testing.assert_array_equal(padded[1], rows[3])
    assert not padded[0, 2:].any()


def test_masked_max_pooling_ignores_padding(tmp_path):
    x = np.array([[[1.0, -2.0], [3.0, -1.0], [99.0, 99.0]],
                  [[-5.0, -6.0], [0.0, 0.0], [0.0, 0.0]]], "float32")
    mask = np.array([[True, True, False], [True, False, False]])
    pooled = downstream.MaskedMaxPooling1D()(x, mask=mask)
    np.testing.assert_array_equal(pooled, [[3.0, -1.0], [-5.0, -6.0]])  # by hand
    np.testing.assert_array_equal(downstream.MaskedMaxPooling1D()(x, mask=np.zeros((2, 3), bool)),
                                  np.zeros((2, 2)))
    check_layer(downstream.MaskedMaxPooling1D(), x, expected_params=0, tmp_path=tmp_path,
                train_inputs=False)


def test_task_dataset_covers_every_sentence_once_per_pass():
    rng = np.random.default_rng(0)
    ids = [rng.integers(1, 9, size=n).astype(np.int32) for n in rng.integers(1, 12, size=37)]
    data = downstream.TaskData(ids, np.arange(37))  # the label names the sentence
    dataset, _ = downstream.task_dataset(data, 5, use_elmo=False, shuffle_seed=0)
    seen = []
    for x, y in dataset.take(-(-37 // 5)):  # one pass
        for row, label in zip(x["word_ids"].numpy(), y.numpy()):
            np.testing.assert_array_equal(row[:len(ids[label])], ids[label])
            assert not row[len(ids[label]):].any()  # padded with 0
            seen.append(int(label))
    assert sorted(seen) == list(range(37))
    second_pass = [int(v) for _, y in dataset.skip(8).take(8) for v in y.numpy()]
    assert sorted(second_pass) == list(range(37)) and second_pass != seen  # reshuffled
    fixed, order = downstream.task_dataset(data, 5, use_elmo=False)
    assert sorted(order.tolist()) == list(range(37))
    first = next(iter(fixed))[0]["word_ids"].numpy()
    np.testing.assert_array_equal(first[0, :len(ids[order[0]])], ids[order[0]])


def _synthetic_task(n, rng, layers=3, dim=6, signal_layer=0):
    """Labels readable only from the 'biLM' features of the first token (the words are noise)."""
    lengths = rng.integers(2, 7, size=n)
    labels = rng.integers(0, 2, size=n).astype(np.int32)
    word_ids = [rng.integers(2, 30, size=k).astype(np.int32) for k in lengths]
    values = rng.normal(size=(lengths.sum(), layers, dim)).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values[offsets[:-1], signal_layer, 0] += 4.0 * (2 * labels - 1)
    return downstream.TaskData(word_ids, labels, cache.LayerCache(values, offsets))


def test_elmo_model_adds_a_trainable_mix_and_saves(tmp_path):
    config = downstream.TaskConfig(embedding_dim=4, lstm_units=3)
    base = downstream.build_task_model(config, vocab_size=30)
    with_elmo = downstream.build_task_model(config, vocab_size=30, elmo_shape=(3, 6))
    mix = with_elmo.get_layer("scalar_mix")
    assert mix.count_params() == 4 and len(mix.trainable_weights) == 2
    extra_lstm_inputs = 2 * 4 * 3 * 6  # two directions x 4 gates x units x the 6 ELMo inputs
    assert with_elmo.count_params() - base.count_params() == extra_lstm_inputs + 4
    data = _synthetic_task(4, np.random.default_rng(1))
    x = next(iter(downstream.task_dataset(data, 4, use_elmo=True)[0]))[0]
    path = tmp_path / "task.keras"
    with_elmo.save(path)
    restored = keras.saving.load_model(path)  # safe_mode: no Lambda layers
    np.testing.assert_allclose(restored(x), with_elmo(x), atol=1e-6)


def _tiny_run(n_train, n_dev, **config):
    """Synthetic train/dev splits (seeded) and a tiny task config trained at learning rate 1e-2."""
    rng = np.random.default_rng(0)
    train, dev = _synthetic_task(n_train, rng), _synthetic_task(n_dev, rng)
    return train, dev, downstream.TaskConfig(embedding_dim=4, learning_rate=1e-2, **config)


def test_elmo_helps_when_the_signal_is_in_the_bilm_features():
    train, dev, config = _tiny_run(160, 60, lstm_units=4, dropout=0.0, elmo_dropout=0.0,
                                   batch_size=16, epochs=8, patience=8)
    base, base_info = downstream.train_task_model(config, train, dev, use_elmo=False, seed=0)
    model, info = downstream.train_task_model(config, train, dev, use_elmo=True, seed=0)
    assert info["dev_accuracy"] > 0.9 and base_info["dev_accuracy"] < 0.75
    # accuracy() recomputes the best epoch's dev score from the restored weights
    assert downstream.accuracy(model, dev) == pytest.approx(info["dev_accuracy"], abs=1e-6)
    # predict_proba batches by length and restores the order: row i is sentence i run alone
    probabilities = downstream.predict_proba(model, dev)
    for i in range(0, 60, 7):
        alone = model({"word_ids": dev.word_ids[i][None], "elmo": dev.cache.sentence(i)[None]})
        np.testing.assert_allclose(probabilities[i], np.asarray(alone)[0], atol=1e-5)
    weights, gamma = downstream.mix_weights(model)
    assert np.abs(weights - 1 / 3).max() > 1e-3 and gamma != 1.0  # the four numbers trained
    assert np.argmax(weights) == 0 and weights[0] > 0.45  # the label is in layer 0 (signal_layer)


def test_a_reused_model_trains_a_seed_exactly_as_a_fresh_one():
    train, dev, config = _tiny_run(48, 16, lstm_units=3, dropout=0.3, elmo_dropout=0.3,
                                   batch_size=8, epochs=3, patience=3)
    fresh, fresh_info = downstream.train_task_model(config, train, dev, use_elmo=True, seed=5)
    other, _ = downstream.train_task_model(config, train, dev, use_elmo=True, seed=4)
    reused, info = downstream.train_task_model(config, train, dev, use_elmo=True, seed=5, model=other)
    assert reused is other
    for name in ("loss", "val_accuracy"):  # the same seed: the same losses, epoch by epoch
        np.testing.assert_allclose(info["history"][name], fresh_info["history"][name], rtol=1e-5)
    for a, b in zip(reused.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    baseline, _ = downstream.train_task_model(config, train, dev, use_elmo=False, seed=0)
    for changed, kwargs in ((config, {"use_elmo": True, "model": baseline}),
                            (config.replace(dropout=0.0), {"use_elmo": True, "model": reused}),
                            (config.replace(layer_norm=False), {"use_elmo": True, "model": reused}),
                            (config.replace(learning_rate=0.5), {"use_elmo": True, "model": reused})):
        with pytest.raises(ValueError, match="`model` was built for another configuration"):
            downstream.train_task_model(changed, train, dev, seed=0, **kwargs)
    with pytest.raises(ValueError, match="use_elmo=True needs TaskData.cache"):
        downstream.train_task_model(config, downstream.TaskData(train.word_ids, train.labels), dev,
                                    use_elmo=True)


def test_token_probe_weights_the_informative_layer():
    rng = np.random.default_rng(0)
    n, dim = 120, 5
    lengths = rng.integers(2, 8, size=n)
    tags = [rng.integers(0, 3, size=k).astype(np.int32) for k in lengths]
    values = rng.normal(size=(lengths.sum(), 3, dim)).astype(np.float32)
    values[np.arange(lengths.sum()), 2, np.concatenate(tags)] += 3.0  # only layer 2 knows the tag
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    layers = cache.LayerCache(values, offsets)
    model, info = probe.train_token_probe(layers.subset(range(90)), tags[:90],
                                               layers.subset(range(90, n)), tags[90:], 3,
                                               batch_size=8, epochs=6, patience=6,
                                               learning_rate=3e-2)
    assert info["dev_accuracy"] > 0.8
    assert np.argmax(info["mix_weights"]) == 2 and info["mix_weights"][2] > 0.4


def test_output_vocabulary_rule():
    vocab = text.Vocabulary(["<S>", "</S>", "<UNK>", "the", "<unk>", "cat"])
    targets = adapt.output_vocabulary(vocab)
    assert targets.encode(["the", "zebra", "cat"]).tolist() == [3, 4, 5]  # zebra -> <unk>
    plain = text.Vocabulary(["<S>", "</S>", "<UNK>", "the"])
    assert adapt.output_vocabulary(plain).encode(["zebra"]).tolist() == [2]  # no <unk>: <UNK>
    with pytest.raises(ValueError, match="unknown_token"):
        adapt.output_vocabulary(plain, "<unk>")
    assert adapt.oov_rate([["the", "zebra"], ["cat", "cat"]], vocab) == 0.25


def test_adapt_bilm_lowers_perplexity_on_the_new_text_and_copies():
    words = ["the", "<unk>", "cat", "sat", "on", "mat", "a", "dog", "ran"]
    vocab = text.Vocabulary([text.BOS_TOKEN, text.EOS_TOKEN, text.UNK_TOKEN, *words])
    config = BiLMConfig.tiny(vocab_size=len(vocab), batch_size=4, unroll_steps=6, num_sampled=8)
    trainer = build_trainer(config, seed=0, jit_compile=False)
    original = [w.copy() for w in trainer.get_weights()]
    task = [["the", "zebra", "sat", "on", "the", "mat"], ["a", "zebra", "ran"]] * 8  # zebra: OOV
    before = adapt.perplexity(trainer, vocab, task)
    adapted, info = adapt.adapt_bilm(trainer, vocab, task, epochs=6, learning_rate=3e-2,
                                     jit_compile=False, verbose=0)
    after = adapt.perplexity(adapted, vocab, task)
    assert after["mean"] < 0.8 * before["mean"]
    assert before["oov_rate"] == pytest.approx(2 / 9)
    stream = 8 * (6 + 2 + 3 + 2)  # tokens with <S> and </S>; windows of 6 use N - 2 of them
    assert info["steps"] == (stream - 2) // 6 // 4 and len(info["history"]["loss"]) == 6
    for w, w0 in zip(trainer.get_weights(), original):  # the source trainer is untouched
        np.testing.assert_array_equal(w, w0)
    # the rule: the same perplexity as evaluate_perplexity with "zebra" spelled as itself but
    # scored as <unk>, computed from a vocabulary that maps unknown words to <unk> by hand
    by_hand = text.Vocabulary(vocab.tokens)
    by_hand._index["zebra"] = vocab.token_to_id("<unk>")
    reference = evaluate_perplexity(adapted, task, vocab=by_hand, verbose=0)
    assert after["mean"] == pytest.approx(reference["mean"], rel=1e-6)


def test_elmo_at_the_output_adds_its_own_mix_to_the_pooled_vector():
    """Paper sec. 3.3: ELMo also beside the task RNN's output, with a second scalar mix. With the
    BiLSTM silenced (zero weights give h = 0), the pooled vector is [0; max over tokens of
    gamma * sum_j softmax(s)_j h_j], computed here in NumPy."""
    config = downstream.TaskConfig(embedding_dim=4, lstm_units=3, layer_norm=False,
                                   elmo_at_output=True)
    plain = downstream.build_task_model(config.replace(elmo_at_output=False), 30, (3, 6))
    model = downstream.build_task_model(config, 30, (3, 6))
    out_mix = model.get_layer("scalar_mix_output")
    assert out_mix.count_params() == 4 and len(out_mix.trainable_weights) == 2
    assert model.count_params() - plain.count_params() == 4 + 6 * 2  # the mix, 6 pooled inputs
    bilstm = model.get_layer("bilstm")
    bilstm.set_weights([np.zeros_like(w) for w in bilstm.get_weights()])
    s, gamma = np.array([0.5, -1.0, 2.0]), 1.7
    out_mix.set_weights([s, np.array(gamma)])
    data = _synthetic_task(5, np.random.default_rng(2))
    x = next(iter(downstream.task_dataset(data, 5, use_elmo=True)[0]))[0]
    pooled = np.asarray(keras.Model(model.inputs, model.get_layer("max_pool").output)(x))
    assert pooled.shape == (5, 2 * 3 + 6)
    np.testing.assert_allclose(pooled[:, :6], 0.0, atol=1e-7)
    weights = np.exp(s) / np.exp(s).sum()
    lengths = (x["word_ids"].numpy() > 0).sum(1)
    for b, n in enumerate(lengths):
        layers = x["elmo"].numpy()[b, :n].astype(np.float64)  # [tokens, 3, 6]
        expected = (gamma * np.einsum("j,tjd->td", weights, layers)).max(0)
        np.testing.assert_allclose(pooled[b, 6:], expected, rtol=1e-5, atol=1e-5)
    weights_out, gamma_out = downstream.mix_weights(model, "scalar_mix_output")
    np.testing.assert_allclose(weights_out, weights, rtol=1e-6)
    for bad in ((3,), (3, 0), (3.0, 6), (3, 6, 1), 3, (True, 6), {3: 1, 6: 2}, "ab"):
        with pytest.raises(ValueError, match="elmo_shape"):
            downstream.build_task_model(config, 30, bad)
    numpy_shape = downstream.build_task_model(config, 30, np.array([3, 6]))
    assert numpy_shape.count_params() == model.count_params()


@pytest.mark.parametrize("sentence, expected", [
    ("a well-made film", ["a", "well", "@-@", "made", "film"]),
    ("-lrb- r\\/c -rrb- it 's n't", ["(", "r/c", ")", "it", "'s", "n't"]),
    ("`` yes '' -- no", ['"', "yes", '"', "--", "no"]),
    ("-x-y a--b well-", ["@-@", "x", "@-@", "y", "a", "@-@", "@-@", "b", "well-"]),
    ("Cased\u00a0Text\ttoo", ["Cased", "Text", "too"]),
    ("", []), ("   ", []),
])
def test_ptb_to_wikitext(sentence, expected):
    assert adapt.ptb_to_wikitext(sentence) == expected
    assert adapt.ptb_to_wikitext(" ".join(expected)) == expected  # converted text stays put


def test_ptb_to_wikitext_keeps_wikitext_separators():
    assert adapt.ptb_to_wikitext("1 @,@ 000 @.@ 5 well @-@ made") == [
        "1", "@,@", "000", "@.@", "5", "well", "@-@", "made"]


def _phrase_script():
    """scripts/sst2_phrases.py imported as a module (it is a script, not part of elmo_lib)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "sst2_phrases.py"
    spec = importlib.util.spec_from_file_location("sst2_phrases", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_phrase_script_runs_and_writes_its_results(data_dir, tmp_path, monkeypatch):
    """scripts/sst2_phrases.py in --quick mode (one seed, one epoch): a results file marked quick
    with both rows, their test accuracies fractions of the 200 test sentences, and the gain their
    difference; without ELMO_RESULTS_DIR a quick run never writes into results/."""
    import json
    import pathlib
    import tempfile

    monkeypatch.setenv("ELMO_RESULTS_DIR", str(tmp_path))
    script = _phrase_script()
    assert script.main(["--quick", "--seeds", "0", "--checks-per-pass", "2", "1"]) == 0
    record = json.loads((tmp_path / "08_sst2_phrases.json").read_text())
    assert record["n_test"] == 200 and record["n_train_phrases"] == 300  # --quick cuts the sets
    assert record["quick"] is True
    # one and two dev checks a pass (one pass in quick mode); each row keeps its best on dev
    tried = record["by_checks_per_pass"]
    assert sorted(tried) == ["1", "2"]
    assert all(e == 1 for row in tried["1"].values() for e in row["best_epoch"])
    assert all(e in (1, 2) for row in tried["2"].values() for e in row["best_epoch"])
    for row, k in record["checks_per_pass"].items():
        best_dev = max(tried[key][row]["dev_mean"] for key in tried)
        assert tried[str(k)][row]["dev_mean"] == best_dev
        assert k == 1 or tried["1"][row]["dev_mean"] < best_dev  # a tie keeps one check
        assert record["test_accuracy"][row] == tried[str(k)][row]
    accuracy = record["test_accuracy"]
    for row in ("baseline", "elmo_baseline"):
        (value,) = accuracy[row]["seeds"]
        assert round(value * 200) == pytest.approx(value * 200, abs=1e-6)  # k / 200
    assert record["gain"] == pytest.approx(accuracy["elmo_baseline"]["mean"]
                                           - accuracy["baseline"]["mean"])
    monkeypatch.delenv("ELMO_RESULTS_DIR")  # a quick run then writes to a temporary directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system_tmp"))
    (tmp_path / "system_tmp").mkdir()
    committed = pathlib.Path(__file__).resolve().parents[1] / "results" / "08_sst2_phrases.json"
    before = committed.read_bytes() if committed.exists() else None
    assert script.main(["--quick", "--seeds", "0"]) == 0
    assert (committed.read_bytes() if committed.exists() else None) == before
    (written,) = (tmp_path / "system_tmp").glob("sst2_phrases_quick_*/08_sst2_phrases.json")
    assert json.loads(written.read_text())["quick"] is True
    assert record["test_accuracy"]["baseline"]["sd"] is None  # one seed: no spread to report


@pytest.mark.parametrize("args, message", [(["--checks-per-pass", "0"], "--checks-per-pass must be positive"),
                                           (["--seeds", "0", "-1"], "--seeds must be in [0, 2**32)")])
def test_the_phrase_script_refuses_bad_arguments_before_loading(args, message, capsys):
    script = _phrase_script()
    with pytest.raises(SystemExit) as stop:
        script.main(["--quick", *args])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_ptb_to_wikitext_refuses_what_is_not_text():
    for bad in (None, ["a", "b"], b"bytes"):
        with pytest.raises(TypeError, match="str"):
            adapt.ptb_to_wikitext(bad)


def _ids(*lengths):
    return [np.arange(2, 2 + n, dtype=np.int32) for n in lengths]


@pytest.mark.parametrize("build, error, message", [
    (lambda: downstream.TaskData([["a"], ["b"]], [0, 1]), TypeError, "`word_ids` must be integers"),
    (lambda: downstream.TaskData([np.array([0, 2])], [0]), ValueError, "(0 is padding)"),
    (lambda: downstream.TaskData([np.array([[2, 3]])], [0]), TypeError, "1-D int array"),
    (lambda: downstream.TaskData(_ids(1, 2), np.eye(2, dtype=int)), ValueError, "not one-hot"),
    (lambda: downstream.TaskData(_ids(1, 2), [0.7, 1.2]), TypeError, "`labels` must be integers"),
    (lambda: downstream.TaskData(_ids(1, 2), ["pos", "neg"]), TypeError, "`labels` must be integers"),
    (lambda: downstream.TaskData(_ids(1, 2), [-1, 1]), ValueError, "`labels` must be >= 0"),
    (lambda: downstream.TaskData(_ids(2, 1), [np.array([0]), np.array([1])]), ValueError,
     "sentence 0 has (1,) labels for 2 tokens"),
    (lambda: downstream.TaskData(_ids(2), [0]).subset([-1]), ValueError, "in [0, 1), received -1"),
    (lambda: downstream.TaskData(_ids(2), [0]).subset([1]), ValueError, "in [0, 1)"),
    (lambda: downstream.TaskData(_ids(2, 1), [0, 1]).subset(np.array([True, False])), TypeError,
     "np.flatnonzero"),
    (lambda: downstream.TaskData(_ids(2), [0]).subset([0.0]), TypeError, "1-D ints"),
    (lambda: cache.LayerCache(np.zeros((5, 3, 2)), np.array([0, 2, 9])), ValueError, "rising to len"),
    (lambda: cache.LayerCache(np.zeros((5, 2)), np.array([0, 5])), ValueError, "received values (5, 2)"),
    (lambda: cache.LayerCache(np.zeros((5, 3, 2)), np.array([0, 5])).sentence(-1), IndexError,
     "`index` must be in [0, 1)"),
    (lambda: cache.LayerCache(np.zeros((5, 3, 2)), np.array([0, 5])).padded([-1]), ValueError,
     "LayerCache.padded"),
    (lambda: downstream.task_dataset(downstream.TaskData(_ids(2), [0]), 0, use_elmo=False),
     ValueError, "batch_size must be a positive int, received 0"),
    (lambda: downstream.task_dataset(downstream.TaskData([], []), 4, use_elmo=False), ValueError,
     "`data` has no sentences"),
    (lambda: downstream.task_dataset(downstream.TaskData(_ids(2), [0]), 4, use_elmo=False,
                                     token_level=True), ValueError, "one label per sentence"),
    (lambda: downstream.task_vocabulary(["a good film"]), ValueError, "is a string"),
    (lambda: downstream.encode_words(["a good film"], {}), ValueError, "is a string"),
    (lambda: downstream.task_vocabulary("a good film"), ValueError, "received one string"),
    (lambda: downstream.encode_words("a good film", {}), ValueError, "received one string"),
    (lambda: downstream.TaskData([np.ones((2, 2), np.int32)], [0]), TypeError,
     "received arrays of shape [(2, 2)]"),
    (lambda: downstream.TaskData(_ids(2, 1), [0, 1], cache.LayerCache(
        np.zeros((3, 3, 6), np.float32), np.array([0, 1, 3]))), ValueError,
     "differ first at sentence 0"),
])
def test_task_data_refuses_what_would_train_on_the_wrong_numbers(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build()


def test_task_data_keeps_accepting_valid_input():
    data = downstream.TaskData([np.zeros(0, np.int32), [2, 3]], np.array([0.0, 1.0]))  # whole floats
    assert len(data.subset([])) == 0 and data.subset(range(1, -1, -1)).labels.tolist() == [1.0, 0.0]
    assert downstream.TaskData(_ids(2), [np.array([0, 4])]).token_level
    assert downstream.encode_words((s for s in [["a"], ["b"]]), {"a": 2})[1].tolist() == [1]


def test_train_task_model_refuses_bad_splits_before_training():
    train, dev, config = _tiny_run(16, 8, lstm_units=2, batch_size=8, epochs=1)
    empty = downstream.TaskData([], np.zeros(0, np.int32))
    two_layers = _synthetic_task(8, np.random.default_rng(3), layers=2)
    for kwargs, message in (
            ({"dev": empty}, "`dev` must hold labelled sentences, received 0 sentences"),
            ({"steps_per_epoch": 0}, "steps_per_epoch must be a positive int, received 0"),
            ({"steps_per_epoch": -1}, "received -1"),  # Keras would train forever
            ({"dev": downstream.TaskData(dev.word_ids, dev.labels + 2)}, "`dev` has label"),
            ({"vocab_size": 10}, "`train` has word id 29, but vocab_size=10"),
            ({"dev": two_layers, "use_elmo": True}, "`dev`'s cache has (L + 1, 2P) = (2, 6)")):
        with pytest.raises(ValueError, match=re.escape(message)):
            downstream.train_task_model(config, **{"train": train, "dev": dev, "use_elmo": False,
                                                   **kwargs})
    model = downstream.build_task_model(config, 30, (3, 6))
    with pytest.raises(ValueError, match=re.escape("the model reads (3, 6)")):
        downstream.predict_proba(model, two_layers)
    other_vocabulary = downstream.TaskData([np.array([40])], [0], cache.LayerCache(
        np.zeros((1, 3, 6), np.float32), np.array([0, 1])))
    with pytest.raises(ValueError, match="word id 40, but vocab_size=30"):
        downstream.predict_proba(model, other_vocabulary)


def test_cache_layers_refuses_strings_and_bad_sizes(encoder):
    for kwargs, message in (({"sentences": ["a good film"]}, "is a string"),
                            ({"sentences": "a good film"}, "received one string ('a good film'"),
                            ({"batch_size": 0}, "batch_size must be a positive int"),
                            ({"max_tokens_per_batch": -1}, "max_tokens_per_batch must be"),
                            ({"dtype": "int8"}, "`dtype` must be a float type")):
        with pytest.raises(ValueError, match=re.escape(message)):
            cache.cache_layers(encoder, **{"sentences": SENTENCES, "verbose": 0, **kwargs})
    with pytest.raises(TypeError, match="sentence 1 has a token of type int"):
        cache.cache_layers(encoder, [["a"], ["b", 3]], verbose=0)
    with pytest.raises(TypeError, match="received NoneType"):
        cache.cache_layers(None, SENTENCES, verbose=0)


def test_adapt_refuses_bad_input_and_reads_a_generator_once():
    vocab = text.Vocabulary([text.BOS_TOKEN, text.EOS_TOKEN, text.UNK_TOKEN, "the", "<unk>", "cat"])
    config = BiLMConfig.tiny(vocab_size=len(vocab), batch_size=2, unroll_steps=3, num_sampled=4)
    trainer = build_trainer(config, seed=0, jit_compile=False)
    task = [["the", "cat", "the"]] * 6
    for kwargs, message in (({"sentences": [[], []]}, "no tokens (2 sentences, all empty)"),
                            ({"sentences": []}, "no tokens (0 sentences)"),
                            ({"sentences": ["the cat"] * 6}, "is a string"),
                            ({"batch_size": 0}, "`batch_size` must be a positive integer"),
                            ({"unroll_steps": 0}, "`unroll_steps` must be a positive integer"),
                            ({"epochs": True}, "`epochs` must be a positive integer"),
                            ({"learning_rate": "1e-3"}, "must be a positive number"),
                            ({"sentences": [["the"]]}, "no full batch of 2 x 3")):
        with pytest.raises(ValueError, match=re.escape(message)):
            adapt.adapt_bilm(trainer, vocab, **{"sentences": task, "jit_compile": False, **kwargs})
    with pytest.raises(ValueError, match=re.escape("gives 0 window(s)")):
        adapt.perplexity(trainer, vocab, [])
    with pytest.raises(ValueError, match="is a string"):
        adapt.oov_rate(["the cat"], vocab)
    with pytest.raises(ValueError, match="received one string"):
        adapt.oov_rate("the cat", vocab)
    with pytest.raises(TypeError, match="token of type int"):  # ids, not words: would count as 1.0
        adapt.oov_rate([[4, 5]], vocab)
    assert adapt.oov_rate([["the", "zebra"], [], ["cat", "dog", "the", "the"]], vocab) == 2 / 6
    zebra = [["the", "zebra", "cat"]] * 4  # 1 of 3 targets outside the vocabulary
    assert adapt.perplexity(trainer, vocab, iter(zebra))["oov_rate"] == pytest.approx(1 / 3)

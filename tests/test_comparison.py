"""The paper's measurement (lesson 06): the tagger and the ELMo mixes of the task model, the seed
loop, relative error reduction and the paired bootstrap, checked against NumPy by hand."""

import re

import keras
import numpy as np
import pytest

from elmo_lib import cache, comparison, downstream, plotting
from tests.test_downstream import _synthetic_task


def _tagging_task(n, rng, layers=3, dim=6, signal_layer=2, n_tags=3):
    """Tags readable only from one 'biLM' layer of each token (the word ids are noise)."""
    lengths = rng.integers(2, 7, size=n)
    tags = [rng.integers(0, n_tags, size=k).astype(np.int32) for k in lengths]
    word_ids = [rng.integers(2, 30, size=k).astype(np.int32) for k in lengths]
    values = rng.normal(size=(lengths.sum(), layers, dim)).astype(np.float32)
    values[np.arange(lengths.sum()), signal_layer, np.concatenate(tags)] += 5.0
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return downstream.TaskData(word_ids, tags, cache.LayerCache(values, offsets))


def test_tagger_reads_tags_from_the_bilm_layers_and_counts_tokens():
    rng = np.random.default_rng(0)
    splits = {"train": _tagging_task(120, rng), "dev": _tagging_task(30, rng),
              "test": _tagging_task(30, rng)}
    config = downstream.TaskConfig(embedding_dim=4, lstm_units=4, n_classes=3, batch_size=16,
                                   learning_rate=2e-2, epochs=8, patience=8)
    elmo = comparison.run_seeds(config, splits, use_elmo=True, seeds=[0], verbose=False)
    base = comparison.run_seeds(config, splits, use_elmo=False, seeds=[0], verbose=False)
    assert elmo.model.output.shape[1:] == (None, 3)  # a softmax per token
    test = splits["test"]
    probabilities = downstream.predict_proba(elmo.model, test)
    by_hand = [int((p.argmax(-1) == t).sum()) for p, t in zip(probabilities, test.labels)]
    np.testing.assert_array_equal(elmo.correct[0], by_hand)
    np.testing.assert_array_equal(elmo.counted, [len(t) for t in test.labels])
    assert elmo.test[0] == pytest.approx(sum(by_hand) / sum(len(t) for t in test.labels))
    assert elmo.test[0] > 0.9 and base.test[0] < 0.6  # 3 tags: the words alone are chance
    weights = elmo.mix_weights[0]
    assert weights.argmax() == 2 and weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("mix, expected", [("top", [0.0, 0.0, 1.0]), ("average", [1 / 3] * 3)])
def test_fixed_mixes_of_the_ablation(mix, expected):
    config = downstream.TaskConfig(embedding_dim=4, lstm_units=3, elmo_mix=mix)
    model = downstream.build_task_model(config, 30, (3, 6))
    layer = model.get_layer("scalar_mix")
    assert not layer.trainable_weights  # nothing of the mix is learned
    weights, gamma = downstream.mix_weights(model)
    np.testing.assert_allclose(weights, expected, atol=1e-12)
    assert gamma == 1.0
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6)).astype("float32")  # [B, L, T, D]
    out = np.asarray(layer(x, mask=np.ones((2, 4), bool)))
    mean = x.mean(axis=(2, 3), keepdims=True)  # the per-sentence layer norm, by hand
    normed = (x - mean) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-12)
    np.testing.assert_allclose(out, np.einsum("l,bltd->btd", expected, normed), atol=1e-4)
    with pytest.raises(ValueError, match="`elmo_mix` must be one of"):
        downstream.TaskConfig(elmo_mix="first")


def test_run_seeds_keeps_each_seeds_test_reading():
    rng = np.random.default_rng(0)
    splits = {"train": _synthetic_task(40, rng), "dev": _synthetic_task(12, rng),
              "test": _synthetic_task(15, rng)}
    config = downstream.TaskConfig(embedding_dim=4, lstm_units=2, learning_rate=1e-2, epochs=2)
    row = comparison.run_seeds(config, splits, use_elmo=True, seeds=[3, 1], verbose=False)
    assert row.seeds == [3, 1] and row.correct.shape == (2, 15) and row.mix_weights.shape == (2, 3)
    labels = np.asarray(splits["test"].labels)
    last = downstream.predict_proba(row.model, splits["test"]).argmax(-1) == labels
    np.testing.assert_array_equal(row.correct[1], last)  # the model kept is the last seed's
    assert row.test == pytest.approx(row.correct.mean(axis=1))
    assert row.sd == pytest.approx(np.std(row.test, ddof=1))
    for seeds, message in (([], "at least one"), ([1, 1], "distinct")):
        with pytest.raises(ValueError, match=message):
            comparison.run_seeds(config, splits, use_elmo=False, seeds=seeds)
    with pytest.raises(ValueError, match=re.escape("missing ['test']")):
        comparison.run_seeds(config, {"train": splits["train"], "dev": splits["dev"]},
                             use_elmo=False, seeds=[0])


def test_relative_error_reduction_is_the_share_of_errors_removed():
    assert comparison.relative_error_reduction(0.8, 0.9) == pytest.approx(0.5)
    assert comparison.relative_error_reduction(0.514, 0.547) == pytest.approx(0.068, abs=5e-4)
    assert comparison.relative_error_reduction(0.9, 0.85) == pytest.approx(-0.5)
    for args, message in (((1.0, 1.0), "no errors"), ((80.0, 90.0), "accuracy in")):
        with pytest.raises(ValueError, match=message):
            comparison.relative_error_reduction(*args)


def _row(seeds, correct, counted):
    return comparison.SeedRuns("row", list(seeds), [0.0] * len(seeds), [0.0] * len(seeds),
                               np.asarray(correct), np.asarray(counted))


def test_paired_bootstrap_against_a_numpy_bootstrap():
    rng = np.random.default_rng(0)
    counted = rng.integers(1, 30, size=400)  # tokens per sentence
    base = rng.binomial(counted, 0.85, size=(3, 400))
    better = np.minimum(counted, base + rng.binomial(1, 0.6, size=(3, 400)))
    a, b = _row([0, 1, 2], base, counted), _row([2, 1, 0, 7], np.vstack([better[::-1], better[:1]]), counted)
    result = comparison.paired_bootstrap(a, b)
    difference = better.mean(0) - base.mean(0)  # seeds 0-2 matched by seed, not position
    assert result["gain"] == pytest.approx(difference.sum() / counted.sum())
    assert result["seeds"] == [0, 1, 2] and result["items"] == 400
    draws = rng.integers(0, 400, size=(4000, 400))  # a plain percentile bootstrap by hand
    stats = difference[draws].sum(1) / counted[draws].sum(1)
    low, high = np.percentile(stats, [2.5, 97.5])
    assert result["low"] == pytest.approx(low, abs=2e-3) and result["high"] == pytest.approx(high, abs=2e-3)
    assert result["standard_error"] == pytest.approx(stats.std(), rel=0.1)
    assert result["low"] < result["gain"] < result["high"]


def test_paired_bootstrap_edge_cases():
    same = comparison.paired_bootstrap(_row([0], [[0, 0, 1]], [1, 1, 1]), _row([0], [[1, 1, 2]], [1, 1, 1]))
    assert same["low"] == same["gain"] == same["high"] == pytest.approx(1.0)  # no spread at all
    with pytest.raises(ValueError, match="share no seed"):
        comparison.paired_bootstrap(_row([0], [[1]], [1]), _row([1], [[1]], [1]))
    with pytest.raises(ValueError, match="different test items"):
        comparison.paired_bootstrap(_row([0], [[1, 1]], [1, 1]), _row([0], [[1, 1]], [1, 2]))
    with pytest.raises(ValueError, match=re.escape("`confidence` must be in (0, 1)")):
        comparison.paired_bootstrap(_row([0], [[1, 0]], [1, 1]), _row([0], [[1, 1]], [1, 1]),
                                    confidence=95)
    with pytest.raises(ValueError, match=re.escape("must be [seeds, items]")):
        _row([0], [[1, 0]], [[1, 1]])  # counted per seed instead of per item
    with pytest.raises(ValueError, match="at least 2"):
        downstream.TaskConfig(n_classes=1)


def test_gain_chart_and_mix_errors(tmp_path):
    figure = plotting.gain_chart(["POS", "SST-2"], [6.0, 1.0], [5.0, 0.2], [7.0, 1.9], "g.png",
                                 ylabel="points", figures_dir=tmp_path, show=False)
    low, high = figure.axes[0].get_ylim()
    assert low < 0.0 < 7.0 < high and (tmp_path / "g.png").stat().st_size > 0
    with pytest.raises(ValueError, match="contain its gain"):
        plotting.gain_chart(["a"], [1.0], [1.5], [2.0], "h.png", ylabel="p", figures_dir=tmp_path,
                            show=False)
    plotting.layer_weights({"a": [0.2, 0.3, 0.5]}, "w.png", normalize=False,
                           errors={"a": [0.01, 0.02, 0.03]}, figures_dir=tmp_path, show=False)
    keras.backend.clear_session()

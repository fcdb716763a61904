"""el.probe.token_probe_accuracy against a per-sentence NumPy count."""

import numpy as np

import elmo_lib as el


def test_token_probe_accuracy_counts_real_tokens_only():
    rng = np.random.default_rng(0)
    lengths = [3, 1, 5, 2]
    values = rng.normal(size=(sum(lengths), 3, 4)).astype("float32")
    cache = el.cache.LayerCache(values, np.concatenate([[0], np.cumsum(lengths)]))
    model = el.probe.build_token_probe(3, 4, 5)
    tags = [rng.integers(0, 5, size=n) for n in lengths]
    tags[1] = np.array([7])  # a tag the probe has no class for: always an error
    correct = 0
    for i, sentence_tags in enumerate(tags):
        x = {"word_ids": np.ones((1, lengths[i]), "int32"), "elmo": cache.sentence(i)[None]}
        predicted = np.argmax(np.asarray(model(x)), axis=-1)[0]
        correct += int(np.sum(predicted == sentence_tags))
    accuracy = el.probe.token_probe_accuracy(model, cache, tags, batch_size=2)
    assert accuracy == correct / sum(lengths)

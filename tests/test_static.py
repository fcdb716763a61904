"""Static word vectors (PPMI + SVD) and their use as a task model's initial word vectors."""

import numpy as np
import pytest

from elmo_lib import downstream, static

CORPUS = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "sat"], ["The", "cat", "ran"]]


def numpy_cooccurrence(sentences, vocabulary, window):
    """Independent double loop over each sentence."""
    counts = np.zeros((len(vocabulary), len(vocabulary)))
    for sentence in sentences:
        for i, w in enumerate(sentence):
            for j in range(i + 1, min(i + window + 1, len(sentence))):
                c = sentence[j]
                if w in vocabulary and c in vocabulary:
                    counts[vocabulary[w], vocabulary[c]] += 1.0 / (j - i)
                    counts[vocabulary[c], vocabulary[w]] += 1.0 / (j - i)
    return counts


def test_cooccurrence_matches_a_loop_and_never_crosses_sentences():
    vocabulary = {"the": 0, "cat": 1, "sat": 2, "dog": 3, "mat": 4}  # "on", "a" skipped, keep place
    counts = static.cooccurrence(CORPUS, vocabulary, window=3).toarray()
    np.testing.assert_allclose(counts, numpy_cooccurrence(CORPUS, vocabulary, 3))
    assert counts[vocabulary["mat"], vocabulary["dog"]] == 0  # "mat" ends one line, "a dog" begins the next
    np.testing.assert_allclose(counts, counts.T)


def test_ppmi_matches_the_formula_on_a_dense_matrix():
    counts = np.array([[0, 4, 1], [4, 0, 2], [1, 2, 6]], float)
    total = counts.sum()
    p_w = counts.sum(1) / total
    p_c = counts.sum(0) ** 0.75 / (counts.sum(0) ** 0.75).sum()
    with np.errstate(divide="ignore"):
        expected = np.maximum(np.log(counts / total / np.outer(p_w, p_c)), 0)
    import scipy.sparse as sp
    np.testing.assert_allclose(static.ppmi(sp.csr_matrix(counts)).toarray(), expected, atol=1e-12)


def test_ppmi_svd_gives_unit_rows_and_merges_case():
    vectors = static.ppmi_svd(CORPUS * 3, vocab_size=6, window=2, dim=3)
    assert vectors.vectors.shape == (6, 3) and vectors.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors.vectors, axis=1), 1.0, atol=1e-5)
    assert vectors.words[0] == "the" and "The" in vectors  # lower-cased corpus and look-ups
    np.testing.assert_array_equal(vectors["The"], vectors["the"])


@pytest.mark.parametrize("kwargs, message", [
    ({"dim": 8}, "`dim` must be a positive integer below"),
    ({"window": 0}, "`window` must be a positive integer"),
    ({"smoothing": 0.0}, "`smoothing` must be in"),
])
def test_ppmi_svd_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        static.ppmi_svd(CORPUS, vocab_size=6, **{"dim": 3, **kwargs})


def test_ppmi_svd_empty_corpus_strings_and_vocab_size():
    with pytest.raises(ValueError, match="no tokens"):
        static.ppmi_svd([[], []])
    with pytest.raises(ValueError, match="sentence 1 is a string"):
        static.ppmi_svd([["a", "b"], "the cat sat"])
    with pytest.raises(ValueError, match="`vocab_size` must be a positive integer"):
        static.ppmi_svd(CORPUS, vocab_size=0)


@pytest.mark.parametrize("word_index", [{"cat": 0}, {"cat": 1}, {"cat": -3}, {"cat": 2.0}])
def test_embedding_matrix_refuses_padding_oov_and_odd_ids(word_index):
    vectors = static.ppmi_svd(CORPUS * 3, vocab_size=6, window=2, dim=3)
    with pytest.raises(ValueError, match="word ids must be integers >= 2"):
        vectors.embedding_matrix(word_index)


def test_embedding_matrix_places_each_known_word_at_its_task_id():
    vectors = static.ppmi_svd(CORPUS * 3, vocab_size=6, window=2, dim=3)
    word_index = {"cat": 2, "zebra": 3, "sat": 4}
    table, covered = vectors.embedding_matrix(word_index, seed=1)
    assert table.shape == (5, 3) and covered == 2
    np.testing.assert_array_equal(table[0], 0)  # padding
    np.testing.assert_array_equal(table[2], vectors["cat"])
    np.testing.assert_array_equal(table[4], vectors["sat"])
    assert np.all(table[3] != 0)  # a word without a static vector gets a random row


def test_task_model_starts_from_the_given_word_vectors():
    config = downstream.TaskConfig(embedding_dim=3, lstm_units=2)
    table = np.arange(15, dtype=np.float32).reshape(5, 3)
    model = downstream.build_task_model(config, 5, word_vectors=table)
    np.testing.assert_array_equal(model.get_layer("word_embedding").get_weights()[0], table)
    assert model.get_layer("word_embedding").trainable  # fine-tuned with the task
    with pytest.raises(ValueError, match=r"`word_vectors` must be \[vocab_size, embedding_dim\]"):
        downstream.build_task_model(config, 6, word_vectors=table)
    with pytest.raises(ValueError, match="NaN or infinite"):
        downstream.build_task_model(config, 5, word_vectors=np.full((5, 3), np.nan, np.float32))

"""Static word vectors from co-occurrence counts: PPMI + truncated SVD (lesson 01's recipe).

Lesson 01 builds these by hand to show what one vector per word cannot do (and checks its
vectors against :func:`ppmi_svd`); lesson 08 uses them the way the paper's task models use GloVe:
as the pretrained word vectors of the baseline, to which ELMo is then added (Peters et al. 2018,
sec. 3.3 and Table 1).

- :func:`cooccurrence`  symmetric window counts, a pair at distance ``d`` weighted ``1/d``
- :func:`ppmi`          positive pointwise mutual information with context smoothing
  (``alpha = 0.75``, Levy, Goldberg & Dagan 2015)
- :func:`ppmi_svd`      both, then truncated SVD to ``dim`` unit-length vectors: a :class:`StaticVectors`
- :meth:`StaticVectors.embedding_matrix` the initial table of a task model's word embedding
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def _vocabulary_ids(sentences: Sequence[Sequence[str]], vocabulary: dict[str, int],
                    window: int) -> np.ndarray:
    """One id stream, ``window`` ids of -1 between sentences so no pair spans two of them."""
    ids: list[int] = []
    for sentence in sentences:
        ids.extend(vocabulary.get(token, -1) for token in sentence)
        ids.extend([-1] * window)
    return np.asarray(ids, dtype=np.int64)


def cooccurrence(sentences: Sequence[Sequence[str]], vocabulary: dict[str, int], *,
                 window: int = 4) -> sp.csr_matrix:
    """Weighted co-occurrence counts of vocabulary words within ``window`` tokens.

    A pair of words at distance ``d <= window`` inside one sentence adds ``1/d`` to both
    ``[w, c]`` and ``[c, w]`` (a symmetric matrix); words outside ``vocabulary`` are skipped
    but keep their place (they still count for the distance).

    Args:
        sentences: token lists (a sentence or a line of a corpus each).
        vocabulary: word -> row, rows ``0 .. len(vocabulary) - 1``.
        window: largest distance counted, >= 1.

    Returns:
        float64 ``csr_matrix`` ``[len(vocabulary), len(vocabulary)]``.

    Raises:
        ValueError: ``window < 1`` or an empty ``vocabulary``.
    """
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"`window` must be a positive integer, received window={window!r}")
    if not vocabulary:
        raise ValueError("cooccurrence: the vocabulary is empty")
    ids = _vocabulary_ids(sentences, vocabulary, window)
    rows, cols, weights = [], [], []
    for d in range(1, window + 1):
        left, right = ids[:-d], ids[d:]
        kept = (left >= 0) & (right >= 0)
        rows += [left[kept], right[kept]]
        cols += [right[kept], left[kept]]
        weights.append(np.full(2 * int(kept.sum()), 1.0 / d))
    size = len(vocabulary)
    return sp.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(size, size)).tocsr()  # duplicate cells are summed


def ppmi(counts: sp.spmatrix, *, smoothing: float = 0.75) -> sp.csr_matrix:
    """``max(0, log P(w, c) / (P(w) P_alpha(c)))`` for every non-zero cell of ``counts``.

    ``P_alpha(c)`` raises the context counts to ``smoothing`` before normalising, so rare contexts
    do not get huge scores (Levy et al. 2015; word2vec's negative-sampling distribution).

    Args:
        counts: a square co-occurrence matrix (:func:`cooccurrence`).
        smoothing: the context exponent alpha, in ``(0, 1]``.

    Returns:
        ``csr_matrix`` of the same shape with the positive cells only.

    Raises:
        ValueError: ``counts`` has no positive cell, or ``smoothing`` outside ``(0, 1]``.
    """
    if not 0.0 < smoothing <= 1.0:
        raise ValueError(f"`smoothing` must be in (0, 1], received smoothing={smoothing!r}")
    total = float(counts.sum())
    if total <= 0:
        raise ValueError("ppmi: the co-occurrence matrix is empty (a corpus with no word pairs?)")
    p_word = np.asarray(counts.sum(axis=1)).ravel() / total
    p_context = np.asarray(counts.sum(axis=0)).ravel() ** smoothing
    p_context /= p_context.sum()
    cells = sp.coo_matrix(counts)
    pmi = np.log(cells.data / total / (p_word[cells.row] * p_context[cells.col]))
    positive = pmi > 0
    return sp.csr_matrix((pmi[positive], (cells.row[positive], cells.col[positive])),
                         shape=counts.shape)


@dataclass
class StaticVectors:
    """One unit-length vector per word: ``vectors[i]`` belongs to ``words[i]``."""

    words: list[str]
    vectors: np.ndarray  # float32 [len(words), dim], rows of length 1
    lowercase: bool = True  # the words were lower-cased; look-ups lower-case too

    def __post_init__(self):
        if len(self.words) != len(self.vectors):
            raise ValueError(f"StaticVectors: {len(self.words)} words but {len(self.vectors)} vectors")
        self.index = {word: i for i, word in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __contains__(self, word: str) -> bool:
        return (word.lower() if self.lowercase else word) in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index[word.lower() if self.lowercase else word]]

    def embedding_matrix(self, word_index: dict[str, int], *, seed: int = 0) -> tuple[np.ndarray, int]:
        """The initial table of a task model's word embedding (the paper's GloVe role).

        Row ``word_index[w]`` is ``w``'s static vector when it has one; every other row (the
        task's words outside this vocabulary, its OOV row 1) is random with the same expected
        length (normal, sd ``1/sqrt(dim)``); row 0 (padding) is zeros.

        Args:
            word_index: the task's word -> id (ids from 2, as
                :func:`elmo_lib.downstream.task_vocabulary` makes them).
            seed: the random rows.

        Returns:
            ``(table, covered)``: float32 ``[max id + 1, dim]`` and how many words of
            ``word_index`` got a static vector.

        Raises:
            ValueError: an id that is not an integer >= 2 (0 and 1 are padding and OOV).

        Introduced in lesson 08 (section 4: the baseline started from static vectors).
        """
        bad = [(w, i) for w, i in word_index.items()
               if not isinstance(i, (int, np.integer)) or isinstance(i, bool) or i < 2]
        if bad:
            raise ValueError(f"word ids must be integers >= 2 (0 is padding, 1 OOV), received "
                             f"{bad[:3]}")
        rows = max(word_index.values(), default=1) + 1
        rng = np.random.default_rng(seed)
        table = rng.normal(0.0, 1.0 / np.sqrt(self.dim), (rows, self.dim)).astype(np.float32)
        table[0] = 0.0
        covered = 0
        for word, row in word_index.items():
            if word in self:
                table[row] = self[word]
                covered += 1
        return table, covered


def ppmi_svd(sentences: Sequence[Sequence[str]], *, vocab_size: int = 10_000, window: int = 4,
             dim: int = 100, smoothing: float = 0.75, lowercase: bool = True,
             seed: int = 0) -> StaticVectors:
    """Static word vectors: co-occurrence -> PPMI -> truncated SVD -> unit rows (lesson 01).

    Row ``w`` of ``U_k Sigma_k`` (scikit-learn's ``TruncatedSVD``, randomized, ``random_state=seed``)
    is the vector of word ``w``, scaled to length 1 so a dot product is a cosine.

    Args:
        sentences: token lists (e.g. the lines of WikiText-2's training file).
        vocab_size: keep the most frequent words (ties: first seen first).
        window, smoothing: as in :func:`cooccurrence` and :func:`ppmi`.
        dim: vectors' size, smaller than the vocabulary kept.
        lowercase: lower-case the corpus first (one vector for *Record* and *record*).
        seed: the SVD's random state.

    Returns:
        a :class:`StaticVectors` (words in descending frequency).

    Raises:
        ValueError: an empty corpus, a sentence given as one string (not a token list),
            ``vocab_size < 1``, ``dim`` not below the number of words kept, or a bad
            ``window`` / ``smoothing``.

    Example:
        >>> static = ppmi_svd(el.data.load_wikitext2("train"), vocab_size=20_000)
        >>> static["movie"] @ static["film"]  # cosine: 0.83 on all of WikiText-2's training text

    Introduced in lesson 01 (built by hand there); lesson 08 uses it.
    """
    if not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"`vocab_size` must be a positive integer, received vocab_size={vocab_size!r}")
    sentences = list(sentences)
    for index, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise ValueError(f"sentence {index} is a string, not a list of tokens: split it first "
                             f"(e.g. sentence.split()), received {sentence[:40]!r}")
    if lowercase:
        sentences = [[token.lower() for token in sentence] for sentence in sentences]
    counts = Counter(token for sentence in sentences for token in sentence)
    if not counts:
        raise ValueError("ppmi_svd: the corpus has no tokens")
    words = [word for word, _ in counts.most_common(vocab_size)]
    if not isinstance(dim, int) or not 0 < dim < len(words):
        raise ValueError(f"`dim` must be a positive integer below the {len(words):,} words kept, "
                         f"received dim={dim!r}")
    from sklearn.decomposition import TruncatedSVD  # scikit-learn loads only when vectors are built

    matrix = ppmi(cooccurrence(sentences, {w: i for i, w in enumerate(words)}, window=window),
                  smoothing=smoothing)
    vectors = TruncatedSVD(n_components=dim, random_state=seed).fit_transform(matrix)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return StaticVectors(words, vectors.astype(np.float32), lowercase)

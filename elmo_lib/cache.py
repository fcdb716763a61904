"""Run a frozen biLM once and keep every layer of every token: the cache a task model reads.

- :func:`cache_layers`  the biLM over tokenized sentences -> :class:`LayerCache`
- :class:`LayerCache`   ``[tokens, L + 1, 2P]`` activations (float16 by default) + sentence offsets

A frozen biLM gives a sentence the same vectors at every epoch, so computing them once saves almost
all of a task model's training time; storing them without padding keeps the memory at
``tokens x (L + 1) x 2P`` values (SST-2's 9,613 sentences: ~190k tokens, ~290 MB in float16 for a
256-wide biLM). Introduced in lesson 06; lesson 05's probe reads the same cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from elmo_lib import bilm, data, elmo, text


def check_indices(indices: Sequence[int], n: int, where: str) -> np.ndarray:
    """``indices`` as int64. TypeError: not 1-D ints (NumPy would read a bool mask as rows 0/1);
    ValueError: outside ``[0, n)`` (NumPy would count a negative index from the end)."""
    array = np.asarray(indices)
    if array.size == 0 and array.ndim == 1:
        return np.zeros(0, np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{where}: `indices` must be 1-D ints, received {array.dtype} of shape "
                        f"{array.shape} (for a bool mask pass np.flatnonzero(mask))")
    if array.min() < 0 or array.max() >= n:
        raise ValueError(f"{where}: `indices` must be in [0, {n}), "
                         f"received {array.min()}..{array.max()}")
    return array.astype(np.int64)


@dataclass
class LayerCache:
    """Every biLM layer of every token of a list of sentences, stored without padding.

    ``values[offsets[i]:offsets[i + 1]]`` is sentence ``i``: ``[tokens, L + 1, 2P]`` (layer 0 is the
    token embedding duplicated, ``[x; x]``, as in :class:`elmo_lib.elmo.ELMo`). bilm-tf's
    ``dump_bilm_embeddings`` keeps the same numbers per sentence as ``[L + 1, tokens, 2P]`` in HDF5.
    ``lengths``: tokens per sentence, ``n_layers``: ``L + 1``, ``dim``: ``2P``. ValueError: ``values``
    not 3-D, or ``offsets`` not ints rising from 0 to ``len(values)``. Lesson 06, section 4.
    """

    values: np.ndarray  # [total tokens, L + 1, 2P], float16 by default
    offsets: np.ndarray  # [sentences + 1] int64, offsets[0] = 0

    def __post_init__(self):
        offsets = np.asarray(self.offsets)
        if (np.ndim(self.values) != 3 or offsets.ndim != 1 or not len(offsets)
                or not np.issubdtype(offsets.dtype, np.integer) or offsets[0] != 0
                or offsets[-1] != len(self.values) or np.any(np.diff(offsets) < 0)):
            raise ValueError(f"LayerCache needs `values` [tokens, L + 1, 2P] and int `offsets` from 0 "
                             f"rising to len(values), received values {np.shape(self.values)}, "
                             f"offsets {offsets.ravel()[:3].tolist()}..{offsets.ravel()[-1:].tolist()}")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_layers(self) -> int:
        return self.values.shape[1]

    @property
    def dim(self) -> int:
        return self.values.shape[2]

    def sentence(self, index: int) -> np.ndarray:
        """Sentence ``index``'s ``[tokens, L + 1, 2P]`` (a view); IndexError outside ``[0, len)``."""
        if not 0 <= index < len(self):  # -1 would slice offsets[-1]:offsets[0]: silently empty
            raise IndexError(f"LayerCache.sentence: `index` must be in [0, {len(self)}), "
                             f"received {index!r}")
        return self.values[self.offsets[index]:self.offsets[index + 1]]

    def subset(self, indices: Sequence[int]) -> LayerCache:
        """The sentences ``indices``, in that order (a copy); errors as :func:`check_indices`."""
        indices = check_indices(indices, len(self), "LayerCache.subset")
        lengths = self.lengths[indices]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in indices]
                              ) if len(indices) else np.zeros(0, np.int64)
        return LayerCache(self.values[rows], offsets)

    def padded(self, indices: Sequence[int], time_steps: int | None = None) -> np.ndarray:
        """``[len(indices), T, L + 1, 2P]`` in ``values.dtype``, zero-padded at the end (``T``: the
        longest sentence, or ``time_steps``, which cuts longer ones); errors as :func:`check_indices`."""
        lengths = self.lengths[check_indices(indices, len(self), "LayerCache.padded")]
        time_steps = int(lengths.max(initial=1)) if time_steps is None else time_steps
        out = np.zeros((len(lengths), time_steps, self.n_layers, self.dim), self.values.dtype)
        for b, i in enumerate(indices):
            out[b, :lengths[b]] = self.sentence(i)[:time_steps]
        return out


def cache_layers(encoder, sentences: Sequence[Sequence[str]], *, batch_size: int = 128,
                 max_tokens_per_batch: int = 4096, dtype: str = "float16",
                 verbose: int = 1) -> LayerCache:
    """Run a frozen biLM once over tokenized sentences and keep every layer of every token.

    The char CNN runs once per distinct token (the table of :func:`elmo_lib.elmo.embed_file`), the
    LSTMs over batches of sentences of similar length. The result equals
    ``BiLMEncoder(char_ids)`` on each sentence (layer 0 duplicated), rounded to ``dtype``.

    Args:
        encoder: a ``BiLMEncoder`` (or a model holding one, e.g. from ``build_encoder``).
        sentences: lists of tokens (an empty sentence gets no rows).
        batch_size, max_tokens_per_batch: sentences and padded tokens per biLM call.
        dtype: a float storage type (float16 halves the memory; the task model computes in float32).
        verbose: 1 shows a progress bar.

    Returns:
        a :class:`LayerCache` with ``values`` ``[tokens, L + 1, 2P]`` in ``dtype`` (L: the biLM's LSTM layers, P: its projection size).

    Raises:
        ValueError: ``sentences`` or one sentence is a string, not a token list; ``batch_size``
            or ``max_tokens_per_batch`` not a positive int; ``dtype`` not a float type.
        TypeError: ``encoder`` holds no ``BiLMEncoder``; a token is not a str.

    Introduced in lesson 06 (section 4); lesson 05's probe reads the same cache.
    """
    encoder = bilm.encoder_layer(encoder)
    sentences = text.check_sentences(sentences, str_tokens=True)
    data._check_positive_ints(batch_size=batch_size, max_tokens_per_batch=max_tokens_per_batch)
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(f"`dtype` must be a float type, received dtype={dtype!r}")
    sentences = [list(s) for s in sentences]
    lengths = np.array([len(s) for s in sentences], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    c = encoder.config
    values = np.zeros((int(offsets[-1]), c.n_layers + 1, 2 * c.projection_dim), dtype)
    table = elmo._TokenTable(encoder, sentences)
    order = [i for i in np.argsort(lengths, kind="stable") if lengths[i]]
    bar = keras.utils.Progbar(len(order), unit_name="sentence") if verbose else None
    for batch in elmo._length_batches(order, lengths, batch_size, max_tokens_per_batch):
        layers = table([sentences[i] for i in batch])  # [L + 1, B, T, 2P]
        for b, i in enumerate(batch):
            values[offsets[i]:offsets[i + 1]] = np.moveaxis(layers[:, b, :lengths[i]], 0, 1)
        if bar is not None:
            bar.add(len(batch))
    return LayerCache(values, offsets)

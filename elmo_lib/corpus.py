"""Corpora too big for memory: many text shards, streamed with tf.data and sharded per worker.

- :func:`list_shards`, :func:`worker_shards`  the files of a glob, and this worker's share of them
- :func:`sharded_lm_dataset`    ``data.lm_dataset`` batches streamed from the shards (interleaved,
  shuffled, split per worker before any file is read), char ids computed with TF string ops
- :func:`streaming_vocabulary`  a :class:`~elmo_lib.text.Vocabulary` counted file by file with a
  bounded memory footprint (exact up to ``max_memory_tokens`` distinct types)
- :func:`tf_char_ids`           :func:`elmo_lib.text.token_char_ids` as TensorFlow ops

Used by ``elmo-lib train --train-shards`` and ``docs/full_size_training.md``; the devices and hosts
side is ``elmo_lib.distribute``.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence

import tensorflow as tf

from elmo_lib import text
from elmo_lib.distribute import worker_info

logger = logging.getLogger(__name__)


def list_shards(file_pattern: str | Sequence[str]) -> list[str]:
    """All files matching ``file_pattern`` (a glob or a list of globs), sorted; errors if none."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else file_pattern
    files = sorted({f for p in patterns for f in tf.io.gfile.glob(str(p))})
    if not files:
        raise ValueError(f"no file matches file_pattern={file_pattern!r}")
    return files


def worker_shards(file_pattern: str | Sequence[str], num_workers: int | None = None,
                  worker_index: int | None = None) -> list[str]:
    """The files :func:`sharded_lm_dataset` reads on worker ``worker_index`` of ``num_workers``.

    Files are sorted, then worker ``i`` takes files ``i, i + W, i + 2W, ...``, so the workers' sets
    are disjoint and cover every file, whatever each process's random seed.
    """
    num_workers, worker_index = _resolve_worker(num_workers, worker_index)
    files = list_shards(file_pattern)
    if len(files) < num_workers:
        raise ValueError(f"{len(files)} files for num_workers={num_workers}: every worker needs at "
                         "least one file (split the corpus into more shards)")
    return files[worker_index::num_workers]


def _resolve_worker(num_workers, worker_index) -> tuple[int, int]:
    if num_workers is None and worker_index is None:
        return worker_info()
    if num_workers is None or worker_index is None:
        raise ValueError("give both num_workers and worker_index, or neither (then TF_CONFIG is "
                         f"used); received num_workers={num_workers!r}, "
                         f"worker_index={worker_index!r}")
    if not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"`num_workers` must be a positive int, received {num_workers!r}")
    if not isinstance(worker_index, int) or not 0 <= worker_index < num_workers:
        raise ValueError(f"`worker_index` must be in 0..{num_workers - 1}, received "
                         f"worker_index={worker_index!r}")
    return num_workers, worker_index


def tf_char_ids(tokens: tf.Tensor,
                max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN) -> tf.Tensor:
    """:func:`elmo_lib.text.token_char_ids` with TensorFlow ops: string tensor ``[...]`` ->
    int32 ``[..., max_characters_per_token]`` (the bilm-tf ids, +1 shift included).

    The token's UTF-8 bytes are cut to ``max_characters_per_token - 2`` (a multi-byte character may
    be split, as in the reference); ``"<S>"``/``"</S>"`` are the sentence boundary tokens. The empty
    string gives ``[BOW, EOW, PAD...] + 1``, as ``text.token_char_ids("")``.
    """
    chars = max_characters_per_token
    body = tf.strings.substr(tokens, 0, chars - 2, unit="BYTE")
    length = tf.strings.length(body, unit="BYTE")[..., None]
    raw = tf.cast(tf.io.decode_raw(body, tf.uint8, fixed_length=chars - 2), tf.int32)
    slot = tf.range(chars - 2, dtype=tf.int32)
    body_ids = tf.where(slot < length, raw, text.PAD_CHAR)
    shape = tf.concat([tf.shape(tokens), [1]], axis=0)
    ids = tf.concat([tf.fill(shape, text.BOW_CHAR), body_ids, tf.fill(shape, text.PAD_CHAR)], -1)
    ids = tf.where(tf.range(chars, dtype=tf.int32) == length + 1, text.EOW_CHAR, ids) + 1
    bos, eos = (tf.constant(v, tf.int32) for v in text.boundary_char_ids(chars))
    ids = tf.where((tokens == text.BOS_TOKEN)[..., None], bos, ids)
    return tf.where((tokens == text.EOS_TOKEN)[..., None], eos, ids)


def tf_split_tokens(sentences: tf.Tensor) -> tf.RaggedTensor:
    """:func:`elmo_lib.text.split_tokens` in TensorFlow ops: ``tf.string [...]`` -> ragged tokens.

    Every run of Unicode whitespace (``text.WHITESPACE``, as ``str.isspace``) becomes one ASCII
    space (``tf.strings.regex_replace`` with ``text.WHITESPACE_REGEX``), then the string is split
    on spaces with empty pieces dropped. ``tf.strings.split`` alone splits on ASCII whitespace
    only, so a no-break space (U+00A0) stayed inside a token. Invalid UTF-8 bytes are never
    whitespace (a lone ``0x85`` byte is not U+0085).

    Returns:
        ``tf.RaggedTensor`` of ``tf.string``, one more (ragged) axis than ``sentences``.
    """
    sentences = tf.convert_to_tensor(sentences, tf.string)
    spaced = tf.strings.regex_replace(sentences, text.WHITESPACE_REGEX, " ")
    return tf.strings.split(spaced)  # ASCII whitespace only is left: the spaces put above


def _file_windows(unroll_steps: int):
    """filename -> dataset of token windows ``string [T + 2]`` cut from that file's stream."""
    width = unroll_steps + 2

    def sentences(filename):
        lines = tf.data.TextLineDataset(filename)
        tokens = lines.map(tf_split_tokens)  # text.split_tokens' rule
        tokens = tokens.filter(lambda t: tf.size(t) > 0)
        return tokens.map(lambda t: tf.concat([[text.BOS_TOKEN], t, [text.EOS_TOKEN]], 0))

    def cut(buffer, sentence):
        # `buffer` always starts where the next window starts (a multiple of T in the stream).
        stream = tf.concat([buffer, sentence], 0)
        count = tf.maximum((tf.size(stream) - 2) // unroll_steps, 0)
        index = (tf.range(count)[:, None] * unroll_steps
                 + tf.range(width, dtype=tf.int32)[None, :])
        return stream[count * unroll_steps:], tf.gather(stream, index)

    def windows(filename):
        empty = tf.zeros([0], tf.string)
        return sentences(filename).scan(empty, cut).unbatch()

    return windows


def sharded_lm_dataset(
    file_pattern: str | Sequence[str],
    vocab: text.Vocabulary,
    batch_size: int,
    unroll_steps: int,
    *,
    shuffle_buffer: int = 10_000,
    seed: int = 0,
    num_workers: int | None = None,
    worker_index: int | None = None,
    cycle_length: int = 4,
    repeat: bool = False,
    max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN,
    include_char_ids: bool = True,
    include_token_ids: bool = True,
) -> tf.data.Dataset:
    """``lm_dataset`` batches streamed from a sharded text corpus, never loading it whole.

    For corpora such as the 1B Word Benchmark (``.../news.en-000??-of-00100``: one tokenized
    sentence per line). Pipeline: sorted files -> this worker's files (``shard`` *before* reading:
    worker ``i`` of ``W`` takes files ``i, i+W, ...``, see :func:`worker_shards`) -> file order
    shuffled with ``seed`` (new order each epoch) -> ``interleave`` of ``cycle_length`` files ->
    per file: lines split by :func:`tf_split_tokens` (the rule of ``text.split_tokens``), empty
    lines dropped, ``<S> w1 .. wn </S>`` streamed
    into windows exactly as :func:`elmo_lib.data.lm_dataset` cuts them (window ``k`` of a file
    starts at ``j = k*T``: inputs ``s[j+1 : j+1+T]``, next ``s[j+2 : j+2+T]``, previous
    ``s[j : j+T]``; the last partial window of each file is dropped, so ``mask`` is all 1) ->
    window shuffle buffer -> batches -> ids with a hash table (unknown -> ``<UNK>``) and char ids
    with TF string ops (:func:`tf_char_ids`: they spell the real token, as in ``lm_dataset``).

    Memory: ``shuffle_buffer`` windows, ``cycle_length`` open files and one sentence each.

    With ``num_workers > 1`` the dataset's ``auto_shard_policy`` is ``OFF`` (it is sharded here), so
    pass it straight to ``fit`` under ``MultiWorkerMirroredStrategy``. ``batch_size`` is the
    **global** batch: ``tf.distribute`` splits each batch between the worker's replicas and the
    workers (each step consumes ``batch_size`` windows in all).

    Args:
        file_pattern: a glob (or list of globs) of UTF-8 text files (``tf.io.gfile``: local paths
            or ``gs://``).
        vocab: gives the token ids.
        batch_size: windows per (global) batch.
        unroll_steps: ``T``.
        shuffle_buffer: windows in the shuffle buffer (``0``/``1``: no shuffling of windows).
        seed: seed of the file order and window shuffles; use the same on every worker.
        num_workers, worker_index: this process's part; both ``None`` reads ``TF_CONFIG``.
        cycle_length: files read at once (interleaved window by window).
        repeat: cycle over this worker's files forever (pass ``steps_per_epoch`` to ``fit``).
            Files that give fewer than ``batch_size`` windows in all would then never yield a
            batch (an endless empty loop that this lazy pipeline cannot see): count them first,
            as ``elmo-lib train --train-shards`` does, with ``streaming_vocabulary(...,
            stream_tokens=counts)`` and :func:`count_windows`.
        max_characters_per_token: ``C``.
        include_char_ids, include_token_ids: which inputs to produce.

    Returns:
        ``tf.data.Dataset`` of ``({"char_ids" [B,T,C], "token_ids" [B,T]}, {"next_token_ids",
        "previous_token_ids" [B,T] int32, "mask" [B,T] float32})``.

    Example:
        >>> vocab = streaming_vocabulary("1b/training/news.en-000??-of-00100", min_count=3)
        >>> ds = sharded_lm_dataset("1b/training/news.en-000??-of-00100", vocab, 128, 20,
        ...                         repeat=True)
    """
    data_check = (("batch_size", batch_size), ("unroll_steps", unroll_steps),
                  ("cycle_length", cycle_length))
    for name, value in data_check:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int, received {name}={value!r}")
    if isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, int) or shuffle_buffer < 0:
        raise ValueError(f"`shuffle_buffer` must be an int >= 0, received {shuffle_buffer!r}")
    if not (include_char_ids or include_token_ids):
        raise ValueError("include_char_ids and include_token_ids are both False: nothing to feed")
    num_workers, worker_index = _resolve_worker(num_workers, worker_index)
    files = list_shards(file_pattern)
    if len(files) < num_workers:
        raise ValueError(f"{len(files)} files for num_workers={num_workers}: every worker needs at "
                         "least one file (split the corpus into more shards)")
    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.shard(num_workers, worker_index)  # before any file is opened
    dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.interleave(_file_windows(unroll_steps), cycle_length=cycle_length,
                                 block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
                                 deterministic=True)
    if shuffle_buffer > 1:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)

    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocab.tokens, tf.string),
                                            tf.range(len(vocab), dtype=tf.int32)),
        default_value=vocab.unk_id)

    def features(windows):
        current = windows[:, 1:-1]
        inputs = {}
        if include_char_ids:
            inputs["char_ids"] = tf_char_ids(current, max_characters_per_token)
        if include_token_ids:
            inputs["token_ids"] = table.lookup(current)
        targets = {"next_token_ids": table.lookup(windows[:, 2:]),
                   "previous_token_ids": table.lookup(windows[:, :-2]),
                   "mask": tf.ones(tf.shape(current), tf.float32)}
        return inputs, targets

    dataset = dataset.map(features, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if num_workers > 1:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
        dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------- streaming vocabulary
def _file_tokens(path: str) -> Iterator[list[str]]:
    """The non-empty lines of a UTF-8 file as :func:`elmo_lib.text.split_tokens` tokens (lines
    end at ``"\\n"`` only, as ``tf.data.TextLineDataset``). Raises ``ValueError`` naming the file
    and line for bytes that are not UTF-8."""
    with tf.io.gfile.GFile(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoded = line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}, line {number}: invalid UTF-8 ({error.reason} at "
                                 f"byte {error.start} of the line)") from error
            tokens = text.split_tokens(decoded)
            if tokens:
                yield tokens


def count_windows(stream_tokens: dict[str, int], unroll_steps: int,
                  files: Sequence[str] | None = None) -> int:
    """Windows :func:`sharded_lm_dataset` cuts from ``files`` (default: all), given each file's
    stream length (``<S> w1 .. wn </S>`` per non-empty line: ``streaming_counts(...,
    stream_tokens=...)`` fills it): ``(N_file - 2) // unroll_steps`` per file."""
    files = list(stream_tokens) if files is None else files
    return sum(max(stream_tokens.get(f, 0) - 2, 0) // unroll_steps for f in files)


def _prune(counts: Counter, keep: int) -> int:
    """Misra-Gries step: subtract ``d`` from every count (dropping those <= 0) so that at most
    ``keep`` entries remain, ``d`` being the ``keep + 1``-th largest count. Returns ``d``."""
    if len(counts) <= keep:
        return 0
    threshold = heapq.nlargest(keep + 1, counts.values())[-1]
    for token in list(counts):
        value = counts[token] - threshold
        if value > 0:
            counts[token] = value
        else:
            del counts[token]
    return threshold


def streaming_counts(file_pattern: str | Sequence[str],
                     max_memory_tokens: int | None = 5_000_000, *,
                     stream_tokens: dict | None = None) -> tuple[Counter, int, int]:
    """Token counts of a sharded corpus, read one file and one line at a time.

    Exact while the number of distinct tokens stays within ``max_memory_tokens = k`` (the 1B Word
    Benchmark has ~2.4M types, so the default counts it exactly, in ~0.5 GB of Python dict).
    Beyond that, a Misra-Gries summary: when the counter holds more than ``k`` entries, the count
    ``d`` of rank ``k // 2 + 1`` is subtracted from every entry and entries that reach 0 are dropped
    (so a prune frees at least half the slots: amortised O(1) per token). The ``k // 2 + 1``
    largest entries each lose ``d``, so a prune removes at least ``d * (k // 2 + 1)`` of a total
    that never exceeds ``N`` (tokens read): the sum of the ``d``'s, hence the error of any count,
    is at most ``N / (k // 2 + 1)``. Counts are never overestimated, and a token whose true count
    exceeds that bound is always kept. Memory: at most ``k`` entries plus one line.

    Tokens are :func:`elmo_lib.text.split_tokens` of each line (Unicode whitespace).

    Args:
        stream_tokens: if given, a dict filled with ``file -> stream tokens`` (words plus
            ``<S>``/``</S>`` per non-empty line), for :func:`count_windows`.

    Returns:
        ``(counts, total_tokens, max_undercount)``; ``max_undercount`` is 0 when exact, else the sum
        of the ``d``'s (the error bound actually reached, at most ``N / (k // 2 + 1)``).

    Raises:
        ValueError: a line that is not UTF-8 (the message names the file and line).
    """
    if max_memory_tokens is not None and (isinstance(max_memory_tokens, bool)
                                          or not isinstance(max_memory_tokens, int)
                                          or max_memory_tokens < 2):
        raise ValueError(f"`max_memory_tokens` must be an int >= 2 or None, received "
                         f"max_memory_tokens={max_memory_tokens!r}")
    counts: Counter = Counter()
    total, undercount = 0, 0
    for path in list_shards(file_pattern):
        file_tokens = 0
        for tokens in _file_tokens(path):
            counts.update(tokens)
            total += len(tokens)
            file_tokens += len(tokens) + 2
            if max_memory_tokens is not None and len(counts) > max_memory_tokens:
                undercount += _prune(counts, max_memory_tokens // 2)
        if stream_tokens is not None:
            stream_tokens[path] = file_tokens
    return counts, total, undercount


def streaming_vocabulary(file_pattern: str | Sequence[str], min_count: int = 1,
                         max_size: int | None = None, *,
                         max_memory_tokens: int | None = 5_000_000,
                         path: str | os.PathLike | None = None,
                         stream_tokens: dict | None = None) -> text.Vocabulary:
    """A :class:`~elmo_lib.text.Vocabulary` counted file by file (see :func:`streaming_counts`).

    Tokens are :func:`elmo_lib.text.split_tokens` of each line (Unicode whitespace), as
    :func:`sharded_lm_dataset` splits them (:func:`tf_split_tokens`). When the count
    is exact (no more distinct tokens than ``max_memory_tokens``), the result equals
    ``Vocabulary.from_corpus`` on the same sentences. Otherwise counts may be low by at most
    ``N / (max_memory_tokens // 2 + 1)`` (a warning says by how much), which can drop tokens near
    ``min_count`` and reorder near-ties.

    Args:
        file_pattern: glob (or list of globs) of text files, one sentence per line.
        min_count: drop tokens seen fewer times.
        max_size: maximum size including ``<S>``, ``</S>``, ``<UNK>``.
        max_memory_tokens: distinct tokens held in memory at most (``None``: unbounded).
        path: also write the vocabulary there (bilm-tf format, one token per line).
        stream_tokens: filled with each file's stream length (see :func:`streaming_counts`).

    Returns:
        the vocabulary.

    Raises:
        ValueError: a line that is not UTF-8 (the message names the file and line).
    """
    counts, total, undercount = streaming_counts(file_pattern, max_memory_tokens,
                                                 stream_tokens=stream_tokens)
    if undercount:
        logger.warning("streaming_vocabulary: more than %d distinct tokens; counts are low by at "
                       "most %d of %d tokens (Misra-Gries bound)", max_memory_tokens, undercount,
                       total)
    vocab = text.Vocabulary.from_counts(counts, min_count=min_count, max_size=max_size)
    if path is not None:
        vocab.save(path)
    return vocab


def shard_token_counts(file_pattern: str | Sequence[str]) -> dict[str, int]:
    """Tokens per file (words plus one ``</S>`` per non-empty line): for epoch-size estimates."""
    return {path: sum(len(tokens) + 1 for tokens in _file_tokens(path))
            for path in list_shards(file_pattern)}

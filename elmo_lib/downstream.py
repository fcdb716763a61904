"""ELMo for a downstream task, as the paper uses it: a task model with and without ELMo.

- :class:`TaskConfig`         sizes and training settings of the task model
- :func:`build_task_model`    baseline: word embeddings -> BiLSTM -> masked max pool -> softmax;
  with ``use_elmo`` the same model with each token's ELMo vector (trainable ``ScalarMix`` with
  gamma, dropout) concatenated to its word embedding (Peters et al. 2018, sec. 3.3)
- :func:`train_task_model`    fit one seed with early stopping on dev accuracy
- :func:`mix_weights`         a trained model's ``softmax(s)`` and ``gamma``

A token-level probe on the same trainable mix (lesson 05's POS tags) is :mod:`elmo_lib.probe`.

The biLM never runs inside the task model: its layers are cached once
(:func:`elmo_lib.cache.cache_layers`) and fed
to every seed and every training-set size. Introduced in lesson 06.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from elmo_lib import text
from elmo_lib.cache import LayerCache, check_indices
from elmo_lib.data import _check_positive_ints
from elmo_lib.layers import ScalarMix

PAD_ID, OOV_ID = 0, 1  # task word ids: 0 is padding (the mask), 1 every word the task never saw
ELMO_MIXES = ("learned", "average", "top")  # TaskConfig.elmo_mix: the paper's ablation (sec. 5.1)


# ----------------------------------------------------------------------------------------------
# Task vocabulary and batches
# ----------------------------------------------------------------------------------------------
def task_vocabulary(sentences: Sequence[Sequence[str]], min_count: int = 1) -> dict[str, int]:
    """Word -> id for the task model's own embedding table: ids from 2 by descending count (ties
    alphabetical); 0 is padding and 1 (:data:`OOV_ID`) every word seen fewer than ``min_count``
    times in ``sentences`` (the training set only: dev/test words it lacks are OOV). ValueError: a
    sentence is a string, not a token list (it would count characters). Lesson 06, section 5."""
    counts: dict[str, int] = {}
    for sentence in text.check_sentences(sentences):
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    return {word: i + 2 for i, word in enumerate(kept)}


def encode_words(sentences: Sequence[Sequence[str]], vocabulary: dict[str, int]) -> list[np.ndarray]:
    """Each sentence as an int32 ``[tokens]`` array of task word ids (unknown words ->
    :data:`OOV_ID`). ValueError: a sentence is a string, not a token list. Lesson 06, section 5."""
    sentences = text.check_sentences(sentences)
    return [np.array([vocabulary.get(w, OOV_ID) for w in s], np.int32) for s in sentences]


@dataclass
class TaskData:
    """One split of a task: word ids per sentence, labels, and optionally the biLM's layers.

    ``word_ids``: one int array per sentence (:func:`encode_words`; ids >= 1, 0 is padding; an
    empty sentence pools to zeros). ``labels``: one int >= 0 per sentence (sentence classification)
    or one int array per sentence, as long as it (token tagging). ``cache`` is needed by models
    that read ELMo.

    Raises:
        ValueError: lengths disagree (sentences, labels, tokens, cached tokens); ids below 1 or
            labels below 0. TypeError: ids or labels that are not whole numbers (whole-number
            floats such as 1.0, and bools, are accepted). Lesson 06.
    """

    word_ids: list[np.ndarray]
    labels: np.ndarray | list[np.ndarray]
    cache: LayerCache | None = None

    def __post_init__(self):
        if len(self.word_ids) != len(self.labels):
            raise ValueError(f"TaskData: {len(self.word_ids)} sentences but {len(self.labels)} labels")
        if any(np.ndim(w) != 1 for w in self.word_ids):
            shapes = sorted({np.shape(w) for w in self.word_ids if np.ndim(w) != 1})[:3]
            raise TypeError(f"TaskData: `word_ids` must be one 1-D int array per sentence "
                            f"(encode_words), received arrays of shape {shapes}")
        _check_ints(self.word_ids, "word_ids", 1)
        if self.token_level:
            for i, (tags, ids) in enumerate(zip(self.labels, self.word_ids)):
                if np.ndim(tags) != 1 or len(tags) != len(ids):
                    raise ValueError(f"TaskData: `labels` must be one int per sentence, or one per token; "
                                     f"sentence {i} has {np.shape(tags)} labels for {len(ids)} tokens")
        elif np.ndim(self.labels) != 1:
            raise ValueError(f"TaskData: `labels` must be one int per sentence (class ids, not one-hot), "
                             f"received shape {np.shape(self.labels)}")
        _check_ints(self.labels if self.token_level else [self.labels], "labels", 0)
        if self.cache is not None and not np.array_equal(
                self.cache.lengths, [len(w) for w in self.word_ids]):
            lengths = [len(w) for w in self.word_ids]
            bad = next((i for i, (a, b) in enumerate(zip(self.cache.lengths, lengths)) if a != b),
                       min(len(lengths), len(self.cache)))
            raise ValueError(f"TaskData: the cache ({len(self.cache)} sentences) and the word ids "
                             f"({len(lengths)}) differ first at sentence {bad}: cache the same "
                             f"tokenized sentences the word ids come from")

    def __len__(self) -> int:
        return len(self.word_ids)

    @property
    def token_level(self) -> bool:
        """Labels per token (a list of arrays) rather than one per sentence."""
        return not isinstance(self.labels, np.ndarray) and any(np.ndim(t) for t in self.labels)

    def subset(self, indices: Sequence[int]) -> TaskData:
        """The sentences ``indices``, in that order; errors as :func:`elmo_lib.cache.check_indices`."""
        indices = check_indices(indices, len(self), "TaskData.subset")
        labels = (self.labels[indices] if isinstance(self.labels, np.ndarray)
                  else [self.labels[i] for i in indices])
        return TaskData([self.word_ids[i] for i in indices], labels,
                        None if self.cache is None else self.cache.subset(indices))


def _check_ints(arrays, name: str, low: int) -> None:
    """Refuse what ``astype(np.int32)`` would silently change (text, fractions) and ids < ``low``."""
    parts = [np.asarray(a) for a in arrays if len(a)]
    values = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if values.dtype != bool and not np.issubdtype(values.dtype, np.integer) and not (
            np.issubdtype(values.dtype, np.floating) and np.all(np.mod(values, 1) == 0)):
        raise TypeError(f"TaskData: `{name}` must be integers, received {values.dtype} values such "
                        f"as {values[:3].tolist()}")
    if values.size and values.min() < low:
        raise ValueError(f"TaskData: `{name}` must be >= {low}{' (0 is padding)' if low else ''}, "
                         f"received {values.min()}")


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None):
    """Index batches of similar length: shuffled pools of 32 batches sorted by length (training),
    or everything sorted by length (evaluation)."""
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    pool = 32 * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def task_dataset(data: TaskData, batch_size: int, *, use_elmo: bool, shuffle_seed: int | None = None,
                 token_level: bool = False) -> tuple[tf.data.Dataset, np.ndarray]:
    """A ``tf.data`` pipeline of padded batches ``({"word_ids", ["elmo"]}, labels[, weights])``.

    With ``shuffle_seed`` the dataset is endless and reshuffled at every pass (one generator state
    per dataset; a pass is ``ceil(len(data) / batch_size)`` batches); without it it is one pass in
    a fixed, length-sorted order, returned as the second value (the row of ``data`` behind each
    prediction). ``token_level``: labels are per token, padded with
    0, and a third element weights real tokens 1 and padding 0. Shapes: ``word_ids`` int32
    ``[B, T]``, ``elmo`` ``[B, T, L + 1, 2P]`` in the cache's dtype, labels int32 ``[B]`` (or
    ``[B, T]`` with float32 weights ``[B, T]``).

    Raises:
        ValueError: ``batch_size`` not a positive int; ``data`` empty; ``use_elmo`` without a
            cache; ``token_level`` disagreeing with ``data``'s labels. Lesson 06 (and 05's probe).
    """
    _check_positive_ints(batch_size=batch_size)
    if not len(data):
        raise ValueError("task_dataset: `data` has no sentences")
    if token_level != data.token_level:
        raise ValueError(f"token_level={token_level}, but `data` has one label per "
                         f"{'token' if data.token_level else 'sentence'}")
    if use_elmo and data.cache is None:
        raise ValueError("use_elmo=True needs TaskData.cache (from cache_layers)")
    lengths = np.array([len(w) for w in data.word_ids])
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    fixed = None if rng is not None else _batches(lengths, batch_size, None)

    def generate():
        for batch in fixed if fixed is not None else _batches(lengths, batch_size, rng):
            time_steps = max(int(lengths[batch].max()), 1)
            ids = np.zeros((len(batch), time_steps), np.int32)
            for b, i in enumerate(batch):
                ids[b, :lengths[i]] = data.word_ids[i]
            x = {"word_ids": ids}
            if use_elmo:
                x["elmo"] = data.cache.padded(batch, time_steps)
            if token_level:
                y = np.zeros_like(ids)
                for b, i in enumerate(batch):
                    y[b, :lengths[i]] = data.labels[i]
                yield x, y, (ids > 0).astype(np.float32)
            else:
                yield x, np.asarray(data.labels)[batch].astype(np.int32)

    x_spec = {"word_ids": tf.TensorSpec((None, None), tf.int32)}
    if use_elmo:
        x_spec["elmo"] = tf.TensorSpec((None, None, data.cache.n_layers, data.cache.dim),
                                       tf.as_dtype(data.cache.values.dtype))
    if token_level:
        spec = (x_spec, tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.float32))
    else:
        spec = (x_spec, tf.TensorSpec((None,), tf.int32))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
    if rng is not None:
        dataset = dataset.repeat()  # endless: fit with steps_per_epoch = ceil(N / batch_size)
    else:  # one pass of known length (Keras then knows when validation ends)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(fixed)))
    dataset = dataset.prefetch(2)
    order = np.concatenate(fixed) if fixed is not None else np.zeros(0, np.int64)
    return dataset, order


# ----------------------------------------------------------------------------------------------
# Task models
# ----------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="elmo_lib")
class MaskedMaxPooling1D(keras.layers.Layer):
    """Max over the time steps the mask keeps: ``[batch, time, dim]`` -> ``[batch, dim]``.

    Padding never wins the max (Keras' ``GlobalMaxPooling1D`` ignores the mask); a sentence with no
    kept step gives zeros.

    Call arguments:
        inputs: ``[batch, time, dim]``.
        mask: optional bool ``[batch, time]`` (True = a real token), usually propagated by Keras.

    Example:
        >>> pooled = MaskedMaxPooling1D()(keras.ops.ones((2, 5, 3)))  # [2, 3]

    Introduced in lesson 06 (the task model's pooling).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.cast(mask, "bool")[..., None]
        lowest = ops.cast(-3.0e38 if inputs.dtype == "float32" else -6.0e4, inputs.dtype)
        pooled = ops.max(ops.where(keep, inputs, lowest), axis=1)
        return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="elmo_lib")
class TokenMask(keras.layers.Layer):
    """``ids != 0``: the bool ``[batch, time]`` mask of padded word ids (0 = padding).

    Example:
        >>> TokenMask()(keras.ops.convert_to_tensor([[5, 2, 0]]))  # [[True, True, False]]

    Introduced in lesson 06 (the mask of the ELMo mix's per-sentence layer norm).
    """

    def call(self, inputs):
        return ops.not_equal(inputs, 0)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="bool")


@dataclass
class TaskConfig:
    """Sizes and training of the task model (baseline and ELMo + baseline share every field).
    ValueError: a size, count or dropout out of range, fewer than 2 classes, an unknown
    ``elmo_mix``. Lesson 06 (its ``TAGGER`` and ``CLASSIFIER``)."""

    # the task's own word vectors (random init, trained with the task): the baseline's input.
    embedding_dim: int = 100
    # BiLSTM units per direction over [word vector; ELMo vector].
    lstm_units: int = 64
    # dropout on the word vectors and on the pooled sentence vector.
    dropout: float = 0.3
    # dropout on the mixed ELMo vector ("a moderate amount of dropout", paper sec. 3.3).
    elmo_dropout: float = 0.5
    # normalise each biLM layer (per sentence) before mixing: puts ELMo on the scale of the
    # word vectors, so Adam trains both at one learning rate.
    layer_norm: bool = True
    # L2 on the mix's layer weights s (paper sec. 3.3: lambda ||w||^2); 0 = off.
    mix_l2: float = 0.0
    # also concatenate ELMo to the BiLSTM's output, with a second scalar mix of its own
    # ("scalar_mix_output"; paper sec. 3.3: "include ELMo at the output of the task RNN").
    # Models without ELMo (the baseline, elmo_shape=None) have nothing to add and ignore it.
    elmo_at_output: bool = False
    # how ELMo's layers are combined (the paper's ablation, sec. 5.1-5.2): "learned" (trainable
    # softmax(s) and gamma, eq. 1), "average" (fixed equal weights, gamma 1) or "top" (the top
    # biLM layer only, the choice of earlier work). Models without ELMo ignore it.
    elmo_mix: str = "learned"
    # output classes (a softmax; 2 for SST-2, 17 UPOS tags for tagging).
    n_classes: int = 2
    learning_rate: float = 1e-3
    batch_size: int = 32
    # at most this many passes over the training set; early stopping on dev accuracy.
    epochs: int = 20
    patience: int = 4
    # words seen fewer times in the training set share the OOV vector.
    min_count: int = 1

    def __post_init__(self):
        for name in ("embedding_dim", "lstm_units", "n_classes", "batch_size", "epochs",
                     "patience", "min_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, received {name}={value!r}")
        for name in ("dropout", "elmo_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), received {name}={getattr(self, name)!r}")
        if self.n_classes < 2:
            raise ValueError(f"`n_classes` must be at least 2, received n_classes={self.n_classes}")
        if self.elmo_mix not in ELMO_MIXES:
            raise ValueError(f"`elmo_mix` must be one of {ELMO_MIXES}, received "
                             f"elmo_mix={self.elmo_mix!r}")

    def replace(self, **changes) -> TaskConfig:
        return dataclasses.replace(self, **changes)


def elmo_mix_layer(config: TaskConfig, n_layers: int, name: str = "scalar_mix") -> ScalarMix:
    """The :class:`ScalarMix` that ``config.elmo_mix`` asks for: ``"learned"`` (trainable
    ``softmax(s)`` and ``gamma``), ``"average"`` (fixed ``s = 0``, ``gamma = 1``) or ``"top"`` (fixed
    ``s = [-30, ..., -30, 0]``: the top layer's weight is 1 - 1e-13 per lower layer). All three
    layer-normalise as ``config.layer_norm`` says. The paper's ablation, sec. 5.1. Lesson 06."""
    fixed = config.elmo_mix != "learned"
    initial = [-30.0] * (n_layers - 1) + [0.0] if config.elmo_mix == "top" else None
    return ScalarMix(n_layers, layer_norm=config.layer_norm, l2_coefficient=config.mix_l2,
                     trainable_weights_fixed=fixed, initial_scalar_parameters=initial, name=name)


def build_task_model(config: TaskConfig, vocab_size: int,
                     elmo_shape: tuple[int, int] | None = None,
                     word_vectors: np.ndarray | None = None, *, tagging: bool = False) -> keras.Model:
    """The task model, compiled: word vectors [+ ELMo] -> BiLSTM -> a softmax per token (tagging)
    or masked max pool -> softmax (sentence classification).

    Args:
        config: a :class:`TaskConfig`.
        vocab_size: rows of the word-embedding table (the largest task word id + 1).
        elmo_shape: ``(L + 1, 2P)`` of the cached biLM layers to add ELMo (inputs ``"elmo"``
            ``[batch, time, L + 1, 2P]``), mixed as ``config.elmo_mix`` says; ``None`` builds the
            baseline.
        word_vectors: optional float ``[vocab_size, embedding_dim]`` initial word vectors (e.g.
            :meth:`elmo_lib.static.StaticVectors.embedding_matrix`, the paper's GloVe role),
            trained with the task; ``None``: Keras' random initialisation.
        tagging: one softmax per token (outputs ``[batch, time, n_classes]``, accuracy weighted by
            the dataset's token weights, see :func:`task_dataset`) instead of one per sentence
            (``[batch, n_classes]``).

    Returns:
        a compiled ``keras.Model`` with inputs ``{"word_ids"[, "elmo"]}`` and class probabilities.
        ELMo's ``ScalarMix`` is the layer named ``"scalar_mix"`` (with ``config.elmo_at_output``,
        the output's own mix is ``"scalar_mix_output"``).

    Raises:
        ValueError: ``elmo_shape`` is not two positive integers; ``word_vectors`` is not
            ``[vocab_size, embedding_dim]`` or not finite.

    Reference: Peters et al. 2018, sec. 3.3 (ELMo concatenated to the task model's word vectors).
    Introduced in lesson 06 (which writes the same model out in plain Keras).
    """
    if elmo_shape is not None:
        parts = list(elmo_shape) if isinstance(elmo_shape, (tuple, list, np.ndarray)) else []
        if len(parts) != 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                                      and n > 0 for n in parts):
            raise ValueError(f"`elmo_shape` must be (L + 1, 2P), two positive integers (the "
                             f"cached layers and their width), received {elmo_shape!r}")
        elmo_shape = tuple(int(n) for n in parts)
    if word_vectors is not None and np.shape(word_vectors) != (vocab_size, config.embedding_dim):
        raise ValueError(f"`word_vectors` must be [vocab_size, embedding_dim] = "
                         f"[{vocab_size}, {config.embedding_dim}], received {np.shape(word_vectors)}")
    if word_vectors is not None and not np.all(np.isfinite(word_vectors)):
        raise ValueError("`word_vectors` holds NaN or infinite values")
    word_ids = keras.Input((None,), dtype="int32", name="word_ids")
    inputs = {"word_ids": word_ids}
    embedding = keras.layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True,
                                       name="word_embedding")
    words = embedding(word_ids)
    if word_vectors is not None:
        embedding.set_weights([np.asarray(word_vectors, np.float32)])
    h = keras.layers.Dropout(config.dropout, name="word_dropout")(words)
    if elmo_shape is not None:
        n_layers, dim = elmo_shape
        inputs["elmo"] = keras.Input((None, n_layers, dim), name="elmo")
        mask = TokenMask(name="token_mask")(word_ids)
        layers = keras.layers.Permute((2, 1, 3), name="layers_first")(inputs["elmo"])

        def elmo(suffix):  # one task-specific ELMo vector per token: its own mix and dropout
            mix = elmo_mix_layer(config, n_layers, name="scalar_mix" + suffix)
            return keras.layers.Dropout(config.elmo_dropout,
                                        name="elmo_dropout" + suffix)(mix(layers, mask=mask))

        h = keras.layers.Concatenate(name="word_and_elmo")([h, elmo("")])
    h = keras.layers.Bidirectional(keras.layers.LSTM(config.lstm_units, return_sequences=True),
                                   name="bilstm")(h)
    if elmo_shape is not None and config.elmo_at_output:
        h = keras.layers.Concatenate(name="bilstm_and_elmo")([h, elmo("_output")])
    if not tagging:
        h = MaskedMaxPooling1D(name="max_pool")(h)
    h = keras.layers.Dropout(config.dropout, name="pooled_dropout" if not tagging
                             else "token_dropout")(h)
    outputs = keras.layers.Dense(config.n_classes, activation="softmax", name="classes")(h)
    name = ("elmo_" if elmo_shape else "") + ("tagger" if tagging else "task_model")
    model = keras.Model(inputs, outputs, name=name)
    metrics = {"weighted_metrics" if tagging else "metrics": ["accuracy"]}
    model.compile(keras.optimizers.Adam(config.learning_rate), "sparse_categorical_crossentropy",
                  **metrics)
    return model


def _is_tagger(model: keras.Model) -> bool:
    return len(model.outputs[0].shape) == 3


def predict_proba(model: keras.Model, data: TaskData, *,
                  batch_size: int = 128) -> np.ndarray | list[np.ndarray]:
    """Class probabilities in the order of ``data`` (batched by length, no dropout): float32
    ``[sentences, classes]`` for a sentence classifier, or, for a tagger, one float32 ``[tokens,
    classes]`` array per sentence. ValueError: ``data`` unlike the model's inputs (its cache's
    ``(L + 1, 2P)``, word ids past the embedding, sentence labels for a tagger or token labels
    for a classifier), or as :func:`task_dataset`. Lesson 06."""
    use_elmo = "elmo" in model.input
    if use_elmo and data.cache is not None:
        _check_cache(data, tuple(model.input["elmo"].shape[2:]), "data")
    if "word_embedding" in [layer.name for layer in model.layers]:
        _check_vocab(data, model.get_layer("word_embedding").input_dim, "data")
    tagging = _is_tagger(model)
    dataset, order = task_dataset(data, batch_size, use_elmo=use_elmo, token_level=tagging)
    if not tagging:
        probabilities = np.concatenate([np.asarray(model(x, training=False)) for x, _ in dataset])
        out = np.empty_like(probabilities)
        out[order] = probabilities
        return out
    per_sentence = [None] * len(data)
    rows = iter(order)
    for x, *_ in dataset:
        batch = np.asarray(model(x, training=False))
        for b in range(len(batch)):
            i = next(rows)
            per_sentence[i] = batch[b, :len(data.word_ids[i])]
    return per_sentence


def correct_counts(model: keras.Model, data: TaskData) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence of ``data``: ``(correct, counted)``, two int64 ``[sentences]`` arrays. A
    sentence classifier: 1 or 0 correct of 1; a tagger: correct tokens of the sentence's tokens.
    ``correct.sum() / counted.sum()`` is the accuracy; the pair is what a paired bootstrap over
    sentences resamples (:func:`elmo_lib.comparison.paired_bootstrap`). Errors as
    :func:`predict_proba`. Lesson 06."""
    probabilities = predict_proba(model, data)
    if not _is_tagger(model):
        correct = (probabilities.argmax(-1) == np.asarray(data.labels)).astype(np.int64)
        return correct, np.ones(len(data), np.int64)
    correct = np.array([int(np.sum(p.argmax(-1) == t)) for p, t in zip(probabilities, data.labels)],
                       np.int64)
    return correct, np.array([len(t) for t in data.labels], np.int64)


def accuracy(model: keras.Model, data: TaskData) -> float:
    """Fraction of sentences (a tagger: of tokens) whose most probable class is the label, a float
    in [0, 1]; errors as :func:`predict_proba`."""
    correct, counted = correct_counts(model, data)
    return float(correct.sum() / max(counted.sum(), 1))


def train_task_model(config: TaskConfig, train: TaskData, dev: TaskData, *, use_elmo: bool,
                     seed: int = 0, vocab_size: int | None = None,
                     steps_per_epoch: int | None = None, word_vectors: np.ndarray | None = None,
                     model: keras.Model | None = None, verbose: int = 0) -> tuple[keras.Model, dict]:
    """Train one task model (baseline, or ELMo + baseline) with early stopping on dev accuracy.

    Sentence labels train a classifier, token labels a tagger (:func:`build_task_model`'s
    ``tagging``). Training stops when dev accuracy has not improved for ``config.patience`` epochs
    and keeps the best epoch's weights: dev selects, test is never seen here.

    Args:
        config: the :class:`TaskConfig`.
        train, dev: :class:`TaskData` (with ``cache`` when ``use_elmo``), both labelled per
            sentence or both per token.
        use_elmo: concatenate ELMo (``config.elmo_mix`` over the cached layers) to the word vectors.
        seed: weights, dropout and batch order.
        vocab_size: word-embedding rows (default: the largest id in ``train`` + 1).
        steps_per_epoch: batches between dev checks (default: one pass, ``ceil(N / batch_size)``;
            more for a tiny training set, so an "epoch" is not a handful of steps).
        word_vectors: initial word vectors ``[vocab_size, embedding_dim]`` (see
            :func:`build_task_model`); ``None``: random.
        model: a model this function returned for the same config, ``use_elmo``, vocabulary and
            label level (another seed; anything else is refused): it is given this seed's fresh
            state (weights as a new build would draw them, dropout seeds, a zeroed optimizer) and
            trained again, which skips re-tracing TensorFlow's train and test steps (about 5 s a
            run on 2 CPU cores).
        verbose: ``fit`` verbosity.

    Returns:
        ``(model, info)``; ``info``: ``dev_accuracy`` (best epoch), ``epochs`` (run),
        ``best_epoch`` (1-based), ``seconds``, ``history`` (per-epoch lists).

    Raises:
        ValueError: ``train`` or ``dev`` empty, or labelled at different levels, or with a label
            ``>= n_classes`` or a word id ``>= vocab_size``; ``steps_per_epoch`` not a positive
            int; ``use_elmo`` without a cache on both, or with caches of different ``(L + 1,
            2P)``; ``model`` built for another configuration (layers, sizes, dropout, layer norm,
            learning rate).

    Introduced in lesson 06 (baseline vs ELMo + baseline over seeds, tagging and sentiment).
    """
    tagging = train.token_level
    for name, split in (("train", train), ("dev", dev)):
        if not len(split):
            raise ValueError(f"`{name}` must hold labelled sentences, received 0 sentences")
        if split.token_level != tagging:
            raise ValueError(f"`train` is labelled per {'token' if tagging else 'sentence'} but "
                             f"`{name}` per {'token' if split.token_level else 'sentence'}")
        top = (max((int(np.max(t)) for t in split.labels if len(t)), default=0) if tagging
               else int(np.max(split.labels)))
        if top >= config.n_classes:
            raise ValueError(f"`{name}` has label {top}, but config.n_classes="
                             f"{config.n_classes} allows 0 .. {config.n_classes - 1}")
    if steps_per_epoch is not None:  # 0 would fall back to one pass, -1 train forever
        _check_positive_ints(steps_per_epoch=steps_per_epoch)
    if use_elmo and (train.cache is None or dev.cache is None):
        raise ValueError("use_elmo=True needs TaskData.cache on train and dev "
                         "(from elmo_lib.cache.cache_layers)")
    keras.utils.set_random_seed(seed)
    if vocab_size is None and word_vectors is not None:
        vocab_size = len(word_vectors)
    if vocab_size is None:
        vocab_size = max((int(w.max()) for w in train.word_ids if len(w)), default=OOV_ID) + 1
    for name, split in (("train", train), ("dev", dev)):
        _check_vocab(split, vocab_size, name)
    elmo_shape = (train.cache.n_layers, train.cache.dim) if use_elmo else None
    if use_elmo:
        _check_cache(dev, elmo_shape, "dev")
    fresh = build_task_model(config, vocab_size, elmo_shape, word_vectors, tagging=tagging)
    if model is None:
        model = fresh
    else:
        _start_again(model, fresh)
    train_ds, _ = task_dataset(train, config.batch_size, use_elmo=use_elmo, shuffle_seed=seed,
                               token_level=tagging)
    dev_ds, _ = task_dataset(dev, 128, use_elmo=use_elmo, token_level=tagging)
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=config.patience, mode="max",
                                         restore_best_weights=True)
    start = time.perf_counter()
    steps = steps_per_epoch or -(-len(train) // config.batch_size)
    history = model.fit(train_ds, validation_data=dev_ds, epochs=config.epochs,
                        steps_per_epoch=steps, callbacks=[stop], verbose=verbose, shuffle=False)
    scores = history.history["val_accuracy"]
    info = {"dev_accuracy": float(max(scores)), "epochs": len(scores),
            "best_epoch": int(np.argmax(scores)) + 1, "seconds": time.perf_counter() - start,
            "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}}
    return model, info


def _check_vocab(data: TaskData, vocab_size: int, name: str) -> None:
    if (top := np.concatenate([np.zeros(1, np.int64), *data.word_ids]).max()) >= vocab_size:
        raise ValueError(f"`{name}` has word id {top}, but vocab_size={vocab_size}: encode every "
                         "split with the training vocabulary (vocab_size = its length + 2)")


def _check_cache(data: TaskData, elmo_shape: tuple, name: str) -> None:
    if (found := (data.cache.n_layers, data.cache.dim)) != tuple(elmo_shape):
        raise ValueError(f"`{name}`'s cache has (L + 1, 2P) = {found}, but the model reads "
                         f"{tuple(elmo_shape)}: cache every split with the same biLM")


def _start_again(model: keras.Model, fresh: keras.Model) -> None:
    """Give a trained ``model`` the state of ``fresh`` (the same architecture, just built): its
    weights, its dropout layers' seeds, and a zeroed optimizer (Adam's moments and step count;
    the learning rate stays). The compiled train/test steps are kept."""
    def learning_rate(m):
        return float(keras.ops.convert_to_numpy(m.optimizer.learning_rate))

    def settings(m):  # every layer's config without the names Keras numbers per build
        def strip(value):
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k != "name"}
            return [strip(v) for v in value] if isinstance(value, (list, tuple)) else value
        return [(type(layer).__name__, strip(layer.get_config())) for layer in m.layers]

    shapes = [tuple(w.shape) for w in model.weights]
    if (shapes != [tuple(w.shape) for w in fresh.weights] or settings(model) != settings(fresh)
            or getattr(model, "optimizer", None) is None
            or not np.isclose(learning_rate(model), learning_rate(fresh))):
        raise ValueError("`model` was built for another configuration than this call's (layers, "
                         "sizes, dropout, layer norm or learning rate): pass a model "
                         "train_task_model returned for the same config, vocab_size and use_elmo")
    model.set_weights(fresh.get_weights())
    for layer, new in zip(model.layers, fresh.layers):
        for name, value in vars(layer).items():
            if isinstance(value, keras.random.SeedGenerator):
                value.state.assign(getattr(new, name).state)
    for variable in model.optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(ops.zeros(variable.shape, variable.dtype))


def mix_weights(model: keras.Model, name: str = "scalar_mix") -> tuple[np.ndarray, float]:
    """``(softmax(s), gamma)`` of the model's ``ScalarMix`` named ``name``: float64 ``[L + 1]``
    layer weights summing to 1 and a float (paper eq. 1; AllenNLP's ``ScalarMix`` normalises the
    same way). ValueError (Keras): no layer ``name``, e.g. a baseline. Lesson 06, section 10."""
    mix = model.get_layer(name)
    s = np.asarray(keras.ops.convert_to_numpy(mix.scalar_parameters), np.float64)
    weights = np.exp(s - s.max())
    return weights / weights.sum(), float(keras.ops.convert_to_numpy(mix.gamma))

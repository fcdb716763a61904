"""The building blocks of the biLM and of ELMo, as serializable Keras 3 layers.

- ``Highway``   one highway layer (Srivastava et al., 2015), bilm-tf's carry/transform convention
- ``CharCNN``   character embedding -> convolutions of several widths -> max-pool -> highway -> projection
- ``LSTMP``     LSTM with a projection and clipping, one direction (defined in ``elmo_lib.lstm``)
- ``LMSoftmax`` the softmax shared by both directions: full logits and a sampled-softmax loss
- ``ScalarMix`` ELMo's task-specific weighted sum of layers (Peters et al., 2018, eq. 1)

Lessons 03 (the biLM) and 05 (ELMo) introduce them. Maths is written with ``keras.ops``;
the LSTM recurrence (``elmo_lib.lstm``) is a ``tf.while_loop`` with a hand-written gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops

from elmo_lib import text
from elmo_lib.lstm import LSTMP, _check_positive, run_lstmps  # noqa: F401  (re-exported)

_ACTIVATIONS = ("relu", "tanh")


def set_trainable(layer: keras.layers.Layer, trainable: bool) -> None:
    """Set ``trainable`` on ``layer``, every sublayer (at any depth) and their weights.

    ``layer.trainable = value`` does this in Keras 3, except that with the TensorFlow backend an
    assignment of the value a layer already holds is skipped before the setter runs (the tracking
    ``__setattr__`` short-circuits ``self.x = self.x``), so it does not reach the sublayers. A
    composite layer restored from its config (``from_config``, ``.keras`` loading) gets
    ``trainable=False`` from its config on itself while its sublayers, made afterwards in
    ``__init__``, start trainable: that unfroze a frozen biLM on reload (the TF Hub ELMo layer's
    known failure, strongio/keras-elmo#3). Every composite layer of ``elmo_lib`` calls this at the
    end of ``__init__`` when it is frozen. Introduced in lesson 05.

    Args:
        layer: any Keras layer or model.
        trainable: the value to set.
    """
    setter = keras.layers.Layer.trainable.fset
    stack = [layer]
    while stack:
        current = stack.pop()
        setter(current, bool(trainable))  # also sets the layer's own variables' flag
        stack.extend(getattr(current, "_layers", []))


@keras.saving.register_keras_serializable(package="elmo_lib")
class Highway(keras.layers.Layer):
    """One highway layer: ``y = t * relu(W_h x + b_h) + (1 - t) * x`` with ``t = sigmoid(W_t x + b_t)``.

    The gate ``t`` multiplies the transform branch; its bias starts at ``gate_bias_init`` (-2 in
    bilm-tf), so a fresh layer mostly carries its input through. In bilm-tf weight files the gate is
    stored as ``W_carry``/``b_carry`` and the transform as ``W_transform``/``b_transform``.

    Args:
        gate_bias_init: initial value of the gate bias ``b_t``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: float tensor ``[..., D]``.

    Returns:
        Tensor of the same shape as ``inputs``.

    Example:
        >>> y = Highway()(keras.ops.ones((2, 8)))

    Reference: Srivastava et al. 2015, *Highway Networks*; Kim et al. 2016, sec. 3.
    Introduced in lesson 03.
    """

    def __init__(self, gate_bias_init: float = -2.0, **kwargs):
        super().__init__(**kwargs)
        self.gate_bias_init = float(gate_bias_init)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError("Highway needs a known last dimension, received input_shape="
                             f"{input_shape}")
        self.transform_kernel = self.add_weight(name="transform_kernel", shape=(dim, dim),
                                                initializer="glorot_uniform")
        self.transform_bias = self.add_weight(name="transform_bias", shape=(dim,),
                                              initializer="zeros")
        self.gate_kernel = self.add_weight(name="gate_kernel", shape=(dim, dim),
                                           initializer="glorot_uniform")
        self.gate_bias = self.add_weight(
            name="gate_bias", shape=(dim,),
            initializer=keras.initializers.Constant(self.gate_bias_init))

    def call(self, inputs):
        gate = ops.sigmoid(ops.matmul(inputs, self.gate_kernel) + self.gate_bias)
        transform = ops.relu(ops.matmul(inputs, self.transform_kernel) + self.transform_bias)
        return gate * transform + (1.0 - gate) * inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "gate_bias_init": self.gate_bias_init}


@keras.saving.register_keras_serializable(package="elmo_lib")
class CharCNN(keras.layers.Layer):
    """Character-level token embedder of the biLM (bilm-tf's ``char_cnn``).

    ``Embedding(n_characters, embedding_dim)`` -> for each ``(width, n_filters)`` a 1-D convolution
    over the character axis (valid padding) -> max over positions -> activation -> concatenation ->
    ``n_highway`` ``Highway`` layers -> linear projection to ``projection_dim``.

    Character ids follow ``elmo_lib.text`` (every id +1, 0 = no token). A token that is all zeros is
    padding: its output is zeros.

    Speed (same maths, measured ~5x faster on the ``small`` preset): :meth:`token_vectors` runs the
    CNN once per *distinct* token of the batch (unique rows, then a gather back), and only over the
    first ``L`` character slots, ``L`` = the longest token of the batch + (widest filter - 1),
    rounded up to a multiple of 8 (at most ``max_characters_per_token``). Past a token's last
    non-PAD slot every window sees only PAD, and all such windows of a filter have the same value;
    the max over positions is therefore restored exactly as ``max(max over computed windows, that
    constant)`` for tokens that have such a window in the full width. Under XLA (e.g. a trainer
    compiled with ``jit_compile=True``) the dynamic shapes are not allowed, so the plain
    computation (:meth:`token_vectors_reference`) runs instead.

    Args:
        filters: sequence of ``(width, n_filters)`` pairs.
        n_highway: number of highway layers.
        projection_dim: output size; ``None`` skips the projection.
        embedding_dim: size of a character embedding.
        activation: ``"relu"`` or ``"tanh"``, applied after the max-pool.
        max_characters_per_token: character slots per token (the last input axis).
        n_characters: rows of the character embedding (262 for the bilm-tf scheme).

    Call arguments:
        inputs: int tensor ``[batch, tokens, max_characters_per_token]``.

    Returns:
        float tensor ``[batch, tokens, projection_dim]``.

    Example:
        >>> cnn = CharCNN(filters=[(1, 4), (2, 4)], n_highway=1, projection_dim=8)
        >>> vectors = cnn(text.char_ids([["hello", "world"]]))  # [1, 2, 8]

    Reference: Kim et al. 2016, *Character-Aware Neural Language Models*; Peters et al. 2018, sec. 3.
    Introduced in lesson 03.
    """

    def __init__(self, filters: Sequence[Sequence[int]] = ((1, 32), (2, 32), (3, 64)),
                 n_highway: int = 1, projection_dim: int | None = 128, embedding_dim: int = 16,
                 activation: str = "relu",
                 max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN,
                 n_characters: int = text.N_CHARACTERS, **kwargs):
        super().__init__(**kwargs)
        filters = [tuple(int(v) for v in pair) for pair in filters]
        if not filters or any(len(pair) != 2 or min(pair) <= 0 for pair in filters):
            raise ValueError("`filters` must be a non-empty list of (width, n_filters) pairs of "
                             f"positive integers, received filters={filters!r}")
        if max(width for width, _ in filters) > max_characters_per_token:
            raise ValueError(f"a filter width in filters={filters!r} exceeds "
                             f"max_characters_per_token={max_characters_per_token}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {_ACTIVATIONS}, received "
                             f"activation={activation!r}")
        if not isinstance(n_highway, int) or n_highway < 0:
            raise ValueError(f"`n_highway` must be an integer >= 0, received n_highway={n_highway!r}")
        if projection_dim is not None:
            _check_positive("projection_dim", projection_dim)
        _check_positive("embedding_dim", embedding_dim)
        _check_positive("max_characters_per_token", max_characters_per_token)
        _check_positive("n_characters", n_characters)
        self.filters = filters
        self.n_highway = n_highway
        self.projection_dim = projection_dim
        self.embedding_dim = embedding_dim
        self.activation = activation
        self.max_characters_per_token = max_characters_per_token
        self.n_characters = n_characters
        self.n_filters_total = sum(n for _, n in filters)
        self.char_embedding = keras.layers.Embedding(n_characters, embedding_dim,
                                                     name="char_embedding")
        self.convolutions = [
            keras.layers.Conv1D(n, width, padding="valid", name=f"conv_{i}")
            for i, (width, n) in enumerate(filters)
        ]
        self.highways = [Highway(name=f"highway_{k}") for k in range(n_highway)]
        self.projection = (keras.layers.Dense(projection_dim, name="projection")
                           if projection_dim is not None else None)
        if not self.trainable:  # from a config: the sublayers above start trainable
            set_trainable(self, False)

    @property
    def output_dim(self) -> int:
        return self.projection_dim if self.projection_dim is not None else self.n_filters_total

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] not in (None, self.max_characters_per_token):
            raise ValueError("CharCNN expects char ids of shape [batch, tokens, "
                             f"{self.max_characters_per_token}], received input_shape={input_shape}")
        chars = self.max_characters_per_token
        self.char_embedding.build((None, chars))
        # Row 0 is the "no token" id: start it at zeros, as in the bilm-tf/AllenNLP layout.
        table = self.char_embedding.embeddings
        table.assign(ops.concatenate([ops.zeros((1, self.embedding_dim), table.dtype), table[1:]]))
        for conv in self.convolutions:
            conv.build((None, chars, self.embedding_dim))
        for highway in self.highways:
            highway.build((None, self.n_filters_total))
        if self.projection is not None:
            self.projection.build((None, self.n_filters_total))

    @staticmethod
    def _in_xla_context() -> bool:
        """True while tracing a function that XLA will compile (dynamic shapes not allowed)."""
        from tensorflow.python.ops import control_flow_util  # no public equivalent in TF 2.21

        return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())

    def _finish(self, pooled):
        """Activation -> concatenation -> highways -> projection, from max-pooled features."""
        pooled = [ops.relu(p) if self.activation == "relu" else ops.tanh(p) for p in pooled]
        x = ops.concatenate(pooled, axis=-1) if len(pooled) > 1 else pooled[0]
        for highway in self.highways:
            x = highway(x)
        if self.projection is not None:
            x = self.projection(x)
        return x

    def token_vectors_reference(self, flat_char_ids):
        """The plain computation over all character slots (the definition; used under XLA)."""
        embedded = self.char_embedding(flat_char_ids)  # [N, C, E]
        return self._finish([ops.max(conv(embedded), axis=1) for conv in self.convolutions])

    def token_vectors(self, flat_char_ids):
        """The embedding of each token in ``flat_char_ids`` ``[n_tokens, chars]`` (no masking).

        Equal to :meth:`token_vectors_reference` up to float rounding (see the class docstring).
        """
        pad_id = text.PAD_CHAR + 1
        if self._in_xla_context() or pad_id >= self.n_characters:
            return self.token_vectors_reference(flat_char_ids)
        chars = self.max_characters_per_token
        widest = max(width for width, _ in self.filters)
        flat_char_ids = tf.convert_to_tensor(flat_char_ids, tf.int32)
        # Length of a token = 1 + position of its last non-PAD slot (0 for an all-zero row).
        positions = tf.range(1, chars + 1, dtype=tf.int32)[None, :]
        lengths = tf.reduce_max(tf.where(flat_char_ids == pad_id, 0, positions), axis=1)
        lengths = tf.where(tf.reduce_all(flat_char_ids == 0, axis=1), 0, lengths)
        # Slots that any non-constant window touches, bucketed to limit distinct shapes.
        kept = tf.reduce_max(tf.concat([lengths, [0]], axis=0)) + widest - 1
        kept = tf.minimum((tf.maximum(kept, widest) + 7) // 8 * 8, chars)
        # Distinct rows of the kept slots (identical there => identical tokens, as the rest is PAD).
        # One all-zero row is appended so that a batch of 0 tokens still runs the convolutions on
        # one row (oneDNN returns wrong shapes for an empty batch).
        kept_ids = tf.concat([flat_char_ids[:, :kept], tf.zeros((1, kept), tf.int32)], axis=0)
        unique = tf.raw_ops.UniqueV2(x=kept_ids, axis=[0])
        unique_lengths = tf.math.unsorted_segment_max(tf.concat([lengths, [0]], axis=0),
                                                      unique.idx, tf.shape(unique.y)[0])
        embedded = self.char_embedding(unique.y)  # [U, kept, E]
        pooled = []
        for (width, _), conv in zip(self.filters, self.convolutions):
            features = tf.reduce_max(conv(embedded), axis=1)  # ops.max rejects 0 tokens
            # The value of an all-PAD window, present in the full width iff chars - length >= width.
            all_pad = conv(self.char_embedding(tf.fill((1, width), pad_id)))[0, 0]
            has_all_pad = (chars - unique_lengths >= width) & (unique_lengths > 0)
            pooled.append(ops.where(has_all_pad[:, None], ops.maximum(features, all_pad),
                                    features))
        return ops.take(self._finish(pooled), unique.idx[:-1], axis=0)

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        shape = ops.shape(inputs)
        # Reshape [B, T, C] -> [B*T, C] by hand: TimeDistributed mis-handles a dynamic time axis.
        flat = ops.reshape(inputs, (-1, self.max_characters_per_token))
        vectors = self.token_vectors(flat)
        vectors = ops.reshape(vectors, (shape[0], shape[1], self.output_dim))
        mask = ops.cast(ops.any(inputs > 0, axis=-1), vectors.dtype)
        return vectors * mask[..., None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": [list(pair) for pair in self.filters],
            "n_highway": self.n_highway,
            "projection_dim": self.projection_dim,
            "embedding_dim": self.embedding_dim,
            "activation": self.activation,
            "max_characters_per_token": self.max_characters_per_token,
            "n_characters": self.n_characters,
        }


@keras.saving.register_keras_serializable(package="elmo_lib")
class LMSoftmax(keras.layers.Layer):
    """The output softmax of the biLM, shared by the forward and backward directions.

    ``logits = h W^T + b`` with ``W`` of shape ``[vocab_size, dim]`` (bilm-tf's layout). Training
    uses :meth:`sampled_loss` (sampled softmax, Jean et al. 2015, with log-uniform candidates as
    ``tf.nn.log_uniform_candidate_sampler``); evaluation uses :meth:`call`, the full softmax.

    Args:
        vocab_size: number of output tokens (ids sorted by descending frequency, as the log-uniform
            sampler assumes).
        num_sampled: candidates drawn per training step, shared by all positions of the batch.
        seed: seed of the candidate sampler.

    Call arguments:
        inputs: float tensor ``[..., dim]``.

    Returns:
        full-softmax logits ``[..., vocab_size]``.

    Example:
        >>> sm = LMSoftmax(vocab_size=10, num_sampled=4)
        >>> logits = sm(keras.ops.ones((2, 3, 8)))  # [2, 3, 10]

    Reference: Jean et al. 2015, *On Using Very Large Target Vocabulary*; Peters et al. 2018,
    sec. 3. Introduced in lesson 03.
    """

    def __init__(self, vocab_size: int, num_sampled: int = 1024, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        _check_positive("vocab_size", vocab_size)
        _check_positive("num_sampled", num_sampled)
        self.vocab_size = vocab_size
        self.num_sampled = num_sampled
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(self.vocab_size, dim),
                                      initializer=keras.initializers.RandomNormal(
                                          stddev=1.0 / math.sqrt(dim)))
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")

    def call(self, inputs):
        return ops.matmul(inputs, ops.transpose(self.kernel)) + self.bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.vocab_size,)

    def log_uniform_log_probability(self, ids):
        """``log P(k)`` of the log-uniform (Zipfian) sampler: ``P(k) = log((k+2)/(k+1)) / log(V+1)``."""
        ids = ops.cast(ids, "float32")
        return ops.log(ops.log((ids + 2.0) / (ids + 1.0)) / math.log(self.vocab_size + 1.0))

    def sample_candidates(self):
        """Draw ``num_sampled`` ids from the log-uniform distribution (with replacement)."""
        uniform = keras.random.uniform((self.num_sampled,), seed=self.seed_generator)
        ids = ops.floor(ops.exp(uniform * math.log(self.vocab_size + 1.0))) - 1.0
        return ops.cast(ops.clip(ids, 0, self.vocab_size - 1), "int32")

    def sampled_loss(self, hidden, labels, mask=None):
        """Mean sampled-softmax cross-entropy over the positions where ``mask`` is 1.

        Logits of the true token and of the sampled candidates are corrected by
        ``-log(expected count)``; a candidate equal to the true token ("accidental hit") is removed.
        It is not the full-softmax cross-entropy: it equals roughly the full loss shifted by
        ``log(num_sampled * Q(target))`` and so can sit below or above it depending on
        ``num_sampled`` (lesson 03 measures this). Use it to train, and the full softmax
        (:meth:`full_loss`) for perplexity (lesson 04).

        Args:
            hidden: ``[batch, time, dim]``.
            labels: int ``[batch, time]`` target ids.
            mask: optional ``[batch, time]`` weights (1 = real position).

        Returns:
            scalar loss.
        """
        labels = ops.cast(labels, "int32")
        flat_hidden = ops.reshape(hidden, (-1, ops.shape(hidden)[-1]))
        flat_labels = ops.reshape(labels, (-1,))
        sampled = self.sample_candidates()
        log_expected = math.log(self.num_sampled)
        true_w = ops.take(self.kernel, flat_labels, axis=0)
        true_logit = (ops.sum(flat_hidden * true_w, axis=-1) + ops.take(self.bias, flat_labels)
                      - (self.log_uniform_log_probability(flat_labels) + log_expected))
        sampled_logits = (ops.matmul(flat_hidden, ops.transpose(ops.take(self.kernel, sampled, axis=0)))
                          + ops.take(self.bias, sampled)
                          - (self.log_uniform_log_probability(sampled) + log_expected))
        hits = ops.equal(flat_labels[:, None], sampled[None, :])
        sampled_logits = ops.where(hits, ops.full_like(sampled_logits, -1e9), sampled_logits)
        logits = ops.concatenate([true_logit[:, None], sampled_logits], axis=-1)
        losses = ops.logsumexp(logits, axis=-1) - true_logit
        if mask is None:
            return ops.mean(losses)
        weights = ops.cast(ops.reshape(mask, (-1,)), losses.dtype)
        return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)

    def token_losses(self, hidden, labels):
        """Full-softmax cross-entropy (nats) of every position: ``logsumexp(logits) - logit[label]``.

        Same value as ``sparse_categorical_crossentropy(from_logits=True)``, but it does not
        materialize the softmax probabilities (which only a gradient needs): about 30% faster on
        the 33,280-word WikiText-2 vocabulary on 2 CPU cores, and perplexity evaluation is mostly
        this.

        Args:
            hidden: ``[..., dim]``.
            labels: int ``[...]`` target ids.

        Returns:
            float ``[...]``.
        """
        logits = self(hidden)
        labels = ops.cast(labels, "int32")
        true_logit = ops.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
        return ops.logsumexp(logits, axis=-1) - true_logit

    def full_loss(self, hidden, labels, mask=None):
        """Mean full-softmax cross-entropy (nats) over the positions where ``mask`` is 1."""
        losses = self.token_losses(hidden, labels)
        if mask is None:
            return ops.mean(losses)
        weights = ops.cast(mask, losses.dtype)
        return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "num_sampled": self.num_sampled, "seed": self.seed}


@keras.saving.register_keras_serializable(package="elmo_lib")
class ScalarMix(keras.layers.Layer):
    """ELMo's scalar mix: ``gamma * sum_j softmax(s)_j * h_j`` (Peters et al. 2018, eq. 1).

    ``s`` starts at zeros (an equal average) and ``gamma`` at 1. These are the "4 trainable
    parameters" of the TF Hub ELMo (3 layer weights + gamma): train them with your task.

    Args:
        num_layers: number of layers mixed.
        layer_norm: normalise each layer (masked mean/variance over all its non-padding values)
            before mixing, like AllenNLP's ``do_layer_norm`` but with the mean and variance taken
            per sentence (AllenNLP pools them over the whole batch), so a sentence's vectors do
            not depend on what else is in the batch.
        l2_coefficient: if > 0, adds ``l2_coefficient * sum(s**2)`` to the layer's losses.
        trainable_weights_fixed: if True, ``s`` and ``gamma`` are constants (a fixed average).
        initial_scalar_parameters: optional initial ``s`` (length ``num_layers``).

    Call arguments:
        inputs: list of ``num_layers`` tensors ``[batch, time, dim]`` or one ``[batch, layers, time,
            dim]`` tensor.
        mask: optional ``[batch, time]`` (required for ``layer_norm`` to ignore padding).

    Returns:
        ``[batch, time, dim]``.

    Example:
        >>> mix = ScalarMix(3)
        >>> y = mix([keras.ops.ones((2, 4, 6))] * 3)

    Reference: Peters et al. 2018, sec. 3.2. Introduced in lesson 05.
    """

    def __init__(self, num_layers: int, layer_norm: bool = False, l2_coefficient: float = 0.0,
                 trainable_weights_fixed: bool = False,
                 initial_scalar_parameters: Sequence[float] | None = None, **kwargs):
        super().__init__(**kwargs)
        _check_positive("num_layers", num_layers)
        if l2_coefficient < 0:
            raise ValueError(f"`l2_coefficient` must be >= 0, received l2_coefficient={l2_coefficient}")
        if initial_scalar_parameters is not None and len(initial_scalar_parameters) != num_layers:
            raise ValueError(f"`initial_scalar_parameters` must have num_layers={num_layers} values, "
                             f"received {list(initial_scalar_parameters)}")
        self.num_layers = num_layers
        self.layer_norm = bool(layer_norm)
        self.l2_coefficient = float(l2_coefficient)
        self.trainable_weights_fixed = bool(trainable_weights_fixed)
        self.initial_scalar_parameters = (None if initial_scalar_parameters is None
                                          else [float(v) for v in initial_scalar_parameters])
        self.supports_masking = True

    def build(self, input_shape):
        init = (keras.initializers.Constant(self.initial_scalar_parameters)
                if self.initial_scalar_parameters is not None else "zeros")
        trainable = not self.trainable_weights_fixed
        self.scalar_parameters = self.add_weight(name="scalar_parameters",
                                                 shape=(self.num_layers,), initializer=init,
                                                 trainable=trainable)
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="ones",
                                     trainable=trainable)

    def _stack(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != self.num_layers:
                raise ValueError(f"ScalarMix(num_layers={self.num_layers}) received "
                                 f"{len(inputs)} layers")
            return ops.stack(inputs, axis=1)
        if len(inputs.shape) != 4 or inputs.shape[1] not in (None, self.num_layers):
            raise ValueError(f"ScalarMix(num_layers={self.num_layers}) expects a list of layers or "
                             f"[batch, {self.num_layers}, time, dim], received shape {inputs.shape}")
        return inputs

    @staticmethod
    def _masked_layer_norm(layers, mask):
        # layers [B, L, T, D]; statistics per (batch item, layer) over non-padding values.
        weights = ops.cast(mask, layers.dtype)[:, None, :, None]
        width = ops.cast(ops.shape(layers)[-1], layers.dtype)  # a tensor when unknown (Keras 3.3)
        count = ops.maximum(ops.sum(weights, axis=(2, 3), keepdims=True) * width, 1.0)
        mean = ops.sum(layers * weights, axis=(2, 3), keepdims=True) / count
        variance = ops.sum(ops.square((layers - mean) * weights), axis=(2, 3), keepdims=True) / count
        return (layers - mean) / ops.sqrt(variance + 1e-12)

    def call(self, inputs, mask=None):
        layers = self._stack(inputs)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.layer_norm:
            if mask is None:
                shape = ops.shape(layers)
                mask = ops.ones((shape[0], shape[2]), dtype="bool")
            layers = self._masked_layer_norm(layers, mask)
        weights = ops.softmax(self.scalar_parameters)
        mixed = self.gamma * ops.einsum("l,bltd->btd", weights, layers)
        if self.l2_coefficient > 0 and not self.trainable_weights_fixed:
            self.add_loss(self.l2_coefficient * ops.sum(ops.square(self.scalar_parameters)))
        return mixed

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0])
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers,
                "layer_norm": self.layer_norm, "l2_coefficient": self.l2_coefficient,
                "trainable_weights_fixed": self.trainable_weights_fixed,
                "initial_scalar_parameters": self.initial_scalar_parameters}

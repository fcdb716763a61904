"""The bidirectional language model (biLM) of ELMo, with bilm-tf's semantics.

- :class:`BiLMConfig`  every size of the model (mirrors bilm-tf's ``options.json``) and presets
- :class:`BiLMEncoder` char ids (or token ids) -> ``{"word_emb", "lstm_outputs1", ..., "mask"}``
- :class:`BiLMTrainer` encoder + shared softmax; sampled-softmax loss for both directions
- :func:`build_encoder` a functional Keras model around the encoder, for users and export

Introduced in lesson 03, trained in lesson 04.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import keras
from keras import ops

from elmo_lib import text
from elmo_lib.distribute import scale_loss_for_replicas
from elmo_lib.layers import CharCNN, LMSoftmax, set_trainable
from elmo_lib.lstm import LSTMP, positions_after_compaction, run_lstmps

_ORIGINAL_FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024))


@dataclass
class BiLMConfig:
    """All sizes of a biLM. Field names follow bilm-tf's ``options.json`` where it has them."""

    # --- character CNN (options["char_cnn"]) ---
    # (width, n_filters) per convolution: wider filters see longer morphemes.
    filters: tuple = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256))
    # highway layers after the convolutions: let the model mix n-gram features non-linearly.
    n_highway: int = 1
    # size of one character's embedding (16 in every published model).
    char_embedding_dim: int = 16
    # non-linearity after max-pooling ("relu" in the published models, "tanh" in Kim et al.).
    activation: str = "relu"
    # character slots per token: BOW + 48 bytes + EOW.
    max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN
    # rows of the char embedding: 256 bytes + 5 specials + the padding row 0.
    n_characters: int = text.N_CHARACTERS
    # --- LSTM (options["lstm"]) ---
    # LSTM cell size H: memory capacity per direction.
    lstm_dim: int = 1024
    # projection size P: the width of every layer's output per direction (ELMo vectors are 2P).
    projection_dim: int = 128
    # LSTM layers per direction (ELMo then has n_layers + 1 representation layers).
    n_layers: int = 2
    # clip the cell state and the projected output: keeps long-run activations bounded.
    cell_clip: float | None = 3.0
    proj_clip: float | None = 3.0
    # add each layer's input to its output after the first layer (residual connections).
    use_skip_connections: bool = True
    # --- inputs ---
    # "chars" (the char CNN, open vocabulary) or "words" (an embedding table over vocab ids).
    token_input: str = "chars"
    # vocab ids of <S> and </S> for token_input="words" (bilm-tf's own vocab files start
    # </S>, <S>, <UNK>, so read them from the vocabulary: Vocabulary.bos_id / eos_id).
    bos_token_id: int = 0
    eos_token_id: int = 1
    # --- training ---
    # output vocabulary size (the softmax rows): the LM predicts these tokens.
    vocab_size: int = 33_278
    # sampled-softmax candidates per step: a cheap estimate of the full softmax gradient.
    num_sampled: int = 1024
    # dropout on every LSTM layer's input during training.
    dropout: float = 0.1
    # tokens per training window (truncated back-propagation length).
    unroll_steps: int = 20
    # carry the LSTM state from each training batch into the next, as bilm-tf (rows of a batch
    # are contiguous pieces of the corpus); False: shuffled windows, each from a zero state.
    stateful: bool = False
    # windows per training batch: bigger batches use the CPU's matmul units better.
    batch_size: int = 128
    # optimizer learning rate (Adam in this repo; bilm-tf used Adagrad 0.2).
    learning_rate: float = 1e-3
    # global-norm gradient clipping (bilm-tf: all_clip_norm_val 10).
    clip_norm: float = 10.0
    # free-form note on where this preset comes from.
    note: str = field(default="", compare=False)

    def __post_init__(self):
        self.filters = tuple(tuple(int(v) for v in pair) for pair in self.filters)
        if self.token_input not in ("chars", "words"):
            raise ValueError("`token_input` must be 'chars' or 'words', received "
                             f"token_input={self.token_input!r}")
        for name in ("lstm_dim", "projection_dim", "n_layers", "vocab_size", "num_sampled",
                     "unroll_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, received {name}={value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), received dropout={self.dropout!r}")

    # ----- presets -----
    @classmethod
    def tiny(cls, **overrides) -> BiLMConfig:
        """A few thousand parameters: unit tests and QUICK notebook runs."""
        base = dict(filters=((1, 4), (2, 4), (3, 8)), n_highway=1, char_embedding_dim=4,
                    lstm_dim=8, projection_dim=4, n_layers=2, vocab_size=64, num_sampled=16,
                    unroll_steps=8, batch_size=8, dropout=0.0, learning_rate=1e-2,
                    note="tests and QUICK mode")
        return cls(**{**base, **overrides})

    @classmethod
    def cpu(cls, **overrides) -> BiLMConfig:
        """The lesson preset: trains on WikiText-2 on 2 CPU cores within an hour (lesson 04).

        ``lstm_dim`` 256 with projection 128: one hour on 2 cores is compute-bound, and a smaller
        model that sees more text wins. At 512/256 the hour was ~2.3 passes over WikiText-2 and
        test perplexity 203.5; at 256/128 a training token costs half the FLOPs (23M vs 48M), the
        hour is ~6.3 passes, and test perplexity 165.0 (same machine, both in README.md).

        Adam's peak ``learning_rate`` is 8e-3 (it was 2e-3): in 20-minute runs of the same recipe,
        validation perplexity was 252 at 2e-3, 207 at 4e-3 and 182 at 8e-3, and 1.6e-2 was behind
        8e-3 at every validation it reached. Over the hour, test perplexity went from 165.0 to 140.5
        (README.md).
        """
        base = dict(filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256)), n_highway=1,
                    lstm_dim=256, projection_dim=128, n_layers=2, vocab_size=33_278,
                    num_sampled=2048, unroll_steps=35, batch_size=64, dropout=0.1,
                    learning_rate=8e-3, note="CPU lesson preset (WikiText-2, 2 cores)")
        return cls(**{**base, **overrides})

    @classmethod
    def small(cls, **overrides) -> BiLMConfig:
        """Published "small" ELMo (elmo_2x1024_128_2048cnn_1xhighway): 13.6M parameters."""
        base = dict(filters=_ORIGINAL_FILTERS, n_highway=1, lstm_dim=1024, projection_dim=128,
                    n_layers=2, vocab_size=793_471, num_sampled=8192, unroll_steps=20,
                    batch_size=128, note="AllenNLP elmo_2x1024_128_2048cnn_1xhighway")
        return cls(**{**base, **overrides})

    @classmethod
    def original(cls, **overrides) -> BiLMConfig:
        """Published "original" ELMo (elmo_2x4096_512_2048cnn_2xhighway): 93.6M parameters."""
        base = dict(filters=_ORIGINAL_FILTERS, n_highway=2, lstm_dim=4096, projection_dim=512,
                    n_layers=2, vocab_size=793_471, num_sampled=8192, unroll_steps=20,
                    batch_size=128, note="AllenNLP elmo_2x4096_512_2048cnn_2xhighway")
        return cls(**{**base, **overrides})

    # ----- serialisation -----
    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["filters"] = [list(pair) for pair in self.filters]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> BiLMConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown BiLMConfig fields: {sorted(unknown)}")
        return cls(**data)

    def to_options(self) -> dict:
        """bilm-tf's ``options.json`` for this configuration."""
        options = {
            "bidirectional": True,
            "dropout": self.dropout,
            "lstm": {
                "cell_clip": self.cell_clip,
                "dim": self.lstm_dim,
                "n_layers": self.n_layers,
                "proj_clip": self.proj_clip,
                "projection_dim": self.projection_dim,
                "use_skip_connections": self.use_skip_connections,
            },
            "n_negative_samples_batch": self.num_sampled,
            "n_tokens_vocab": self.vocab_size,
            "unroll_steps": self.unroll_steps,
            "batch_size": self.batch_size,
            "all_clip_norm_val": self.clip_norm,
        }
        if self.token_input == "chars":  # a word-level model has no char_cnn section
            options["char_cnn"] = {
                "activation": self.activation,
                "embedding": {"dim": self.char_embedding_dim},
                "filters": [list(pair) for pair in self.filters],
                "max_characters_per_token": self.max_characters_per_token,
                "n_characters": self.n_characters,
                "n_highway": self.n_highway,
            }
        return options

    @classmethod
    def from_options(cls, options: dict | str) -> BiLMConfig:
        """Read bilm-tf's ``options.json`` (a dict or a path)."""
        if isinstance(options, str) or hasattr(options, "__fspath__"):
            with open(options, encoding="utf-8") as handle:
                options = json.load(handle)
        lstm = options.get("lstm")
        if lstm is None:
            raise ValueError("options has no 'lstm' section: not a bilm-tf options.json")
        kwargs = dict(lstm_dim=int(lstm["dim"]), projection_dim=int(lstm["projection_dim"]),
                      n_layers=int(lstm.get("n_layers", 1)), cell_clip=lstm.get("cell_clip"),
                      proj_clip=lstm.get("proj_clip"),
                      use_skip_connections=bool(lstm.get("use_skip_connections", False)))
        cnn = options.get("char_cnn")
        if cnn is None:
            kwargs["token_input"] = "words"
        else:
            kwargs.update(filters=tuple(tuple(p) for p in cnn["filters"]),
                          n_highway=int(cnn.get("n_highway", 0)),
                          char_embedding_dim=int(cnn["embedding"]["dim"]),
                          activation=cnn.get("activation", "relu"),
                          max_characters_per_token=int(cnn.get("max_characters_per_token", 50)),
                          n_characters=max(int(cnn.get("n_characters", 262)), 262))
        for key, name in (("n_tokens_vocab", "vocab_size"), ("n_negative_samples_batch",
                          "num_sampled"), ("unroll_steps", "unroll_steps"),
                          ("batch_size", "batch_size")):
            if options.get(key):
                kwargs[name] = int(options[key])
        if options.get("dropout") is not None:
            kwargs["dropout"] = float(options["dropout"])
        return cls(**kwargs)


def _reverse_within_lengths(x, lengths):
    """Reverse ``x[b, :lengths[b]]`` along time, leaving the padding in place (keras.ops only)."""
    time = ops.shape(x)[1]
    positions = ops.arange(time, dtype="int32")[None, :]
    lengths = ops.cast(lengths, "int32")[:, None]
    index = ops.where(positions < lengths, lengths - 1 - positions, positions)
    return ops.take_along_axis(x, index[..., None], axis=1)


@keras.saving.register_keras_serializable(package="elmo_lib")
class BiLMEncoder(keras.layers.Layer):
    """The biLM without its softmax: token embeddings and the LSTM layers of both directions.

    With ``add_boundaries=True`` (the default, for users) it adds ``<S>``/``</S>`` around every
    sentence, runs the model and strips them again, so outputs line up with the input tokens. The
    LSTM state starts at zero on every call: the same sentence always gets the same vectors.

    Args:
        config: a :class:`BiLMConfig` or its ``to_dict()``.
        add_boundaries: add and strip sentence boundary tokens (False for LM training windows,
            which already contain them).

    Call arguments:
        inputs: char ids ``int32 [batch, tokens, max_characters_per_token]`` from
            ``elmo_lib.text.char_ids`` (``token_input="chars"``) or ``vocab id + 1`` ``[batch,
            tokens]`` with 0 = padding (``token_input="words"``). Padding may be anywhere in a
            row (after, before or between the tokens, e.g. ``keras.utils.pad_sequences``'
            default ``padding="pre"``): a row's tokens are read in order as one sentence and
            each gets the vectors it has with the padding at the end.
        training: enables dropout.

    Returns:
        dict with ``"word_emb"`` ``[B, T, P]``, ``"lstm_outputs{k}"`` ``[B, T, 2P]`` for
        k = 1..n_layers (forward and backward concatenated), and ``"mask"`` ``bool [B, T]``. All
        outputs are zero at padding.

    Example:
        >>> encoder = BiLMEncoder(BiLMConfig.tiny())
        >>> out = encoder(text.char_ids([["The", "play", "began"]]))
        >>> out["lstm_outputs2"].shape  # (1, 3, 8)

    Reference: Peters et al. 2018, sec. 3.1 and 3.4. Introduced in lesson 03.
    """

    def __init__(self, config: BiLMConfig | dict, add_boundaries: bool = True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = BiLMConfig.from_dict(config)
        if not isinstance(config, BiLMConfig):
            raise ValueError(f"`config` must be a BiLMConfig or dict, received {type(config)}")
        self.config = config
        self.add_boundaries = bool(add_boundaries)
        c = config
        if c.token_input == "chars":
            self.token_embedder = CharCNN(
                filters=c.filters, n_highway=c.n_highway, projection_dim=c.projection_dim,
                embedding_dim=c.char_embedding_dim, activation=c.activation,
                max_characters_per_token=c.max_characters_per_token,
                n_characters=c.n_characters, name="char_cnn")
        else:
            self.token_embedder = keras.layers.Embedding(c.vocab_size + 1, c.projection_dim,
                                                         name="word_embedding")
        self.forward_layers = [LSTMP(c.lstm_dim, c.projection_dim, c.cell_clip, c.proj_clip,
                                     name=f"forward_lstm_{k}") for k in range(c.n_layers)]
        self.backward_layers = [LSTMP(c.lstm_dim, c.projection_dim, c.cell_clip, c.proj_clip,
                                      name=f"backward_lstm_{k}") for k in range(c.n_layers)]
        self.dropout_layer = keras.layers.Dropout(c.dropout)
        if not self.trainable:  # from a config: the sublayers above start trainable
            set_trainable(self, False)

    @property
    def output_keys(self) -> list[str]:
        return ["word_emb"] + [f"lstm_outputs{k + 1}" for k in range(self.config.n_layers)]

    def build(self, input_shape):
        c = self.config
        if c.token_input == "chars":
            self._check_char_shape(input_shape)
            self.token_embedder.build(input_shape)
        else:
            if len(input_shape) != 2:
                raise ValueError("BiLMEncoder(token_input='words') expects ids [batch, tokens], "
                                 f"received shape {input_shape}")
            self.token_embedder.build(input_shape)
        for layers in (self.forward_layers, self.backward_layers):
            for layer in layers:
                layer.build((None, None, c.projection_dim))

    def _check_char_shape(self, shape):
        chars = self.config.max_characters_per_token
        shape = tuple(shape)
        if len(shape) != 3 or shape[-1] not in (None, chars):
            raise ValueError(
                f"BiLMEncoder expects char ids [batch, tokens, {chars}] (its config's "
                f"max_characters_per_token), received shape {shape}; make them with "
                f"elmo_lib.text.char_ids(sentences, {chars})")

    # ----- pieces, also used by the trainer and the lessons -----
    def token_mask(self, inputs):
        if self.config.token_input == "chars":
            return ops.any(inputs > 0, axis=-1)
        return inputs > 0

    def with_boundaries(self, inputs, lengths):
        """Insert ``<S>`` before and ``</S>`` after each sentence: time axis grows by 2."""
        c = self.config
        if c.token_input == "chars":
            bos, eos = text.boundary_char_ids(c.max_characters_per_token)
            padded = ops.pad(inputs, ((0, 0), (1, 1), (0, 0)))
            bos = ops.convert_to_tensor(bos, "int32")[None, None, :]
            eos = ops.convert_to_tensor(eos, "int32")[None, None, :]
        else:
            padded = ops.pad(inputs, ((0, 0), (1, 1)))
            bos, eos = c.bos_token_id + 1, c.eos_token_id + 1  # vocab ids plus the +1 offset
        positions = ops.arange(ops.shape(padded)[1], dtype="int32")[None, :]
        is_bos = positions == 0
        is_eos = positions == (ops.cast(lengths, "int32")[:, None] + 1)
        if c.token_input == "chars":
            is_bos, is_eos = is_bos[..., None], is_eos[..., None]
        return ops.where(is_bos, bos, ops.where(is_eos, eos, padded))

    def embed_tokens(self, inputs):
        """Context-independent token vectors ``[B, T, P]`` (layer 0 of ELMo, one direction)."""
        return self.token_embedder(inputs)

    def run_lstms(self, embedded, mask, training=None):
        """Both LSTM stacks. Returns (forward outputs, backward outputs): lists of ``[B, T, P]``.

        The backward stack reads each sentence reversed (within its length). Layer k of both
        directions runs in one recurrence loop (``run_lstmps``: when training, XLA-compiled with a
        hand-written gradient; otherwise a lighter forward-only loop); from layer 2 on, a skip
        connection adds the layer's input to its output.
        """
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        x = [embedded, _reverse_within_lengths(embedded, lengths)]  # forward, backward
        outputs = [[], []]
        for k, cells in enumerate(zip(self.forward_layers, self.backward_layers)):
            inputs = [self.dropout_layer(h, training=training) for h in x]
            h = run_lstmps(cells, inputs, mask=mask, compiled=bool(training),
                           training=bool(training))
            if self.config.use_skip_connections and k > 0:
                h = [h_d + x_d for h_d, x_d in zip(h, x)]
            for d in (0, 1):
                outputs[d].append(h[d])
            x = h
        backward = [_reverse_within_lengths(h, lengths) for h in outputs[1]]
        return outputs[0], backward

    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, "int32")
        if self.config.token_input == "chars":
            self._check_char_shape(inputs.shape)
        given_mask = self.token_mask(inputs)
        # Padding may sit anywhere (keras.utils.pad_sequences pads at the front by default): the
        # model reads each sentence's tokens moved to the front, in order, and the outputs go
        # back to the positions they came from. A permutation (identity for end padding): cheap,
        # and it works eagerly, in tf.function and under XLA alike.
        where = positions_after_compaction(given_mask)
        order = ops.argsort(where, axis=1)
        index = order[..., None] if self.config.token_input == "chars" else order
        inputs = ops.take_along_axis(inputs, index, axis=1)
        mask = self.token_mask(inputs)
        if self.add_boundaries:
            lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
            model_inputs = self.with_boundaries(inputs, lengths)
            model_mask = self.token_mask(model_inputs)
        else:
            model_inputs, model_mask = inputs, mask
        embedded = self.embed_tokens(model_inputs)
        forward, backward = self.run_lstms(embedded, model_mask, training=training)
        layers = [embedded]
        layers += [ops.concatenate([f, b], axis=-1) for f, b in zip(forward, backward)]
        if self.add_boundaries:
            time = ops.shape(inputs)[1]
            layers = [h[:, 1:time + 1] for h in layers]
        back = where[..., None]
        weights = ops.cast(given_mask, layers[0].dtype)[..., None]
        outputs = {key: ops.take_along_axis(h, back, axis=1) * weights
                   for key, h in zip(self.output_keys, layers)}
        outputs["mask"] = given_mask
        return outputs

    def compute_output_spec(self, inputs, training=None):
        batch, time = inputs.shape[0], inputs.shape[1]
        p = self.config.projection_dim
        spec = {"word_emb": keras.KerasTensor((batch, time, p))}
        for k in range(self.config.n_layers):
            spec[f"lstm_outputs{k + 1}"] = keras.KerasTensor((batch, time, 2 * p))
        spec["mask"] = keras.KerasTensor((batch, time), dtype="bool")
        return spec

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(),
                "add_boundaries": self.add_boundaries}

    @classmethod
    def from_preset(cls, name_or_dir, **kwargs) -> BiLMEncoder:
        """The encoder of a preset (KerasHub's idiom), boundaries added, weights loaded.

        ``name_or_dir``: a name from ``elmo_lib.presets.list_presets()`` (the repo's ``models/``,
        downloaded and sha256-checked if absent; AllenNLP's published models by URL) or a preset
        directory; ``kwargs`` go to ``elmo_lib.presets.resolve_preset``. Errors: see there.

        Example:
            >>> encoder = BiLMEncoder.from_preset("wikitext2_cpu")
            >>> out = encoder(text.char_ids([["The", "play", "began"]]))  # lstm_outputs2 [1, 3, 2P]

        Introduced in lesson 04 (the shipped biLM) and lesson 07 (AllenNLP's models).
        """
        from elmo_lib import presets

        return encoder_layer(presets.load_encoder(name_or_dir, **kwargs))


def build_encoder(config: BiLMConfig, name: str = "bilm_encoder") -> keras.Model:
    """A functional Keras model: char ids (or word ids) in, the encoder's dict of layers out.

    Example:
        >>> encoder = build_encoder(BiLMConfig.tiny())
        >>> layers = encoder(text.char_ids([["Hello", "world"]]))
    """
    if config.token_input == "chars":
        inputs = keras.Input((None, config.max_characters_per_token), dtype="int32",
                             name="char_ids")
    else:
        inputs = keras.Input((None,), dtype="int32", name="token_ids")
    outputs = BiLMEncoder(config, name="bilm")(inputs)
    return keras.Model(inputs, outputs, name=name)


def require_char_model(config: BiLMConfig, caller: str) -> None:
    """Raise the one ``ValueError`` of every entry point that needs a character biLM.

    ``ELMo``, ``embed_file`` (and ``elmo-lib embed``) and ``export_hub`` read strings or char ids,
    which a word-level biLM (``token_input="words"``, an embedding over vocabulary ids) cannot.
    """
    if config.token_input != "chars":
        raise ValueError(f"{caller} needs a character-input biLM (token_input='chars'), received "
                         f"a model with token_input={config.token_input!r} (a word-level biLM "
                         "reads vocabulary ids, not strings or char ids)")


def encoder_layer(model: keras.Model) -> BiLMEncoder:
    """The :class:`BiLMEncoder` inside a model from :func:`build_encoder` or a trainer.
    TypeError: ``model`` is not a Keras model or layer; ValueError: it holds no encoder."""
    if isinstance(model, BiLMEncoder):
        return model
    if isinstance(model, BiLMTrainer):
        return model.encoder
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a BiLMEncoder, a BiLMTrainer or a keras.Model holding an "
                        f"encoder, received {type(model).__name__}")
    for layer in model.layers:
        if isinstance(layer, BiLMEncoder):
            return layer
    raise ValueError(f"no BiLMEncoder found in model {model.name!r}")


@keras.saving.register_keras_serializable(package="elmo_lib")
class BiLMTrainer(keras.Model):
    """The biLM for language-model training: encoder (no added boundaries) + shared softmax.

    Feed it ``elmo_lib.data.lm_dataset`` batches: ``x = {"char_ids" | "token_ids"}``,
    ``y = {"next_token_ids", "previous_token_ids", "mask"}``. The training loss is
    ``(forward + backward) / 2`` sampled-softmax cross-entropy; evaluation (``model.evaluate``,
    validation in ``fit``) uses the full softmax, so ``val_loss`` is a true cross-entropy in nats
    and ``exp(val_forward_loss)`` a true perplexity.

    With ``config.stateful`` (bilm-tf's training) feed it ``elmo_lib.data.lm_stateful_dataset``
    batches instead: they add ``"backward_char_ids"`` (or ``"backward_token_ids"``), the windows the
    backward LM reads right to left, and every training step starts each LSTM from the state the
    same batch row ended the previous step in (:meth:`reset_state` zeroes it). Build the trainer
    before training (``build()``; ``elmo_lib.train.build_trainer`` does it): that creates the
    carried state, which is not a weight. Validation and inference start from a zero state.

    Args:
        config: a :class:`BiLMConfig` or its ``to_dict()``.

    Example:
        >>> trainer = BiLMTrainer(BiLMConfig.tiny())
        >>> trainer.compile(optimizer="adam")
        >>> trainer.fit(dataset, steps_per_epoch=10)  # dataset from elmo_lib.data.lm_dataset

    Introduced in lesson 04.
    """

    def __init__(self, config: BiLMConfig | dict, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = BiLMConfig.from_dict(config)
        self.config = config
        self.seed = seed
        self.encoder = BiLMEncoder(config, add_boundaries=False, name="bilm")
        # float32 even under a mixed-precision policy: the softmax and the loss need the range.
        self.softmax = LMSoftmax(config.vocab_size, config.num_sampled, seed=seed, name="softmax",
                                 dtype="float32")
        self.forward_loss_tracker = keras.metrics.Mean(name="forward_loss")
        self.backward_loss_tracker = keras.metrics.Mean(name="backward_loss")
        self.input_key = "char_ids" if config.token_input == "chars" else "token_ids"
        self._carried = None  # the LSTM state between stateful training batches (not a weight)
        if not self.trainable:
            set_trainable(self, False)

    def build(self, input_shape=None):
        c = self.config
        shape = ((None, None, c.max_characters_per_token) if c.token_input == "chars"
                 else (None, None))
        self.encoder.build(shape)
        self.softmax.build((None, c.projection_dim))
        if c.stateful and self._carried is None:
            self._carried = _CarriedState(c)

    def _inputs(self, x):
        if isinstance(x, dict):
            if self.input_key not in x:
                raise ValueError(f"BiLMTrainer(token_input={self.config.token_input!r}) needs "
                                 f"inputs[{self.input_key!r}]; received keys {sorted(x)}")
            x = x[self.input_key]
        x = ops.cast(x, "int32")
        if self.config.token_input == "words":
            x = x + 1  # stream ids are vocab ids; the encoder reserves 0 for padding
        return x

    def call(self, x, training=None):
        if training and isinstance(x, dict) and f"backward_{self.input_key}" in x:
            if self._carried is None:
                raise ValueError("stateful batches (lm_stateful_dataset) need a trainer with "
                                 "config.stateful=True, built before training (trainer.build(); "
                                 f"train.build_trainer does it); config.stateful={self.config.stateful}")
            return self._stateful_call(x)
        inputs = self._inputs(x)
        mask = self.encoder.token_mask(inputs)
        embedded = self.encoder.embed_tokens(inputs)
        forward, backward = self.encoder.run_lstms(embedded, mask, training=training)
        return {"forward": forward[-1], "backward": backward[-1]}

    def _stateful_call(self, x):
        """A training step of ``config.stateful``: ``x`` holds forward windows and, under
        ``backward_*``, the windows the backward LM reads (already right to left); every layer of
        both directions starts from the state the previous batch ended in."""
        forward_ids = self._inputs(x)
        backward_ids = self._inputs({self.input_key: x[f"backward_{self.input_key}"]})
        batch = ops.shape(forward_ids)[0]
        embedded = self.encoder.embed_tokens(ops.concatenate([forward_ids, backward_ids], 0))
        x_pair = [embedded[:batch], embedded[batch:]]
        encoder, carried = self.encoder, self._carried
        final_h, final_c = [], []
        for k, cells in enumerate(zip(encoder.forward_layers, encoder.backward_layers)):
            inputs = [encoder.dropout_layer(h, training=True) for h in x_pair]
            h, (h_last, c_last) = run_lstmps(cells, inputs, compiled=True, training=True,
                                             initial_state=(carried.h[k], carried.c[k]),
                                             return_state=True)
            if self.config.use_skip_connections and k > 0:
                h = [h_d + x_d for h_d, x_d in zip(h, x_pair)]
            final_h.append(h_last)
            final_c.append(c_last)
            x_pair = h
        carried.h.assign(ops.stack(final_h))
        carried.c.assign(ops.stack(final_c))
        return {"forward": x_pair[0], "backward": x_pair[1]}

    def reset_state(self):
        """Zero the carried LSTM state of stateful training (a no-op otherwise)."""
        if self._carried is not None:
            self._carried.reset()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mask = y.get("mask")
        hidden_forward = ops.cast(y_pred["forward"], "float32")
        hidden_backward = ops.cast(y_pred["backward"], "float32")
        if training:
            forward = self.softmax.sampled_loss(hidden_forward, y["next_token_ids"], mask)
            backward = self.softmax.sampled_loss(hidden_backward, y["previous_token_ids"], mask)
        else:
            forward = self.softmax.full_loss(hidden_forward, y["next_token_ids"], mask)
            backward = self.softmax.full_loss(hidden_backward, y["previous_token_ids"], mask)
        self.forward_loss_tracker.update_state(forward)
        self.backward_loss_tracker.update_state(backward)
        loss = 0.5 * (forward + backward)
        regularization = self.losses
        if regularization:
            loss = loss + ops.sum(ops.stack(regularization))
        # Keras sums the replicas' gradients: a per-replica mean loss must be divided by the
        # number of replicas (Keras' own Loss classes do this; an overridden compute_loss must).
        return scale_loss_for_replicas(loss)

    @property
    def metrics(self):
        return [*super().metrics, self.forward_loss_tracker, self.backward_loss_tracker]

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(), "seed": self.seed}

    @classmethod
    def from_preset(cls, name_or_dir, **kwargs) -> BiLMTrainer:
        """Encoder + shared softmax of a shipped preset, for perplexity and sampling.

        Its vocabulary: ``elmo_lib.presets.load_vocabulary(name_or_dir)`` (or
        ``presets.load_trainer``, which returns both). AllenNLP presets have no softmax
        (``ValueError``). ``kwargs`` go to ``elmo_lib.presets.resolve_preset``. Introduced in
        lesson 04.
        """
        from elmo_lib import presets

        return presets.load_trainer(name_or_dir, **kwargs)[0]


class _CarriedState:
    """The LSTM state ``h`` ``[layers, 2, B, P]`` and ``c`` ``[layers, 2, B, H]`` that stateful
    training carries between batches. Plain ``tf.Variable``s in a plain object: Keras does not
    track them, so they are not weights (not saved, not trained, no batch size in checkpoints)."""

    def __init__(self, config: BiLMConfig):
        import tensorflow as tf

        c = config
        self.h = tf.Variable(tf.zeros((c.n_layers, 2, c.batch_size, c.projection_dim)),
                             trainable=False, name="carried_h")
        self.c = tf.Variable(tf.zeros((c.n_layers, 2, c.batch_size, c.lstm_dim)),
                             trainable=False, name="carried_c")

    def reset(self):
        self.h.assign(ops.zeros(self.h.shape))
        self.c.assign(ops.zeros(self.c.shape))


def count_parameters(config: BiLMConfig, include_softmax: bool = False) -> int:
    """Number of weights of the biLM built from ``config`` (encoder only unless asked)."""
    encoder = BiLMEncoder(config)
    shape = ((None, None, config.max_characters_per_token) if config.token_input == "chars"
             else (None, None))
    encoder.build(shape)
    total = encoder.count_params()
    if include_softmax:
        total += config.vocab_size * (config.projection_dim + 1)
    return total


def encoder_from_trainer(trainer: BiLMTrainer) -> keras.Model:
    """An inference encoder (boundaries added, no dropout) with the trainer's current weights."""
    encoder = build_encoder(trainer.config)
    encoder_layer(encoder).set_weights(trainer.encoder.get_weights())
    return encoder

"""ELMo: the Keras layer that turns sentences into ELMo vectors, and ``embed_file``.

- :class:`ELMo`           char ids / token ids / strings -> ``word_emb``, ``lstm_outputs{k}``,
                          ``elmo`` (a trainable scalar mix) or ``default`` (its masked mean)
- :func:`string_char_ids` whitespace-split sentences -> char ids, with TensorFlow string ops
- :func:`embed_file`      a text file (one tokenized sentence per line) -> HDF5, the layout of
                          AllenNLP's ``allennlp elmo`` command; batched by length, resumable

The biLM comes from :mod:`elmo_lib.bilm` (:func:`~elmo_lib.bilm.build_encoder`); the scalar mix is
:class:`elmo_lib.layers.ScalarMix`. Introduced in lesson 05.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import weakref
from collections.abc import Sequence

import h5py
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from elmo_lib import atomic, bilm, corpus, embed_output, text
from elmo_lib.layers import ScalarMix, set_trainable

INPUT_TYPES = ("char_ids", "token_ids", "strings")


# --------------------------------------------------------------------------------------------
# Strings -> char ids with TensorFlow ops (the graph-mode twin of ``text.char_ids``)
# --------------------------------------------------------------------------------------------
def token_strings_char_ids(tokens, max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN):
    """Char ids ``int32 [N, C]`` of a 1-D ``tf.string`` tensor of tokens, as ``text.token_char_ids``.

    UTF-8 bytes cut to ``C - 2`` (a multi-byte character may be split, as in the references),
    framed by BOW/EOW, padded with PAD, every id +1; ``"<S>"``/``"</S>"`` are the boundary tokens.
    """
    tokens = tf.convert_to_tensor(tokens, tf.string)
    chars = max_characters_per_token
    body = chars - 2
    n_bytes = tf.minimum(tf.strings.length(tokens, unit="BYTE"), body)[:, None]
    raw = tf.cast(tf.io.decode_raw(tokens, tf.uint8, fixed_length=body), tf.int32)  # 0-padded
    positions = tf.range(chars, dtype=tf.int32)[None, :]
    shifted = tf.pad(raw, [[0, 0], [1, 1]])  # slot p holds byte p - 1
    ids = tf.where(positions == 0, text.BOW_CHAR,
                   tf.where(positions <= n_bytes, shifted,
                            tf.where(positions == n_bytes + 1, text.EOW_CHAR, text.PAD_CHAR)))
    bos, eos = text.boundary_char_ids(chars)
    ids = tf.where((tokens == text.BOS_TOKEN)[:, None], tf.constant(bos - 1)[None, :], ids)
    ids = tf.where((tokens == text.EOS_TOKEN)[:, None], tf.constant(eos - 1)[None, :], ids)
    return ids + 1


def string_char_ids(sentences, max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN):
    """Char ids ``int32 [B, T, C]`` of 1-D ``tf.string`` sentences split on whitespace.

    The TF Hub ELMo ``default`` signature's input: one string per sentence, split by the rule of
    :func:`elmo_lib.text.split_tokens` (runs of ASCII or Unicode whitespace, as ``str.isspace``,
    separate tokens; leading/trailing whitespace is ignored), in TensorFlow ops
    (:func:`elmo_lib.corpus.tf_split_tokens`). Equal to
    ``text.char_ids([text.split_tokens(s) for s in sentences])``; rows past a sentence's end are
    zeros.
    """
    tokens = corpus.tf_split_tokens(sentences)
    ids = tokens.with_flat_values(token_strings_char_ids(tokens.flat_values,
                                                         max_characters_per_token))
    return ids.to_tensor(default_value=0, shape=[None, None, max_characters_per_token])


# --------------------------------------------------------------------------------------------
# The layer
# --------------------------------------------------------------------------------------------
def _as_encoder(encoder, caller: str = "ELMo") -> bilm.BiLMEncoder:
    """A character ``BiLMEncoder`` that adds sentence boundaries, from any of the accepted forms;
    a word-level biLM raises ``bilm.require_char_model``'s ``ValueError`` (naming ``caller``)."""
    if isinstance(encoder, dict) and "class_name" in encoder:
        encoder = keras.saving.deserialize_keras_object(encoder)
    if isinstance(encoder, dict):
        encoder = bilm.BiLMConfig.from_dict(encoder)
    if isinstance(encoder, bilm.BiLMConfig):
        bilm.require_char_model(encoder, caller)
        return bilm.BiLMEncoder(encoder, name="bilm")
    if isinstance(encoder, bilm.BiLMTrainer):
        bilm.require_char_model(encoder.config, caller)  # before copying any weight
        return bilm.encoder_layer(bilm.encoder_from_trainer(encoder))
    if not isinstance(encoder, keras.layers.Layer):
        raise ValueError("`encoder` must be a model from bilm.build_encoder, a BiLMEncoder, a "
                         f"BiLMTrainer or a BiLMConfig, received encoder={encoder!r}")
    layer = bilm.encoder_layer(encoder)
    bilm.require_char_model(layer.config, caller)
    if not layer.add_boundaries:
        raise ValueError("`encoder` is a BiLMEncoder with add_boundaries=False (a training "
                         "encoder): use bilm.encoder_from_trainer(trainer) or the trainer itself")
    return layer


@keras.saving.register_keras_serializable(package="elmo_lib")
class ELMo(keras.layers.Layer):
    """ELMo vectors from a pretrained biLM, as a Keras layer (Peters et al. 2018, sec. 3.2).

    With ``n`` LSTM layers the biLM gives ``n + 1`` layers per token: layer 0 is the char-CNN
    token embedding ``x`` (``P`` wide), duplicated ``[x; x]`` to ``2P`` for mixing; layer ``k`` is
    ``[forward_k; backward_k]`` (``2P``). ``output_mode`` picks what the layer returns:

    - ``"word_emb"``: layer 0 *not* duplicated, ``[B, T, P]`` (as the TF Hub module's ``word_emb``)
    - ``"lstm_outputs{k}"``, k = 1..n: ``[B, T, 2P]``
    - ``"elmo"``: ``ScalarMix`` over the ``n + 1`` layers, ``gamma * sum_j softmax(s)_j h_j``,
      ``[B, T, 2P]``; ``s`` and ``gamma`` are trained with your task (``scalar_mix_trainable``)
    - ``"default"``: the masked mean over tokens of ``"elmo"``, ``[B, 2P]`` (0 for a sentence with
      no tokens, where TF Hub gives NaN)

    Sequence outputs are zero at padding and carry a Keras mask (``compute_mask``), so a downstream
    ``keras.layers.LSTM`` skips padding. The biLM is frozen by default (``bilm_trainable=False``,
    its dropout off); the scalar mix trains independently of it. The layer shares the encoder's
    weights (no copy): freezing sets ``trainable=False`` on that encoder layer, and setting
    ``trainable`` on the ELMo layer itself sets it for all its sublayers (Keras semantics).
    The trainable set (biLM, mix, the layer itself, including parts frozen after construction)
    is kept by ``get_config``/``from_config``, ``.keras`` save/load (the optimizer state loads
    too) and ``save_weights``/``load_weights`` (see :func:`elmo_lib.layers.set_trainable`).

    Inputs (``input_type``):

    - ``"char_ids"``: ``int [B, T, 50]`` from :func:`elmo_lib.text.char_ids` (rows of 0 = padding).
    - ``"token_ids"``: ``int [B, T]`` ids into ``idx2word``, so the layer replaces a
      ``keras.layers.Embedding``. A table ``id -> char ids`` is built once in ``build``; the id
      ``padding_id`` (default 0, as ``Embedding(mask_zero=True)`` and ``TextVectorization``) means
      "no token" whatever ``idx2word[padding_id]`` holds; ``padding_id=None`` makes every id a
      token (e.g. a bilm-tf :class:`~elmo_lib.text.Vocabulary`, where id 0 is ``<S>``). An id
      outside ``0..len(idx2word)-1`` raises ``ValueError`` when called eagerly; inside a compiled
      function (``fit``/``predict``) TensorFlow's gather raises ``InvalidArgumentError``
      ("indices[...] = ... is not in [0, V)") on CPU (on GPU it would give zeros).
    - ``"strings"``: ``tf.string [B]``, one sentence per string, split on (Unicode) whitespace by
      :func:`elmo_lib.text.split_tokens`' rule, like the TF
      Hub ``default`` signature (see :func:`string_char_ids`).

    Padding rows (char ids all 0, token id ``padding_id``) may be anywhere in a sentence:
    before its tokens (``keras.utils.pad_sequences``' default ``padding="pre"``), after them or
    between them; the tokens are read in order as one sentence and get the same vectors as with
    the padding at the end (``BiLMEncoder`` moves them to the front and the outputs back).

    Args:
        encoder: a model from :func:`elmo_lib.bilm.build_encoder`, a ``BiLMEncoder``, a
            ``BiLMTrainer`` (its weights are copied into an inference encoder) or a ``BiLMConfig``
            (random weights). It must have ``token_input="chars"``.
        output_mode: see above.
        input_type: ``"char_ids"``, ``"token_ids"`` or ``"strings"``.
        idx2word: tokens in id order (list or ``text.Vocabulary``); required for ``"token_ids"``.
        padding_id: the "no token" id for ``"token_ids"`` (``None``: none).
        layer_norm: normalise each layer before mixing (AllenNLP's ``do_layer_norm``).
        l2_coefficient: L2 penalty on the mixing weights ``s`` (added to the layer's losses).
        scalar_mix_trainable: train ``s`` and ``gamma`` (False: a fixed equal average, gamma 1).
        bilm_trainable: fine-tune the biLM too (default False).

    Call arguments:
        inputs: see ``input_type``.
        training: passed to the biLM only when ``bilm_trainable`` (its dropout).

    Returns:
        ``[B, T, P]``, ``[B, T, 2P]`` or ``[B, 2P]`` float32, by ``output_mode``.

    Example:
        >>> encoder = bilm.build_encoder(bilm.BiLMConfig.tiny())
        >>> elmo = ELMo(encoder, output_mode="elmo", input_type="strings")
        >>> vectors = elmo(tf.constant(["The cat sat .", "Hello"]))  # [2, 4, 8]

    Reference: Peters et al. 2018, *Deep contextualized word representations*, sec. 3.2 and 3.3.
    Introduced in lesson 05.
    """

    def __init__(self, encoder, output_mode: str = "elmo", input_type: str = "char_ids",
                 idx2word: Sequence[str] | text.Vocabulary | None = None,
                 padding_id: int | None = 0, layer_norm: bool = False,
                 l2_coefficient: float = 0.0, scalar_mix_trainable: bool = True,
                 bilm_trainable: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = _as_encoder(encoder)
        config = self.encoder.config
        bilm.require_char_model(config, "ELMo")
        n_layers = config.n_layers
        modes = ["word_emb", *[f"lstm_outputs{k + 1}" for k in range(n_layers)], "elmo",
                 "default"]
        if output_mode not in modes:
            raise ValueError(f"`output_mode` must be one of {modes}, received "
                             f"output_mode={output_mode!r}")
        if input_type not in INPUT_TYPES:
            raise ValueError(f"`input_type` must be one of {INPUT_TYPES}, received "
                             f"input_type={input_type!r}")
        if isinstance(idx2word, text.Vocabulary):
            idx2word = idx2word.tokens
        if input_type == "token_ids":
            if idx2word is None or isinstance(idx2word, (str, bytes)) or len(idx2word) == 0:
                raise ValueError("input_type='token_ids' needs `idx2word`, a non-empty list of "
                                 f"tokens in id order, received idx2word={idx2word!r}")
            idx2word = [str(token) for token in idx2word]
            if padding_id is not None and not 0 <= int(padding_id) < len(idx2word):
                raise ValueError(f"`padding_id` must be in 0..{len(idx2word) - 1} or None, "
                                 f"received padding_id={padding_id!r}")
        elif idx2word is not None:
            raise ValueError(f"`idx2word` is only used with input_type='token_ids', received it "
                             f"with input_type={input_type!r}")
        self.output_mode = output_mode
        self.input_type = input_type
        self.idx2word = None if idx2word is None else list(idx2word)
        self.padding_id = None if padding_id is None else int(padding_id)
        self.layer_norm = bool(layer_norm)
        self.l2_coefficient = float(l2_coefficient)
        self.scalar_mix_trainable = bool(scalar_mix_trainable)
        self.bilm_trainable = bool(bilm_trainable)
        # Not `encoder.trainable = ...`: that skips the sublayers when the value is unchanged.
        set_trainable(self.encoder, self.bilm_trainable)
        self.scalar_mix = None
        if output_mode in ("elmo", "default"):
            self.scalar_mix = ScalarMix(n_layers + 1, layer_norm=self.layer_norm,
                                        l2_coefficient=self.l2_coefficient,
                                        trainable_weights_fixed=not self.scalar_mix_trainable,
                                        name="scalar_mix")
        if not self.trainable:  # a frozen ELMo layer (e.g. from its config) freezes everything
            set_trainable(self, False)
        self.supports_masking = output_mode != "default"
        # Strings and the fast char CNN's unique/dynamic shapes are not XLA-compilable.
        self.supports_jit = False

    def __call__(self, inputs, *args, **kwargs):
        # A NumPy input becomes a tensor of its own dtype here: Keras 3.3 would convert it to the
        # float compute dtype (ids arrive as float32), later Keras keeps it and casts only floats.
        if isinstance(inputs, np.ndarray):
            inputs = self._convert(inputs)
        return super().__call__(inputs, *args, **kwargs)

    @property
    def output_dim(self) -> int:
        p = self.encoder.config.projection_dim
        return p if self.output_mode == "word_emb" else 2 * p

    def build(self, input_shape):
        chars = self.encoder.config.max_characters_per_token
        if not self.encoder.built:
            self.encoder.build((None, None, chars))
        if self.scalar_mix is not None and not self.scalar_mix.built:
            self.scalar_mix.build((None, self.encoder.config.n_layers + 1, None, self.output_dim))
        if self.input_type == "token_ids":
            table = np.stack([text.token_char_ids(token, chars) for token in self.idx2word])
            if self.padding_id is not None:
                table[self.padding_id] = 0
            self._char_table = tf.constant(table, tf.int32)

    # ----- inputs -----
    def _check_input(self, inputs):
        kind = {"char_ids": ("integer char ids [batch, tokens, "
                             f"{self.encoder.config.max_characters_per_token}]", 3),
                "token_ids": ("integer token ids [batch, tokens]", 2),
                "strings": ("tf.string sentences [batch]", 1)}[self.input_type]
        dtype = tf.as_dtype(inputs.dtype)
        good_dtype = dtype == tf.string if self.input_type == "strings" else dtype.is_integer
        rank = inputs.shape.rank
        if not good_dtype or rank != kind[1] or (
                self.input_type == "char_ids"
                and inputs.shape[-1] not in (None, self.encoder.config.max_characters_per_token)):
            raise ValueError(f"ELMo(input_type={self.input_type!r}) expects {kind[0]}, received "
                             f"inputs of dtype {dtype.name} and shape {inputs.shape}")

    def _convert(self, inputs):
        if self.input_type == "strings" and isinstance(inputs, (list, tuple)) and not inputs:
            return tf.zeros((0,), tf.string)
        return tf.convert_to_tensor(inputs)

    def char_ids(self, inputs):
        """The char ids ``int32 [B, T, C]`` the biLM sees for ``inputs`` (of ``input_type``);
        ``C`` is the encoder config's ``max_characters_per_token`` (50 in the published models)."""
        inputs = self._convert(inputs)
        self._check_input(inputs)
        chars = self.encoder.config.max_characters_per_token
        if self.input_type == "strings":
            return string_char_ids(inputs, chars)
        if self.input_type == "char_ids":
            return tf.cast(inputs, tf.int32)
        ids = tf.cast(inputs, tf.int32)
        if tf.executing_eagerly():
            size = len(self.idx2word)
            bad = tf.boolean_mask(ids, (ids < 0) | (ids >= size))
            if tf.size(bad) > 0:
                raise ValueError(f"ELMo(input_type='token_ids') received ids outside "
                                 f"0..{size - 1} (len(idx2word) = {size}): "
                                 f"{sorted(set(bad.numpy().tolist()))[:10]}")
        if not self.built:
            self.build(ids.shape)
        return tf.gather(self._char_table, ids)

    def call(self, inputs, training=None):
        char_ids = self.char_ids(inputs)
        outputs = self.encoder(char_ids, training=training if self.bilm_trainable else False)
        mask = outputs["mask"]
        if self.output_mode not in ("elmo", "default"):
            return outputs[self.output_mode]
        n_layers = self.encoder.config.n_layers
        word = outputs["word_emb"]
        layers = [ops.concatenate([word, word], axis=-1)]
        layers += [outputs[f"lstm_outputs{k + 1}"] for k in range(n_layers)]
        weights = ops.cast(mask, word.dtype)[..., None]
        mixed = self.scalar_mix(layers, mask=mask) * weights  # layer norm moves padding off 0
        if self.output_mode == "elmo":
            return mixed
        return ops.sum(mixed, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        if self.output_mode == "default":
            return None
        if self.input_type == "char_ids":
            return ops.any(inputs > 0, axis=-1)
        if self.input_type == "token_ids":
            if self.padding_id is None:
                return ops.ones_like(inputs, dtype="bool")
            return ops.not_equal(inputs, self.padding_id)
        if isinstance(inputs, keras.KerasTensor):
            # Functional construction: keras ops can't split strings; the real mask is attached
            # when the model runs (Keras propagates masks on the tensors at call time).
            return None
        return corpus.tf_split_tokens(self._convert(inputs)).to_tensor(default_value="") != ""

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if self.output_mode == "default":
            return (batch, self.output_dim)
        time = None if self.input_type == "strings" else input_shape[1]
        return (batch, time, self.output_dim)

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "output_mode": self.output_mode,
            "input_type": self.input_type,
            "idx2word": self.idx2word,
            "padding_id": self.padding_id,
            "layer_norm": self.layer_norm,
            "l2_coefficient": self.l2_coefficient,
            # The current state, so freezing or unfreezing a part after construction survives a
            # round trip (the constructor arguments alone would restore the initial state).
            "scalar_mix_trainable": self.scalar_mix_trainable and (
                self.scalar_mix is None or self.scalar_mix.trainable),
            "bilm_trainable": self.encoder.trainable,
        }

    @classmethod
    def from_preset(cls, name_or_dir, *, preset_kwargs: dict | None = None, **kwargs) -> ELMo:
        """ELMo on a preset's biLM (frozen unless ``bilm_trainable=True``; the scalar mix trains).

        ``name_or_dir`` as ``BiLMEncoder.from_preset``; ``kwargs`` are this layer's arguments
        (``output_mode``, ``input_type``, ...); ``preset_kwargs`` go to
        ``elmo_lib.presets.resolve_preset``.

        Example:
            >>> elmo = ELMo.from_preset("wikitext2_cpu", input_type="strings")
            >>> vectors = elmo(tf.constant(["The cat sat ."]))  # [1, 4, 2P]

        Introduced in lesson 05 (the shipped biLM) and lesson 07 (AllenNLP's models).
        """
        from elmo_lib import presets

        return cls(presets.load_encoder(name_or_dir, **(preset_kwargs or {})), **kwargs)


# --------------------------------------------------------------------------------------------
# A text file -> HDF5 (the layout of AllenNLP's `allennlp elmo` command)
# --------------------------------------------------------------------------------------------
OUTPUT_LAYERS = ("all", "top", "average")
_SENTENCE_TO_INDEX = "sentence_to_index"


def _resolve_encoder(model) -> bilm.BiLMEncoder:
    """An inference character ``BiLMEncoder`` from a model object or a run directory of
    ``train_bilm``; a word-level model raises ``bilm.require_char_model``'s ``ValueError``."""
    encoder = _any_encoder(model)
    bilm.require_char_model(encoder.config, "embed_file")
    return encoder


def _any_encoder(model) -> bilm.BiLMEncoder:
    if isinstance(model, (str, os.PathLike)):
        from elmo_lib import presets, train  # lazy: only these cases need them

        path = pathlib.Path(model)
        if path.is_dir() and not (path / presets.MANIFEST).exists():  # a run of train_bilm
            trainer, _ = train.load_trained(path)
            return bilm.encoder_layer(bilm.encoder_from_trainer(trainer))
        try:  # a preset: its directory or its name (el.presets.list_presets())
            return bilm.encoder_layer(presets.load_encoder(model))
        except ValueError as error:
            raise ValueError(f"`model` must be an encoder model, a run directory of train_bilm "
                             f"or a preset, received model={str(model)!r}: {error}") from error
    if isinstance(model, ELMo):
        return model.encoder
    return _as_encoder(model, "embed_file")


def _model_fingerprint(encoder: bilm.BiLMEncoder) -> str:
    digest = hashlib.sha256(json.dumps(encoder.config.to_dict(), sort_keys=True).encode())
    for weight in encoder.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()


def _length_batches(order, lengths, batch_size: int, max_tokens_per_batch: int):
    """Consecutive runs of ``order`` (sorted by length) of at most ``batch_size`` sentences and at
    most ``max_tokens_per_batch`` padded tokens (a longer sentence goes alone)."""
    batch: list[int] = []
    longest = 0
    for index in order:
        longest = max(longest, lengths[index])
        if batch and (len(batch) == batch_size or longest * (len(batch) + 1) > max_tokens_per_batch):
            yield batch
            batch, longest = [], lengths[index]
        batch.append(index)
    if batch:
        yield batch


_INFERENCE_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_functions(encoder: bilm.BiLMEncoder):
    """``(token_vectors, lstm_layers)`` as ``tf.function`` s, traced once per encoder.

    ``token_vectors``: char ids ``[N, C]`` -> char-CNN vectors ``[N, P]``. ``lstm_layers``:
    ``(table [V, P], rows [B, T] int, lengths [B])`` -> ``[n_layers + 1, B, T, 2P]``, the same
    computation as ``BiLMEncoder.call`` but reading each token's vector from ``table`` (rows 0
    and 1 are ``<S>`` and ``</S>``), so the char CNN runs once per distinct token of the file.
    """
    if encoder not in _INFERENCE_FUNCTIONS:
        chars = encoder.config.max_characters_per_token
        width = encoder.config.projection_dim

        @tf.function(input_signature=[tf.TensorSpec((None, chars), tf.int32)])
        def token_vectors(char_ids):
            return encoder.token_embedder.token_vectors(char_ids)

        @tf.function(input_signature=[tf.TensorSpec((None, width), tf.float32),
                                      tf.TensorSpec((None, None), tf.int32),
                                      tf.TensorSpec((None,), tf.int32)])
        def lstm_layers(table, rows, lengths):
            time = tf.shape(rows)[1]
            positions = tf.range(time + 2)[None, :]
            padded = tf.pad(rows, [[0, 0], [1, 1]])
            padded = tf.where(positions == 0, 0,
                              tf.where(positions == lengths[:, None] + 1, 1, padded))
            model_mask = positions < lengths[:, None] + 2
            embedded = tf.gather(table, padded) * tf.cast(model_mask, tf.float32)[..., None]
            forward, backward = encoder.run_lstms(embedded, model_mask, training=False)
            layers = [tf.concat([embedded, embedded], axis=-1)]
            layers += [tf.concat([f, b], axis=-1) for f, b in zip(forward, backward)]
            mask = tf.cast(positions[:, 1:time + 1] <= lengths[:, None], tf.float32)[..., None]
            return tf.stack([h[:, 1:time + 1] * mask for h in layers])

        _INFERENCE_FUNCTIONS[encoder] = (token_vectors, lstm_layers)
    return _INFERENCE_FUNCTIONS[encoder]


class _TokenTable:
    """Char-CNN vectors of every distinct token of the sentences, computed once, in chunks."""

    def __init__(self, encoder: bilm.BiLMEncoder, sentences: list[list[str]], chunk: int = 4096):
        self.token_vectors, self.lstm_layers = _inference_functions(encoder)
        words = sorted({t for s in sentences for t in s} - {text.BOS_TOKEN, text.EOS_TOKEN})
        self.index = {text.BOS_TOKEN: 0, text.EOS_TOKEN: 1}
        self.index.update((word, i + 2) for i, word in enumerate(words))
        chars = encoder.config.max_characters_per_token
        tokens = [text.BOS_TOKEN, text.EOS_TOKEN, *words]
        parts = [self.token_vectors(tf.constant(text.char_ids([tokens[i:i + chunk]], chars)[0]))
                 for i in range(0, len(tokens), chunk)]
        self.table = tf.concat(parts, axis=0)

    def __call__(self, sentences: list[list[str]]) -> np.ndarray:
        lengths = np.array([len(s) for s in sentences], np.int32)
        rows = np.zeros((len(sentences), max(lengths, default=0)), np.int32)
        for b, sentence in enumerate(sentences):
            rows[b, :len(sentence)] = [self.index[t] for t in sentence]
        return self.lstm_layers(self.table, tf.constant(rows), tf.constant(lengths)).numpy()


def _embed_batch(run, sentences: list[list[str]]) -> np.ndarray:
    """All ELMo layers ``[n_layers + 1, B, T, 2P]`` of a batch (layer 0 = ``[x; x]``)."""
    return run(sentences)


def embed_file(input_path: str | os.PathLike, output_path: str | os.PathLike, model,
               output_layer: str = "all", batch_size: int = 64,
               max_tokens_per_batch: int = 4096, progress: bool = True,
               overwrite: bool = False) -> str:
    """Embed every sentence of a text file with the biLM and write the vectors to HDF5.

    The layout of AllenNLP's ``allennlp elmo`` command, so its readers work unchanged: the input
    has one sentence per line (lines end at ``"\\n"``), tokens separated by whitespace as
    :func:`elmo_lib.text.split_tokens` (ASCII and Unicode); the
    output has one float32 dataset per line, named by the line index (``"0"``, ``"1"``, ...), of
    shape ``(n_layers + 1, n_tokens, 2P)`` for ``"all"`` (layer 0 = the token embedding
    duplicated, ``[x; x]``) or ``(n_tokens, 2P)`` for ``"top"`` (the last LSTM layer) and
    ``"average"`` (the mean of the ``n_layers + 1`` layers); plus ``"sentence_to_index"``, a
    1-element string dataset holding ``json.dumps({sentence: "index"})`` (a repeated sentence
    maps to its last index). Unlike AllenNLP, which refuses files with empty lines, an empty
    line keeps its index and gets an empty array (``(n_layers + 1, 0, 2P)`` or ``(0, 2P)``).

    Sentences are sorted by length and batched (at most ``batch_size`` sentences and
    ``max_tokens_per_batch`` padded tokens; a longer sentence runs alone). A sentence's vectors
    do not depend on its batch (no LSTM state is carried between batches).

    Resumable and never corrupt: results go to ``output_path + ".partial"``, flushed after each
    batch, with the finished indices appended to ``output_path + ".partial.done"``; a rerun
    (same input, model and ``output_layer``) skips them. Only when every line is done is the file
    renamed to ``output_path`` (atomic). The files carry the attribute ``written_by =
    "elmo_lib.embed_file"``: a partial file of embed_file from a different input/model/layer, or
    one a kill left unreadable, is started over; any other file at ``output_path`` or
    ``.partial`` (a text file, another HDF5) is never replaced unless ``overwrite=True``.
    Rerunning on a finished file with the same input, model and ``output_layer`` returns at once;
    an earlier embed_file output of other input/model/layer is recomputed. While it runs, the
    lock file ``output_path + ".lock"`` (:class:`elmo_lib.atomic.PathLock`) holds its pid: a
    second embed_file on the same output fails at once (a killed owner's lock is taken over).

    Args:
        input_path: UTF-8 text file, one tokenized sentence per line.
        output_path: HDF5 file to write.
        model: a model from :func:`elmo_lib.bilm.build_encoder`, a ``BiLMEncoder``, a
            ``BiLMTrainer``, an :class:`ELMo` layer (its biLM is used), or the path of a run
            directory written by ``elmo_lib.train.train_bilm``.
        output_layer: ``"all"``, ``"top"`` or ``"average"``.
        batch_size: maximum sentences per batch.
        max_tokens_per_batch: maximum ``sentences x longest sentence`` per batch.
        progress: show a tqdm progress bar (sentences).
        overwrite: replace an ``output_path`` or ``.partial`` file that embed_file did not write.

    Returns:
        ``str(output_path)``.

    Raises:
        ValueError: bad ``output_layer``/``batch_size``/``max_tokens_per_batch``, a file that is
            not UTF-8 (the message names the line), or a ``model`` of the wrong kind (a
            word-level biLM: "embed_file needs a character-input biLM ...", checked first).
        FileNotFoundError: ``input_path`` does not exist.
        FileExistsError: ``output_path`` or its ``.partial`` file exists and was not written by
            embed_file (the message names it), and ``overwrite`` is False.
        elmo_lib.atomic.PathLockedError: another process is writing ``output_path`` (the
            message names the path and its pid).
    """
    if output_layer not in OUTPUT_LAYERS:
        raise ValueError(f"`output_layer` must be one of {OUTPUT_LAYERS}, received "
                         f"output_layer={output_layer!r}")
    for name, value in (("batch_size", batch_size), ("max_tokens_per_batch", max_tokens_per_batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer, received {name}={value!r}")
    encoder = _resolve_encoder(model)  # up front: a wrong model fails before any work
    input_path, output_path = pathlib.Path(input_path), pathlib.Path(output_path)
    raw = input_path.read_bytes()
    try:  # lines end at "\n" only (text.split_tokens' rule; "\r" is whitespace)
        with open(input_path, encoding="utf-8", newline="\n") as handle:
            sentences = [line.strip() for line in handle]
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(f"{input_path}: invalid UTF-8 on line {line}") from error
    tokens = [text.split_tokens(sentence) for sentence in sentences]
    lengths = [len(t) for t in tokens]

    n_layers, width = encoder.config.n_layers, 2 * encoder.config.projection_dim
    attrs = {"written_by": embed_output.WRITTEN_BY, "output_layer": output_layer,
             "n_sentences": len(sentences),
             "input_sha256": hashlib.sha256(raw).hexdigest(),
             "model_sha256": _model_fingerprint(encoder)}

    def expected_shape(i):
        return ((n_layers + 1, lengths[i], width) if output_layer == "all"
                else (lengths[i], width))

    if not output_path.parent.is_dir():
        raise FileNotFoundError(f"{output_path.parent}: the output's folder does not exist")
    with atomic.PathLock(output_path):  # one writer per output file
        if embed_output.finished(output_path, attrs, len(sentences), overwrite):
            return str(output_path)
        _embed_into(output_path, input_path, attrs, sentences, tokens, lengths, encoder,
                    expected_shape, batch_size, max_tokens_per_batch, progress, overwrite)
    return str(output_path)


def _embed_into(output_path, input_path, attrs, sentences, tokens, lengths, encoder,
                expected_shape, batch_size, max_tokens_per_batch, progress, overwrite) -> None:
    """embed_file's work, done while it holds the output's lock."""
    from tqdm.auto import tqdm

    n_layers, width = encoder.config.n_layers, 2 * encoder.config.projection_dim
    output_layer = attrs["output_layer"]
    partial = output_path.with_name(output_path.name + ".partial")
    log_path = output_path.with_name(output_path.name + ".partial.done")
    handle, done = embed_output.open_partial(partial, log_path, attrs, expected_shape,
                                             overwrite)
    todo = [i for i in range(len(sentences)) if i not in done]
    order = sorted(todo, key=lambda i: -lengths[i])  # longest first: memory errors show early
    run = _TokenTable(encoder, [tokens[i] for i in todo])  # the char CNN, once per type
    bar = tqdm(total=len(sentences), initial=len(done), unit="sent", disable=not progress,
               desc=f"embed {input_path.name}")
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            for batch in _length_batches(order, lengths, batch_size, max_tokens_per_batch):
                if lengths[batch[0]] > 0:
                    layers = _embed_batch(run, [tokens[i] for i in batch])
                else:
                    layers = np.zeros((n_layers + 1, len(batch), 0, width), np.float32)
                for row, i in enumerate(batch):
                    vectors = layers[:, row, :lengths[i]]
                    if output_layer == "top":
                        vectors = vectors[-1]
                    elif output_layer == "average":
                        vectors = vectors.mean(axis=0)
                    handle.create_dataset(str(i), data=vectors.astype(np.float32))
                handle.flush()
                log.write("".join(f"{i}\n" for i in batch))
                log.flush()
                os.fsync(log.fileno())
                bar.update(len(batch))
        sentence_to_index = {sentence: str(i) for i, sentence in enumerate(sentences)}
        if _SENTENCE_TO_INDEX in handle:
            del handle[_SENTENCE_TO_INDEX]
        dataset = handle.create_dataset(_SENTENCE_TO_INDEX, (1,),
                                        dtype=h5py.special_dtype(vlen=str))
        dataset[0] = json.dumps(sentence_to_index)
    finally:
        bar.close()
        handle.close()
    atomic.fsync_file(partial)
    os.replace(partial, output_path)
    atomic.fsync_directory(output_path.parent)
    log_path.unlink(missing_ok=True)

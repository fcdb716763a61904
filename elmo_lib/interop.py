"""Interoperability: bilm-tf / AllenNLP weight files and TF Hub modules.

- :func:`load_bilm_tf` / :func:`save_bilm_tf`  ``options.json`` + ``weights.hdf5`` <-> our encoder
- :func:`export_hub`  our encoder -> a SavedModel with ``google/elmo/3``'s signatures and outputs
- :class:`HubELMo`    a Keras 3 layer around such a module (ours or Google's) with a trainable mix
- :func:`tf_char_ids` strings -> character ids in TensorFlow ops (used inside the exported module)

bilm-tf conventions (checked numerically in ``tests/test_interop.py`` against a NumPy reference):
the char embedding in the file has 261 rows (raw ids 0..260); the model uses 262 with a zero row 0
for padding, and published ``options.json`` files say ``"n_characters": 262``. TF1's ``LSTMCell``
stores gates in the order ``i, j, f, o`` and adds ``forget_bias=1.0`` at run time; our ``LSTMP``
uses ``i, f, g, o`` with the 1.0 inside the bias. ``W_carry``/``b_carry`` is the highway gate that
multiplies the *transform* branch. Introduced in lesson 06.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
import urllib.error

import h5py
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from elmo_lib import corpus, text
from elmo_lib.bilm import BiLMConfig, BiLMEncoder, build_encoder, encoder_layer, require_char_model
from elmo_lib.layers import ScalarMix, set_trainable

FORGET_BIAS = 1.0  # TF1 LSTMCell's run-time forget bias, folded into our bias on load


# ----------------------------------------------------------------------------------------------
# bilm-tf weights.hdf5
# ----------------------------------------------------------------------------------------------
def _lstm_scope(direction: int, layer: int) -> str:
    return f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


def _swap_gates(array: np.ndarray) -> np.ndarray:
    """``i, j, f, o`` <-> ``i, f, j, o`` on the last axis (the permutation is its own inverse)."""
    i, second, third, o = np.split(array, 4, axis=-1)
    return np.concatenate([i, third, second, o], axis=-1)


def _forget_offset(hidden: int) -> np.ndarray:
    return np.concatenate([np.zeros(hidden), np.full(hidden, FORGET_BIAS), np.zeros(2 * hidden)]
                          ).astype(np.float32)


def expected_shapes(config: BiLMConfig) -> dict[str, tuple[int, ...]]:
    """Every dataset of a bilm-tf ``weights.hdf5`` for ``config`` and its shape."""
    c, shapes = config, {}
    if c.token_input == "chars":
        shapes["char_embed"] = (c.n_characters - 1, c.char_embedding_dim)
        for i, (width, n) in enumerate(c.filters):
            shapes[f"CNN/W_cnn_{i}"] = (1, width, c.char_embedding_dim, n)
            shapes[f"CNN/b_cnn_{i}"] = (n,)
        total = sum(n for _, n in c.filters)
        for k in range(c.n_highway):
            for name in ("W_carry", "W_transform"):
                shapes[f"CNN_high_{k}/{name}"] = (total, total)
            for name in ("b_carry", "b_transform"):
                shapes[f"CNN_high_{k}/{name}"] = (total,)
        shapes["CNN_proj/W_proj"] = (total, c.projection_dim)
        shapes["CNN_proj/b_proj"] = (c.projection_dim,)
    else:
        shapes["embedding"] = (c.vocab_size, c.projection_dim)
    for d in range(2):
        for layer in range(c.n_layers):
            scope = _lstm_scope(d, layer)
            shapes[f"{scope}/W_0"] = (c.projection_dim * 2, 4 * c.lstm_dim)
            shapes[f"{scope}/B"] = (4 * c.lstm_dim,)
            shapes[f"{scope}/W_P_0"] = (c.lstm_dim, c.projection_dim)
    return shapes


def _optional(name: str, config: BiLMConfig) -> bool:
    """bilm-tf omits the CNN projection when n_filters == P and the LSTM projection when H == P."""
    if name.startswith("CNN_proj/"):
        return sum(n for _, n in config.filters) == config.projection_dim
    return name.endswith("/W_P_0") and config.lstm_dim == config.projection_dim


def _read_datasets(handle: h5py.File, config: BiLMConfig, path: str) -> dict[str, np.ndarray]:
    arrays = {}
    for name, shape in expected_shapes(config).items():
        if name not in handle:
            if _optional(name, config):
                continue
            raise ValueError(f"{path}: dataset {name!r} is missing (expected shape {shape}); "
                             "is this a bilm-tf weights.hdf5 matching options.json?")
        found = tuple(handle[name].shape)
        if found != shape:
            raise ValueError(f"{path}: dataset {name!r} has shape {found}, expected {shape} "
                             "from options.json")
        arrays[name] = np.asarray(handle[name][...], dtype=np.float32)
    return arrays


def _resolve_file(location, what: str) -> str:
    """A local path, or an http(s) URL fetched into the Keras cache by
    :func:`elmo_lib.download.cached_url` (keyed by the whole URL; a damaged copy is fetched again)."""
    from elmo_lib import download

    location = os.fspath(location)
    if location.startswith(("http://", "https://")):
        try:
            return str(download.cached_url(location))
        except OSError as error:  # re-raised with the context users need
            raise OSError(f"could not download the {what} from {location} ({error}); without "
                          "network access, download it elsewhere and pass the local path") from error
    if not os.path.isfile(location):
        raise FileNotFoundError(f"{what} not found: {location}")
    return location


def _from_bilm_tf(layer: BiLMEncoder, arrays: dict[str, np.ndarray]) -> None:
    c = layer.config
    embedder = layer.token_embedder
    if c.token_input == "chars":
        table = arrays["char_embed"]
        embedder.char_embedding.embeddings.assign(
            np.vstack([np.zeros((1, table.shape[1]), np.float32), table]))
        for i, conv in enumerate(embedder.convolutions):
            conv.kernel.assign(arrays[f"CNN/W_cnn_{i}"][0])
            conv.bias.assign(arrays[f"CNN/b_cnn_{i}"])
        for k, highway in enumerate(embedder.highways):
            highway.gate_kernel.assign(arrays[f"CNN_high_{k}/W_carry"])
            highway.gate_bias.assign(arrays[f"CNN_high_{k}/b_carry"])
            highway.transform_kernel.assign(arrays[f"CNN_high_{k}/W_transform"])
            highway.transform_bias.assign(arrays[f"CNN_high_{k}/b_transform"])
        dim = embedder.projection.kernel.shape[0]
        embedder.projection.kernel.assign(arrays.get("CNN_proj/W_proj", np.eye(dim, dtype="f4")))
        embedder.projection.bias.assign(arrays.get("CNN_proj/b_proj", np.zeros(dim, "f4")))
    else:
        table = arrays["embedding"]
        embedder.embeddings.assign(np.vstack([np.zeros((1, table.shape[1]), np.float32), table]))
    for d, layers in enumerate((layer.forward_layers, layer.backward_layers)):
        for k, lstm in enumerate(layers):
            scope = _lstm_scope(d, k)
            kernel = _swap_gates(arrays[f"{scope}/W_0"])
            lstm.kernel.assign(kernel[:c.projection_dim])
            lstm.recurrent_kernel.assign(kernel[c.projection_dim:])
            lstm.bias.assign(_swap_gates(arrays[f"{scope}/B"]) + _forget_offset(c.lstm_dim))
            lstm.projection_kernel.assign(
                arrays.get(f"{scope}/W_P_0", np.eye(c.lstm_dim, dtype=np.float32)))


def _to_bilm_tf(layer: BiLMEncoder) -> dict[str, np.ndarray]:
    c = layer.config
    embedder = layer.token_embedder
    arrays = {}
    if c.token_input == "chars":
        arrays["char_embed"] = ops.convert_to_numpy(embedder.char_embedding.embeddings)[1:]
        for i, conv in enumerate(embedder.convolutions):
            arrays[f"CNN/W_cnn_{i}"] = ops.convert_to_numpy(conv.kernel)[None]
            arrays[f"CNN/b_cnn_{i}"] = ops.convert_to_numpy(conv.bias)
        for k, highway in enumerate(embedder.highways):
            for name, variable in (("W_carry", highway.gate_kernel), ("b_carry", highway.gate_bias),
                                   ("W_transform", highway.transform_kernel),
                                   ("b_transform", highway.transform_bias)):
                arrays[f"CNN_high_{k}/{name}"] = ops.convert_to_numpy(variable)
        arrays["CNN_proj/W_proj"] = ops.convert_to_numpy(embedder.projection.kernel)
        arrays["CNN_proj/b_proj"] = ops.convert_to_numpy(embedder.projection.bias)
    else:
        arrays["embedding"] = ops.convert_to_numpy(embedder.embeddings)[1:]
    for d, layers in enumerate((layer.forward_layers, layer.backward_layers)):
        for k, lstm in enumerate(layers):
            scope = _lstm_scope(d, k)
            kernel = np.concatenate([ops.convert_to_numpy(lstm.kernel),
                                     ops.convert_to_numpy(lstm.recurrent_kernel)])
            arrays[f"{scope}/W_0"] = _swap_gates(kernel)
            bias = ops.convert_to_numpy(lstm.bias) - _forget_offset(c.lstm_dim)
            arrays[f"{scope}/B"] = _swap_gates(bias)
            arrays[f"{scope}/W_P_0"] = ops.convert_to_numpy(lstm.projection_kernel)
    return {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}


def load_bilm_tf(options_file, weight_file) -> keras.Model:
    """Build our encoder from a bilm-tf / AllenNLP ``options.json`` and ``weights.hdf5``.

    Works for the published character models (e.g. ``elmo_2x4096_512_2048cnn_2xhighway``) and
    for word-level models (an ``embedding`` dataset ``[V, P]`` instead of the char CNN; the vocab
    size comes from the file). Gates are reordered from TF1's ``i, j, f, o`` to ``i, f, g, o`` and
    the run-time forget bias 1.0 is added to the stored bias; the char embedding gets its zero
    padding row. Extra datasets (e.g. a softmax) are ignored.

    Args:
        options_file: path or http(s) URL of ``options.json``, or the options dict itself.
        weight_file: path or http(s) URL of ``weights.hdf5``. URLs are downloaded into the Keras
            cache (``~/.keras/datasets/elmo_lib/<url hash>/``), which needs network access.

    Returns:
        the functional model of :func:`elmo_lib.bilm.build_encoder` with the file's weights:
        char ids ``[B, T, 50]`` in, ``{"word_emb", "lstm_outputs1", ..., "mask"}`` out.

    Raises:
        ValueError: a dataset is missing or has the wrong shape (the message names it, with the
            expected and the found shape).
        FileNotFoundError / OSError: a file is absent or cannot be downloaded.

    Example:
        >>> encoder = load_bilm_tf("elmo_options.json", "elmo_weights.hdf5")
        >>> layers = encoder(text.char_ids([["Hello", "world"]]))
    """
    if isinstance(options_file, dict):
        options = options_file
    else:
        from elmo_lib.atomic import read_json

        options = read_json(_resolve_file(options_file, "options file"), "options file")
    config = BiLMConfig.from_options(options)
    weight_path = _resolve_file(weight_file, "weight file")
    try:
        handle = h5py.File(weight_path, "r")
    except OSError as error:
        raise ValueError(f"{weight_path}: not a readable HDF5 weight file, damaged or cut short "
                         f"({error})") from error
    with handle:
        if config.token_input == "words":
            if "embedding" not in handle:
                raise ValueError(f"{weight_path}: dataset 'embedding' is missing (a word-level "
                                 "model: options.json has no 'char_cnn')")
            config = dataclasses.replace(config, vocab_size=int(handle["embedding"].shape[0]))
        arrays = _read_datasets(handle, config, weight_path)
    model = build_encoder(config)
    _from_bilm_tf(encoder_layer(model), arrays)
    return model


def _atomic_write(path: pathlib.Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_bilm_tf(encoder, directory) -> tuple[str, str]:
    """Write ``options.json`` and ``weights.hdf5`` in bilm-tf's layout (loadable by AllenNLP).

    The inverse of :func:`load_bilm_tf`: the char embedding loses its zero row, gates go back to
    ``i, j, f, o`` and 1.0 is subtracted from the forget bias. Each file is written to a temporary
    name and renamed, so a crash never leaves a half-written file.

    Round trip: every weight comes back bit-exactly, and so do the outputs, as long as each
    forget-gate bias ``b`` lies in ``[0.5, 2**24)`` (it starts at 1.0); there ``b - 1`` is exact in
    float32. A smaller ``b`` loses one float32 rounding of ``b - 1`` (at most
    ``2**-24 * (1 + |b|)``): the file format stores ``b - 1``, so this cannot be avoided. The
    char embedding's row 0 is not stored (the model never reads it: it is the padding row).

    Args:
        encoder: a model from :func:`build_encoder` / :func:`load_bilm_tf`, a ``BiLMEncoder`` or
            a ``BiLMTrainer``.
        directory: created if needed.

    Returns:
        ``(options_path, weights_path)``.
    """
    layer = encoder_layer(encoder)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    options = layer.config.to_options()
    if layer.config.token_input == "words":
        options.pop("char_cnn", None)
    arrays = _to_bilm_tf(layer)

    def write_options(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(options, handle, indent=2)

    def write_weights(tmp):
        with h5py.File(tmp, "w") as handle:
            for name, value in arrays.items():
                handle.create_dataset(name, data=value, dtype="float32")

    options_path, weights_path = directory / "options.json", directory / "weights.hdf5"
    _atomic_write(weights_path, write_weights)
    _atomic_write(options_path, write_options)
    return str(options_path), str(weights_path)


# ----------------------------------------------------------------------------------------------
# Strings -> char ids in TensorFlow ops
# ----------------------------------------------------------------------------------------------
def tf_char_ids(tokens, max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN):
    """:func:`elmo_lib.text.char_ids` in TensorFlow ops, for graphs and SavedModels.

    Each token's UTF-8 bytes are cut to ``max_characters_per_token - 2`` bytes, framed as
    ``[BOW, bytes, EOW, PAD...]`` (``"<S>"``/``"</S>"`` become the boundary tokens) and shifted
    by +1. It does not mask anything: an empty string is a token ``[BOW, EOW, PAD...] + 1``.

    Args:
        tokens: ``tf.string`` tensor of any shape ``S``.
        max_characters_per_token: character slots per token.

    Returns:
        int32 tensor ``S + [max_characters_per_token]``.
    """
    tokens = tf.convert_to_tensor(tokens, tf.string)
    width = max_characters_per_token
    flat = tf.reshape(tokens, [-1])
    cut = tf.strings.substr(flat, 0, width - 2, unit="BYTE")
    data = tf.cast(tf.io.decode_raw(cut, tf.uint8, fixed_length=width - 2), tf.int32)
    lengths = tf.strings.length(cut, unit="BYTE")
    is_bos, is_eos = tf.equal(flat, text.BOS_TOKEN), tf.equal(flat, text.EOS_TOKEN)
    special = tf.where(is_bos, text.BOS_CHAR, text.EOS_CHAR)[:, None]
    data = tf.where((is_bos | is_eos)[:, None], tf.pad(special, [[0, 0], [0, width - 3]]), data)
    lengths = tf.where(is_bos | is_eos, 1, lengths)[:, None]
    body = tf.pad(data, [[0, 0], [1, 1]])  # slot p holds byte p - 1
    position = tf.range(width)[None, :]
    ids = tf.where(position == 0, text.BOW_CHAR,
                   tf.where(position <= lengths, body,
                            tf.where(position == lengths + 1, text.EOW_CHAR, text.PAD_CHAR)))
    return tf.reshape(ids + 1, tf.concat([tf.shape(tokens), [width]], axis=0))


def split_sentences(strings):
    """Split 1-D ``tf.string`` sentences into tokens by :func:`elmo_lib.text.split_tokens`' rule.

    Runs of ASCII or Unicode whitespace (``str.isspace``) separate tokens
    (:func:`elmo_lib.corpus.tf_split_tokens`). ``google/elmo/3`` splits on ASCII spaces only, so
    there a tab or a no-break space stays inside a token; ours follows the rule of every other
    path of ``elmo_lib``.

    Returns:
        ``(tokens [B, T] padded with "", sequence_len [B] int32)``.
    """
    pieces = corpus.tf_split_tokens(tf.convert_to_tensor(strings, tf.string))
    return pieces.to_tensor(default_value=""), tf.cast(pieces.row_lengths(), tf.int32)


def _length_mask(tokens, sequence_len):
    time = tf.shape(tokens)[1]
    return tf.range(time)[None, :] < tf.minimum(tf.cast(sequence_len, tf.int32), time)[:, None]


# ----------------------------------------------------------------------------------------------
# TF Hub export
# ----------------------------------------------------------------------------------------------
class _HubModule(tf.Module):
    """The exported object: the encoder's variables and two ``tf.function`` signatures."""

    def __init__(self, layer: BiLMEncoder):
        super().__init__(name="elmo")
        self.encoder = layer
        self.encoder_variables = [v.value if hasattr(v, "value") else v for v in layer.weights]
        self.max_characters_per_token = layer.config.max_characters_per_token
        self.default = tf.function(self._default, input_signature=[
            tf.TensorSpec([None], tf.string, name="strings")])
        self.tokens = tf.function(self._tokens, input_signature=[
            tf.TensorSpec([None, None], tf.string, name="tokens"),
            tf.TensorSpec([None], tf.int32, name="sequence_len")])

    def _default(self, strings):
        tokens, sequence_len = split_sentences(strings)
        return self._embed(tokens, sequence_len)

    def _tokens(self, tokens, sequence_len):
        return self._embed(tokens, sequence_len)

    def _embed(self, tokens, sequence_len):
        mask = _length_mask(tokens, sequence_len)
        ids = tf_char_ids(tokens, self.max_characters_per_token) * tf.cast(mask, tf.int32)[..., None]
        layers = self.encoder(ids)
        outputs = {key: layers[key] for key in self.encoder.output_keys}
        word = outputs["word_emb"]
        stacked = [tf.concat([word, word], axis=-1)]
        stacked += [outputs[key] for key in self.encoder.output_keys[1:]]
        elmo = tf.add_n(stacked) / float(len(stacked))  # fixed mix: weights 1/L, gamma 1
        weights = tf.cast(mask, elmo.dtype)[..., None]
        outputs["elmo"] = elmo * weights
        outputs["default"] = (tf.reduce_sum(elmo * weights, axis=1)
                              / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0))
        outputs["sequence_len"] = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        return outputs


def export_hub(encoder, path) -> str:
    """Export our biLM as a SavedModel with ``google/elmo/3``'s signatures and output keys.

    Signatures:
        ``default``: ``strings`` ``[B]`` tf.string, each sentence split on whitespace by
            :func:`split_sentences` (ASCII and Unicode; ``google/elmo/3``: ASCII spaces).
        ``tokens``: ``tokens`` ``[B, T]`` tf.string padded with ``""``, ``sequence_len`` ``[B]``
        int32 (tokens at positions ``>= sequence_len`` are ignored, whatever they hold).

    Outputs (both signatures): ``word_emb`` ``[B, T, P]``, ``lstm_outputs1..n`` ``[B, T, 2P]``,
    ``elmo`` ``[B, T, 2P]`` = the **fixed** average ``(1/(n+1)) * ([word_emb; word_emb] +
    lstm_outputs1 + ... + lstm_outputs_n)`` (mix weights 1/(n+1), gamma 1; Google's module has
    trainable weights here, which TF2 cannot train: use :class:`HubELMo` for a trainable mix),
    ``default`` ``[B, 2P]`` (mean of ``elmo`` over real tokens) and ``sequence_len`` ``[B]``. All
    outputs are zero past ``sequence_len``. Strings become char ids inside the graph
    (:func:`tf_char_ids`), so the module needs nothing but TensorFlow. Load it with
    ``hub.load(path)`` or :class:`HubELMo`.

    Args:
        encoder: a character-level encoder model, ``BiLMEncoder`` or ``BiLMTrainer``.
        path: output directory (replaced if it exists; written to a temporary directory first).

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: a word-level biLM (``bilm.require_char_model``'s message).
    """
    source = encoder_layer(encoder)
    config = source.config
    require_char_model(config, "export_hub")
    layer = BiLMEncoder(config, add_boundaries=True, name="bilm")
    layer.build((None, None, config.max_characters_per_token))
    layer.set_weights(source.get_weights())
    module = _HubModule(layer)
    signatures = {"default": module.default.get_concrete_function(),
                  "tokens": module.tokens.get_concrete_function()}
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        tf.saved_model.save(module, str(tmp), signatures=signatures)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(path)


# ----------------------------------------------------------------------------------------------
# TF Hub import
# ----------------------------------------------------------------------------------------------
def load_hub_module(handle: str):
    """``tensorflow_hub.load(handle)`` with an error that says what was tried.

    Loading a SavedModel runs the TensorFlow graph stored in it: only load modules you trust.
    """
    import tensorflow_hub as hub  # optional dependency (the "hub" extra)

    handle = os.fspath(handle)
    is_remote = "://" in handle
    if not is_remote and not os.path.exists(handle):
        raise FileNotFoundError(f"TF Hub module not found: {handle!r} is not an existing local "
                                f"directory (resolved to {os.path.abspath(handle)}) and not a URL")
    try:
        return hub.load(handle)
    except Exception as error:  # re-raised with the context users need
        cache = os.environ.get("TFHUB_CACHE_DIR", "<unset: tensorflow_hub's temp-dir cache>")
        network = (" The download failed: this machine seems to have no network access (or the "
                   "URL is wrong)." if isinstance(error, urllib.error.URLError) else "")
        raise OSError(
            f"could not load the TF Hub module {handle!r}: tried the local path "
            f"{os.path.abspath(handle) if not is_remote else '(not a path)'}, the URL/handle via "
            f"tensorflow_hub and its cache TFHUB_CACHE_DIR={cache}.{network} Without network "
            "access, download the module elsewhere (or export ours with "
            f"elmo_lib.interop.export_hub) and pass its local directory. Cause: {error}"
        ) from error


_HUB_MODES = ("word_emb", "lstm_outputs1", "lstm_outputs2", "elmo", "default")


@keras.saving.register_keras_serializable(package="elmo_lib")
class HubELMo(keras.layers.Layer):
    """ELMo from a TF Hub module (``google/elmo/3`` or one written by :func:`export_hub`).

    The module is loaded with ``tensorflow_hub.load`` when the layer is built (not pickled: a
    ``.keras`` file stores only ``handle``, so loading the model reloads the module from there).
    Its weights stay frozen. For ``output_mode="elmo"``/``"default"`` the layer mixes
    ``[word_emb; word_emb]``, ``lstm_outputs1`` and ``lstm_outputs2`` with its own trainable
    :class:`~elmo_lib.layers.ScalarMix` (3 weights + gamma), because the module's own ``elmo``
    output cannot be fine-tuned in TF2. ``hub.KerasLayer`` cannot take Keras 3 inputs, hence
    this layer.

    **Security**: loading a SavedModel runs the TensorFlow graph stored in it; only use modules
    you trust.

    Args:
        handle: local directory, ``https://tfhub.dev/...`` URL or hub handle.
        signature: ``"default"`` (1-D sentences; our export splits them by
            :func:`split_sentences`, Google's module on ASCII spaces) or ``"tokens"``.
        output_mode: ``"word_emb"``, ``"lstm_outputs1"``, ``"lstm_outputs2"``, ``"elmo"`` (mix,
            ``[B, T, 2P]``) or ``"default"`` (mean of the mix over tokens, ``[B, 2P]``).
        layer_norm: passed to the ``ScalarMix``.

    Call arguments:
        inputs: ``signature="default"``: ``tf.string [B]``. ``signature="tokens"``: a dict
            ``{"tokens": string [B, T], "sequence_len": int32 [B]}`` or a list in that order.

    Returns:
        ``[B, T, D]`` (sequence modes, zero past each sentence; the mask is propagated) or
        ``[B, 2P]`` (``"default"``).

    Example:
        >>> strings = keras.Input(shape=(), dtype="string")
        >>> vectors = HubELMo("exported_elmo", output_mode="default")(strings)
        >>> model = keras.Model(strings, keras.layers.Dense(2)(vectors))

    Reference: Peters et al. 2018, sec. 3.2. Introduced in lesson 06.
    """

    def __init__(self, handle: str, signature: str = "default", output_mode: str = "elmo",
                 layer_norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        if signature not in ("default", "tokens"):
            raise ValueError("`signature` must be 'default' or 'tokens', received "
                             f"signature={signature!r}")
        if output_mode not in _HUB_MODES:
            raise ValueError(f"`output_mode` must be one of {_HUB_MODES}, received "
                             f"output_mode={output_mode!r}")
        self.handle = os.fspath(handle)
        self.signature = signature
        self.output_mode = output_mode
        self.layer_norm = bool(layer_norm)
        self.supports_masking = True
        self.scalar_mix = (ScalarMix(3, layer_norm=layer_norm, name="scalar_mix")
                           if output_mode in ("elmo", "default") else None)
        if not self.trainable:  # from a config: the scalar mix above starts trainable
            set_trainable(self, False)
        self._function = None
        self._string_keyword = "strings"
        self._dims = None

    def build(self, input_shape=None):
        module = load_hub_module(self.handle)
        if self.signature not in module.signatures:
            raise ValueError(f"TF Hub module {self.handle!r} has no signature "
                             f"{self.signature!r}; it has {sorted(module.signatures)}")
        function = module.signatures[self.signature]
        outputs = function.structured_outputs
        needed = ("word_emb", "lstm_outputs1", "lstm_outputs2")
        missing = [key for key in needed if key not in outputs]
        if missing:
            raise ValueError(f"TF Hub module {self.handle!r} signature {self.signature!r} lacks "
                             f"outputs {missing}; it has {sorted(outputs)}")
        self._module, self._function = module, function  # keep the module (and its variables)
        # Input keywords: ours is "strings"; a TF1 module's single input may be called otherwise.
        keywords = sorted((function.structured_input_signature or ((), {}))[1])
        self._string_keyword = keywords[0] if len(keywords) == 1 else "strings"
        self._dims = {key: outputs[key].shape[-1] for key in needed}
        if self.scalar_mix is not None:
            dim = self._dims["lstm_outputs1"]
            self.scalar_mix.build([(None, None, dim)] * 3)

    def _split_inputs(self, inputs):
        if self.signature == "default":
            strings = tf.reshape(tf.convert_to_tensor(inputs, tf.string), [-1])
            tokens, sequence_len = split_sentences(strings)
            return {self._string_keyword: strings}, _length_mask(tokens, sequence_len)
        if isinstance(inputs, dict):
            tokens, sequence_len = inputs["tokens"], inputs["sequence_len"]
        else:
            tokens, sequence_len = inputs
        tokens = tf.convert_to_tensor(tokens, tf.string)
        sequence_len = tf.reshape(tf.cast(sequence_len, tf.int32), [-1])
        return ({"tokens": tokens, "sequence_len": sequence_len},
                _length_mask(tokens, sequence_len))

    def call(self, inputs):
        arguments, mask = self._split_inputs(inputs)
        outputs = self._function(**arguments)
        weights = tf.cast(mask, tf.float32)[..., None]
        if self.scalar_mix is None:
            return tf.stop_gradient(outputs[self.output_mode]) * weights
        word = outputs["word_emb"]
        layers = [tf.concat([word, word], axis=-1), outputs["lstm_outputs1"],
                  outputs["lstm_outputs2"]]
        layers = [tf.stop_gradient(h) * weights for h in layers]
        mixed = self.scalar_mix(layers, mask=mask) * weights
        if self.output_mode == "elmo":
            return mixed
        return tf.reduce_sum(mixed, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        if self.output_mode == "default":
            return None
        first = inputs if self.signature == "default" else (
            inputs["tokens"] if isinstance(inputs, dict) else inputs[0])
        if isinstance(first, keras.KerasTensor):  # functional-model construction
            time = None if self.signature == "default" else first.shape[1]
            return keras.KerasTensor((first.shape[0], time), dtype="bool")
        return self._split_inputs(inputs)[1]

    def compute_output_spec(self, inputs, mask=None):
        if self.signature == "default":
            batch, time = inputs.shape[0], None
        else:
            tokens = inputs["tokens"] if isinstance(inputs, dict) else inputs[0]
            batch, time = tokens.shape[0], tokens.shape[1]
        dims = self._dims or {}
        if self.output_mode == "default":
            return keras.KerasTensor((batch, dims.get("lstm_outputs1")))
        key = "lstm_outputs1" if self.output_mode == "elmo" else self.output_mode
        return keras.KerasTensor((batch, time, dims.get(key)))

    def get_config(self):
        return {**super().get_config(), "handle": self.handle, "signature": self.signature,
                "output_mode": self.output_mode, "layer_norm": self.layer_norm}

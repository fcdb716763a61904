"""An independent NumPy biLM forward pass, written from the equations with bilm-tf's conventions.

This is the yardstick the Keras layers are tested against. It shares no code with ``elmo_lib``
(not even the character-id constants) and it is written for clarity, not speed: explicit loops over
time steps, one sentence at a time, no padding.

Weights are a ``dict`` in the **bilm-tf ``weights.hdf5`` layout** (dataset path -> array):

=========================================================  ============================  ==========
dataset                                                    shape                         notes
=========================================================  ============================  ==========
``char_embed``                                             ``[261, E]``                  raw ids 0..260
``CNN/W_cnn_{i}``, ``CNN/b_cnn_{i}``                       ``[1, w, E, n]``, ``[n]``     filter i
``CNN_high_{k}/W_carry``, ``b_carry``                      ``[F, F]``, ``[F]``           gate ``t``
``CNN_high_{k}/W_transform``, ``b_transform``              ``[F, F]``, ``[F]``           relu branch
``CNN_proj/W_proj``, ``CNN_proj/b_proj``                   ``[F, P]``, ``[P]``
``embedding`` (word-level models only)                     ``[V, P]``                    vocab ids
``RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_0``          ``[in + P, 4H]``              gates i,j,f,o
``RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/B``            ``[4H]``                      no forget +1
``RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_P_0``        ``[H, P]``
=========================================================  ============================  ==========

``d = 0`` is the forward direction, ``d = 1`` the backward one; ``F`` is the total number of
filters. The LSTM follows TensorFlow 1's ``LSTMCell(num_proj=P, cell_clip, proj_clip)``::

    i, j, f, o = split([x_t, h_{t-1}] W_0 + B, 4)
    c_t = clip(sigmoid(f + forget_bias) * c_{t-1} + sigmoid(i) * tanh(j), +-cell_clip)
    h_t = clip((sigmoid(o) * tanh(c_t)) W_P_0, +-proj_clip)

with ``forget_bias = 1.0`` added at run time. Layers after the first add their input to their
output (``ResidualWrapper``: the skip is not fed back into the recurrence). The backward direction
reads the sentence right to left. Every sentence is wrapped in ``<S> ... </S>`` before the model
and the two boundary positions are removed from the outputs (bilm-tf's inference graph).

Usage (the ``tests`` directory is on ``sys.path`` under pytest's default rootdir conftest, or
import it as ``tests.numpy_reference`` from the repo root)::

    from numpy_reference import np_encoder
    layers = np_encoder(weights, options, [char_ids_of_sentence_0, ...])
    layers[0]["lstm_outputs2"]  # [T_0, 2P]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# Character ids *after* bilm-tf's "+1" shift (Batcher adds 1 so that 0 means "no token").
BOW = 258 + 1
EOW = 259 + 1
PAD = 260 + 1
BOS_CHAR = 256 + 1
EOS_CHAR = 257 + 1
FORGET_BIAS = 1.0  # tf.nn.rnn_cell.LSTMCell's default, added at run time


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def boundary_char_ids(max_characters_per_token: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Shifted char ids of ``<S>`` and ``</S>``: ``[BOW, BOS|EOS, EOW, PAD, ...]``."""
    bos = np.full(max_characters_per_token, PAD, dtype=np.int64)
    eos = bos.copy()
    bos[:3] = (BOW, BOS_CHAR, EOW)
    eos[:3] = (BOW, EOS_CHAR, EOW)
    return bos, eos


def np_token_char_ids(token: str, max_characters_per_token: int = 50) -> np.ndarray:
    """Shifted char ids of one token: ``[BOW, utf8[:max-2], EOW, PAD...] + 1``."""
    if token in ("<S>", "</S>"):
        return boundary_char_ids(max_characters_per_token)[0 if token == "<S>" else 1]
    body = list(token.encode("utf-8", "ignore")[: max_characters_per_token - 2])
    raw = [258] + body + [259] + [260] * (max_characters_per_token - len(body) - 2)
    return np.asarray(raw, dtype=np.int64) + 1


def options_from_weights(weights: Mapping[str, np.ndarray], activation: str = "relu") -> dict:
    """The ``char_cnn`` part of ``options.json`` read off the weights' shapes."""
    filters = []
    while f"CNN/W_cnn_{len(filters)}" in weights:
        shape = weights[f"CNN/W_cnn_{len(filters)}"].shape
        filters.append([shape[1], shape[3]])
    n_highway = 0
    while f"CNN_high_{n_highway}/W_carry" in weights:
        n_highway += 1
    return {"filters": filters, "n_highway": n_highway, "activation": activation}


def np_char_cnn(weights: Mapping[str, np.ndarray], char_ids: np.ndarray,
                options: Mapping | None = None) -> np.ndarray:
    """bilm-tf's character CNN for the tokens of one sentence.

    Args:
        weights: bilm-tf layout (see the module docstring).
        char_ids: int ``[T, C]`` shifted char ids (0 = padding character row, zero embedding).
        options: bilm-tf ``options.json`` dict; by default filters and highways are read off the
            weights, the activation is relu and ``CNN_proj`` is applied if present.

    Returns:
        ``[T, P]`` (or ``[T, F]`` when bilm-tf skips the projection because ``F == P``).
    """
    if options is None:
        options = {"char_cnn": options_from_weights(weights), "lstm": {"projection_dim": None}}
    cnn = options["char_cnn"]
    activation = {"relu": lambda v: np.maximum(v, 0.0), "tanh": np.tanh}[cnn["activation"]]
    # bilm-tf prepends a zero row so that id 0 (padding) embeds to zeros.
    table = np.vstack([np.zeros((1, weights["char_embed"].shape[1])), weights["char_embed"]])
    tokens, chars = char_ids.shape
    embedded = table[char_ids]  # [T, C, E]
    features = []
    for i, (width, n_filters) in enumerate(cnn["filters"]):
        kernel = weights[f"CNN/W_cnn_{i}"][0]  # [w, E, n]
        bias = weights[f"CNN/b_cnn_{i}"]
        best = np.full((tokens, n_filters), -np.inf)
        for start in range(chars - width + 1):  # "valid" convolution, then max over positions
            window = embedded[:, start:start + width, :]  # [T, w, E]
            value = np.einsum("twe,wen->tn", window, kernel) + bias
            best = np.maximum(best, value)
        features.append(activation(best))
    x = np.concatenate(features, axis=-1)
    for k in range(cnn.get("n_highway") or 0):
        scope = f"CNN_high_{k}"
        gate = sigmoid(x @ weights[f"{scope}/W_carry"] + weights[f"{scope}/b_carry"])
        transform = np.maximum(x @ weights[f"{scope}/W_transform"] + weights[f"{scope}/b_transform"],
                               0.0)
        x = gate * transform + (1.0 - gate) * x  # the "carry" gate multiplies the transform
    if x.shape[-1] != options["lstm"]["projection_dim"] or "CNN_proj/W_proj" in weights:
        x = x @ weights["CNN_proj/W_proj"] + weights["CNN_proj/b_proj"]
    return x


def np_lstmp(inputs: np.ndarray, kernel: np.ndarray, bias: np.ndarray,
             projection: np.ndarray | None, cell_clip: float | None, proj_clip: float | None,
             forget_bias: float = FORGET_BIAS, trace: dict | None = None) -> np.ndarray:
    """TF1 ``LSTMCell`` with projection over one sequence, zero initial state.

    Args:
        inputs: ``[T, in]``.
        kernel: ``W_0`` ``[in + P, 4H]``, gate blocks ``i, j, f, o``.
        bias: ``B`` ``[4H]``.
        projection: ``W_P_0`` ``[H, P]`` or ``None`` (no projection, ``P = H``).
        cell_clip, proj_clip: clip values or ``None``.
        forget_bias: added to the forget-gate pre-activation at run time.
        trace: optional dict; the counts of clipped cell / projection values are added to
            ``trace["cell_clipped"]`` and ``trace["proj_clipped"]``.

    Returns:
        ``h`` for every step, ``[T, P]``.
    """
    hidden = bias.shape[0] // 4
    out_dim = hidden if projection is None else projection.shape[1]
    h = np.zeros(out_dim)
    c = np.zeros(hidden)
    outputs = []
    for x_t in inputs:
        z = np.concatenate([x_t, h]) @ kernel + bias
        i, j, f, o = (z[g * hidden:(g + 1) * hidden] for g in range(4))
        c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
        if cell_clip:
            if trace is not None:
                trace["cell_clipped"] = trace.get("cell_clipped", 0) + int(np.sum(np.abs(c) > cell_clip))
            c = np.clip(c, -cell_clip, cell_clip)
        m = sigmoid(o) * np.tanh(c)
        if projection is not None:
            m = m @ projection
            if proj_clip:
                if trace is not None:
                    trace["proj_clipped"] = trace.get("proj_clipped", 0) + int(np.sum(np.abs(m) > proj_clip))
                m = np.clip(m, -proj_clip, proj_clip)
        h = m
        outputs.append(h)
    return np.stack(outputs) if outputs else np.zeros((0, out_dim))


def tf1_lstm_from_keras(kernel: np.ndarray, recurrent_kernel: np.ndarray,
                        bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras-layout LSTMP weights (gates ``i, f, g, o``, forget bias inside ``bias``) as TF1's
    ``(W_0, B)`` (gates ``i, j, f, o``, forget bias 1.0 added by :func:`np_lstmp` at run time).
    Done in float64, so ``np_lstmp(x, W_0, B, ...)`` reproduces the Keras cell's maths."""

    def reorder(array):
        i, f, g, o = np.split(np.asarray(array, dtype=np.float64), 4, axis=-1)
        return np.concatenate([i, g, f, o], axis=-1)

    hidden = bias.shape[-1] // 4
    tf1_bias = reorder(bias)
    tf1_bias[2 * hidden:3 * hidden] -= FORGET_BIAS
    return reorder(np.concatenate([kernel, recurrent_kernel])), tf1_bias


def np_lstm_stack(weights: Mapping[str, np.ndarray], inputs: np.ndarray, options: Mapping,
                  direction: int, trace: dict | None = None) -> list[np.ndarray]:
    """All layers of one direction (``0`` forward, ``1`` backward) over one sentence ``[T, P]``."""
    lstm = options["lstm"]
    x = inputs[::-1] if direction == 1 else inputs
    outputs = []
    for layer in range(lstm.get("n_layers", 1)):
        scope = f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
        h = np_lstmp(x, weights[f"{scope}/W_0"], weights[f"{scope}/B"],
                     weights.get(f"{scope}/W_P_0"), lstm.get("cell_clip"), lstm.get("proj_clip"),
                     trace=trace)
        if lstm.get("use_skip_connections") and layer > 0:
            h = h + x  # ResidualWrapper: output only, the recurrence saw the un-skipped h
        outputs.append(h)
        x = h
    return [h[::-1] for h in outputs] if direction == 1 else outputs


def np_encoder(weights: Mapping[str, np.ndarray], options: Mapping,
               sentences: Sequence[np.ndarray], trace: dict | None = None,
               bos_id: int = 0, eos_id: int = 1) -> list[dict[str, np.ndarray]]:
    """The biLM encoder, bilm-tf inference semantics, one sentence at a time.

    Args:
        weights: bilm-tf layout (see the module docstring).
        options: bilm-tf ``options.json`` dict; a model without ``"char_cnn"`` is word-level.
        sentences: per sentence, shifted char ids ``[T_i, C]`` (char models) or vocab ids
            ``[T_i]`` (word models; no shift), without boundary tokens.
        trace: optional dict collecting clip counts (see :func:`np_lstmp`).
        bos_id, eos_id: vocab ids of ``<S>``/``</S>`` (word models only).

    Returns:
        per sentence a dict ``word_emb [T, P]``, ``lstm_outputs{k} [T, 2P]``.
    """
    results = []
    for ids in sentences:
        ids = np.asarray(ids)
        if "char_cnn" in options:
            bos, eos = boundary_char_ids(ids.shape[-1] if ids.ndim == 2 else 50)
            with_boundaries = np.concatenate([bos[None], ids.reshape(-1, bos.shape[0]), eos[None]])
            embedded = np_char_cnn(weights, with_boundaries, options)
        else:
            # bilm-tf's TokenBatcher adds 1 to vocab ids and prepends a zero row to the table.
            table = np.vstack([np.zeros((1, weights["embedding"].shape[1])), weights["embedding"]])
            embedded = table[np.concatenate([[bos_id], ids, [eos_id]]).astype(np.int64) + 1]
        forward = np_lstm_stack(weights, embedded, options, 0, trace)
        backward = np_lstm_stack(weights, embedded, options, 1, trace)
        layers = {"word_emb": embedded[1:-1]}
        for k, (f, b) in enumerate(zip(forward, backward), start=1):
            layers[f"lstm_outputs{k}"] = np.concatenate([f, b], axis=-1)[1:-1]
        results.append(layers)
    return results


def random_bilm_tf_weights(options: Mapping, seed: int = 0, scale: float = 1.0,
                           vocab_size: int | None = None) -> dict[str, np.ndarray]:
    """Random float32 weights in the bilm-tf layout for ``options`` (``scale`` > 1 makes clipping
    happen). Used to write fixtures; not a model initialiser."""
    rng = np.random.default_rng(seed)

    def normal(*shape, std=1.0):
        return (rng.standard_normal(shape) * std * scale).astype(np.float32)

    lstm = options["lstm"]
    hidden, proj = lstm["dim"], lstm["projection_dim"]
    weights: dict[str, np.ndarray] = {}
    if "char_cnn" in options:
        cnn = options["char_cnn"]
        dim = cnn["embedding"]["dim"]
        weights["char_embed"] = normal(261, dim)
        for i, (width, n) in enumerate(cnn["filters"]):
            weights[f"CNN/W_cnn_{i}"] = normal(1, width, dim, n, std=0.3)
            weights[f"CNN/b_cnn_{i}"] = normal(n, std=0.1)
        total = sum(n for _, n in cnn["filters"])
        for k in range(cnn.get("n_highway") or 0):
            for name, shape in (("W_carry", (total, total)), ("b_carry", (total,)),
                                ("W_transform", (total, total)), ("b_transform", (total,))):
                weights[f"CNN_high_{k}/{name}"] = normal(*shape, std=0.3)
        weights["CNN_proj/W_proj"] = normal(total, proj, std=0.3)
        weights["CNN_proj/b_proj"] = normal(proj, std=0.1)
    else:
        weights["embedding"] = normal(vocab_size or 10, proj)
    for d in range(2):
        size = proj
        for layer in range(lstm.get("n_layers", 1)):
            scope = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
            weights[f"{scope}/W_0"] = normal(size + proj, 4 * hidden, std=0.5)
            weights[f"{scope}/B"] = normal(4 * hidden, std=0.5)
            weights[f"{scope}/W_P_0"] = normal(hidden, proj, std=0.5)
    return weights

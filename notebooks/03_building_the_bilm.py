# %% [markdown]
# # 03 · Building the biLM
#
# The layers of ELMo's bidirectional language model, one at a time: character CNN, highway, LSTM with projection, skip connections and the sampled softmax.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/03_building_the_bilm.ipynb)
#
# **Prerequisite:** lesson 02 (character ids and LM batches).

# %% [markdown]
# ## What you will learn
# - **Rebuild** the character CNN from plain Keras layers and match `el.layers.CharCNN` exactly.
# - **Explain** the highway layer and why its gate bias starts at −2.
# - **Verify** one LSTM-with-projection step against NumPy, and that clipping bounds the outputs.
# - **Trace** the encoder's tensor shapes from character ids to the three ELMo layers.
# - **Compare** the sampled-softmax loss with the full softmax, and count the parameters of the published models.

# %%
import os
import sys

if "google.colab" in sys.modules:  # on Colab: install this repo (data downloads on first use)
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/elmo-keras-lessons/elmo-keras-lessons"], check=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: quieter C++ logs

import inspect

import keras
import numpy as np

import elmo_lib as el

keras.utils.set_random_seed(0)

# %% [markdown]
# ## Parameters
# `ELMO_QUICK=1` traces shapes through the `tiny` preset and runs the softmax experiment
# with a 2,000-word vocabulary and fewer draws; the full run uses the `cpu` preset (the
# model lesson 04 trains) and WikiText-2's 33,278 words. Both build the published
# `small` and `original` models once to count their parameters.
# **Full run: about 30 seconds on a 2-core CPU.**

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
SHAPE_CONFIG = el.bilm.BiLMConfig.tiny() if QUICK else el.bilm.BiLMConfig.cpu()
SOFTMAX_VOCAB = 2_000 if QUICK else 33_278  # vocabulary of the softmax experiment
SOFTMAX_DIM = 64  # hidden size of the random model
SOFTMAX_POSITIONS = 256 if QUICK else 1_024  # tokens per loss evaluation
NUM_SAMPLED = [8, 32, 128, 512] if QUICK else [16, 64, 256, 1024, 4096, 8192]
DRAWS = 5 if QUICK else 20  # repeated samples per num_sampled

# %% [markdown]
# ## The plan
# For a sentence of $T$ tokens the biLM computes, for every token $k$:
#
# 1. a **context-independent** vector $x_k$ from its characters (char CNN → highway → projection);
# 2. a **forward** LSTM stack reading $x_1..x_k$ and a **backward** one reading $x_T..x_k$;
# 3. during training, a shared softmax predicting $t_{k+1}$ (forward) and $t_{k-1}$ (backward).
#
# ELMo (lesson 05) then mixes the layers $[x_k; x_k]$, $[\overrightarrow{h}_{k,1}; \overleftarrow{h}_{k,1}]$,
# $[\overrightarrow{h}_{k,2}; \overleftarrow{h}_{k,2}]$.
#
# ## 1. The character CNN
# Embed each of the 50 character ids in $\mathbb{R}^{16}$, run 1-D convolutions of several
# widths (character $n$-gram detectors), keep each filter's maximum over positions, apply
# ReLU, concatenate. A toy configuration:

# %%
cnn = el.layers.CharCNN(filters=[(1, 4), (2, 4), (3, 8)], n_highway=1, projection_dim=6,
                        embedding_dim=4)
char_ids = el.text.char_ids([["The", "play", "opened", "."], ["Bravo", "!"]])
library_output = cnn(char_ids).numpy()
print(char_ids.shape, "->", library_output.shape)

# %% [markdown]
# Now the same computation from plain Keras pieces, reusing the library layer's weights.
# The highway and projection are written out in NumPy (the equations are in the next section):

# %%
flat = char_ids.reshape(-1, 50)  # [B*T, 50]: the CNN sees one token at a time
embedding = keras.layers.Embedding(262, 4)
embedding.build((None, 50))
embedding.set_weights(cnn.char_embedding.get_weights())
pooled = []
for (width, n_filters), library_conv in zip(cnn.filters, cnn.convolutions):
    conv = keras.layers.Conv1D(n_filters, width, padding="valid")
    conv.build((None, 50, 4))
    conv.set_weights(library_conv.get_weights())
    pooled.append(keras.layers.ReLU()(keras.layers.GlobalMaxPooling1D()(conv(embedding(flat)))))
features = keras.layers.Concatenate()(pooled).numpy()  # [B*T, 16]

# %%
highway = cnn.highways[0]
W_t, b_t = highway.gate_kernel.numpy(), highway.gate_bias.numpy()
W_h, b_h = highway.transform_kernel.numpy(), highway.transform_bias.numpy()
gate = 1 / (1 + np.exp(-(features @ W_t + b_t)))
x = gate * np.maximum(features @ W_h + b_h, 0) + (1 - gate) * features
W_p, b_p = cnn.projection.get_weights()
by_hand = (x @ W_p + b_p).reshape(2, -1, 6)
by_hand *= el.text.mask_from_char_ids(char_ids)[..., None]  # padding tokens -> 0
np.testing.assert_allclose(by_hand, library_output, rtol=1e-5, atol=1e-5)
print("hand-built char CNN == el.layers.CharCNN (max abs diff "
      f"{np.abs(by_hand - library_output).max():.1e})")

# %% [markdown]
# The one thing the library does that we skipped: it reshapes `[B, T, 50]` to `[B·T, 50]`
# itself instead of using `TimeDistributed`, which gets shapes wrong in graph mode when $T$ is
# dynamic (see [docs/architecture.md](../docs/architecture.md#character-cnn-lesson-03)). Here is its `call`:

# %%
print(inspect.getsource(el.layers.CharCNN.call))

# %% [markdown]
# ## 2. Highway layers
# A highway layer (Srivastava et al., 2015) lets each feature choose between being
# transformed and being carried through unchanged:
#
# $$y = t \odot \mathrm{relu}(W_h x + b_h) + (1 - t) \odot x, \qquad t = \sigma(W_t x + b_t).$$
#
# With $b_t = -2$ at initialisation, $t \approx \sigma(-2) = 0.12$: a fresh layer is close
# to the identity, so gradients flow through it easily and the network learns to transform
# only where that helps. (In bilm-tf weight files the gate $t$ is called `W_carry`, although
# it multiplies the transform branch: lesson 06 loads those files.)

# %%
features = keras.random.normal((2000, 64), stddev=0.3, seed=0)
mean_gate = {}
for bias in (-2.0, 0.0):
    layer = el.layers.Highway(gate_bias_init=bias)
    y = layer(features)
    gate = keras.ops.sigmoid(keras.ops.matmul(features, layer.gate_kernel) + layer.gate_bias)
    mean_gate[bias] = float(keras.ops.mean(gate))
    change = float(keras.ops.norm(y - features) / keras.ops.norm(features))
    print(f"gate bias {bias:+.0f}: mean gate t = {mean_gate[bias]:.3f}, "
          f"relative change |y - x| / |x| = {change:.2f}")

# %%
assert abs(mean_gate[-2.0] - 1 / (1 + np.exp(2.0))) < 0.03  # sigmoid(-2) = 0.119
assert abs(mean_gate[0.0] - 0.5) < 0.03

# %% [markdown]
# ## 3. LSTM with projection and clipping
# ELMo's LSTMs have a big memory cell ($H$ = 4096 in the original model) but pass only a
# small **projection** ($P$ = 512) to the next step and the next layer (Sak et al., 2014).
# Both the cell and the projected output are **clipped** to ±3. With gates in Keras order:
#
# $$\begin{aligned}
# [i; f; g; o] &= x_t W + h_{t-1} R + b\\
# c_t &= \mathrm{clip}\big(\sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g),\ \pm c_{\text{clip}}\big)\\
# h_t &= \mathrm{clip}\big((\sigma(o) \odot \tanh(c_t))\, P,\ \pm p_{\text{clip}}\big)
# \end{aligned}$$
#
# Keras' built-in `LSTM` has no projection, so `el.layers.LSTMP` writes the cell. Run it on a
# toy input and redo the recurrence in NumPy:

# %%
lstm = el.layers.LSTMP(units=5, projection_dim=3, cell_clip=3.0, proj_clip=3.0)
inputs = keras.random.normal((2, 4, 6), seed=1)
outputs = lstm(inputs).numpy()  # [B=2, T=4, P=3]
W, R, b, P = (w.numpy() for w in (lstm.kernel, lstm.recurrent_kernel, lstm.bias,
                                  lstm.projection_kernel))
sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731

# %%
h, c = np.zeros((2, 3)), np.zeros((2, 5))
for t in range(4):
    i, f, g, o = np.split(inputs.numpy()[:, t] @ W + h @ R + b, 4, axis=-1)
    c = np.clip(sigmoid(f) * c + sigmoid(i) * np.tanh(g), -3, 3)
    h = np.clip((sigmoid(o) * np.tanh(c)) @ P, -3, 3)
    np.testing.assert_allclose(h, outputs[:, t], rtol=1e-5, atol=1e-6)
print("NumPy recurrence == el.layers.LSTMP at all 4 steps")

# %% [markdown]
# Clipping: with large inputs and tight clip values, the outputs hit the bound but never pass it.

# %%
clipped = el.layers.LSTMP(units=5, projection_dim=3, cell_clip=0.5, proj_clip=0.2)
big = clipped(10 * keras.random.normal((8, 20, 6), seed=2)).numpy()
at_bound = np.isclose(np.abs(big), 0.2).mean()
print(f"max |h| = {np.abs(big).max():.3f}; {at_bound:.0%} of outputs sit at the bound")
assert np.abs(big).max() <= 0.2 + 1e-6 and at_bound > 0

# %% [markdown]
# ## 4. Two directions, two layers, skip connections
# The backward LSTM is the same kind of layer (with its own weights) run on each sentence
# reversed (within its length, so padding stays at the end), and its outputs are reversed
# back. Layers after the first add their input to their output (a **skip connection**):
# $h_{k,2} = \mathrm{LSTMP}_2(h_{k,1}) + h_{k,1}$. For speed, layer $k$ of both directions runs
# in one recurrence loop (`el.lstm.run_lstmps`), whose gradient is written by hand
# (back-propagation through time; `tests/test_lstm.py` checks it against TensorFlow's
# automatic differentiation).

# %%
print(inspect.getsource(el.bilm.BiLMEncoder.run_lstms))

# %% [markdown]
# ## 5. The encoder, stage by stage
# Build the encoder for `SHAPE_CONFIG` and push a batch of two sentences through its pieces
# by hand, recording the shape at every stage (B = batch, T = tokens):

# %%
config = SHAPE_CONFIG
encoder = el.bilm.BiLMEncoder(config)
sentences = [["The", "play", "opened", "in", "London", "."], ["It", "ran", "."]]
ids = el.text.char_ids(sentences)
outputs = encoder(ids)
print(f"preset: {config.note}; {el.bilm.count_parameters(config):,} parameters")

# %%
mask = encoder.token_mask(ids)
lengths = keras.ops.sum(keras.ops.cast(mask, "int32"), axis=1)
framed = encoder.with_boundaries(ids, lengths)
cnn = encoder.token_embedder
flat = keras.ops.reshape(framed, (-1, 50))
embedded_chars = cnn.char_embedding(flat)
convs = [conv(embedded_chars) for conv in cnn.convolutions]
pooled = keras.ops.concatenate([keras.ops.max(h, axis=1) for h in convs], axis=-1)
tokens = encoder.embed_tokens(framed)  # + highway + projection
forward, backward = encoder.run_lstms(tokens, encoder.token_mask(framed))

# %%
stages = [("char ids", ids), ("+ <S>, </S>", framed), ("char embeddings", embedded_chars),
          *[(f"conv width {w} ({n} filters)", h) for (w, n), h in zip(config.filters, convs)],
          ("max-pool + concat", pooled), ("highway + projection (layer 0)", tokens),
          *[(f"forward LSTM layer {k + 1}", h) for k, h in enumerate(forward)],
          *[(f"backward LSTM layer {k + 1}", h) for k, h in enumerate(backward)],
          *[(f"output {key}", outputs[key]) for key in encoder.output_keys]]
print(f"{'stage':<34}{'shape':>18}")
for name, tensor in stages:
    print(f"{name:<34}{str(tuple(tensor.shape)):>18}")

# %%
B, T, P = 2, 6, config.projection_dim
assert tuple(framed.shape) == (B, T + 2, 50)
assert tuple(tokens.shape) == (B, T + 2, P)
assert tuple(outputs["word_emb"].shape) == (B, T, P)
for key in encoder.output_keys[1:]:
    assert tuple(outputs[key].shape) == (B, T, 2 * P)
assert not np.any(outputs["lstm_outputs2"].numpy()[1, 3:])  # padding is zero
# the skip connection: layer 2 = LSTMP_2(layer 1) + layer 1
again = encoder.forward_layers[1](forward[0], mask=encoder.token_mask(framed)) + forward[0]
np.testing.assert_allclose(again.numpy(), forward[1].numpy(), rtol=1e-5, atol=1e-6)

# %% [markdown]
# The encoder strips `<S>`/`</S>` from its outputs, so they line up with the input tokens,
# and the forward layer-1 state of "play" in sentence 1 depends only on "<S> The play".
#
# ## 6. The softmax, full and sampled
# Both directions share one softmax over the word vocabulary: $p(t \mid h) =
# \exp(w_t^\top h + b_t) / \sum_{j=1}^{V} \exp(w_j^\top h + b_j)$. With $V$ = 793,471 (the
# 1B Word Benchmark) the sum is the most expensive part of training. **Sampled softmax**
# (Jean et al., 2015) draws $S$ candidate words $\mathcal{S}$ from a proposal $Q$ (log-uniform:
# frequent ids more often) and normalises over the true word plus the candidates only, each
# logit corrected by $-\log(S\,Q(j))$:
#
# $$\mathcal{L}_{\text{sampled}} = -\tilde z_t + \log\Big(e^{\tilde z_t} + \sum_{j \in \mathcal{S},\ j \ne t} e^{\tilde z_j}\Big),
# \qquad \tilde z_j = w_j^\top h + b_j - \log\big(S\,Q(j)\big).$$
#
# It gives a cheap estimate of the gradient, but the *loss value* is not the full
# cross-entropy. Measure both on a random model whose targets follow a Zipf-like law:

# %%
softmax = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=NUM_SAMPLED[0], seed=0)
softmax.build((None, SOFTMAX_DIM))
hidden = keras.random.normal((1, SOFTMAX_POSITIONS, SOFTMAX_DIM), seed=3)
# targets: SOFTMAX_POSITIONS draws from the same log-uniform (Zipf-like) law
target_sampler = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=SOFTMAX_POSITIONS, seed=1)
labels = keras.ops.reshape(target_sampler.sample_candidates(), (1, SOFTMAX_POSITIONS))
full = float(softmax.full_loss(hidden, labels))
print(f"full-softmax loss {full:.3f} nats (log V = {np.log(SOFTMAX_VOCAB):.3f})")

# %% [markdown]
# Where should the sampled loss land? When the candidates cover the vocabulary well,
# $\sum_{j \in \mathcal{S}} e^{\tilde z_j}$ is an importance-sampling estimate of the full
# normaliser $Z = \sum_j e^{z_j}$, so $\mathcal{L}_{\text{sampled}} \approx \log Z - z_t + \log(S\,Q(t))
# = \mathcal{L}_{\text{full}} + \log(S\,Q(t))$: the correction applied to the *true* word shifts the
# value. Subtracting the mean of $\log(S\,Q(t))$ should recover the full loss.

# %%
mean_log_q = float(keras.ops.mean(softmax.log_uniform_log_probability(labels)))
raw, recentred, spread = [], [], []
for num_sampled in NUM_SAMPLED:
    sampled = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=num_sampled, seed=num_sampled)
    sampled.build((None, SOFTMAX_DIM))
    sampled.set_weights(softmax.get_weights())  # the same model, another loss
    losses = [float(sampled.sampled_loss(hidden, labels)) for _ in range(DRAWS)]
    raw.append(np.mean(losses))
    spread.append(np.std(losses))
    recentred.append(raw[-1] - (np.log(num_sampled) + mean_log_q))
    print(f"S = {num_sampled:>5}: sampled {raw[-1]:6.3f} ± {spread[-1]:.3f}   "
          f"minus mean log(S Q(t)): {recentred[-1]:6.3f}")

# %%
fig = el.plotting.line_curves(
    NUM_SAMPLED, {"sampled softmax loss (mean ± sd)": raw,
                  "sampled loss − mean log(S·Q(t))": recentred},
    "03_sampled_softmax", xlabel="candidates sampled per step S",
    ylabel="cross-entropy (nats per token)", log_x=True,
    bands={"sampled softmax loss (mean ± sd)": spread},
    hlines={f"full softmax (V = {SOFTMAX_VOCAB:,})": full},
    title="Sampled vs full softmax loss, random model")
assert max(abs(r - full) for r in raw) > 1.0  # the raw sampled loss is another number
assert abs(recentred[-1] - full) < 0.03 * full  # ... offset by log(S Q(t)) on average


# %% [markdown]
# The raw sampled loss moves with $S$, from far below the full loss to above it: it is a
# training signal, not a cross-entropy over the vocabulary. That is why lesson 04
# evaluates perplexity with the **full** softmax and never reports `exp(sampled loss)` as
# a perplexity.
#
# ## 7. How big are these models?
# Count the parameters by formula, check the formula against the built layers, and compare
# with the published ELMo models: *small* (13.6M) and *original* (93.6M), both without the
# softmax.

# %%
def char_cnn_parameters(c):
    n_filters = sum(n for _, n in c.filters)
    return (c.n_characters * c.char_embedding_dim  # character embedding
            + sum(w * c.char_embedding_dim * n + n for w, n in c.filters)  # convolutions
            + c.n_highway * 2 * (n_filters * n_filters + n_filters)  # gate + transform
            + n_filters * c.projection_dim + c.projection_dim)  # projection

def lstm_parameters(c):
    H, P = c.lstm_dim, c.projection_dim  # input kernel + recurrent kernel + bias + projection
    return 2 * c.n_layers * (P * 4 * H + P * 4 * H + 4 * H + H * P)

def softmax_parameters(c):
    return c.vocab_size * (c.projection_dim + 1)


# %%
presets = {name: getattr(el.bilm.BiLMConfig, name)() for name in
           ("tiny", "cpu", "small", "original")}
table = {}
for name, c in presets.items():
    built = el.bilm.count_parameters(c)
    assert built == char_cnn_parameters(c) + lstm_parameters(c), name
    table[name] = (char_cnn_parameters(c), lstm_parameters(c), built, softmax_parameters(c))
print(f"{'preset':<9}{'char CNN':>13}{'LSTMs':>13}{'encoder':>13}{'softmax':>14}")
for name, row in table.items():
    print(f"{name:<9}" + "".join(f"{v:>13,}" for v in row[:3]) + f"{row[3]:>14,}")

# %%
assert round(table["small"][2] / 1e6, 1) == 13.6  # elmo_2x1024_128_2048cnn_1xhighway
assert round(table["original"][2] / 1e6, 1) == 93.6  # elmo_2x4096_512_2048cnn_2xhighway

# %% [markdown]
# The published numbers come out exactly. Two things stand out: in the *original* model the
# two highway layers over 2,048 CNN features hold 16.8M weights, and the softmax over a
# 793k-word vocabulary (406M weights) is 4× bigger than the whole encoder, which is why ELMo
# trains with a sampled softmax and ships without it.
#
# ## Summary
# - The char CNN is embedding → convolutions → max-pool → ReLU → highway → projection; we
#   rebuilt it from Keras pieces and matched the library to 1e-5.
# - Highway gates start near 0.12 (bias −2), so new layers begin close to the identity.
# - `LSTMP` = LSTM + projection + clipping; our NumPy recurrence matches it step by step and
#   clipping bounds its outputs.
# - The encoder outputs `word_emb` `[B, T, P]` and one `[B, T, 2P]` layer per LSTM layer, with
#   skip connections after the first layer and boundary tokens stripped.
# - The sampled-softmax loss is cheap but is not the full cross-entropy (it is shifted by
#   $\log S\,Q(t)$); the parameter counts of the published models (13.6M, 93.6M) come out exactly.
#
# ## Exercises
# 1. *(easy)* Change `gate_bias_init` to +2. What is the mean gate, and what does the layer do?
# 2. *(easy)* Set `cell_clip=None, proj_clip=None` in the clipping cell: how large do the outputs get?
# 3. *(medium)* Count the parameters of a model with 3 LSTM layers and `projection_dim=256`
#    with the formula, then check it with `el.bilm.count_parameters`.
# 4. *(medium)* In the softmax experiment, draw the targets uniformly instead. How does the
#    gap between sampled and full loss change, and why?
# 5. *(open)* Which stage of the encoder costs the most time on a CPU? Time the pieces of
#    section 5 for the `cpu` preset.
#
# **Next:** [04 · Training the biLM](04_training_the_bilm.ipynb): train this model on
# WikiText-2 and measure its perplexity.

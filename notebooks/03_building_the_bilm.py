# %% [markdown]
# # 03 · Building the biLM
#
# The layers of ELMo's bidirectional language model, one at a time: character CNN, highway, LSTM with projection, skip connections, the joint objective of the two directions and the sampled softmax.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/03_building_the_bilm.ipynb)
#
# **Prerequisite:** lesson 02 (character ids and LM batches).

# %% [markdown]
# ## What you will learn
# - **Read** the biLM from a diagram with every size of the lesson's model, and trace its tensor shapes from character ids to the three ELMo layers.
# - **Rebuild** the character CNN from plain Keras layers and match `el.layers.CharCNN` exactly; **verify** the highway gate and the LSTM with projection against NumPy.
# - **Write** the joint objective of the two directions (paper eq. 3), find it in the trainer's loss and run one training step by hand.
# - **Compare** the sampled-softmax loss with the full softmax, and know which one a perplexity needs.
# - **Count** the parameters of the published models.

# %%
import os
import sys

if "google.colab" in sys.modules:  # on Colab: install this repo (data downloads on first use)
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/elmo-keras-lessons/elmo-keras-lessons"], check=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: quieter C++ logs
import elmo_lib as el  # before keras: it loads TensorFlow without the C++ start-up log lines

# isort: split

import inspect

import keras
import numpy as np
import tensorflow as tf

keras.utils.set_random_seed(0)
results = el.results.LessonResults("03_building_the_bilm")  # the numbers quoted below, saved at the end

# %% [markdown]
# ## Parameters
# `ELMO_QUICK=1` draws and traces the `tiny` preset and runs the softmax experiment with a
# 2,000-word vocabulary and fewer draws; the full run uses the `cpu` preset (the model lesson
# 04 trains) with lesson 02's WikiText-2 vocabulary of 33,280 words. Both build the published
# `small` and `original` models once to count their parameters. The numbers quoted in the text
# are from the full run. **Full run: 30 seconds to 2 minutes on a 2-core CPU, depending on the
# CPU and its load**; the last cell prints the machine and wall time of the run stored here.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
VOCAB_SIZE = 33_280  # lesson 02: 33,277 WikiText-2 words + <S>, </S>, <UNK>
SHAPE_CONFIG = (el.bilm.BiLMConfig.tiny() if QUICK
                else el.bilm.BiLMConfig.cpu(vocab_size=VOCAB_SIZE))
SOFTMAX_VOCAB = 2_000 if QUICK else VOCAB_SIZE  # vocabulary of the softmax experiment
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
# Here is the whole model with the sizes of `SHAPE_CONFIG`, drawn from the config itself. Read
# it bottom to top; every section below builds one of its boxes.

# %%
fig = el.plotting.bilm_architecture(SHAPE_CONFIG, "03_bilm_architecture")

# %% [markdown]
# Two things to notice. Everything below the LSTMs (the char CNN, the highway, the
# projection) and the softmax on top are **shared** by the two directions; only the LSTM
# stacks are separate. And the sizes are small where it matters for speed: the LSTM cell has
# $H$ units, but what flows between steps and layers is the $P$-wide projection.
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
# The one thing the library does that we skipped: it runs the CNN on the batch reshaped from
# `[B, T, 50]` to `[B·T, 50]`, one row per token, and reshapes the result back
# ([docs/architecture.md](../docs/architecture.md#character-cnn-lesson-03) says why it does not
# use `TimeDistributed`). Here is its `call`:

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
# it multiplies the transform branch: lesson 07 loads those files.)

# %%
features = keras.random.normal((2000, 64), stddev=0.3, seed=0)
mean_gate = {}
for bias in (-2.0, 0.0):
    layer = el.layers.Highway(gate_bias_init=bias)
    y = layer(features)
    gate = keras.ops.sigmoid(keras.ops.matmul(features, layer.gate_kernel) + layer.gate_bias)
    mean_gate[bias] = float(keras.ops.mean(gate))
    change = float(keras.ops.norm(y - features) / keras.ops.norm(features))
    print(f"gate bias {bias:+.0f}: mean gate t = {mean_gate[bias]:.3f} (sigmoid(bias) = "
          f"{1 / (1 + np.exp(-bias)):.3f}), relative change |y - x| / |x| = {change:.2f}")
results["highway_mean_gate"] = {"bias -2": mean_gate[-2.0], "bias 0": mean_gate[0.0]}

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

# %% [markdown]
# The encoder strips `<S>`/`</S>` from its outputs, so they line up with the input tokens
# (`T + 2` inside, `T` out), and the padding positions of the shorter sentence come out as
# zeros. The skip connection is visible in the numbers: run the second forward layer on the
# first layer's output by hand, add its input, and you get the encoder's layer 2.

# %%
again = encoder.forward_layers[1](forward[0], mask=encoder.token_mask(framed)) + forward[0]
np.testing.assert_allclose(again.numpy(), forward[1].numpy(), rtol=1e-5, atol=1e-6)
print("LSTMP_2(layer 1) + layer 1 == forward layer 2")

# %% [markdown]
# ## 6. The joint objective of the two directions
# A forward LM factorises the probability of a sentence $t_1..t_N$ left to right, a backward
# LM right to left. The biLM maximises both log likelihoods at once (paper eq. 3):
#
# $$\sum_{k=1}^{N} \Big( \log p(t_k \mid t_1, \ldots, t_{k-1};\ \Theta_x, \overrightarrow{\Theta}_{LSTM}, \Theta_s)
# + \log p(t_k \mid t_{k+1}, \ldots, t_N;\ \Theta_x, \overleftarrow{\Theta}_{LSTM}, \Theta_s) \Big).$$
#
# $\Theta_x$ (the token representation: char CNN, highway, projection) and $\Theta_s$ (the
# softmax) appear in both terms: they are **tied**. Each direction has its own LSTM weights
# $\overrightarrow{\Theta}_{LSTM}$, $\overleftarrow{\Theta}_{LSTM}$. In a batch, the forward LM at
# position $k$ predicts `next_token_ids` (lesson 02) and the backward LM `previous_token_ids`.
# Here is the trainer's loss, `BiLMTrainer.compute_loss`:

# %%
print(inspect.getsource(el.bilm.BiLMTrainer.compute_loss))

# %% [markdown]
# Line by line:
#
# - `mask`: 1 for real positions, 0 for padding; both losses are means over real tokens only.
# - `hidden_forward`, `hidden_backward`: the top layer of each LSTM stack ($P$ wide), from
#   `call` (the cast to float32 matters only under mixed precision:
#   [docs/full_size_training.md](../docs/full_size_training.md#4-mixed-precision)).
# - `if training`: the **sampled** softmax (section 7) estimates each term cheaply during
#   `fit`; in `evaluate` and validation, the **full** softmax gives the true cross-entropy.
# - Both directions call the same `self.softmax`: that is the tied $\Theta_s$. ($\Theta_x$ is
#   tied the same way in `call`: one `embed_tokens` feeds both LSTM stacks.)
# - The two trackers report the directions separately (`forward_loss`, `backward_loss` in
#   the logs of `fit`).
# - `loss = 0.5 * (forward + backward)`: eq. 3 negated and averaged over tokens and over the
#   two directions, so the value reads as nats per token.
# - `self.losses`: any weight regularisation (`scale_loss_for_replicas` is for training on
#   several devices: [docs/full_size_training.md](../docs/full_size_training.md)).
#
# Check it on a `tiny` trainer: the evaluation loss equals the two full-softmax
# cross-entropies computed in NumPy from the softmax weights, averaged.

# %%
toy_sentences = [["The", "play", "opened", "in", "London", "."],
                 ["It", "ran", "for", "a", "year", "."], ["The", "critics", "liked", "the", "play", "."]]
toy_vocab = el.text.Vocabulary.from_corpus(toy_sentences)
toy_config = el.bilm.BiLMConfig.tiny(vocab_size=len(toy_vocab))
trainer = el.train.build_trainer(toy_config, seed=0, jit_compile=False)
x, y = next(iter(el.data.lm_dataset(toy_sentences, toy_vocab, batch_size=2, unroll_steps=6,
                                    shuffle=False)))
top = trainer(x, training=False)  # {"forward": [B, T, P], "backward": [B, T, P]}

# %%
W_s, b_s = trainer.softmax.kernel.numpy(), trainer.softmax.bias.numpy()  # [V, P], [V]
real = y["mask"].numpy().astype(bool)

def cross_entropy(hidden, targets):
    logits = hidden.numpy() @ W_s.T + b_s  # [B, T, V]
    log_z = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    target_logit = np.take_along_axis(logits, targets.numpy()[..., None], -1)[..., 0]
    return (log_z - target_logit)[real].mean()

by_hand = 0.5 * (cross_entropy(top["forward"], y["next_token_ids"])
                 + cross_entropy(top["backward"], y["previous_token_ids"]))
library = float(trainer.compute_loss(y=y, y_pred=top, training=False))
np.testing.assert_allclose(by_hand, library, rtol=1e-5)
print(f"NumPy {by_hand:.5f} == compute_loss {library:.5f} nats per token")

# %% [markdown]
# Tied and separate parameters, seen through the gradients: differentiate each direction's
# loss with respect to each group of weights. The forward loss cannot reach the backward
# LSTMs (and vice versa), while the shared groups get a gradient from both.

# %%
with tf.GradientTape(persistent=True) as tape:
    top = trainer(x, training=False)
    losses = {"forward": trainer.softmax.full_loss(top["forward"], y["next_token_ids"], y["mask"]),
              "backward": trainer.softmax.full_loss(top["backward"], y["previous_token_ids"],
                                                    y["mask"])}
toy_encoder = trainer.encoder
groups = {"Θx: char CNN, highway, projection": toy_encoder.token_embedder.trainable_weights,
          "forward LSTMs": [w for lstm in toy_encoder.forward_layers
                            for w in lstm.trainable_weights],
          "backward LSTMs": [w for lstm in toy_encoder.backward_layers
                             for w in lstm.trainable_weights],
          "Θs: softmax": trainer.softmax.trainable_weights}
print(f"{'gradient norm of':<36}{'forward loss':>13}{'backward loss':>14}")
for name, weights in groups.items():
    norms = [float(tf.linalg.global_norm(tape.gradient(loss, weights, unconnected_gradients="zero")))
             for loss in losses.values()]
    print(f"{name:<36}{norms[0]:>13.4f}{norms[1]:>14.4f}")

# %% [markdown]
# Keras' `fit` turns this loss into a training step: `BiLMTrainer` supplies only `call` and
# `compute_loss`, and Keras' default `train_step` does the rest. Written out, one step is
# five lines (`build_trainer` compiled the trainer with lesson 04's optimizer: Adam, with the
# gradient clipped to a global norm of `config.clip_norm`):

# %%
def batch_full_loss():
    return float(trainer.compute_loss(y=y, y_pred=trainer(x, training=False), training=False))

before = batch_full_loss()
for _ in range(10):
    with tf.GradientTape() as tape:
        y_pred = trainer(x, training=True)  # top layers of both directions, dropout on
        loss = trainer.compute_loss(y=y, y_pred=y_pred)  # (sampled fwd + sampled bwd) / 2
    gradients = tape.gradient(loss, trainer.trainable_weights)
    trainer.optimizer.apply(gradients, trainer.trainable_weights)  # clip, then Adam update
print(f"full-softmax loss on this batch: {before:.3f} -> {batch_full_loss():.3f} nats "
      "after 10 steps")

# %% [markdown]
# The loss the step minimises is the sampled one; the loss we print to judge the model is the
# full one. The next section is about why those are different numbers.
#
# ## 7. Sampled vs full softmax
# Lessons 04 and later refer to this section. Both directions share one softmax over the word
# vocabulary: $p(t \mid h) = \exp(w_t^\top h + b_t) / \sum_{j=1}^{V} \exp(w_j^\top h + b_j)$.
# The sum runs over every word, for every token: $V \times P$ multiply-adds, 4.3M per token for
# lesson 04's model ($V$ = 33,280, $P$ = 128), 406M for the published original model ($V$ = 793,471,
# $P$ = 512, the 1B Word Benchmark), where it is the most expensive part of training. **Sampled softmax**
# (Jean et al., 2015) draws $S$ candidate words $\mathcal{S}$ from a proposal $Q$ (log-uniform:
# frequent ids more often) and normalises over the true word plus the candidates only, each
# logit corrected by $-\log(S\,Q(j))$:
#
# $$\mathcal{L}_{\text{sampled}} = -\tilde z_t + \log\Big(e^{\tilde z_t} + \sum_{j \in \mathcal{S},\ j \ne t} e^{\tilde z_j}\Big),
# \qquad \tilde z_j = w_j^\top h + b_j - \log\big(S\,Q(j)\big).$$
#
# The cost drops from $V$ to $S + 1$ rows per token (lesson 04 uses $S$ = 2,048, 16× fewer
# than 33,280). Its gradient is a cheap estimate of the full one, good enough to train with;
# but its *loss value* is not the full cross-entropy. Measure both on a random model whose
# targets follow a Zipf-like law:

# %%
softmax = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=NUM_SAMPLED[0], seed=0)
softmax.build((None, SOFTMAX_DIM))
hidden = keras.random.normal((1, SOFTMAX_POSITIONS, SOFTMAX_DIM), seed=3)
# targets: SOFTMAX_POSITIONS draws from the same log-uniform (Zipf-like) law
target_sampler = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=SOFTMAX_POSITIONS, seed=1)
labels = keras.ops.reshape(target_sampler.sample_candidates(), (1, SOFTMAX_POSITIONS))
full = float(softmax.full_loss(hidden, labels))
print(f"full-softmax loss {full:.3f} nats (log V = {np.log(SOFTMAX_VOCAB):.3f})")
results["softmax_experiment"] = {"vocab": SOFTMAX_VOCAB, "full_loss": full}

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
results["softmax_experiment"].update(num_sampled=NUM_SAMPLED, sampled_mean=raw,
                                     sampled_sd=spread, recentred=recentred)

# %%
fig = el.plotting.line_curves(
    NUM_SAMPLED, {"sampled softmax loss (mean ± sd)": raw,
                  "sampled loss − mean log(S·Q(t))": recentred},
    "03_sampled_softmax", xlabel="candidates sampled per step S",
    ylabel="cross-entropy (nats per token)", log_x=True,
    bands={"sampled softmax loss (mean ± sd)": spread},
    hlines={f"full softmax (V = {SOFTMAX_VOCAB:,})": full},
    title=f"Sampled vs full softmax loss, random model, {DRAWS} draws per S")
# the sampled loss minus the mean log(S Q(t)) recovers the full loss at every S
np.testing.assert_allclose(recentred, full, rtol=0.03)


# %% [markdown]
# The raw sampled loss moves with $S$, from far below the full loss to above it, while the
# recentred curve sits on the full loss at every $S$: the sampled loss is the full loss
# shifted by $\log(S\,Q(t))$, a training signal rather than a cross-entropy over the
# vocabulary. So:
#
# - **train** with the sampled softmax (its gradient is what we need, at a fraction of the cost);
# - **evaluate** with the full softmax: a perplexity is $\exp$ of the full cross-entropy, and
#   `exp(sampled loss)` is not one (lesson 04 measures both on the trained model);
# - never put a sampled training loss and a full validation loss on one axis as if they were
#   the same quantity.
#
# ## 8. How big are these models?
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
presets = {"tiny": el.bilm.BiLMConfig.tiny(),
           "cpu": el.bilm.BiLMConfig.cpu(vocab_size=VOCAB_SIZE),  # lesson 04's model
           "small": el.bilm.BiLMConfig.small(), "original": el.bilm.BiLMConfig.original()}
table = {}
for name, c in presets.items():
    built = el.bilm.count_parameters(c)
    assert built == char_cnn_parameters(c) + lstm_parameters(c), name
    table[name] = (char_cnn_parameters(c), lstm_parameters(c), built, softmax_parameters(c))
print(f"{'preset':<9}{'char CNN':>13}{'LSTMs':>13}{'encoder':>13}{'softmax':>14}")
for name, row in table.items():
    print(f"{name:<9}" + "".join(f"{v:>13,}" for v in row[:3]) + f"{row[3]:>14,}")
print(f"encoders in millions: small {table['small'][2] / 1e6:.1f} (AllenNLP's "
      f"elmo_2x1024_128_2048cnn_1xhighway: 13.6), original {table['original'][2] / 1e6:.1f} "
      "(elmo_2x4096_512_2048cnn_2xhighway: 93.6)")
results["parameters"] = {name: dict(zip(["char_cnn", "lstms", "encoder", "softmax"], row))
                         for name, row in table.items()}

# %% [markdown]
# The published numbers come out exactly. Two things stand out: in the *original* model the
# two highway layers over 2,048 CNN features hold 16.8M weights, and the softmax over a
# 793k-word vocabulary (407M weights) is 4× bigger than the whole encoder, which is why ELMo
# trains with a sampled softmax and ships without it.

# %%
results.save()
print(el.results.measured_on(results.lesson))

# %% [markdown]
# ## Summary
# - The char CNN is embedding → convolutions → max-pool → ReLU → highway → projection; we
#   rebuilt it from Keras pieces and matched the library to 1e-5.
# - Highway gates start near 0.12 (bias −2), so new layers begin close to the identity.
# - `LSTMP` = LSTM + projection + clipping; our NumPy recurrence matches it step by step and
#   clipping bounds its outputs.
# - The encoder outputs `word_emb` `[B, T, P]` and one `[B, T, 2P]` layer per LSTM layer, with
#   skip connections after the first layer and boundary tokens stripped.
# - The two directions share the token representation and the softmax and keep separate
#   LSTMs; the training loss is the mean of their cross-entropies (eq. 3), and a training
#   step is forward pass, loss, gradients, clipped update.
# - The sampled-softmax loss is cheap but is not the full cross-entropy (it is shifted by
#   $\log S\,Q(t)$): train with it, evaluate with the full softmax. The parameter counts of
#   the published models (13.6M, 93.6M) come out exactly.
#
# ## Exercises
# 1. *(easy)* Change `gate_bias_init` to +2. What is the mean gate, and what does the layer do?
# 2. *(easy)* Set `cell_clip=None, proj_clip=None` in the clipping cell: how large do the outputs get?
# 3. *(medium)* Count the parameters of a model with 3 LSTM layers and `projection_dim=256`
#    with the formula, then check it with `el.bilm.count_parameters`.
# 4. *(medium)* In the softmax experiment, draw the targets uniformly instead. How does the
#    gap between sampled and full loss change, and why?
# 5. *(medium)* Untie the softmax: how many parameters would a second `LMSoftmax` for the
#    backward LM add to the `cpu` preset? What would the two directions no longer share?
# 6. *(open)* Which stage of the encoder costs the most time on a CPU? Time the pieces of
#    section 5 for the `cpu` preset.
#
# **Next:** [04 · Training the biLM](04_training_the_bilm.ipynb): train this model on
# WikiText-2 and measure its perplexity.

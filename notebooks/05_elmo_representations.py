# %% [markdown]
# # 05 · The layers of ELMo
#
# What each layer of a trained biLM knows: the scalar mix that turns layers into ELMo vectors, word senses separated by context, and a linear probe for parts of speech.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/05_elmo_representations.ipynb)
#
# **Prerequisite:** lesson 04 (a trained biLM; this lesson trains a small stand-in if you skipped it).

# %% [markdown]
# ## What you will learn
# - **Write** the ELMo equation and check `el.layers.ScalarMix` and the `el.elmo.ELMo` layer against it.
# - **Compare** a static layer (0) with the contextual layers (1, 2) on the many meanings of *play*.
# - **Find** the nearest other occurrences of a word in context, as in Table 4 of the ELMo paper.
# - **Probe** each layer with a linear part-of-speech tagger on UD English-EWT and read the result honestly.

# %%
import os
import sys

if "google.colab" in sys.modules:  # on Colab: install this repo (data downloads on first use)
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/elmo-keras-lessons/elmo-keras-lessons"], check=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: quieter C++ logs

import functools
import pathlib
import time
from collections import Counter

import keras
import numpy as np
import tensorflow as tf
from sklearn.decomposition import PCA

import elmo_lib as el

keras.utils.set_random_seed(0)

# %% [markdown]
# ## Parameters
# All sizes live in the next cell. The full run reads lesson 04's biLM from
# `runs/cpu_wikitext2` (if it is missing, a small stand-in biLM is trained on a slice of
# WikiText-2 first). `ELMO_QUICK=1` (what CI sets) always trains a `tiny` biLM for a few
# seconds and uses a handful of sentences: its numbers mean nothing, it only checks that
# every cell runs. **Full run: 104 s on a 2-core CPU (AMD EPYC without AVX-512, no GPU), machine otherwise idle, with lesson 04's `cpu_wikitext2` biLM (the run of the night of 2026-11-29/30, LSTM 256/128, Adam 8e-3).** Numbers quoted in the text are from that run.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
RUN_DIR = "runs/cpu_wikitext2"  # lesson 04's trained biLM (relative to the repo root)
STAND_IN_LINES = 300 if QUICK else 3_000  # WikiText-2 lines for a stand-in biLM
STAND_IN_EPOCHS = 1 if QUICK else 2
STAND_IN_PRESET = (el.bilm.BiLMConfig.tiny if QUICK else  # the stand-in's sizes
                   functools.partial(el.bilm.BiLMConfig.cpu, lstm_dim=256, projection_dim=64))
TARGET = "play"  # the many-sense word we follow
ANCHORS = ("game", "song")  # two other words, for reference points in the PCA plot
MAX_OCCURRENCES = 40 if QUICK else 500  # sentences with TARGET
ANCHOR_OCCURRENCES = 20 if QUICK else 150  # sentences with each anchor word
MAX_SENTENCE_LENGTH = 60  # tokens; longer WikiText-2 sentences are skipped
CONTEXT_WINDOW = 12  # tokens on each side read by the sense heuristic
N_NEIGHBOURS = 5
POS_TRAIN_SENTENCES = 150 if QUICK else 2_500  # UD-EWT train sentences for the probes
POS_EVAL_SENTENCES = 100 if QUICK else None  # dev and test sentences (None = all)
PROBE_EPOCHS = 10 if QUICK else 20  # passes of the linear probe over its training tokens
PROBE_LEARNING_RATE = 1e-2
BATCH_SIZE = 64  # sentences per biLM call

# %% [markdown]
# ## 1. A trained biLM (train or load)
# Lesson 04 trained the `cpu` preset on WikiText-2 and saved it in `runs/cpu_wikitext2`.
# We load it with `el.train.load_trained`. If it is not there (or in QUICK mode), we train a
# small stand-in with `el.train.train_bilm` and keep it in `runs/` so the next run loads it.

# %%
ROOT = pathlib.Path.cwd().parent if pathlib.Path.cwd().name == "notebooks" else pathlib.Path.cwd()
run_dir = ROOT / RUN_DIR
if QUICK or not (run_dir / "best.weights.h5").exists():  # no trained biLM: a stand-in
    run_dir = ROOT / "runs" / ("05_stand_in_quick" if QUICK else "05_stand_in")
print(f"biLM run directory: runs/{run_dir.name}")

# %%
if (run_dir / "last.weights.h5").exists():
    trainer, vocab = el.train.load_trained(run_dir)
else:
    lines = [line for line in el.data.load_wikitext2("train") if len(line) > 3]
    vocab = el.text.Vocabulary.from_corpus(lines[:STAND_IN_LINES], max_size=5_000)
    stand_in = STAND_IN_PRESET(vocab_size=len(vocab), batch_size=32, unroll_steps=20)
    trainer, _ = el.train.train_bilm(stand_in, lines[:STAND_IN_LINES], vocab=vocab,
                                     output_dir=run_dir, epochs=STAND_IN_EPOCHS,
                                     patience=None, jit_compile=False, verbose=0)
encoder = el.bilm.encoder_from_trainer(trainer)
config = trainer.config
print(f"biLM: {config.n_layers} LSTM layers, "
      f"P={config.projection_dim}, H={config.lstm_dim}, "
      f"{encoder.count_params():,} encoder weights")

# %% [markdown]
# ## 2. The layers and the scalar mix
# For token $k$ a biLM with $L$ LSTM layers gives $L + 1$ vectors: layer 0 is the
# context-independent token embedding $\mathbf{x}_k$ from the character CNN, and layer $j$ is
# $[\overrightarrow{\mathbf{h}}_{k,j};\overleftarrow{\mathbf{h}}_{k,j}]$, the two directions
# side by side. Layer 0 is only $P$ wide, so it is duplicated, $\mathbf{h}_{k,0} =
# [\mathbf{x}_k;\mathbf{x}_k]$, to match the $2P$ of the others. ELMo (eq. 1 of the paper) is
# a task-specific weighted sum:
#
# $$\mathrm{ELMo}_k = \gamma \sum_{j=0}^{L} s_j\,\mathbf{h}_{k,j}, \qquad
# s = \operatorname{softmax}(w),$$
#
# with $L + 1$ weights $w$ (start at 0: an equal average) and one scale $\gamma$ (starts at
# 1), trained with the downstream task while the biLM stays frozen.

# %%
sentence = ["The", "play", "opened", "on", "Broadway", "."]
outputs = encoder(el.text.char_ids([sentence]))
for key, value in outputs.items():
    print(f"{key:14s} {tuple(value.shape)}")

# %%
x = outputs["word_emb"]
layers = [keras.ops.concatenate([x, x], axis=-1), outputs["lstm_outputs1"],
          outputs["lstm_outputs2"]]
mix = el.layers.ScalarMix(num_layers=3)
elmo = mix(layers)
w, gamma = np.array([0.5, -1.0, 2.0]), 1.7  # any values: compare with the equation
mix.set_weights([w, np.array(gamma)])
by_hand = gamma * sum(s * np.asarray(h) for s, h in zip(np.exp(w) / np.exp(w).sum(), layers))
print("ELMo vectors:", tuple(elmo.shape), "| mix weights:", len(mix.trainable_weights),
      "tensors,", sum(int(np.prod(v.shape)) for v in mix.trainable_weights), "numbers")

# %%
np.testing.assert_allclose(mix(layers), by_hand, rtol=1e-5, atol=1e-6)
# layer 0 is the same vector for a word wherever it appears: no context yet
again = encoder(el.text.char_ids([["A", "play", "by", "Shakespeare"]]))
np.testing.assert_allclose(x[0, 1], again["word_emb"][0, 1], atol=1e-5)
assert not np.allclose(outputs["lstm_outputs2"][0, 1], again["lstm_outputs2"][0, 1])

# %% [markdown]
# The library packages this as a Keras layer, `el.elmo.ELMo`: the frozen biLM plus a
# trainable `ScalarMix`. `output_mode` picks `word_emb`, `lstm_outputs1`, `lstm_outputs2`,
# the mixed `elmo` vectors or `default` (their mean over the sentence); `input_type="strings"`
# takes whole sentences, split on spaces like the TF Hub module. With its initial weights
# (an equal average, $\gamma = 1$) it must give the mean of our three layers:

# %%
elmo_layer = el.elmo.ELMo(encoder, output_mode="elmo", input_type="strings")
from_strings = elmo_layer(tf.constant([" ".join(sentence)]))
np.testing.assert_allclose(from_strings, sum(np.asarray(h) for h in layers) / 3,
                           rtol=1e-4, atol=1e-5)
print("trainable:", [v.path for v in elmo_layer.trainable_weights],
      "| frozen biLM weights:", len(elmo_layer.non_trainable_weights))

# %% [markdown]
# ## 3. One word, many meanings: *play*
# WikiText-2 uses *play* for a stage play, a move in American football, to play an
# instrument, to play a role, play-offs and more. We cut the corpus into sentences (at `.`)
# and keep those containing *play*, plus some with *game* and *song* as reference points.

# %%
sentences = []
for line in el.data.load_wikitext2("train"):
    if line and line[0] != "=":  # skip headings
        start = 0
        for i, token in enumerate(line):
            if token == "." or i == len(line) - 1:
                sentences.append(line[start:i + 1])
                start = i + 1
occurrences = {}  # word -> [(sentence, position)]
for word in (TARGET, *ANCHORS):
    found = [(s, s.index(word)) for s in sentences
             if word in s and len(s) <= MAX_SENTENCE_LENGTH]
    occurrences[word] = found[:MAX_OCCURRENCES if word == TARGET else ANCHOR_OCCURRENCES]
print(f"{len(sentences):,} sentences;",
      ", ".join(f"{len(v)} with '{k}'" for k, v in occurrences.items()))

# %% [markdown]
# We have no sense annotations, so we label each occurrence of *play* with a crude,
# transparent heuristic: which topic's keywords appear within `CONTEXT_WINDOW` tokens
# (sport, stage, music), or *unclear* if none or a tie. It is noisy, but it is independent
# of the biLM and good enough to colour a plot and score neighbours.

# %%
TOPICS = {
    "sport": {"game", "games", "season", "team", "yards", "touchdown", "quarterback",
              "ball", "scrimmage", "league", "League", "football", "players", "club",
              "coach", "match", "cricket", "innings", "offs", "goal", "won", "win"},
    "stage": {"stage", "theatre", "theater", "actor", "actors", "actress", "Broadway",
              "Shakespeare", "playwright", "premiere", "premiered", "drama", "comedy",
              "tragedy", "audience", "performance", "staged", "cast", "production"},
    "music": {"guitar", "drums", "piano", "music", "musical", "song", "songs", "band",
              "album", "bass", "instrument", "violin", "concert", "orchestra"},
}


# %%
def topic_of(tokens, position, window=CONTEXT_WINDOW):
    """The topic with the most keywords around tokens[position], or "unclear"."""
    context = tokens[max(0, position - window):position + 1 + window]
    scores = Counter({name: sum(t in words for t in context)
                      for name, words in TOPICS.items()})
    (best, n), (_, second) = scores.most_common(2)
    return best if n > second else "unclear"

play_topics = [topic_of(s, i) for s, i in occurrences[TARGET]]
print(Counter(play_topics).most_common())

# %% [markdown]
# Now run the biLM over every sentence once and keep, for each, the three layers
# `[3, tokens, 2P]`. Batching sentences of similar length wastes little on padding; the
# `tf.function` with a shape signature `[batch, tokens, 50]` is traced once for all batches.

# %%
run_bilm = tf.function(lambda ids: encoder(ids, training=False), input_signature=[
    tf.TensorSpec([None, None, config.max_characters_per_token], tf.int32)])

def embed_layers(sentences, batch_size=BATCH_SIZE):
    """Per sentence, the biLM's layers as float32 [L + 1, tokens, 2P] (layer 0 = [x; x])."""
    order = np.argsort([len(s) for s in sentences], kind="stable")
    result = [None] * len(sentences)
    progress = keras.utils.Progbar(len(sentences), unit_name="sentence")
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        out = run_bilm(el.text.char_ids([sentences[i] for i in batch]))
        layers = [np.concatenate([out["word_emb"]] * 2, axis=-1)]  # layer 0 = [x; x]
        layers += [out[f"lstm_outputs{j}"] for j in range(1, config.n_layers + 1)]
        stacked = np.stack(layers, axis=1)  # [batch, L + 1, tokens, 2P]
        for row, i in enumerate(batch):
            result[i] = stacked[row, :, :len(sentences[i])]
        progress.add(len(batch))
    return result


# %%
start = time.perf_counter()
vectors = {}  # word -> [occurrences, L + 1, 2P]: the word's own vectors in each layer
for word, found in occurrences.items():
    embedded = embed_layers([s for s, _ in found])
    vectors[word] = np.stack([e[:, i] for e, (_, i) in zip(embedded, found)])
n_tokens = sum(len(s) for found in occurrences.values() for s, _ in found)
seconds = time.perf_counter() - start
print(f"{n_tokens:,} tokens in {seconds:.0f} s ({n_tokens / seconds:,.0f} tokens/s)")

# %%
play = vectors[TARGET]
n_layers, width = config.n_layers + 1, 2 * config.projection_dim
assert play.shape == (len(occurrences[TARGET]), n_layers, width)
# layer 0: one vector for every occurrence; the LSTM layers: a different one each time
np.testing.assert_allclose(play[:, 0], np.broadcast_to(play[0, 0], play[:, 0].shape),
                           atol=1e-4)
assert np.ptp(play[:, 2], axis=0).max() > 1e-3

# %% [markdown]
# ### Nearest neighbours in context
# Table 4 of the ELMo paper queries the biLM with a sentence and finds the training sentence
# whose *play* is closest. We do the same with three sentences of our own, one per sense,
# ranking all occurrences of *play* by cosine similarity in a layer. In layer 0 every
# occurrence has the same vector (cosine 1 with all of them), so its "ranking" is arbitrary;
# in layer 2 the neighbours should share the query's sense.

# %%
queries = {
    "sport": "The quarterback ran the same play on third down and gained ten yards .",
    "stage": "The play opened on Broadway , and critics praised the actors and the script .",
    "music": "As a child he learned to play the guitar and the piano .",
}
embedded = embed_layers([q.split() for q in queries.values()])
query_vectors = {name: e[:, q.split().index(TARGET)]
                 for (name, q), e in zip(queries.items(), embedded)}

def unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


# %%
def show_neighbours(name, layer, k=N_NEIGHBOURS):
    cosine = unit(play[:, layer]) @ unit(query_vectors[name][layer])
    print(f"query ({name}), layer {layer}: {queries[name]}")
    for i in np.argsort(-cosine, kind="stable")[:k]:
        tokens, position = occurrences[TARGET][i]
        left = " ".join(tokens[max(0, position - 8):position])
        right = " ".join(tokens[position + 1:position + 9])
        print(f"  {cosine[i]:.3f} [{play_topics[i]:7s}] ...{left} *{TARGET}* {right}...")

for name in queries:
    show_neighbours(name, layer=config.n_layers)

# %%
show_neighbours("sport", layer=0)  # every cosine is 1: layer 0 cannot tell senses apart

# %% [markdown]
# How often does an occurrence's nearest other occurrence have the same (heuristic) sense?
# We score leave-one-out 1-nearest-neighbour agreement per layer, on the occurrences that
# the heuristic could label, against always guessing the most common sense.

# %%
labelled = np.array([t != "unclear" for t in play_topics])
senses = np.array(play_topics)[labelled]

def neighbour_agreement(points):
    similarity = unit(points) @ unit(points).T
    np.fill_diagonal(similarity, -np.inf)  # leave one out
    return float(np.mean(senses[np.argmax(similarity, axis=1)] == senses))

agreement = {f"layer {j}": neighbour_agreement(play[labelled, j]) for j in range(n_layers)}
agreement["average"] = neighbour_agreement(play[labelled].mean(axis=1))
majority = Counter(senses).most_common(1)[0][1] / len(senses)
print(f"{labelled.sum()} labelled occurrences; most common sense alone: {majority:.1%}")
print("  ".join(f"{k}: {v:.1%}" for k, v in agreement.items()))


# %% [markdown]
# Layer 0's score is just what ties give (`argmax` picks the first occurrence, whatever its
# sense). A 2-D PCA of the labelled occurrences (and the anchor words) shows why: in layer 0
# each word is a single point; in the top layer the occurrences of *play* spread out.

# %%
def pca_plot(layer, name):
    """PCA of the labelled occurrences of TARGET and all of the anchors, in one layer."""
    points = np.concatenate([play[labelled, layer]] + [vectors[w][:, layer] for w in ANCHORS])
    labels = [f"{TARGET}: {t}" for t in senses] + [w for w in ANCHORS for _ in vectors[w]]
    projected = PCA(n_components=2, random_state=0).fit_transform(points)
    return el.plotting.scatter_2d(
        projected, name, labels=labels, xlabel="PC 1", ylabel="PC 2", alpha=0.5,
        title=f"occurrences of '{TARGET}', '{ANCHORS[0]}', '{ANCHORS[1]}': layer {layer}")

pca_plot(0, "05_play_pca_layer0");

# %%
pca_plot(config.n_layers, f"05_play_pca_layer{config.n_layers}");

# %% [markdown]
# ## 4. What does each layer know? A part-of-speech probe
# A *probe* is a deliberately simple classifier trained on frozen features: if a linear
# model can read a property off a layer, the layer encodes it in an accessible form. Peters
# et al. (sec. 5.3) probed their biLM with POS tagging and word-sense disambiguation and found
# the first LSTM layer best for syntax (POS) and the second for semantics (WSD).
#
# We probe our layers with UD English-EWT's universal POS tags (17 classes): a linear
# classifier per layer (0, 1, 2, and their equal average), trained on the cached vectors of
# `POS_TRAIN_SENTENCES` training sentences and scored on dev and test. UD-EWT is web text
# (reviews, e-mails, blogs): a domain shift from Wikipedia, the same for every layer.

# %%
ud = {split: el.data.load_ud_ewt(split) for split in ("train", "dev", "test")}
ud["train"] = tuple(part[:POS_TRAIN_SENTENCES] for part in ud["train"])
for split in ("dev", "test"):
    ud[split] = tuple(part[:POS_EVAL_SENTENCES] for part in ud[split])
for split, (tokens, _tags) in ud.items():
    print(f"{split:5s} {len(tokens):5,} sentences {sum(map(len, tokens)):7,} tokens")
print(list(zip(ud["train"][0][1], ud["train"][1][1])))

# %%
start = time.perf_counter()
features, labels = {}, {}
for split, (tokens, tags) in ud.items():
    embedded = embed_layers(tokens)
    features[split] = np.concatenate([e.transpose(1, 0, 2) for e in embedded])  # [N, L+1, 2P]
    labels[split] = np.array([tag for sentence in tags for tag in sentence])
seconds = time.perf_counter() - start
print(f"cached {sum(len(v) for v in labels.values()):,} tokens in {seconds:.0f} s;",
      f"{sum(f.nbytes for f in features.values()) / 2**20:,.0f} MiB")

# %%
assert all(len(features[s]) == len(labels[s]) for s in ud)
assert features["train"].shape[1:] == (config.n_layers + 1, 2 * config.projection_dim)

# %% [markdown]
# A baseline without any biLM: tag each word with its most frequent tag in the probe's
# training sentences, and unknown words with the most frequent tag overall.

# %%
by_word = {}
for word, tag in zip((w for s in ud["train"][0] for w in s), labels["train"]):
    by_word.setdefault(word, Counter())[tag] += 1
fallback = Counter(labels["train"]).most_common(1)[0][0]
accuracy = {"word majority": {}}
for split in ("dev", "test"):
    guess = [by_word[w].most_common(1)[0][0] if w in by_word else fallback
             for s in ud[split][0] for w in s]
    accuracy["word majority"][split] = float(np.mean(np.array(guess) == labels[split]))
print(accuracy)

# %% [markdown]
# The probe itself is a softmax regression (multinomial logistic regression) in Keras:
# standardise the features (`Normalization`, fitted on the training tokens), then one `Dense`
# layer with a softmax over the tags. It sees one token's vector at a time, so anything it
# gets right beyond the word-majority baseline comes from what the layer encodes.

# %%
tag_names = sorted(set(labels["train"]))
tag_ids = {s: np.array([tag_names.index(t) if t in tag_names else -1 for t in labels[s]])
           for s in ud}  # -1: a tag never seen in the probe's training tokens

def probe(layer):
    """Fit a linear tagger on one layer (or "average") of the cached tokens."""
    x = {s: f.mean(axis=1) if layer == "average" else f[:, layer] for s, f in features.items()}
    normalize = keras.layers.Normalization()
    normalize.adapt(x["train"])
    model = keras.Sequential([keras.Input(x["train"].shape[1:]), normalize,
                              keras.layers.Dense(len(tag_names), activation="softmax")])
    model.compile(keras.optimizers.Adam(PROBE_LEARNING_RATE), "sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit(x["train"], tag_ids["train"], batch_size=256, epochs=PROBE_EPOCHS, verbose=0)
    scores = {s: float(np.mean(np.argmax(model(x[s]), axis=-1) == tag_ids[s]))
              for s in ("dev", "test")}
    print(f"layer {layer}: dev {scores['dev']:.1%}, test {scores['test']:.1%} "
          f"({time.perf_counter() - start:.0f} s)")
    return scores


# %%
for layer in [*range(config.n_layers + 1), "average"]:
    accuracy[f"layer {layer}" if layer != "average" else "average"] = probe(layer)

# %%
names = list(accuracy)
el.plotting.bar_chart(
    names, [[100 * accuracy[n][s] for n in names] for s in ("dev", "test")],
    "05_pos_probe", series=["dev", "test"], xlabel="features", value_format="{:.1f}",
    ylabel="UPOS accuracy (%)", title="Linear POS probe on UD English-EWT");

# %%
assert all(0.0 <= accuracy[n][s] <= 1.0 for n in names for s in ("dev", "test"))
best = max(names[1:], key=lambda n: accuracy[n]["dev"])
print(f"best on dev: {best} (test {accuracy[best]['test']:.1%})")

# %% [markdown]
# **Reading the probe (full run).** A softmax-regression probe per layer, trained on 2,500 UD-EWT sentences: layer 1 (the first LSTM) is the best single layer with 88.9% test accuracy, against 83.6% for the context-free layer 0 and 88.4% for layer 2 (on dev, layers 1 and 2 tie at 89.0%); the average of the three is best on dev (89.5%) and gets 89.1% on test; always predicting a word's most frequent training tag gives 81.3%. The paper's finding, that the lower biLM layer carries more syntax than the top one, shows up on our small CPU biLM too, by a small margin. The sense test on "play" points the other way, as in the paper: nearest-neighbour sense agreement is 81.4% in layer 2 against 68.1% for always guessing the most common sense (layer 0: 45.6%, layer 1: 67.6%), with a crude heuristic labelling and 204 occurrences.

# %% [markdown]
# ## Summary
# - ELMo's vectors are a learned mix of the biLM's layers, $\gamma \sum_j s_j \mathbf{h}_j$:
#   four numbers for a 2-layer biLM, trained with the task; `el.layers.ScalarMix` and
#   `el.elmo.ELMo` compute exactly that.
# - Layer 0 is a static embedding: every *play* gets the same vector, so it cannot separate
#   senses. The LSTM layers give every occurrence its own vector, and nearest neighbours in
#   the top layer tend to share the query's sense.
# - Linear probes show what is easy to read off each layer; on our small WikiText-2 biLM the
#   ranking of layers for POS is printed above: compare it with the paper's, not assume it.
# - Everything downstream runs on *cached* layer activations: the biLM runs once per sentence.
#
# ## Exercises
# 1. Change `TARGET` to *record* or *match* (and pick new `ANCHORS`); which senses separate?
# 2. Query with a sentence where *play* is ambiguous ("They watched the play .") and read its
#    neighbours in each layer.
# 3. Probe only the forward half (`[:, :, :P]`) and only the backward half of each LSTM
#    layer: which direction knows more about the current word's tag?
# 4. Give the probe a hidden layer (a 2-layer MLP). Does the ranking of layers change?
#    What does that say about probes?
# 5. (Open) Probe for something semantic instead: e.g. whether the word is part of a named
#    entity, using UD-EWT's `PROPN` tags and capitalisation. Which layer wins now?
#
# **Next:** [06 · Sentiment with a scalar mix](06_sentiment_scalar_mix.ipynb): train the four
# mixing weights with a classifier on SST-2.

# %% [markdown]
# # 05 · The layers of ELMo
#
# What each layer of a trained biLM knows: the scalar mix that turns layers into ELMo vectors, word senses separated by context, and a linear probe for parts of speech.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/05_elmo_representations.ipynb)
#
# **Prerequisite:** lesson 04 (the trained biLM, loaded here by name).

# %% [markdown]
# ## What you will learn
# - **Write** the ELMo equation and check `el.layers.ScalarMix` and the `el.elmo.ELMo` layer against it.
# - **Compare** the static layer (0) with the contextual layers (1, 2) on the senses of *play*,
#   and score nearest neighbours in context (Table 4 of the ELMo paper), failures included.
# - **Climb** lesson 01's ladder for *record*: static vector, context average, then each biLM layer.
# - **Probe** each layer, and a trainable mix of them, with a linear part-of-speech tagger on
#   UD English-EWT, and read which layers syntax leans on.

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

import time
from collections import Counter

import keras
import numpy as np
import tensorflow as tf
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

keras.utils.set_random_seed(0)
results = el.results.LessonResults("05_elmo_representations")  # -> results/05_*.json

# %% [markdown]
# ## Parameters
# All sizes live in the next cell. The lesson reads the biLM the repository ships
# (`models/wikitext2-cpu`, lesson 04) by name. `ELMO_QUICK=1` (what CI sets) uses a handful of
# sentences and a few probe epochs: its numbers mean nothing, it only checks that every cell
# runs. The last cell prints the machine and the full run's time.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
PRESET = os.environ.get("ELMO_PRESET", "wikitext2_cpu")  # the lessons' biLM (lesson 04)
TARGET = "play"  # the many-sense word we follow
MAX_OCCURRENCES = 40 if QUICK else 500  # sentences with TARGET
MAX_SENTENCE_LENGTH = 60  # tokens; longer WikiText-2 sentences are skipped
CONTEXT_WINDOW = 12  # tokens on each side read by the sense heuristic
N_NEIGHBOURS = 5
RECORD_LINES = 3_000 if QUICK else None  # WikiText-2 train lines searched for *record* (None: all)
RECORD_WINDOW = 30  # tokens kept on each side of *record* when it goes through the biLM
POS_TRAIN_SENTENCES = 150 if QUICK else 2_500  # UD-EWT train sentences for the probes
POS_EVAL_SENTENCES = 100 if QUICK else None  # dev and test sentences (None = all)
PROBE_EPOCHS = 3 if QUICK else 20  # passes of the linear probes over their training tokens
PROBE_LEARNING_RATE = 1e-2

# %% [markdown]
# ## 1. The trained biLM
# `el.bilm.BiLMEncoder.from_preset` loads the encoder of lesson 04's biLM (the char CNN and
# the two LSTM stacks; the softmax is not needed here) from `models/wikitext2-cpu`.

# %%
encoder = el.bilm.BiLMEncoder.from_preset(PRESET)
config = encoder.config
print(f"biLM: {config.n_layers} LSTM layers, P={config.projection_dim}, H={config.lstm_dim}, "
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
# 1), trained with the downstream task while the biLM stays frozen. In a picture:

# %%
fig = el.plotting.scalar_mix_diagram(config.n_layers + 1, "05_scalar_mix")

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
elmo_layer = el.elmo.ELMo.from_preset(PRESET, output_mode="elmo", input_type="strings")
from_strings = elmo_layer(tf.constant([" ".join(sentence)]))
np.testing.assert_allclose(from_strings, sum(np.asarray(h) for h in layers) / 3,
                           rtol=1e-4, atol=1e-5)
print("trainable:", [v.path for v in elmo_layer.trainable_weights],
      "| frozen biLM weights:", len(elmo_layer.non_trainable_weights))

# %% [markdown]
# ## 3. One word, many meanings: *play*
# WikiText-2 uses *play* for a stage play, a move in American football, to play an
# instrument, to play a role, play-offs and more. We cut the corpus into sentences (at `.`)
# and keep those containing *play*.

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
for word in (TARGET,):
    found = [(s, s.index(word)) for s in sentences
             if word in s and len(s) <= MAX_SENTENCE_LENGTH]
    occurrences[word] = found[:MAX_OCCURRENCES]
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
# Now run the biLM over every sentence once and keep every layer of every token:
# `el.cache.cache_layers` batches sentences of similar length, runs the char CNN once per
# distinct word, and stores `[tokens, L + 1, 2P]` without padding (layer 0 duplicated, as in
# the mix). Everything below reads this cache, never the biLM again.

# %%
start = time.perf_counter()
vectors = {}  # word -> [occurrences, L + 1, 2P]: the word's own vectors in each layer
for word, found in occurrences.items():
    cache = el.cache.cache_layers(encoder, [s for s, _ in found], dtype="float32", verbose=0)
    vectors[word] = np.stack([cache.sentence(k)[i] for k, (_, i) in enumerate(found)])
n_tokens = sum(len(s) for found in occurrences.values() for s, _ in found)
seconds = time.perf_counter() - start
print(f"{n_tokens:,} tokens in {seconds:.0f} s ({n_tokens / seconds:,.0f} tokens/s)")
play, n_layers = vectors[TARGET], config.n_layers + 1
for j in range(n_layers):  # how far the occurrences of TARGET lie from their first one
    spread = np.abs(play[:, j] - play[0, j]).max()
    print(f"layer {j}: the {len(play)} '{TARGET}' vectors differ by at most {spread:.1e}")

# %% [markdown]
# ### Nearest neighbours in context
# Table 4 of the ELMo paper queries the biLM with a sentence and finds the training sentence
# whose *play* is closest. We do the same with three sentences of our own, one per sense,
# ranking all occurrences of *play* by cosine similarity in the top layer, and score the
# result: how many of the `N_NEIGHBOURS` nearest occurrences carry the query's (heuristic)
# sense, and how many the heuristic could not label.

# %%
queries = {
    "sport": "The quarterback ran the same play on third down and gained ten yards .",
    "stage": "The play opened on Broadway , and critics praised the actors and the script .",
    "music": "As a child he learned to play the guitar and the piano .",
}
query_cache = el.cache.cache_layers(encoder, [q.split() for q in queries.values()],
                                    dtype="float32", verbose=0)
query_vectors = {name: query_cache.sentence(k)[q.split().index(TARGET)]
                 for k, (name, q) in enumerate(queries.items())}

def unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

def neighbours(name, layer, k=N_NEIGHBOURS):
    """Indices of the k occurrences of TARGET closest to the query in `layer`."""
    cosine = unit(play[:, layer]) @ unit(query_vectors[name][layer])
    return np.argsort(-cosine, kind="stable")[:k], cosine


# %%
neighbour_scores = {}
for name in queries:
    nearest, cosine = neighbours(name, config.n_layers)
    topics = [play_topics[i] for i in nearest]
    neighbour_scores[name] = {"same_sense": topics.count(name), "unclear": topics.count("unclear")}
    print(f"query ({name}): {queries[name]}")
    for i in nearest:
        tokens, position = occurrences[TARGET][i]
        left = " ".join(tokens[max(0, position - 7):position])
        print(f"  {cosine[i]:.3f} [{play_topics[i]:7s}] ...{left} *{TARGET}* "
              f"{' '.join(tokens[position + 1:position + 8])}...")
    print(f"  -> {topics.count(name)} of {N_NEIGHBOURS} share the query's sense, "
          f"{topics.count('unclear')} unclear")
results["play_query_neighbours_top_layer"] = neighbour_scores

# %% [markdown]
# **Reading the neighbours.** The top layer finds the right kind of sentence for two of the three queries: all five neighbours of the sport query are American-football or conference *play*, and all five of the stage query are theatre sentences ("The *play* opened at the Trafalgar Studios"). The score undercounts them (2 and 1 of 5), because the heuristic leaves most of them *unclear*: their windows lack its keywords. The music query fails outright: its neighbours are "agreed to *play* the lead", "to *play* the role of Thakur", acting, not music. The biLM matched the construction "to *play* the ..." more than the instrument; music is also the rarest sense here (40 of the 500 occurrences, by the heuristic).
#
# Three queries are anecdotes. How often does an occurrence's nearest other occurrence have
# the same (heuristic) sense? Leave-one-out 1-nearest-neighbour agreement per layer, on the
# occurrences the heuristic could label, against always guessing the most common sense. In
# layer 0 all occurrences tie (cosine 1 with each other), so its score is whatever the first
# occurrence's sense gives.

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
results["play_neighbour_agreement"] = {**agreement, "majority": majority,
                                       "occurrences": int(labelled.sum())}


# %% [markdown]
# A picture of the same thing: a 2-D PCA of the labelled occurrences of *play*, fit on them
# alone, so its two axes are the directions in which *play*'s own vectors vary most (in
# layer 0 they do not vary at all: one point). Coloured by the heuristic's sense:

# %%
def pca_plot(layer, name):
    """PCA of the labelled occurrences of TARGET in one layer, fit on them alone."""
    pca = PCA(n_components=2, random_state=0).fit(play[labelled, layer])
    print(f"layer {layer}: the two axes hold {pca.explained_variance_ratio_.sum():.0%} "
          f"of the variance of '{TARGET}'")
    return el.plotting.scatter_2d(
        pca.transform(play[labelled, layer]), name, labels=[f"{TARGET}: {t}" for t in senses],
        xlabel="PC 1", ylabel="PC 2", alpha=0.6,
        title=f"the labelled occurrences of '{TARGET}' in layer {layer}")

pca_plot(1, "05_play_pca_layer1");

# %%
pca_plot(config.n_layers, f"05_play_pca_layer{config.n_layers}");

# %% [markdown]
# In the top layer the *sport* occurrences spread over most of the picture, with tight groups of
# their own, while *music* and *stage* gather in one corner, mixed with each other: two
# directions (33% of the variance) show sport apart from the rest, not music apart from stage,
# which matches the neighbour scores above.

# %% [markdown]
# ## 4. Lesson 01's ladder: *record*
# Lesson 01 labelled the occurrences of *record* in WikiText-2 as "music business" or
# "achievement" from their direct neighbours (`el.senses`), and found that a static vector can
# only guess the majority sense while an average of the static vectors around the word
# recovers the sense most of the time. Same occurrences, same classifier (a logistic regression,
# cross-validated on the same folds), now on the biLM's vector of *record* in each layer. The
# two words that gave the label are hidden from the biLM (replaced by `<unk>`), as lesson 01 kept
# them out of its average: the biLM must infer the sense from the rest of the sentence.

# %%
wiki = el.data.load_wikitext2("train")[:RECORD_LINES]
found = el.senses.labelled_occurrences(wiki)
windows = [el.senses.hide_neighbours(wiki[line], position, window=RECORD_WINDOW)
           for line, position, _ in found]
record_senses = np.array([sense for _, _, sense in found])
record_cache = el.cache.cache_layers(encoder, [tokens for tokens, _ in windows],
                                     dtype="float32", verbose=0)
record = np.stack([record_cache.sentence(k)[c] for k, (_, c) in enumerate(windows)])
print(f"{len(found)} labelled occurrences:", dict(Counter(record_senses.tolist())))
print("hidden:", " ".join(windows[0][0][max(0, windows[0][1] - 6):windows[0][1] + 7]))

# %%
folds = StratifiedKFold(n_splits=min(5, min(Counter(record_senses.tolist()).values())),
                        shuffle=True, random_state=0)
def sense_accuracy(features):
    return float(cross_val_score(LogisticRegression(max_iter=1000), features, record_senses,
                                 cv=folds).mean())

ladder = {"static vector (majority)":
          max(Counter(record_senses.tolist()).values()) / len(record_senses)}
try:  # lesson 01's number, from its results file
    ladder["context average (lesson 01)"] = el.results.load(
        "01_why_context_matters")["sense_accuracy"]["context_average"]
except (FileNotFoundError, KeyError):
    print("(lesson 01's results file is not here: run lesson 01 to add its rung)")
for j in range(n_layers):
    ladder[f"biLM layer {j}"] = sense_accuracy(record[:, j])
ladder["biLM average of layers"] = sense_accuracy(record.mean(axis=1))
for name, value in ladder.items():
    print(f"{name:28s} {value:6.1%}")
results["record_ladder"] = {**ladder, "occurrences": len(found)}

# %%
fig = el.plotting.accuracy_chart(
    list(ladder), [100 * v for v in ladder.values()], "05_record_ladder",
    errors=[100 * el.plotting.binomial_error(v, len(found)) for v in ladder.values()],
    chance=50.0, majority=100 * ladder["static vector (majority)"],
    xlabel="representation of the occurrence of 'record'", ylabel="sense accuracy (%)",
    title=f"'record': music business or achievement? ({len(found)} occurrences, 5-fold CV)")

# %% [markdown]
# **Reading the ladder.** The static vector can only guess the majority sense (52%), and so can layer 0: the char CNN gives *record* the same vector everywhere. Lesson 01's average of the static vectors around the word reaches 82%, and so does the first LSTM layer (83%); the second LSTM layer reaches 95%, although the two words that gave the label are hidden: the top layer reads the sense from the wider sentence, as the paper found for word-sense disambiguation (sec. 5.3). There are only 109 occurrences (the error bars are binomial standard errors, about 2-4 points), but the step from the context average to the top layer is several times larger than them.
#
# ## 5. What does each layer know? A part-of-speech probe
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
start = time.perf_counter()
caches = {split: el.cache.cache_layers(encoder, tokens, verbose=0)
          for split, (tokens, _) in ud.items()}
features = {split: cache.values.astype(np.float32) for split, cache in caches.items()}
labels = {split: np.array([tag for sentence in tags for tag in sentence])
          for split, (_, tags) in ud.items()}
for split, (tokens, _) in ud.items():
    print(f"{split:5s} {len(tokens):5,} sentences {len(labels[split]):7,} tokens")
print(f"cached in {time.perf_counter() - start:.0f} s;",
      list(zip(ud["train"][0][1], ud["train"][1][1])))

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
print({split: f"{value:.1%}" for split, value in accuracy["word majority"].items()})

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
    model.fit(x["train"], tag_ids["train"], batch_size=256, epochs=PROBE_EPOCHS, verbose=0)
    return {s: float(np.mean(np.argmax(model(x[s]), axis=-1) == tag_ids[s]))
            for s in ("dev", "test")}

for layer in [*range(n_layers), "average"]:
    accuracy[f"layer {layer}" if layer != "average" else "average"] = probe(layer)
    print(f"{list(accuracy)[-1]:8s} dev {accuracy[list(accuracy)[-1]]['dev']:.1%}, "
          f"test {accuracy[list(accuracy)[-1]]['test']:.1%}")

# %% [markdown]
# ### A trainable mix instead of a fixed average
# ELMo does not average its layers: the task learns $s_j$ and $\gamma$. The same linear probe on
# a trainable `ScalarMix` of the three layers (each layer standardised first, as above)
# learns which layers the POS task wants. `el.probe.train_token_probe` trains it with early
# stopping on dev:

# %%
def sentence_tags(split):  # a tag the training sentences never had gets an extra class
    return [np.array([tag_names.index(t) if t in tag_names else len(tag_names) for t in tags])
            for tags in ud[split][1]]

mix_probe, info = el.probe.train_token_probe(
    caches["train"], sentence_tags("train"), caches["dev"], sentence_tags("dev"),
    len(tag_names) + 1, layer_norm=True, epochs=PROBE_EPOCHS, learning_rate=PROBE_LEARNING_RATE)
accuracy["trainable mix"] = {
    split: el.probe.token_probe_accuracy(mix_probe, caches[split], sentence_tags(split))
    for split in ("dev", "test")}
print(f"trainable mix: dev {accuracy['trainable mix']['dev']:.1%}, "
      f"test {accuracy['trainable mix']['test']:.1%}; weights softmax(s) = "
      f"{np.round(info['mix_weights'], 3)}, gamma {info['gamma']:.2f}")
results["pos_probe"] = {"accuracy": accuracy, "mix_weights": info["mix_weights"],
                        "gamma": info["gamma"], "train_sentences": len(ud["train"][0]),
                        "test_tokens": len(labels["test"])}

# %%
names = list(accuracy)
fig = el.plotting.accuracy_chart(
    names, [[100 * accuracy[n][s] for n in names] for s in ("dev", "test")], "05_pos_probe",
    errors=[[100 * el.plotting.binomial_error(accuracy[n][s], len(labels[s])) for n in names]
            for s in ("dev", "test")],
    majority=100 * Counter(labels["test"]).most_common(1)[0][1] / len(labels["test"]),
    series=["dev", "test"], xlabel="features of the linear probe",
    ylabel="UPOS accuracy (%)", title="Linear POS probe on UD English-EWT")

# %% [markdown]
# **Reading the probe.** Every biLM layer beats the word-majority baseline, and context adds about 4 points over the char CNN's layer 0. The two LSTM layers tie (within one standard error, about 0.2 points on 25,000 test tokens): the paper's ranking, the first LSTM layer best for syntax, is not visible on this small biLM. Combining the layers helps a little more: the fixed average and the trainable mix are the best rows.
#
# The mix the POS probe learned, beside the one lesson 06 learns for sentiment (read from its
# results file, if lesson 06 has run):

# %%
mixes = {"POS tags (UD-EWT, this lesson)": info["mix_weights"]}
payoff = el.results.find("06_payoff")
if payoff:
    mixes["sentiment (SST-2, lesson 06)"] = payoff["tasks"]["sst2"]["mix_weights"]["mean"]
else:
    print("(lesson 06's results file is not here: run lesson 06 to add its mix)")
for task, weights in mixes.items():
    print(f"{task:32s}", "  ".join(f"layer {j}: {w:.2f}" for j, w in enumerate(weights)))
fig = el.plotting.layer_weights(  # the weights are already softmax(s): normalize=False
    mixes, "05_mix_weights", layer_names=["layer 0\n(char CNN)", "layer 1\n(LSTM)",
                                          "layer 2\n(LSTM)"], normalize=False,
    title="What each task takes from each layer: softmax(s) of a trainable scalar mix")

# %% [markdown]
# **Reading the mix.** Neither task moves far from the uniform 1/3, but they lean different ways: the POS probe puts its largest weight on layer 1, the lower LSTM layer (0.37), while lesson 06's sentiment model puts its largest on layer 0, the context-free char CNN (0.37), and its smallest on the top layer. Syntax leaning on the first LSTM layer is the paper's observation; for sentiment, this small biLM's contextual layers add little beyond the words themselves (lesson 06 measures how little).

# %%
results.save()
print(el.results.measured_on(results.lesson))

# %% [markdown]
# ## Summary
# - ELMo's vectors are a learned mix of the biLM's layers, $\gamma \sum_j s_j \mathbf{h}_j$:
#   four numbers for a 2-layer biLM, trained with the task; `el.layers.ScalarMix` and
#   `el.elmo.ELMo` compute exactly that.
# - Layer 0 is a static embedding: every *play* and every *record* gets the same vector, so it
#   cannot separate senses. The LSTM layers give every occurrence its own vector; how well that
#   separates senses is measured above (neighbour agreement, lesson 01's ladder), not assumed.
# - Linear probes show what is easy to read off each layer; a trainable mix shows which layers a
#   task prefers. Compare the ranking with the paper's rather than assume it.
# - Everything downstream runs on *cached* layer activations (`el.cache.cache_layers`): the biLM
#   runs once per sentence.
#
# ## Exercises
# 1. Change `TARGET` to *match*; which senses separate, in which layer?
# 2. Query with a sentence where *play* is ambiguous ("They watched the play .") and read its
#    neighbours in each layer.
# 3. Probe only the forward half (`[:, :, :P]`) and only the backward half of each LSTM
#    layer: which direction knows more about the current word's tag?
# 4. Give the probe a hidden layer (a 2-layer MLP). Does the ranking of layers change?
#    What does that say about probes?
# 5. (Open) In section 4, hide more than the direct neighbours (`radius=3`). How fast does each
#    layer's sense accuracy fall, and what does that say about how far context reaches?
#
# **Next:** [06 · ELMo's payoff](06_payoff.ipynb): ELMo added to a task model, the way the paper
# measures it, on POS tagging and sentiment.

# %% [markdown]
# # 06 · ELMo's payoff
#
# The paper's Table 1 in miniature: the same task model trained with and without ELMo, on two tasks (part-of-speech tagging and sentiment), with the scalar mix learned for each task.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/06_payoff.ipynb)
#
# **Prerequisite:** lesson 05 (the layers of ELMo and `ScalarMix`).

# %% [markdown]
# ## What you will learn
# - **Write** a task model in plain Keras that takes ELMo as an extra input beside its own word vectors.
# - **Measure** ELMo the paper's way: the same model with and without it, over seeds, reported as a gain and a relative error reduction.
# - **Test** whether a gain is more than noise with a paired bootstrap over the test sentences.
# - **Read** what the scalar mix learned for each task, and check it against the paper's ablation (top layer, average, learned mix).
# - **Explain** why the same biLM helps one task a lot and the other a little.

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

import keras
import numpy as np

keras.utils.set_random_seed(0)
results = el.results.LessonResults("06_payoff")

# %% [markdown]
# ## Parameters
# All sizes live in the next cell. The full run uses 2,500 UD-EWT training sentences with all of
# its dev and test sentences, all of SST-2, and the lessons' shipped biLM (`wikitext2_cpu`,
# trained for an hour in lesson 04); it takes about 10 minutes on 2 CPU cores (the cell that
# saves the results prints the machine and the wall time). `PRESET` takes any biLM preset, for
# example `"allennlp_small"` from lesson 07: only its encoder is read. Every setting was chosen
# on dev. `ELMO_QUICK=1` (CI) runs every cell on a few hundred sentences for two epochs: its
# numbers mean nothing.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
PRESET = os.environ.get("ELMO_PRESET", "wikitext2_cpu")  # the lessons' biLM (models/wikitext2-cpu)
POS_TRAIN = 200 if QUICK else 2_500  # UD-EWT training sentences (of 12,544)
SST_TRAIN = 300 if QUICK else None  # SST-2 training sentences (None: all 6,920)
N_EVAL = 200 if QUICK else None  # dev and test sentences of both tasks (None: all)
POS_SEEDS = (0, 1) if QUICK else (0, 1, 2)
SST_SEEDS = (0, 1) if QUICK else (0, 1, 2, 3, 4)
ABLATION_SEEDS = (0,)  # the mix ablation (section 6), on both tasks
EPOCHS = 2 if QUICK else 10  # at most; early stopping on dev accuracy (patience 2)
TAGGER = el.downstream.TaskConfig(n_classes=17, batch_size=32, epochs=EPOCHS, patience=2)
CLASSIFIER = el.downstream.TaskConfig(n_classes=2, batch_size=64, epochs=EPOCHS, patience=2)

# %% [markdown]
# ## 1. The experiment
# ELMo is not a task model: it is a set of vectors you **add** to one. So the paper measures it
# as a difference (its Table 1): take an existing model for a task, train it, then train the
# same model with each word's ELMo vector concatenated to its input, and report both scores,
# the absolute gain, and the **relative error reduction**
# $\frac{\mathrm{err}_\text{baseline} - \mathrm{err}_\text{ELMo}}{\mathrm{err}_\text{baseline}}$
# (6-25% across its six tasks). We do the same on two tasks:
#
# - **Part-of-speech tagging** (UD English-EWT, 17 universal tags): a label for every token.
# - **Sentiment** (SST-2, sentence level): one label, positive or negative, per sentence.

# %%
ud = {split: el.data.load_ud_ewt(split) for split in ("train", "dev", "test")}
tagset = sorted({tag for sentence in ud["train"][1] for tag in sentence})
pos_tokens = {s: words[:POS_TRAIN if s == "train" else N_EVAL] for s, (words, _) in ud.items()}
pos_tags = {s: [np.array([tagset.index(t) for t in tags], np.int32)
                for tags in ud[s][1][:POS_TRAIN if s == "train" else N_EVAL]] for s in ud}
sst = {split: el.data.load_sst2(split) for split in ("train", "dev", "test")}
sst_text = {s: list(texts[:SST_TRAIN if s == "train" else N_EVAL]) for s, (texts, _) in sst.items()}
sst_labels = {s: labels[:SST_TRAIN if s == "train" else N_EVAL] for s, (_, labels) in sst.items()}
for s in ud:
    print(f"{s:5s}  POS: {len(pos_tokens[s]):5,} sentences, {sum(map(len, pos_tokens[s])):6,} "
          f"tokens   SST-2: {len(sst_text[s]):5,} sentences, {sst_labels[s].mean():.1%} positive")
print(list(zip(pos_tokens["train"][1], ud["train"][1][1])))
print(sst_labels["train"][0], sst_text["train"][0])

# %% [markdown]
# ## 2. The biLM, run once
# We load the biLM by name and keep it frozen. A frozen biLM gives a sentence the same layers at
# every epoch and for every seed, so we run it **once** over every sentence and cache all of its
# layers for every token (`[tokens, L + 1, 2P]`, float16, no padding; lesson 05 showed the
# layers). SST-2 is lower-cased PTB text (`-lrb-`, `well-made`); the biLM read WikiText-2, so
# `el.adapt.ptb_to_wikitext` undoes the cheap differences (brackets, quotes, hyphens) first.

# %%
encoder = el.bilm.BiLMEncoder.from_preset(PRESET)
n_layers, width = encoder.config.n_layers + 1, 2 * encoder.config.projection_dim
sst_tokens = {s: [el.adapt.ptb_to_wikitext(t) for t in texts] for s, texts in sst_text.items()}
start = time.perf_counter()
pos_cache = {s: el.cache.cache_layers(encoder, pos_tokens[s], verbose=0) for s in pos_tokens}
sst_cache = {s: el.cache.cache_layers(encoder, sst_tokens[s], verbose=0) for s in sst_tokens}
seconds = time.perf_counter() - start
n_tokens = sum(len(c.values) for c in [*pos_cache.values(), *sst_cache.values()])
print(f"biLM {PRESET}: {n_layers} layers of width {width}; {n_tokens:,} tokens cached in "
      f"{seconds:.0f} s ({n_tokens / seconds:,.0f} tokens/s)")

# %% [markdown]
# ## 3. The task model, in plain Keras
# One family for both tasks, small and classic: trained word vectors, a BiLSTM, and a softmax
# per token (tagging) or over the sentence's max-pooled states (sentiment):
#
# ```
# baseline:         word ids -> word vectors (100, trained) -> dropout -> BiLSTM(64) -> softmax
# ELMo + baseline:  word ids -> word vectors -> dropout ---------.
#                   cached layers -> ScalarMix -> dropout -------+-> concat -> BiLSTM(64) -> softmax
# ```
#
# ELMo enters exactly as in the paper (§3.3): for token $k$,
# $\mathrm{ELMo}_k = \gamma \sum_{j=0}^{L} \mathrm{softmax}(s)_j\, \mathrm{LN}(\mathbf{h}_{k,j})$
# (eq. 1), concatenated to the token's word vector. $s$ and $\gamma$ are trained with the task;
# $\mathrm{LN}$ normalises each layer over the sentence so the biLM's layers start on the
# scale of the fresh word vectors; dropout 0.5 on the result. Max pooling (sentiment) keeps
# each token's strongest features, which a mean would blur.

# %%
def task_model(vocab_size, n_classes, elmo_layers=None, tagging=False):
    """Word vectors [+ ELMo] -> BiLSTM -> a softmax per token (tagging) or per sentence."""
    word_ids = keras.Input((None,), dtype="int32", name="word_ids")
    inputs = {"word_ids": word_ids}
    h = keras.layers.Embedding(vocab_size, 100, mask_zero=True)(word_ids)
    h = keras.layers.Dropout(0.3)(h)
    if elmo_layers is not None:  # (L + 1, 2P): the cached biLM layers of each token
        inputs["elmo"] = keras.Input((None, *elmo_layers), name="elmo")
        layers = keras.layers.Permute((2, 1, 3))(inputs["elmo"])  # [batch, L + 1, time, 2P]
        mask = el.downstream.TokenMask()(word_ids)
        elmo = el.layers.ScalarMix(elmo_layers[0], layer_norm=True)(layers, mask=mask)
        h = keras.layers.Concatenate()([h, keras.layers.Dropout(0.5)(elmo)])
    h = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(h)
    if not tagging:
        h = el.downstream.MaskedMaxPooling1D()(h)  # padding never wins the max
    h = keras.layers.Dropout(0.3)(h)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(h))

# %% [markdown]
# The seed loop, the batching by length and the statistics live in the library, which builds
# this same model (`el.downstream.build_task_model`). Same weights, same predictions:

# %%
pos_words = el.downstream.task_vocabulary(pos_tokens["train"])
sst_words = el.downstream.task_vocabulary(sst_tokens["train"])
pos = {s: el.downstream.TaskData(el.downstream.encode_words(pos_tokens[s], pos_words),
                                 pos_tags[s], pos_cache[s]) for s in pos_tokens}
sentiment = {s: el.downstream.TaskData(el.downstream.encode_words(sst_tokens[s], sst_words),
                                       sst_labels[s], sst_cache[s]) for s in sst_tokens}
ours = task_model(len(pos_words) + 2, 17, (n_layers, width), tagging=True)
library = el.downstream.build_task_model(TAGGER, len(pos_words) + 2, (n_layers, width), tagging=True)
ours.set_weights(library.get_weights())
batch = next(iter(el.downstream.task_dataset(pos["dev"], 8, use_elmo=True, token_level=True)[0]))[0]
difference = np.abs(np.asarray(ours(batch)) - np.asarray(library(batch))).max()
print(f"{ours.count_params():,} weights each ({library.get_layer('scalar_mix').count_params()} "
      f"in the scalar mix); largest difference in predicted probabilities: {difference:.1e}")

# %% [markdown]
# ## 4. Baseline vs ELMo + baseline, over seeds
# Each seed changes the initial weights, dropout and batch order. A run stops when dev accuracy
# has not improved for two epochs and keeps its best epoch; only then is it scored on test,
# once. The seeds of a row share one compiled model, restarted from each seed's fresh weights.
# First the tagger (accuracy over tokens), then the sentence classifier (over sentences):

# %%
runs = {"pos": {}, "sst2": {}}
started = time.perf_counter()
for use_elmo, row in ((False, "baseline"), (True, "elmo_baseline")):
    runs["pos"][row] = el.comparison.run_seeds(TAGGER, pos, use_elmo=use_elmo, seeds=POS_SEEDS,
                                               name=f"POS {row}", vocab_size=len(pos_words) + 2)

# %%
for use_elmo, row in ((False, "baseline"), (True, "elmo_baseline")):
    runs["sst2"][row] = el.comparison.run_seeds(CLASSIFIER, sentiment, use_elmo=use_elmo,
                                                seeds=SST_SEEDS, name=f"SST-2 {row}",
                                                vocab_size=len(sst_words) + 2)
print(f"training: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## 5. The table, beside the paper's
# Is a gain more than noise? Both models are scored on the **same** test sentences, so their
# errors are correlated and the gain is much less noisy than either accuracy. We resample the
# test sentences (a paired bootstrap, 10,000 resamples; for tagging a sentence's tokens are
# resampled together, since they are not independent) and read the 95% interval of the gain,
# each sentence's correctness averaged over the seeds both rows ran. The interval covers which
# sentences happen to be in the test set; the spread over seeds is the ± column.

# %%
TASKS = {"pos": "POS tagging (UD-EWT)", "sst2": "sentiment (SST-2)"}
table = {}
for task in TASKS:
    base, elmo = runs[task]["baseline"], runs[task]["elmo_baseline"]
    table[task] = {"baseline": base.summary(), "elmo_baseline": elmo.summary(),
                   "gain": elmo.mean - base.mean,
                   "relative_error_reduction": el.comparison.relative_error_reduction(base.mean, elmo.mean),
                   "paired_bootstrap_95": el.comparison.paired_bootstrap(base, elmo),
                   "n_train": len(pos["train"] if task == "pos" else sentiment["train"])}
PAPER = {"SQuAD (F1)": ("81.1", "85.8", "+4.7", "24.9%"), "SNLI": ("88.0", "88.7", "+0.7", "5.8%"),
         "SRL (F1)": ("81.4", "84.6", "+3.2", "17.2%"), "NER (F1)": ("90.15", "92.22", "+2.06", "21%"),
         "SST-5": ("51.4", "54.7", "+3.3", "6.8%")}  # Table 1 as printed in the paper
print(f"{'':26s} {'baseline':>13s} {'+ ELMo':>13s} {'gain':>6s} {'rel. err. red.':>15s} {'95% interval':>15s}")
for task, (b, e, gain, reduction) in PAPER.items():
    print(f"{'paper: ' + task:26s} {b:>13s} {e:>13s} {gain:>6s} {reduction:>15s}")
for task, name in TASKS.items():
    t, ci = table[task], table[task]["paired_bootstrap_95"]
    cells = [f"{100 * t[r]['mean']:.1f} ± {100 * t[r]['sd']:.1f}" for r in ("baseline", "elmo_baseline")]
    print(f"{'ours: ' + name:26s} {cells[0]:>13s} {cells[1]:>13s} {100 * t['gain']:+6.1f} "
          f"{t['relative_error_reduction']:15.1%}   [{100 * ci['low']:+.1f}, {100 * ci['high']:+.1f}]")

# %%
el.plotting.gain_chart(
    list(TASKS.values()), [100 * table[t]["gain"] for t in TASKS],
    [100 * table[t]["paired_bootstrap_95"]["low"] for t in TASKS],
    [100 * table[t]["paired_bootstrap_95"]["high"] for t in TASKS], "06_gains",
    ylabel="test accuracy gain (points)",
    title=f"ELMo + baseline minus baseline, paired 95% interval over test sentences ({PRESET})");

# %% [markdown]
# Both intervals sit above zero, and they are very different in size. On tagging the biLM
# removes a large share of the baseline's errors, more than any of the paper's rows; on
# sentiment it removes a small share, about what the paper's SST-5 row removes, but with an
# absolute gain a third of the paper's.

# %% [markdown]
# ## 6. What the scalar mix learned
# Every ELMo model above learned its own $\mathrm{softmax}(s)$, starting from the plain
# average (1/3 each), and its own $\gamma$. Mean ± sd over seeds, per task:

# %%
mixes = {TASKS[t]: runs[t]["elmo_baseline"].mix_weights for t in TASKS}
el.plotting.layer_weights({k: w.mean(0) for k, w in mixes.items()}, "06_mix_weights",
                          normalize=False, errors={k: w.std(0) for k, w in mixes.items()},
                          title="learned softmax(s) per task (mean ± sd over seeds)");
for t in TASKS:
    w, gamma = runs[t]["elmo_baseline"].mix_weights, runs[t]["elmo_baseline"].gamma
    print(f"{TASKS[t]:22s} softmax(s) = {np.round(w.mean(0), 3).tolist()}, "
          f"gamma = {np.mean(gamma):.2f} ± {np.std(gamma):.2f}")

# %% [markdown]
# Both mixes move only slightly from the average (no weight more than 0.05 from 1/3): tagging
# leans a little on the first LSTM layer (where the paper's §5.3 found syntax too), sentiment a
# little on the context-free layer 0. The clearer difference is $\gamma$: sentiment scales ELMo
# down against its word vectors. Does learning the mix matter? The paper's ablation (§5.1, its Table 2 on dev
# sets) compares the **top layer only** (what earlier work such as TagLM used), a **fixed
# average** of all layers, and the **learned** mix. Ours on the same seed and test sets:

# %%
ablation = {}
for t, (task, splits, words) in {"pos": (TAGGER, pos, pos_words),
                                 "sst2": (CLASSIFIER, sentiment, sst_words)}.items():
    ablation[t] = {mix: el.comparison.run_seeds(task.replace(elmo_mix=mix), splits, use_elmo=True,
                                                seeds=ABLATION_SEEDS, name=f"{t} {mix}",
                                                vocab_size=len(words) + 2, verbose=False).mean
                   for mix in ("top", "average")}
    for mix, row in (("learned", "elmo_baseline"), ("baseline", "baseline")):  # same seeds
        done = runs[t][row]
        ablation[t][mix] = float(np.mean([done.test[done.seeds.index(s)] for s in ABLATION_SEEDS]))
    print(f"{TASKS[t]:22s} " + "   ".join(f"{mix}: {100 * a:.1f}" for mix, a in ablation[t].items()))
for task, scores in {"SQuAD": (84.7, 85.0, 85.2), "SNLI": (89.1, 89.3, 89.5),
                     "SRL": (84.1, 84.6, 84.8)}.items():  # the paper's Table 2 (dev)
    print(f"paper, {task:15s} top: {scores[0]}   average: {scores[1]}   learned: {scores[2]}")

# %% [markdown]
# On tagging the three choices tie; on sentiment they land within a point of each other, the
# size of the spread between seeds (the ± column above), on one seed. With this biLM the gain
# comes from adding its layers at all, not from how they are weighted. The paper's learned mix
# beat the top layer by only 0.4-0.7 points too, on tasks with far more training data.

# %% [markdown]
# ## 7. Why the two gains differ
# The numbers behind the explanation, from lesson 05's probe and the biLM's model card:

# %%
lesson05, lesson04 = el.results.find("05_elmo_representations"), el.results.find("04_training_the_bilm")
if lesson05:
    probe = lesson05["pos_probe"]["accuracy"]
    print(f"lesson 05, a linear POS probe on one layer (test): word majority "
          f"{probe['word majority']['test']:.1%}, layer 0 {probe['layer 0']['test']:.1%}, "
          f"layer 1 {probe['layer 1']['test']:.1%}, layer 2 {probe['layer 2']['test']:.1%}")
mine, published = (el.bilm.count_parameters(c) for c in (encoder.config, el.bilm.BiLMConfig.original()))
print(f"this biLM: {mine / 1e6:.1f}M weights; the published ELMo: {published / 1e6:.1f}M "
      f"({published / mine:.0f}x), ten epochs of ~800M tokens of news")
if lesson04 and PRESET == "wikitext2_cpu":
    read = lesson04["training"]["tokens"]
    print(f"the lessons' biLM read {read / 1e6:.1f}M tokens of Wikipedia in its hour; the "
          f"published one read ~{8e9 / read:.0f}x as many")

# %% [markdown]
# 1. A language model learns first what predicts the next word, and much of that is syntax:
#    lesson 05's linear probe reads a token's part of speech from one layer of this biLM far
#    better than each word's most frequent tag does (printed above), so a tagger gets much of
#    its job done by ELMo.
# 2. Whether a sentence praises or pans a film rarely decides its next word, so a biLM that
#    read 19M tokens of Wikipedia has likely learned little of it: the explanation this lesson
#    offers for the small sentiment gain, not something it measures.
# 3. The sentiment model turns ELMo down (its $\gamma$ is about 0.7 against about 1.0 for the
#    tagger, section 6): it finds less in the biLM's layers that its own word vectors lack.
# 4. The published ELMo has about 50 times the weights and read hundreds of times the tokens
#    (printed above); with it the paper gains 3.3 points on SST-5.
# 5. Lesson 07 loads it by name, and `PRESET = "allennlp_original"` reruns this lesson with it:
#    that run is how to find out what scale buys on sentiment.

# %%
results["n_test"] = {"pos": int(pos_cache["test"].values.shape[0]), "sst2": len(sentiment["test"])}
results["preset"] = PRESET
results["tasks"] = {t: {**table[t], "mix_weights": {"mean": runs[t]["elmo_baseline"].mix_weights.mean(0).tolist(),
                                                    "sd": runs[t]["elmo_baseline"].mix_weights.std(0).tolist()},
                        "gamma": {"mean": float(np.mean(runs[t]["elmo_baseline"].gamma)),
                                  "sd": float(np.std(runs[t]["elmo_baseline"].gamma))},
                        "ablation": ablation[t], "ablation_seeds": list(ABLATION_SEEDS)} for t in TASKS}
results["task_config"] = {"pos": vars(TAGGER), "sst2": vars(CLASSIFIER)}
results.save()
print(el.results.measured_on(results.lesson))

# %% [markdown]
# ## Summary
# - ELMo is measured as a **difference**: the same task model with and without it, over seeds,
#   as an absolute gain and a relative error reduction (the paper's Table 1).
# - A frozen biLM runs **once**: every token's layers are cached and every run reads the cache.
# - A **paired** bootstrap over the test sentences tells whether a gain is more than the luck
#   of the test set: here both gains are.
# - The same biLM pays very differently: a large gain on POS tagging, a small one on sentiment;
#   a language model's layers hold syntax (lesson 05's probe), and little of what sentiment needs.
# - Each task learns **its own mix** and $\gamma$; with this biLM the weights stay near the
#   average, and a learned mix, a fixed average and the top layer alone score within a point.
#
# ## Exercises
# 1. Train with `TAGGER.replace(layer_norm=False)` (and the same for `CLASSIFIER`): how do the
#    gains and $\gamma$ change?
# 2. Train the tagger on fewer sentences (`POS_TRAIN = 500`): is the relative error reduction
#    larger with fewer labels (the paper's §5.4)? Lesson 08 draws the whole curve.
# 3. Feed ELMo alone (no word vectors) to the tagger: change `task_model` and train it with
#    Keras' `fit` on `el.downstream.task_dataset(...)`. How much of the gain is the biLM's?
# 4. (Open) With internet, rerun with `PRESET = "allennlp_small"` (lesson 07): does a biLM
#    trained on 800M tokens of news move the sentiment gain?
#
# **Next:** [07 · Pretrained ELMo](07_pretrained_elmo.ipynb): the published ELMo weights and the TF Hub module, with the same scalar mix on top. The side roads of this lesson (domain adaptation, learning curves, phrases, static vectors) are in [08 · Going further](08_going_further.ipynb).

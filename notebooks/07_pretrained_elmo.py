# %% [markdown]
# # 07 · Pretrained ELMo
#
# Use the published ELMo models from Keras 3: the AllenNLP weight files and the TF Hub module, through code that also runs offline, on our own biLM.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/07_pretrained_elmo.ipynb)
#
# **Prerequisite:** lessons 04-06 (the trained biLM, its layers, and the scalar mix in a classifier).

# %% [markdown]
# ## What you will learn
# - **List** the biLMs that load by name: ours and the four AllenNLP published.
# - **Load** the official bilm-tf/AllenNLP `options.json` + `weights.hdf5` into our encoder
#   with `el.interop.load_bilm_tf`, and **save** ours in that format with `save_bilm_tf`.
# - **Call** the TF Hub module `google/elmo/3` (or our biLM exported with the same interface)
#   through both of its signatures, and read its outputs.
# - **Fine-tune** ELMo's scalar mix on top of a frozen TF Hub module inside a Keras 3 model
#   (`el.interop.HubELMo`), then **save and reload** that model as a `.keras` file.
# - **Avoid** the pitfalls of TF1 Hub modules, `hub.KerasLayer` and string inputs in Keras 3.

# %%
import os
import sys

if "google.colab" in sys.modules:  # on Colab: install this repo with TF Hub (the "hub" extra)
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "elmo-keras-lessons[hub] @ git+https://github.com/elmo-keras-lessons/elmo-keras-lessons"],
                   check=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: quieter C++ logs
import elmo_lib as el  # before keras: it loads TensorFlow without the C++ start-up log lines

# isort: split

import json
import pathlib
import re
import socket
import tempfile
import urllib.parse

import h5py
import keras
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

keras.utils.set_random_seed(0)
results = el.results.LessonResults("07_pretrained_elmo")  # key numbers -> results/07_*.json

# %% [markdown]
# ## Parameters
# All sizes live in the next cell. The published files are big downloads (the *small* ELMo
# is about 55 MB, the TF Hub module several hundred): cells that would download say so,
# check the network first with a short timeout, and otherwise use **our** biLM, the one the
# repository ships (`models/wikitext2-cpu`, lesson 04), through exactly the same code.
# `ELMO_QUICK=1` (what CI sets) never downloads and fine-tunes on a few sentences for one
# epoch. The last cell prints the machine and the full run's time.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
PRESET = os.environ.get("ELMO_PRESET", "wikitext2_cpu")  # our biLM, shipped with the repository (lesson 04)
PUBLISHED = "allennlp_small"  # the published "small" ELMo (13.6M weights), a preset by URL
HUB_HANDLE = "https://tfhub.dev/google/elmo/3"  # TF1 Hub format
ALLOW_DOWNLOADS = not QUICK  # CI never downloads
NETWORK_TIMEOUT = 3  # seconds for the connectivity check
TRAIN_SENTENCES = 128 if QUICK else 4_000  # SST-2 sentences for the fine-tuning demo
DEV_SENTENCES = 64 if QUICK else None  # SST-2 dev sentences (None = all 872)
BATCH_SIZE, EPOCHS = 32, (1 if QUICK else 3)
LEARNING_RATE = 0.01


# %% [markdown]
# ## 1. Is there a network?
# Everything below that needs the internet goes through this check: a TCP connection to
# the host, with a short timeout. Without a network (CI, a laptop on a train) the lesson
# carries on with local files.

# %%
def reachable(url, timeout=NETWORK_TIMEOUT):
    """True if a TCP connection to the URL's host (port 443) opens within `timeout` s."""
    try:
        socket.create_connection((urllib.parse.urlparse(url).hostname, 443), timeout).close()
        return True
    except OSError:
        return False

published = el.presets.ALLENNLP_PRESETS[PUBLISHED]  # its options and weights URLs
download_weights = ALLOW_DOWNLOADS and reachable(published["weights"])
download_hub = ALLOW_DOWNLOADS and reachable(HUB_HANDLE)
print(f"AllenNLP weights: {'download' if download_weights else 'offline, use ours'}; "
      f"TF Hub module: {'download' if download_hub else 'offline, use ours'}")
results["downloaded"] = {"allennlp_weights": download_weights, "hub_module": download_hub}

# %% [markdown]
# ## 2. The presets: ours and the published ones
# Every biLM this library knows loads by name (`el.presets.list_presets()`): the one the
# repository ships, and the four models AllenNLP published (encoder only: no softmax or
# vocabulary came with them, and their download is not checksum-verified because their sha256
# was never published).

# %%
for name, description in el.presets.list_presets().items():
    print(f"{name:24s} {description[:75]}")
ours = el.bilm.BiLMEncoder.from_preset(PRESET)
preset_dir = el.presets.resolve_preset(PRESET)
work_dir = pathlib.Path(tempfile.mkdtemp(prefix="elmo07_"))  # files written below
print(f"\nours: {PRESET}, {ours.count_params():,} weights")

# %% [markdown]
# **With a network** (your laptop, Colab), the lesson runs on the published models through the
# same cells: section 3 downloads `allennlp_small` (the `PUBLISHED` parameter: AllenNLP's small
# ELMo, 13.6M weights, 256-wide vectors, trained on the 1B Word Benchmark) and sections 4-7 use
# Google's `google/elmo/3` (the original ELMo, 93.6M weights, 1024-wide vectors). Set
# `PUBLISHED = "allennlp_original"` for the original in bilm-tf files, or load any of them
# yourself by name: `el.bilm.BiLMEncoder.from_preset("allennlp_original")`. Offline, as in the
# stored outputs below, every cell uses our biLM instead, which saw only WikiText-2's 2M tokens.

# %% [markdown]
# ## 3. The bilm-tf / AllenNLP files
# The published ELMo models (Peters et al. 2018; trained with `bilm-tf` on the 1B Word
# Benchmark) come as two files: `options.json` with the sizes (our `BiLMConfig` mirrors it)
# and `weights.hdf5` with one dataset per weight, named after the TensorFlow 1 variables.
# `el.interop.load_bilm_tf` reads both and fixes three conventions on the way (lesson 03 has
# the layers):
#
# - the character embedding in the file has 261 rows; ours has a zero row 0 for padding;
# - TF1's `LSTMCell` stores the gates as `i, j, f, o` and adds `forget_bias = 1.0` at run
#   time; Keras-style cells use `i, f, g, o` with the 1.0 inside the bias;
# - in `CNN_high_k`, `W_carry`/`b_carry` is the highway gate that multiplies the *transform*
#   branch.
#
# **This cell downloads** the published *small* model when the network is there (into Keras'
# cache). Offline, it reads **our** biLM from the same kind of files: the preset's encoder is
# stored in bilm-tf's format (lesson 04 wrote it with `el.interop.save_bilm_tf`, the inverse
# conversion, which is also how you would hand a model trained here to AllenNLP users).

# %%
if download_weights:
    options_file, weight_file = published["options"], published["weights"]
else:
    options_file, weight_file = preset_dir / "options.json", preset_dir / "weights.hdf5"
encoder = el.interop.load_bilm_tf(options_file, weight_file)
print("loaded", "the published small ELMo" if download_weights else
      f"{PRESET} from its bilm-tf files")

# %%
config = el.bilm.encoder_layer(encoder).config  # read from options.json
options = config.to_options()
print("char_cnn:", json.dumps(options["char_cnn"]))
print("lstm:    ", json.dumps(options["lstm"]))
if not download_weights:  # the file's layout, one line per dataset
    with h5py.File(weight_file, "r") as handle:
        handle.visititems(lambda name, item: print(f"  {name:52s} {item.shape}")
                          if isinstance(item, h5py.Dataset) else None)

# %% [markdown]
# The `RNN_0` datasets are the forward LSTM stack, `RNN_1` the backward one; `W_0` holds the
# input and recurrent kernels stacked (`[P + P, 4H]`), `W_P_0` the projection `[H, P]`. The
# loaded encoder is an ordinary Keras model with our output contract, whichever file it came
# from. Writing it back with `save_bilm_tf` gives the same arrays, dataset by dataset:

# %%
sentences = [["The", "play", "opened", "in", "London", "."], ["He", "will", "play", "."]]
ids = el.text.char_ids(sentences)
layers = encoder(ids)
for key, value in layers.items():
    print(f"{key:14s} {tuple(value.shape)}")
if not download_weights:
    _, written = el.interop.save_bilm_tf(encoder, work_dir / "bilm_tf")
    with h5py.File(weight_file, "r") as original, h5py.File(written, "r") as copy:
        names = []
        original.visititems(lambda name, item: names.append(name)
                            if isinstance(item, h5py.Dataset) else None)
        for name in names:
            np.testing.assert_array_equal(original[name][...], copy[name][...])
    print(f"written back: {len(names)} datasets, every array identical")

# %%
print("the padding after the 2nd sentence's 4 tokens is zero in every layer:",
      all(not np.any(np.asarray(layers[key])[1, 4:]) for key in layers if key != "mask"))

# %% [markdown]
# ## 4. The TF Hub module `google/elmo/3`
# Google published ELMo (the *original* 93.6M model) as a TF Hub module with two signatures:
#
# | signature | inputs | |
# |---|---|---|
# | `default` | `strings` `[B]` | whole sentences, split on spaces inside the module |
# | `tokens` | `tokens` `[B, T]` padded with `""`, `sequence_len` `[B]` int32 | pre-tokenized |
#
# and the same outputs for both: `word_emb` `[B, T, 512]` (layer 0), `lstm_outputs1`,
# `lstm_outputs2` `[B, T, 1024]`, `elmo` `[B, T, 1024]` (the module's own weighted sum of the
# three layers) and `default` `[B, 1024]` (the mean of `elmo` over each sentence's tokens).
#
# It is a **TF1-format** module. TensorFlow 2 loads it with `hub.load` as a set of
# signatures, **inference only**: the four weights of its `elmo` mix cannot be trained, and
# the TF2 tutorials' `hub.KerasLayer` is a Keras 2 (`tf_keras`) layer. `el.interop.export_hub`
# writes our biLM as a SavedModel with the same signatures and output keys (its `elmo` is a
# fixed equal average), so the same code loads Google's module or ours.
#
# **This cell downloads** the module (several hundred MB) when the network is there;
# offline it exports ours. Loading a SavedModel runs the graph stored in it: only load
# modules you trust.

# %%
tf.get_logger().setLevel("WARNING")  # saving a SavedModel logs an INFO line per export
if download_hub:
    handle = HUB_HANDLE
else:
    handle = el.interop.export_hub(ours, work_dir / "hub_elmo")
module = el.interop.load_hub_module(handle)  # hub.load, with an error that says what to do
print("module:", "google/elmo/3" if download_hub else f"{PRESET}, exported",
      "| signatures:", sorted(module.signatures))
for name, function in module.signatures.items():
    inputs = function.structured_input_signature[1]
    print(f"  {name}:", {key: inputs[key] for key in sorted(inputs)})

# %% [markdown]
# The `default` signature takes untokenized sentences (split on spaces: tokenize first, as
# WikiText-2 and SST-2 are). Every output, and its shape:

# %%
texts = [" ".join(s) for s in sentences]
by_strings = module.signatures["default"](strings=tf.constant(texts))
for key, value in sorted(by_strings.items()):
    print(f"{key:14s} {str(tuple(value.shape)):14s} {value.dtype.name}")

# %% [markdown]
# The `tokens` signature takes the tokens, padded to a rectangle with `""`, and the true
# lengths. Positions past `sequence_len` are ignored and their outputs are zero, so both
# signatures must agree:

# %%
width = max(len(s) for s in sentences)
padded = tf.constant([s + [""] * (width - len(s)) for s in sentences])
lengths = tf.constant([len(s) for s in sentences], tf.int32)
by_tokens = module.signatures["tokens"](tokens=padded, sequence_len=lengths)
print(padded.numpy()[1], "->", by_tokens["sequence_len"].numpy())

# %%
gap = max(float(np.abs(by_strings[key] - by_tokens[key]).max()) for key in by_strings)
print(f"default vs tokens signature, largest difference over all outputs: {gap:.1e}")
elmo, mask = by_tokens["elmo"].numpy(), np.arange(width) < lengths.numpy()[:, None]
mean = (elmo * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
print(f"'default' = mean of 'elmo' over the real tokens: largest difference "
      f"{np.abs(by_tokens['default'] - mean).max():.1e}; 'elmo' past each sentence is zero: "
      f"{not np.any(elmo[~mask])}")
if not download_hub:  # our export computes what our encoder computes
    print(f"exported module vs our encoder, lstm_outputs2: largest difference "
          f"{np.abs(by_tokens['lstm_outputs2'] - ours(ids)['lstm_outputs2']).max():.1e}")

# %% [markdown]
# ## 5. Why not `hub.KerasLayer`?
# The recipe in most ELMo tutorials wraps the module in `hub.KerasLayer`. That class belongs
# to `tf_keras` (Keras 2), which `tensorflow-hub` still depends on; Keras 3 does not accept
# it as a layer, and it cannot take a Keras 3 `Input`:

# %%
try:  # the classic TF2 / Keras 2 recipe, in Keras 3
    keras.Sequential([keras.Input(shape=(), dtype="string"),
                      hub.KerasLayer(handle, signature="default", output_key="default")])
    print("hub.KerasLayer worked in this Keras version")
except (TypeError, ValueError) as error:
    print(f"{type(error).__name__}:", re.sub(r" object at 0x[0-9a-f]+", "", str(error)))

# %% [markdown]
# `el.interop.HubELMo` is the fix: a small **Keras 3** layer that calls
# `hub.load(handle).signatures[signature]` and puts its own trainable `ScalarMix`
# (lesson 05) on `[word_emb; word_emb]`, `lstm_outputs1` and `lstm_outputs2`, the three layers
# of ELMo. The module stays frozen (its outputs pass through `tf.stop_gradient`); the mix
# weights $s_0, s_1, s_2$ and $\gamma$ train with the task. Other things to know:
#
# - **Strings don't compile with XLA**: compile models that take strings with
#   `jit_compile=False`. Feed strings from `tf.data` or NumPy arrays of `dtype=object`
#   (a NumPy `<U` array fails in `fit` with `Invalid dtype: str…`).
# - **Saving**: a `.keras` file stores the *handle*, not the module; the module is loaded
#   again from there when the model is loaded.
# - **Determinism**: the module (ours and Google's) starts every sentence from a zero LSTM
#   state, so a sentence gets the same vectors whatever was embedded before it.
#
# ## 6. Fine-tuning the scalar mix in a Keras 3 model
# A sentiment classifier on SST-2 (lesson 06's task): sentence → `HubELMo` with
# `output_mode="default"` (the mean of the mixed vectors) → a logistic regression.

# %%
texts_train, y_train = el.data.load_sst2("train")
texts_dev, y_dev = el.data.load_sst2("dev")
texts_dev, y_dev = texts_dev[:DEV_SENTENCES], y_dev[:DEV_SENTENCES]
rng = np.random.default_rng(0)
chosen = rng.permutation(len(texts_train))[:TRAIN_SENTENCES]
train_ds = tf.data.Dataset.from_tensor_slices(
    (np.array([texts_train[i] for i in chosen], dtype=object), y_train[chosen].astype("float32"))
).shuffle(TRAIN_SENTENCES, seed=0).batch(BATCH_SIZE)
dev_ds = tf.data.Dataset.from_tensor_slices(
    (np.array(texts_dev, dtype=object), y_dev.astype("float32"))).batch(BATCH_SIZE)
print(f"SST-2: {TRAIN_SENTENCES:,} training and {len(texts_dev):,} dev sentences")


# %%
def sentiment_model(handle):
    strings = keras.Input(shape=(), dtype="string", name="sentence")
    vectors = el.interop.HubELMo(handle, signature="default", output_mode="default",
                                 name="elmo")(strings)
    probability = keras.layers.Dense(1, activation="sigmoid", name="classifier")(vectors)
    model = keras.Model(strings, probability, name="elmo_sentiment")
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), jit_compile=False,
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model

model = sentiment_model(handle)
mix = model.get_layer("elmo").scalar_mix
print("trainable:", [v.path for v in model.trainable_weights])

# %%
before = [v.numpy().copy() for v in mix.weights]
history = model.fit(train_ds, validation_data=dev_ds, epochs=EPOCHS, shuffle=False, verbose=0)
after = [v.numpy().copy() for v in mix.weights]
for epoch, (acc, val_acc) in enumerate(zip(history.history["accuracy"],
                                           history.history["val_accuracy"])):
    print(f"epoch {epoch + 1}: train accuracy {acc:.1%}, dev accuracy {val_acc:.1%}")
print(f"always answering the dev set's majority class: {max(y_dev.mean(), 1 - y_dev.mean()):.1%}")
shares = [keras.ops.convert_to_numpy(keras.ops.softmax(w[0])) for w in (before, after)]
print("mix weights softmax(s):", np.round(shares[0], 3), "->", np.round(shares[1], 3),
      f"| gamma {before[1]:.3f} -> {after[1]:.3f}")
results["fine_tuning"] = {
    "module": "google/elmo/3" if download_hub else f"{PRESET} (exported)",
    "train_sentences": TRAIN_SENTENCES, "dev_sentences": len(texts_dev), "epochs": EPOCHS,
    "dev_accuracy": history.history["val_accuracy"], "mix_weights": shares[1],
    "gamma": float(after[1])}

# %%
fig = el.plotting.layer_weights(
    {"initial": before[0], "after fine-tuning": after[0]}, "07_scalar_mix",
    layer_names=["layer 0\n(char CNN)", "layer 1\n(LSTM)", "layer 2\n(LSTM)"],
    title=("SST-2: ELMo's mix weights over a frozen hub module ("
           + ("google/elmo/3)" if download_hub else f"{PRESET}, exported)")))


# %% [markdown]
# In three epochs on 4,000 SST-2 sentences the mix weights moved from 1/3 each to 0.347 / 0.330 / 0.323 and gamma from 1.0 to 1.12, while the module stayed frozen: the four parameters do train in Keras 3 when the scalar mix sits outside the module. That is what this section is for. The classifier around the mix is deliberately the smallest there is, a logistic regression on each sentence's mean vector from our small biLM, and it is no sentiment model: 65.9% on dev after the third epoch, against 50.9% for always answering the majority class. Lesson 06 measures what ELMo adds with a real task model (a BiLSTM over the token vectors); with a network, this section runs on `google/elmo/3` instead.
#
# ## 7. Saving and reloading the model
# The whole classifier saves as one `.keras` file: the layer configuration (including the
# module's handle) and the trained weights (mix and classifier). Loading it loads the module
# again from the handle and must give the same predictions:

# %%
path = work_dir / "elmo_sentiment.keras"
model.save(path)
reloaded = keras.models.load_model(path)
gap = np.abs(reloaded.predict(dev_ds, verbose=0) - model.predict(dev_ds, verbose=0)).max()
restored = all(np.array_equal(saved.numpy(), again.numpy()) for saved, again in zip(
    mix.weights, reloaded.get_layer("elmo").scalar_mix.weights))
print(f"{path.name}: {path.stat().st_size / 1e3:.0f} kB; mix weights restored exactly: "
      f"{restored}; P(positive) on the {len(texts_dev)} dev sentences, reloaded vs trained: "
      f"largest difference {gap:.1e}")

# %%
results.save()
print(el.results.measured_on(results.lesson))

# %% [markdown]
# ## Summary
# - `el.interop.load_bilm_tf(options, weights)` turns the published AllenNLP/bilm-tf files
#   into our Keras encoder (gate order, forget bias, padding row handled);
#   `save_bilm_tf` writes ours in that format, and the round trip is exact.
# - `google/elmo/3` is a TF1 Hub module: two signatures (`default` with sentences, `tokens`
#   with padded tokens + `sequence_len`), inference only in TF2. `export_hub` gives our biLM
#   the same interface, so one code path serves both.
# - In Keras 3, wrap the module's signature in a Keras 3 layer (`HubELMo`) instead of
#   `hub.KerasLayer`, train your own scalar mix on its layers, compile with
#   `jit_compile=False`, and save the model as `.keras` (the handle is stored, not the module).
#
# ## Exercises
# 1. *(easy)* Use `output_mode="lstm_outputs2"` with the `tokens` signature and check that
#    the vectors of the padded positions are zero.
# 2. *(easy)* Set `layer_norm=True` in `HubELMo` (a layer norm per layer before mixing, as
#    in AllenNLP). Do the mix weights move differently?
# 3. *(medium)* With network access, load the published *small* ELMo and compare the
#    nearest neighbours of *play* (lesson 05) under it and under our biLM. Why can't you
#    compare their perplexities on WikiText-2 (look at the datasets in `weights.hdf5`)?
# 4. *(medium)* Export lesson 04's biLM with `export_hub` and embed a text file with
#    `elmo-lib embed`: do both give the same vectors for the same sentence?
# 5. *(open)* Fine-tune more than the mix: which parts of our biLM could you unfreeze, and
#    what would you need to change in `HubELMo` (hint: `tf.stop_gradient`, and variables of
#    a TF2 SavedModel versus a TF1 module)?
#
# That is the end of the course. **Next**, optional: [08 · Going further](08_going_further.ipynb),
# lesson 06's side roads (domain adaptation, learning curves, phrases); or back to the
# [lesson list in the README](../README.md).

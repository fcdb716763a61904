# %% [markdown]
# # 04 · Training the biLM
#
# Train the character-level biLM on WikiText-2 with a sampled softmax, then measure it honestly with the full softmax: perplexity of both directions, and samples.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/04_training_the_bilm.ipynb)
#
# **Prerequisite:** lesson 03 (the biLM, its char CNN, LSTMs and the two softmax losses).

# %% [markdown]
# ## What you will learn
# - **Train** the biLM with `el.train.train_bilm` (sampled softmax, checkpoints, resume, a
#   time budget), or **load** the run that did, with the exact settings it used.
# - **Read** its loss curves, and **explain** why `exp(sampled loss)` is not a perplexity, on
#   one batch: sampled and full softmax side by side.
# - **Measure** the full-softmax perplexity of the forward and backward LMs on valid and test,
#   in windows from a zero state and, as bilm-tf does, with the state carried through the text.
# - **Sample** sentences from the forward LM.
# - **Reload** the trained model the way lessons 05-07 do.

# %%
import os
import sys

if "google.colab" in sys.modules:  # on Colab: install this repo (data downloads on first use)
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/elmo-keras-lessons/elmo-keras-lessons"], check=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: quieter C++ logs

import json
import pathlib
import tempfile
import time

import keras
import numpy as np

import elmo_lib as el

keras.utils.set_random_seed(0)

# %% [markdown]
# ## Parameters
# All sizes live in the next cell. Training the `cpu` preset on WikiText-2 takes about an
# hour on a 2-core CPU, so the full run **loads** the run directory `runs/cpu_wikitext2`
# written by `scripts/train_wikitext2.sh` (the `elmo-lib train` command shown below) and
# trains here, with the same settings, only if it is missing. `ELMO_QUICK=1` (what CI sets)
# always trains a `tiny` biLM for a few steps on a few hundred lines into a temporary
# directory and evaluates a few batches: its numbers mean nothing, it checks that every cell
# runs. **Full run: 605 s (10.1 min, wall clock, nbconvert, 2026-11-30) on a 2-core CPU (AMD EPYC without AVX-512, no GPU), machine otherwise idle; it loads the 60-minute training run of the night of 2026-11-29/30 (LSTM 256/128, Adam 8e-3) and spends most of its time on full-softmax perplexities (valid and test, two protocols).**

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
RUN_DIR = "runs/cpu_wikitext2"  # relative to the repo root; QUICK uses a temporary dir
PRESET = el.bilm.BiLMConfig.tiny if QUICK else el.bilm.BiLMConfig.cpu
TRAIN_LINES = 400 if QUICK else None  # WikiText-2 train lines (None = all 36,718)
VALID_LINES = 40 if QUICK else None  # valid lines for per-epoch validation (None = all)
MAX_VOCAB = 500 if QUICK else None  # None: every type of the training split
EPOCHS, STEPS_PER_EPOCH = (3, 10) if QUICK else (100, 900)
VALIDATION_STEPS = None if QUICK else 30  # batches validated after each epoch
MINUTES = 5 if QUICK else 60  # training time budget
SCHEDULE, WARMUP_STEPS = ("constant", 0) if QUICK else ("time_cosine", 100)
JIT = False  # as the command's --no-jit (the char CNN is faster without XLA here)
EVAL_STEPS = 3 if QUICK else None  # full-softmax batches per split (None = all)
STREAM_LINES = 20 if QUICK else None  # lines per split for the stateful protocol
POSITION_BATCHES = 2 if QUICK else 20  # valid batches for the loss-by-position plot
DRAWS = 5 if QUICK else 10  # candidate draws averaged for the sampled loss
SAMPLE_TOKENS, N_SAMPLES = (8, 2) if QUICK else (25, 3)

# %% [markdown]
# ## 1. The corpus
# WikiText-2: Wikipedia articles, tokenized and cased, 2M training tokens. Each line becomes
# one "sentence" `<S> w1 ... wn </S>`; the LM batches of lesson 02 cut the concatenated
# stream into windows of `unroll_steps` tokens with a next-token (forward) and a
# previous-token (backward) target at every position.

# %%
ROOT = pathlib.Path.cwd().parent if pathlib.Path.cwd().name == "notebooks" else pathlib.Path.cwd()
splits = {name: el.data.load_wikitext2(name) for name in ("train", "valid", "test")}
for name, lines in splits.items():
    print(f"{name:5s}: {len(lines):6,d} lines, {el.data.count_lm_tokens(lines):9,d} tokens")
train_lines = splits["train"][:TRAIN_LINES]
valid_lines = splits["valid"][:VALID_LINES]

# %% [markdown]
# ## 2. Train, or load the run that trained
# `el.train.train_bilm(config, train, valid, vocab=..., output_dir=...)` compiles a
# `BiLMTrainer` (lesson 03) with Adam and global-norm clipping, and fits it on endless,
# shuffled `tf.data` batches. Its loss is the **sampled** softmax cross-entropy, averaged over
# the two directions. After every epoch it validates with the **full** softmax, and it keeps
# everything in the run directory:
#
# | file | what |
# |---|---|
# | `config.json`, `vocab.txt` | the `BiLMConfig` and the output vocabulary (bilm-tf format) |
# | `best.weights.h5`, `last.weights.h5` | weights with the lowest `val_loss`, and at the end |
# | `history.json`, `history.csv` | one record per epoch: losses, time, tokens/s |
# | `backup/` | `BackupAndRestore` state: run the same command again and a killed run resumes |
#
# A time budget stops training cleanly (the epoch ends, checkpoints are written) and early
# stopping ends it when `val_loss` stops improving. The full run of this lesson comes from
# the command line, in the background (`scripts/train_wikitext2.sh`):
#
# ```bash
# elmo-lib train --dataset wikitext-2 --preset cpu --output runs/cpu_wikitext2 \
#     --epochs 100 --steps-per-epoch 900 --validation-steps 30 --minutes 60 \
#     --schedule time_cosine --warmup-steps 100 --patience 3 --log-every 50 --verbose 2 \
#     --no-jit
# ```
#
# Here an "epoch" is 900 steps (about one pass over the training split), so validation
# (the first 30 valid batches) and checkpoints come about every 10 minutes. The next cell loads
# that run if it finished (`last.weights.h5` is written when training returns), or trains
# with the same settings.

# %%
run_dir = pathlib.Path(tempfile.mkdtemp(prefix="elmo04_")) if QUICK else ROOT / RUN_DIR
if (run_dir / "last.weights.h5").exists():
    trainer, vocab = el.train.load_trained(run_dir)
    print(f"loaded the finished run {RUN_DIR}")
else:
    vocab = el.text.Vocabulary.from_corpus(train_lines, max_size=MAX_VOCAB)
    start = time.monotonic()
    trainer, result = el.train.train_bilm(
        PRESET(vocab_size=len(vocab)), train_lines, valid_lines, vocab=vocab,
        output_dir=run_dir, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
        validation_steps=VALIDATION_STEPS, time_budget_minutes=MINUTES,
        schedule=SCHEDULE, warmup_steps=WARMUP_STEPS, jit_compile=JIT, verbose=0)
    print(f"trained here in {(time.monotonic() - start) / 60:.1f} min, "
          f"stopped by {result['stopped_by']}")
config = trainer.config

# %% [markdown]
# The settings of the model we now hold, read back from its `config.json` (lesson 03 has
# what each one means):

# %%
settings = json.loads((run_dir / "config.json").read_text())
for key in ("filters", "n_highway", "lstm_dim", "projection_dim", "n_layers",
            "vocab_size", "num_sampled", "batch_size", "unroll_steps",
            "learning_rate", "dropout", "clip_norm"):
    print(f"{key:15s} {settings[key]}")
print(f"encoder weights: {el.bilm.count_parameters(config):,}; with the softmax: "
      f"{el.bilm.count_parameters(config, include_softmax=True):,}")

# %%
assert config == el.bilm.BiLMConfig.from_dict(settings)
assert len(vocab) == config.vocab_size and vocab.tokens[:3] == ["<S>", "</S>", "<UNK>"]

# %% [markdown]
# ## 3. Loss curves
# `history.json` has one record per epoch. Plot the training loss (sampled softmax, the
# mean over the epoch's steps) against the validation loss (full softmax, after the epoch):

# %%
history = el.train.read_history(run_dir / "history.json")
curves = {"training loss (sampled softmax)": [r["loss"] for r in history],
          "validation loss (full softmax)": [r["val_loss"] for r in history]}
fig = el.plotting.plot_history(curves, list(curves), "04_loss_curves",
                               ylabel="cross-entropy (nats per token, both directions)",
                               title="biLM on WikiText-2")

# %%
print(f"{'epoch':>5} {'train loss':>10} {'exp(train)':>10} {'val loss':>9} "
      f"{'val ppl fwd':>11} {'bwd':>7} {'minutes':>8} {'tokens/s':>9}")
for r in history:
    print(f"{r['epoch'] + 1:5d} {r['loss']:10.3f} {np.exp(r['loss']):10.1f} "
          f"{r['val_loss']:9.3f} {r['val_forward_perplexity']:11.1f} "
          f"{r['val_backward_perplexity']:7.1f} {r['elapsed_seconds'] / 60:8.1f} "
          f"{r['tokens_per_second']:9.0f}")

# %% [markdown]
# The run stopped on its 60-minute budget in its 7th epoch of 900 steps (5,433 steps, 12.17M tokens, about 5.8 passes over train), at 3,220-3,590 tokens/s (the rate includes the validation passes). Validation perplexity fell to 135 in epoch 6 as the cosine schedule brought the learning rate down; the 7th epoch, cut by the budget after 33 steps, matched it (better by 0.0003 nats, so its checkpoint is kept as the best). The validation loss flattened as the learning rate ran out but did not rise: no sign of over-fitting yet (the training loss is a sampled-softmax value, section 4, so it cannot be set against the validation loss directly). Two earlier versions of the preset, on this machine: LSTM 512 with projection 256 saw 4.87M tokens in the hour and reached 203.5 on test; the same 256/128 model with Adam 2e-3 instead of 8e-3 saw 13.09M tokens and reached 165.0. This run ends lower (next sections): the small model wanted the higher learning rate.
#
# The column `exp(train)` is what bilm-tf printed as the training "perplexity". It is not
# one, and the next section shows why.

# %% [markdown]
# ## 4. The sampled loss is not a perplexity
# A perplexity is $\exp$ of the average cross-entropy $-\log p(t \mid \text{context})$ under
# a distribution over the **whole vocabulary**. Training never computes that distribution:
# each step draws $S$ = `num_sampled` candidates from the log-uniform proposal $Q$ and
# normalises over the true word and the candidates only, each logit shifted by minus the log
# of its expected count (lesson 03). `el.layers.LMSoftmax` draws with replacement, so the
# expected count of word $j$ is $S\,Q(j)$:
#
# $$\mathcal{L}_{\text{sampled}} = \log\Big(1 + \sum_{j \in \mathcal{S},\, j \neq t}
# e^{(z_j - \log S Q(j)) - (z_t - \log S Q(t))}\Big)
# \;\approx\; \log\Big(1 + S\,Q(t)\,\frac{1 - p_t}{p_t}\Big),
# \qquad
# \mathcal{L}_{\text{full}} = -\log p_t = \log\Big(1 + \frac{1 - p_t}{p_t}\Big).$$
#
# (The approximation replaces the sum over the candidates by its expectation, $S$ times the
# sum over the vocabulary.) The two agree only where $S\,Q(t) = 1$. For a rare target,
# $S\,Q(t) \ll 1$ and the sampled loss is far **lower**: the model only has to beat a few
# candidates, not every word. For the few hundred most frequent words, $S\,Q(t) > 1$ and it
# is **higher**. So its value depends on $S$, on the sampler and on the word frequencies: a
# training signal, not a perplexity, and not a bound on one either. (bilm-tf used
# TensorFlow's default sampler, which draws $S$ *distinct* candidates: every expected count is
# at most 1, so its sampled loss is below the full loss for every word, and the training
# perplexities it printed were optimistic.) Measure both on one batch of validation text,
# with the trained model:

# %%
batches = el.data.lm_dataset(splits["valid"], vocab, config.batch_size,
                             config.unroll_steps, shuffle=False)
x, y = next(iter(batches))
hidden = trainer(x, training=False)  # {"forward": [B, T, P], "backward": [B, T, P]}
labels, mask = y["next_token_ids"], y["mask"]
full = float(trainer.softmax.full_loss(hidden["forward"], labels, mask))
draws = [float(trainer.softmax.sampled_loss(hidden["forward"], labels, mask))
         for _ in range(DRAWS)]
sampled = float(np.mean(draws))
print(f"forward LM, one batch of {int(np.sum(mask)):,} tokens, S = {config.num_sampled}")
print(f"full softmax   : loss {full:.3f}  ->  exp = {np.exp(full):8.1f}  (a perplexity)")
print(f"sampled softmax: loss {sampled:.3f} ± {np.std(draws):.3f}  ->  exp = "
      f"{np.exp(sampled):8.1f}  (not one)")

# %% [markdown]
# Split the batch's targets by $S\,Q(t)$: the frequent words the sampler proposes more than
# once per step on average, and the rest. The same `sampled_loss` and `full_loss` with a
# narrower `mask` give the mean over each group:

# %%
expected = config.num_sampled * np.exp(trainer.softmax.log_uniform_log_probability(labels))
groups = {"all targets": np.asarray(mask),
          "frequent (S·Q(t) ≥ 1)": np.asarray(mask) * (expected >= 1),
          "rare (S·Q(t) < 1)": np.asarray(mask) * (expected < 1)}
table = {}
for name, weights in groups.items():
    group_full = float(trainer.softmax.full_loss(hidden["forward"], labels, weights))
    group_sampled = np.mean([float(trainer.softmax.sampled_loss(
        hidden["forward"], labels, weights)) for _ in range(DRAWS)])
    table[name] = (weights.sum() / np.sum(mask), group_full, group_sampled)
    print(f"{name:22s} {table[name][0]:5.0%} of tokens: full {group_full:.2f}, "
          f"sampled {group_sampled:.2f} nats")

# %%
fig = el.plotting.bar_chart(
    list(table), [[v[1] for v in table.values()], [v[2] for v in table.values()]],
    "04_sampled_vs_full", xlabel="targets of one validation batch (forward LM)",
    ylabel="cross-entropy (nats per token)", value_format="{:.2f}",
    series=["full softmax", f"sampled softmax (S = {config.num_sampled})"],
    title="Same model, same batch: two different numbers")

# %% [markdown]
# On this batch the sampled loss is 4.96 nats against a full-softmax loss of 4.87: exp(sampled) = 142 is not the model's perplexity (131). The gap is not a constant: for frequent targets the sampled loss is far higher than the full one (4.49 vs 2.51 nats), for rare ones far lower (5.60 vs 8.20). Only the full softmax gives a perplexity.
#
# Two checks of the full softmax: each row of probabilities sums to 1, and `full_loss` is
# the mean of $-\log p_t$ computed independently with NumPy from the logits.

# %%
logits = np.asarray(trainer.softmax(hidden["forward"]), dtype=np.float64)
log_probs = logits - logits.max(-1, keepdims=True)
log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-6)
m = np.asarray(mask)
nll = -np.take_along_axis(log_probs, np.asarray(labels)[..., None], -1)[..., 0]
np.testing.assert_allclose(full, (nll * m).sum() / m.sum(), rtol=1e-4)
assert logits.shape[-1] == len(vocab) and sampled != full

# %% [markdown]
# ## 5. Perplexity with the full softmax
# `el.train.evaluate_perplexity` runs the full softmax over every window of a split and
# returns $\exp$(sum of token losses / number of tokens) per direction, weighted by tokens
# (not a mean of batch means); `mean` is the average of the two perplexities, the number
# bilm-tf reports. Every token is scored once: windows do not overlap, and each starts from
# a zero LSTM state, as in training (section 6 lifts that).

# %%
results, seconds = {}, {}
for split in ("valid", "test"):
    start = time.monotonic()
    results[split] = el.train.evaluate_perplexity(trainer, splits[split], EVAL_STEPS,
                                                   vocab=vocab, verbose=0)
    seconds[split] = time.monotonic() - start
print(f"{'split':6s} {'tokens':>9s} {'forward':>9s} {'backward':>9s} {'mean':>9s} {'seconds':>8s}")
for split, r in results.items():
    print(f"{split:6s} {r['tokens']:9,d} {r['forward']:9.1f} {r['backward']:9.1f} "
          f"{r['mean']:9.1f} {seconds[split]:8.0f}")

# %% [markdown]
# What does a perplexity of this size mean? An untrained model spreads its probability
# almost uniformly, so its perplexity is of the order of the vocabulary size. The same
# architecture with fresh random weights, on the first batches of valid:

# %%
untrained = el.train.build_trainer(config, jit_compile=False)
baseline = el.train.evaluate_perplexity(untrained, splits["valid"], 2, vocab=vocab,
                                        verbose=0)
print(f"untrained: forward {baseline['forward']:,.0f}, backward "
      f"{baseline['backward']:,.0f} (vocabulary: {len(vocab):,} words)")

# %%
assert len(vocab) / 3 < baseline["mean"] < 3 * len(vocab)
for r in results.values():
    assert 1 < r["forward"] < baseline["forward"] and 1 < r["backward"] < baseline["backward"]
    assert np.isclose(r["mean"], (r["forward"] + r["backward"]) / 2)
# one batch of valid again: exp(full_loss) of section 4 is a one-batch perplexity
one = el.train.evaluate_perplexity(trainer, batches, 1, verbose=0)
np.testing.assert_allclose(np.log(one["forward"]), full, rtol=1e-4)

# %% [markdown]
# Full-softmax perplexity on test: forward 139.9, backward 141.2, mean 140.5 (valid: 148.9 / 152.1 / 150.5). The untrained model sits at the vocabulary size (33,237 and 33,278 for 33,280 words), as a uniform guess should. One CPU hour is far from AWD-LSTM's 65.8 on a GPU after days; the exercises suggest what to change first.
#
# ## 6. Carrying the state: bilm-tf's protocol
# In a window that starts from a zero state, the first word is predicted from one word of
# context, the second from two, and so on: the average token sees only about
# `unroll_steps / 2` words. Measure it: the forward loss at each position of the validation
# windows.

# %%
position_sums, position_counts = np.zeros(config.unroll_steps), np.zeros(config.unroll_steps)
for x_b, y_b in batches.take(POSITION_BATCHES):
    logits_b = trainer.softmax(trainer(x_b, training=False)["forward"])
    nll_b = keras.losses.sparse_categorical_crossentropy(
        y_b["next_token_ids"], logits_b, from_logits=True)
    position_sums += np.sum(np.asarray(nll_b) * np.asarray(y_b["mask"]), axis=0)
    position_counts += np.sum(np.asarray(y_b["mask"]), axis=0)
position_loss = position_sums / position_counts
for t in (1, 2, 5, 10, config.unroll_steps):
    if t <= config.unroll_steps:
        print(f"position {t:2d}: forward loss {position_loss[t - 1]:.2f} nats "
              f"(exp = {np.exp(position_loss[t - 1]):,.0f})")

# %% [markdown]
# bilm-tf measured perplexity differently: its test script reads the whole text as **one
# stream**, batch after batch, and carries the LSTM state from each batch into the next, so
# every token is predicted from all the text before it (after it, for the backward LM).
# `el.train.evaluate_stream_perplexity` does the same, reading the text as a few contiguous
# pieces in parallel for speed (`el.data.lm_stream_windows`; each piece starts from a zero
# state once). It scores exactly the same tokens as `evaluate_perplexity`, so the two
# numbers compare directly; the window length no longer changes the result (the tests
# check it against a NumPy run over each piece in one go).

# %%
stream_results = {}
for split in ("valid", "test"):
    start = time.monotonic()
    stream_results[split] = el.train.evaluate_stream_perplexity(
        trainer, splits[split][:STREAM_LINES], vocab=vocab, verbose=0)
    seconds[split] = time.monotonic() - start
print(f"{'split':6s} {'protocol':9s} {'tokens':>9s} {'forward':>9s} {'backward':>9s} {'mean':>9s}")
for split in ("valid", "test"):
    for name, r in (("windows", results[split]), ("stream", stream_results[split])):
        print(f"{split:6s} {name:9s} {r['tokens']:9,d} {r['forward']:9.1f} "
              f"{r['backward']:9.1f} {r['mean']:9.1f}")

# %%
fig = el.plotting.line_curves(
    np.arange(1, config.unroll_steps + 1),
    {"windows from a zero state": position_loss}, "04_loss_by_position",
    hlines={"state carried (stream protocol, valid)":
            stream_results["valid"]["forward_loss"]},
    xlabel="position in the window (= words of context in the window)",
    ylabel="forward cross-entropy (nats per token)",
    title="The first words of a window have the least context")

# %%
if not QUICK:  # the same tokens, more context: the stream protocol can only help
    for split in ("valid", "test"):
        assert stream_results[split]["tokens"] == results[split]["tokens"]
        assert stream_results[split]["mean"] < results[split]["mean"]
assert position_loss[0] > position_loss[-1]  # one word of context vs. a full window

# %% [markdown]
# The first positions are clearly the hardest: 5.73 nats at position 1 (one word of context), 5.26 at position 2, 5.05 at position 3. From about position 6 on, the curve stays within the noise of its 1,280 tokens per position (about ±0.15 nats), around 4.7-5.0 (the curve covers the first 20 batches of valid, the dashed line all of it). With the state carried, test perplexity drops from 140.5 to 128.5 (forward 139.9 → 127.4, backward 141.2 → 129.6; valid 150.5 → 137.9): 8.5% lower, for the same model and the same tokens. Only 8.5%, probably because this biLM was trained on 35-token windows that start from a zero state, so it has little practice with longer context. bilm-tf carried the state in training too: `BiLMConfig(stateful=True)` (`elmo-lib train --stateful`) does that here. Whoever quotes a perplexity should say which protocol it comes from.
#
# ## 7. Sampling from the forward LM
# The forward LM is a generator: feed `<S> The`, take the full softmax at the last position,
# draw a word, append it and repeat (`el.train.sample_sentences`). The model reads
# *characters*, so any sampled word is spelled out again for the next step. A temperature
# below 1 sharpens the distribution (more frequent, safer words); 1 samples the model as is.

# %%
for temperature in (1.0, 0.7):
    samples = el.train.sample_sentences(trainer, vocab, ["The"], n_tokens=SAMPLE_TOKENS,
                                        temperature=temperature, n_samples=N_SAMPLES,
                                        seed=0)
    print(f"temperature {temperature}:")
    for tokens in samples:
        print("   ", " ".join(tokens))

# %%
assert all(tokens[0] == "The" and 1 <= len(tokens) <= SAMPLE_TOKENS + 1
           for tokens in samples)
assert all(token in vocab for tokens in samples for token in tokens[1:])

# %% [markdown]
# The samples are locally fluent Wikipedia-style English ("The British Microlight Workers had been involved in the post @-@ war effort") without global sense ("The Roman ethnicity bishopric has part of the family is based on the palm syllable"), and lower temperature trades variety for more generic sentences and more frequent words ("The combined version of the church was a chapel of the church").
#
# ## 8. The model for the next lessons
# Nothing needs exporting: the run directory *is* the model. Lessons 05-07 call
# `el.train.load_trained(run_dir)` and `el.bilm.encoder_from_trainer`, which gives the
# inference encoder (boundary tokens added and stripped, no dropout) with the trained weights.
# Reload it and check that it computes the same thing:

# %%
for path in sorted(run_dir.iterdir()):
    size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    print(f"{path.name + ('/' if path.is_dir() else ''):18s} {size / 1e6:8.1f} MB")
reloaded, reloaded_vocab = el.train.load_trained(run_dir)
encoder = el.bilm.encoder_from_trainer(reloaded)
layers = encoder(el.text.char_ids([["The", "play", "opened", "in", "London", "."]]))
print({key: tuple(value.shape) for key, value in layers.items()})

# %%
np.testing.assert_allclose(reloaded(x)["forward"], hidden["forward"], rtol=1e-5, atol=1e-5)
assert reloaded_vocab.tokens == vocab.tokens
P = config.projection_dim
assert tuple(layers["word_emb"].shape) == (1, 6, P)
assert tuple(layers["lstm_outputs2"].shape) == (1, 6, 2 * P)

# %% [markdown]
# ## Summary
# - `el.train.train_bilm` trains the biLM with a sampled softmax and writes a self-contained
#   run directory (config, vocabulary, best/last weights, history, resumable backup);
#   `el.train.load_trained` reads it back.
# - The training loss uses $S$ sampled candidates: its value depends on $S$, on the sampler
#   and on word frequencies (above the full loss for frequent targets, below for rare ones
#   with our sampler), so `exp(training loss)` is not a perplexity. Only the full softmax
#   gives one.
# - Full-softmax perplexity is token-weighted `exp` of the mean cross-entropy, per direction;
#   the table of section 5 has valid and test for our model, far below the untrained
#   model's, which is of the order of the vocabulary size.
# - How much context each token gets is part of the measurement: windows from a zero state
#   (as in training) versus the state carried through the text (bilm-tf's test protocol,
#   `evaluate_stream_perplexity`). Say which one a number is.
# - The forward LM can generate text; a temperature trades diversity for safety.
#
# ## Exercises
# 1. *(easy)* Re-run section 4 with another `num_sampled` (build an `el.layers.LMSoftmax`
#    with the trained weights, as lesson 03 does). For which $S$ does the sampled loss of
#    this batch match the full loss?
# 2. *(easy)* Sample with temperatures 0.3 and 1.5. What goes wrong at each end?
# 3. *(medium)* Evaluate the forward LM separately on lines that start a section (`= ... =`)
#    and on body text. Which is easier to predict, and why?
# 4. *(medium)* Train the `tiny` preset on all of WikiText-2 for 10 minutes with
#    `schedule="constant"` and with `"cosine"`; compare the validation curves.
# 5. *(open)* Our training loss mixes sampled-softmax values of the two directions. Design a
#    cheap training-time estimate of the *full* perplexity (hint: a fixed subset of
#    validation tokens) and add it as a Keras callback.
#
# **Next:** [05 · The layers of ELMo](05_elmo_representations.ipynb): what each layer of this
# trained biLM knows, and the scalar mix that turns layers into ELMo vectors.

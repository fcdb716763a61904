# %% [markdown]
# # 02 · Text to characters
#
# How ELMo reads text: tokens, the vocabulary file, 50 character ids per token, sentence boundaries, and the language-model batches with their two targets.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/02_text_to_characters.ipynb)
#
# **Prerequisite:** lesson 01 (why we want a model that reads context).

# %% [markdown]
# ## What you will learn
# - **Build** a vocabulary and save it in the bilm-tf file format.
# - **Encode** tokens as bilm-tf / AllenNLP character ids, including the boundary tokens `<S>`/`</S>`, the +1 shift and the zero mask.
# - **Check** what happens to non-ASCII and very long tokens, and how long WikiText-2 tokens are.
# - **Measure** out-of-vocabulary rates for word vocabularies of several sizes (why ELMo reads characters).
# - **Line up** a language-model batch with its next-token and previous-token targets.

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

import tempfile
from collections import Counter

import keras
import numpy as np

keras.utils.set_random_seed(0)
results = el.results.LessonResults("02_text_to_characters")  # the numbers quoted below, saved at the end

# %% [markdown]
# ## Parameters
# `ELMO_QUICK=1` uses the first 5,000 lines of the training split for the length statistics
# and LM batches; the full run uses all of them. The token counts and OOV rates always use the
# full splits (they are cheap). The numbers quoted in the text are from the full run.
# **Full run: 10 seconds to 1 minute on a 2-core CPU, depending on the CPU**; the last cell
# prints the machine and wall time of the run stored here.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
N_LINES = 5_000 if QUICK else None  # training lines for statistics and batches (None = all)
VOCAB_CAPS = [1_000, 2_000, 5_000, 10_000, 20_000, 33_277]  # word-vocabulary sizes to test
BATCH_SIZE = 4  # windows per LM batch
UNROLL_STEPS = 10  # tokens per window

# %% [markdown]
# ## 1. Tokens
# WikiText-2 is already tokenized: split each line on spaces. The paper counts one
# end-of-line token per line, giving the published 2,088,628 training tokens.

# %%
train = el.data.load_wikitext2("train")
valid = el.data.load_wikitext2("valid")
test = el.data.load_wikitext2("test")
token_counts = {name: el.data.count_lm_tokens(split)
                for name, split in [("train", train), ("valid", valid), ("test", test)]}
print(f"train: {len(train):,} lines; tokens, one end-of-line per line included: "
      + ", ".join(f"{name} {count:,}" for name, count in token_counts.items()))
print("published for train (Merity et al., 2016): 2,088,628 tokens")
print(train[1][:20])
results["lm_tokens"] = token_counts

# %% [markdown]
# ## 2. The vocabulary file
# The biLM *predicts* words, so it needs a word vocabulary for its softmax (its *input* will
# be characters). bilm-tf stores it as a text file with one token per line: line $i$ is id
# $i$. The three special tokens come first: `<S>` and `</S>` (sentence boundaries) and
# `<UNK>`. Then words by descending count.

# %%
counts = Counter(token for line in train for token in line)
vocab = el.text.Vocabulary.from_counts(counts)
with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "vocab.txt")
    vocab.save(path)
    with open(path, encoding="utf-8") as handle:
        first_lines = [next(handle) for _ in range(8)]
    reloaded = el.text.Vocabulary.load(path)
print(f"{len(vocab):,} tokens; the file starts:")
print("".join(first_lines), end="")

# %% [markdown]
# How big is it? WikiText-2 is usually quoted with **33,278** word types: its 33,277 distinct
# tokens plus `<eos>`, the end-of-line token a word-level LM appends to every line. (WikiText-2
# already replaced rare words by the literal word `<unk>`: to us that is one of the 33,277,
# a frequent word like any other, and different from our `<UNK>` id.) The biLM has no
# `<eos>`: it frames each sentence as `<S> … </S>` and keeps `<UNK>` for words it has never
# seen. So its vocabulary, and lesson 04's softmax, has 33,277 + 3 = **33,280** entries:

# %%
print(f"{len(counts):,} distinct tokens in train; '<eos>' among them: {'<eos>' in counts}")
assert len(vocab) == len(counts) + 3 == 33_280  # + <S>, </S>, <UNK>
results["vocabulary"] = {"corpus_types": len(counts), "bilm_vocabulary": len(vocab)}
ids = vocab.encode(["The", "play", "zyzzyva"])
print(ids, "->", vocab.decode(ids), "| the reloaded file agrees:", reloaded.tokens == vocab.tokens)

# %% [markdown]
# ## 3. Characters: 50 ids per token
# ELMo's input is not word ids but **characters**, so it can build a vector for any
# string, including words it never saw. The scheme of bilm-tf and AllenNLP (we must match
# it exactly to load the published weights, lesson 07):
#
# - the token's UTF-8 **bytes** (0-255), at most 48 of them;
# - framed by **begin-of-word** (258) and **end-of-word** (259), padded with **PAD** (260) to 50 slots;
# - the sentence boundary tokens are special characters: `<S>` = `[BOW, 256, EOW, PAD…]`,
#   `</S>` = `[BOW, 257, EOW, PAD…]`;
# - finally **every id is shifted by +1**, so that an all-zero row means "no token here".

# %%
play = el.text.token_char_ids("play")
print(play[:8], "...", play[-2:], f"({play.size} ids)")
# by hand: BOW, the bytes of "play", EOW, then PAD to the end; every id + 1
by_hand = [258, *b"play", 259] + [260] * 44
assert (play == np.array(by_hand) + 1).all()

# %%
bos, eos = el.text.boundary_char_ids()
print("<S> ", bos[:5])
print("</S>", eos[:5])

# %% [markdown]
# The biLM adds the boundary tokens itself. To *see* what it reads, add them by hand and draw
# the ids of one sentence: each cell shows the character (specials by name, a non-ASCII byte
# in hex) above its id. The first 16 of the 50 slots; the rest is PAD.

# %%
sentence = ["The", "play", "opened", "in", "Zürich", "."]
ids = el.text.char_ids([sentence])[0]  # [T, 50]
with_boundaries = np.concatenate([bos[None], ids, eos[None]])
fig = el.plotting.char_id_heatmap(with_boundaries, ["<S>", *sentence, "</S>"],
                                  "02_char_ids", max_characters=16,
                                  title="Character ids of one sentence (slots 0-15 of 50)")

# %% [markdown]
# *ü* is not one byte but two (`c3 bc` in UTF-8), so *Zürich* takes 7 slots for 6 letters.

# %% [markdown]
# ## 4. Padding and the mask
# Sentences in a batch have different lengths. `char_ids` pads the short ones with
# **all-zero rows**: thanks to the +1 shift no real token has a 0 anywhere, so "any id > 0"
# is the token mask.

# %%
batch = el.text.char_ids([["A", "short", "one"], ["A", "longer", "sentence", "here", "."]])
mask = el.text.mask_from_char_ids(batch)
print(batch.shape, "lengths:", el.text.sentence_lengths(batch))
print(mask.astype(int))

# %% [markdown]
# ## 5. Non-ASCII and very long tokens
# Bytes, not characters: a Japanese character is 3 UTF-8 bytes, so it takes 3 slots.
# WikiText-2 opens with exactly such a title. A 300-character token is **cut to 48 bytes**,
# and still ends with EOW.

# %%
title = "戦場のヴァルキュリア3"
ids = el.text.token_char_ids(title)
n_bytes = len(title.encode("utf-8"))
print(f"{len(title)} characters, {n_bytes} bytes:", ids[: n_bytes + 2])

long_ids = el.text.token_char_ids("x" * 300)
print("300 x's ->", long_ids[:3], "...", long_ids[-3:])
assert (long_ids[1:49] == ord("x") + 1).all() and long_ids[49] == 259 + 1  # 48 bytes, then EOW

# %% [markdown]
# How long are WikiText-2 tokens? Count UTF-8 bytes of every token occurrence:

# %%
stats_lines = train[:N_LINES]
lengths = np.array([len(token.encode("utf-8")) for line in stats_lines for token in line])
too_long = int((lengths > 48).sum())
longest = max((t for line in stats_lines for t in line), key=lambda t: len(t.encode()))
print(f"{lengths.size:,} tokens; mean {lengths.mean():.2f} bytes; "
      f"{too_long} longer than 48 bytes; longest: {longest!r} ({len(longest.encode())} bytes)")
results["token_bytes"] = {"tokens": lengths.size, "mean": lengths.mean(), "over_48": too_long,
                          "longest": longest, "longest_bytes": len(longest.encode())}
fig = el.plotting.histogram(lengths, "02_token_lengths", xlabel="token length (UTF-8 bytes)",
                            ylabel="tokens", bins=np.arange(0.5, 50.5, 1), log_y=True,
                            vline=48, vline_label="48-byte limit",
                            title=f"Token lengths in WikiText-2 train ({lengths.size:,} tokens)")


# %% [markdown]
# In the full run no WikiText-2 token exceeds 48 bytes (the longest is the Japanese title
# above, 31 bytes): the cut never loses information here, but on web text (URLs) it would.
#
# ## 6. Why characters: out-of-vocabulary words
# A word-level model maps every word outside its vocabulary to `<UNK>`. Cap the vocabulary at
# the most frequent *N* training words and count how many validation and test tokens fall out.
# (At 33,277 the rate is 0 only because WikiText-2 already replaced its rare words by `<unk>`,
# itself 5.5% of validation tokens; on real text the tail never ends.)

# %%
def oov_rate(lines, vocab):
    tokens = [token for line in lines for token in line]
    return float(np.mean(vocab.encode(tokens) == vocab.unk_id))

oov = {"valid": [], "test": []}
for cap in VOCAB_CAPS:
    capped = el.text.Vocabulary.from_counts(counts, max_size=cap + 3)
    oov["valid"].append(100 * oov_rate(valid, capped))
    oov["test"].append(100 * oov_rate(test, capped))
print("vocab size:", VOCAB_CAPS)
print("valid OOV %:", [round(r, 1) for r in oov["valid"]])
print("test  OOV %:", [round(r, 1) for r in oov["test"]])
unk_share = 100 * np.mean([token == "<unk>" for line in valid for token in line])
print(f"WikiText-2's own '<unk>': {unk_share:.1f}% of validation tokens")
results["oov_percent"] = {"vocab_words": VOCAB_CAPS, **oov, "valid_unk_word": unk_share}

# %%
fig = el.plotting.line_curves(VOCAB_CAPS, oov, "02_oov_rates", xlabel="vocabulary size (words)",
                              ylabel="out-of-vocabulary tokens (%)", log_x=True,
                              title="OOV rate vs vocabulary size (WikiText-2)")

# %% [markdown]
# In the full run a 10,000-word vocabulary leaves 6.3% of validation tokens unknown (1 in
# 16), and 1,000 words leave 28%. The character CNN has no
# such hole: every string has character ids. (The softmax still predicts words from a fixed
# vocabulary: that is the cost we pay in lesson 04.)
#
# ## 7. Language-model batches
# The biLM trains two language models at once: **forward** (predict the next token) and
# **backward** (predict the previous one). `el.data.lm_dataset` concatenates sentences as
# `<S> w1 … wn </S>` into one stream and cuts windows of `UNROLL_STEPS` tokens. For the
# window starting at stream position $j$: inputs $s_{j+1..j+T}$, next targets $s_{j+2..j+T+1}$,
# previous targets $s_{j..j+T-1}$.

# %%
lm_lines = train[:N_LINES]
dataset = el.data.lm_dataset(lm_lines, vocab, batch_size=BATCH_SIZE,
                             unroll_steps=UNROLL_STEPS, shuffle=False)
inputs, targets = next(iter(dataset))
for key, value in {**inputs, **targets}.items():
    print(f"{key:>18}: {value.dtype.name} {tuple(value.shape)}")

# %% [markdown]
# The first window, one row per position. Read *next* down-left and *previous* up-left:

# %%
window = {name: vocab.decode(tensor[0].numpy()) for name, tensor in
          [("previous", targets["previous_token_ids"]), ("input", inputs["token_ids"]),
           ("next", targets["next_token_ids"])]}
print(f"{'t':>2}  {'previous':>12}  {'input':>12}  {'next':>12}")
for t in range(UNROLL_STEPS):
    print(f"{t:>2}  {window['previous'][t]:>12}  {window['input'][t]:>12}  {window['next'][t]:>12}")

# %%
token_ids = inputs["token_ids"].numpy()
next_ids = targets["next_token_ids"].numpy()
previous_ids = targets["previous_token_ids"].numpy()
chars = inputs["char_ids"].numpy()  # char ids spell the real token, <unk> included
print("next target = the following input:", (next_ids[:, :-1] == token_ids[:, 1:]).all())
print("previous target = the preceding input:", (previous_ids[:, 1:] == token_ids[:, :-1]).all())
print("char ids spell each known input token:", all(
    (chars[0, t] == el.text.token_char_ids(window["input"][t])).all()
    for t in range(UNROLL_STEPS) if window["input"][t] != "<UNK>"))

# %%
results.save()
print(el.results.measured_on(results.lesson))

# %% [markdown]
# ## Summary
# - The vocabulary file is one token per line, `<S>`, `</S>`, `<UNK>` first; the biLM needs
#   it only for its softmax. For WikiText-2 it has 33,280 entries: the 33,277 corpus types
#   plus the three specials (the usual 33,278 counts `<eos>` instead).
# - A token is 50 character ids: `[BOW, bytes[:48], EOW, PAD…] + 1`; `<S>`/`</S>` use two
#   special characters; all-zero rows are padding (the mask).
# - Non-ASCII characters take several byte slots; tokens longer than 48 bytes are cut
#   (none in WikiText-2).
# - A word vocabulary leaves tokens unknown (6% at 10k words); characters never do.
# - An LM batch holds inputs plus next and previous targets, offset by one position each way.
#
# ## Exercises
# 1. *(easy)* Encode your name and an emoji with `el.text.token_char_ids`. How many slots does
#    the emoji take?
# 2. *(easy)* Print the vocabulary ids of `<S>` and `</S>` and check them against the
#    first window above.
# 3. *(medium)* Plot the OOV rate of the UD English-EWT dev set (`el.data.load_ud_ewt("dev")`)
#    against a WikiText-2 vocabulary. Why is it much higher?
# 4. *(medium)* Build `lm_dataset` with `drop_remainder=False` and find the partial window:
#    what does its mask look like?
# 5. *(open)* The 48-byte cut can split a multi-byte character. Does it matter for the
#    model? (Hint: what does the char CNN see?)
#
# **Next:** [03 · Building the biLM](03_building_the_bilm.ipynb): the layers that turn these
# ids into contextual vectors.

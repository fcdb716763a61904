# %% [markdown]
# # 01 · Why context matters
#
# Static word vectors give every word one point in space, whatever it means in a sentence; we build some and watch them fail on words with two meanings.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/elmo-keras-lessons/elmo-keras-lessons/blob/main/notebooks/01_why_context_matters.ipynb)
#
# **Prerequisite:** none (start here). Python and NumPy; what a word vector is helps but is not needed.

# %% [markdown]
# ## What you will learn
# - **Count** word co-occurrences in WikiText-2 with `scipy.sparse` and turn them into PPMI.
# - **Compress** the PPMI matrix with truncated SVD into static word vectors and query their nearest neighbours.
# - **Show** that a static model gives *record* the same vector in "a record deal" and "a world record".
# - **Preview** what a contextual representation does differently (the real thing is lesson 05).

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

from collections import Counter

import keras
import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

keras.utils.set_random_seed(0)
results = el.results.LessonResults("01_why_context_matters")  # the numbers quoted below, saved at the end

# %% [markdown]
# ## Parameters
# Every size lives in the next cell. `ELMO_QUICK=1` (what CI sets) uses the first 15,000
# lines and a 3,000-word vocabulary; the full run uses all 36,718 lines of the training split
# and 10,000 words. **Full run: 20 seconds to 1.5 minutes on a 2-core CPU, depending on the
# CPU** (most of it reading the corpus and the SVD); the last cell prints the machine and wall
# time of the run stored here.
# The numbers quoted in the text are from the full run.

# %% tags=["parameters"]
QUICK = os.environ.get("ELMO_QUICK") == "1"
N_LINES = 15_000 if QUICK else None  # lines of wiki.train.tokens (None = all)
VOCAB_SIZE = 3_000 if QUICK else 10_000  # the most frequent (lower-cased) words
WINDOW = 4  # co-occurrence window: up to 4 words on each side
DIM = 50 if QUICK else 100  # size of the static vectors (SVD components)
CONTEXT_WINDOW = 8  # words on each side averaged in the contextual preview
TARGET = "record"  # the polysemous word we follow through the lesson

# %% [markdown]
# ## 1. The corpus
# WikiText-2 is Wikipedia text, already tokenized (`@-@` is a split hyphen, `<unk>` a rare
# word). We lower-case it: for a static model, *Record* and *record* should be one word.

# %%
lines = el.data.load_wikitext2("train")[:N_LINES]
lines = [[token.lower() for token in line] for line in lines if line]
counts = Counter(token for line in lines for token in line)
words = [word for word, _ in counts.most_common(VOCAB_SIZE)]
index = {word: i for i, word in enumerate(words)}
print(f"{len(lines):,} non-empty lines, {sum(counts.values()):,} tokens, "
      f"{len(counts):,} types; keeping the top {len(words):,}")
results.update(lines=len(lines), tokens=sum(counts.values()), types=len(counts),
               vocab_size=len(words))
print(" ".join(lines[3][:25]))

# %% [markdown]
# ## 2. Co-occurrence counts and PPMI
# Words that appear in similar contexts have similar meanings (the *distributional
# hypothesis*). Count, for every pair of vocabulary words, how often they appear within
# `WINDOW` tokens of each other, weighting a pair at distance $d$ by $1/d$. Lines are kept
# apart by padding between them. One vectorised pass per distance fills a sparse matrix.

# %%
ids = []
for line in lines:  # one long id stream, WINDOW "no word" (-1) ids between lines
    ids.extend(index.get(token, -1) for token in line)
    ids.extend([-1] * WINDOW)
ids = np.asarray(ids)

rows, cols, weights = [], [], []
for d in range(1, WINDOW + 1):
    left, right = ids[:-d], ids[d:]
    ok = (left >= 0) & (right >= 0)
    rows += [left[ok], right[ok]]  # count both directions: a symmetric matrix
    cols += [right[ok], left[ok]]
    weights.append(np.full(2 * ok.sum(), 1.0 / d))
cooc = sp.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(VOCAB_SIZE, VOCAB_SIZE)).tocsr()  # duplicates are summed
print(f"{cooc.nnz:,} non-zero cells ({cooc.nnz / VOCAB_SIZE**2:.1%} of the matrix)")

# %% [markdown]
# Raw counts are dominated by frequent words (*the*, *,*). **Positive pointwise mutual
# information** asks instead whether two words co-occur *more than chance*:
#
# $$\mathrm{PPMI}(w, c) = \max\Big(0,\ \log \frac{P(w, c)}{P(w)\, P_\alpha(c)}\Big), \qquad
# P_\alpha(c) = \frac{\#(c)^\alpha}{\sum_{c'} \#(c')^\alpha},\ \alpha = 0.75,$$
#
# where the smoothed context distribution $P_\alpha$ (Levy et al., 2015) stops rare contexts
# from getting huge scores. Truncated SVD then keeps the `DIM` strongest directions:
# $\mathrm{PPMI} \approx U_k \Sigma_k V_k^\top$, and row $w$ of $U_k \Sigma_k$ is the vector of
# word $w$ (we normalise rows to unit length, so a dot product is a cosine).

# %%
total = cooc.sum()
p_word = np.asarray(cooc.sum(axis=1)).ravel() / total
p_context = np.asarray(cooc.sum(axis=0)).ravel() ** 0.75
p_context /= p_context.sum()
cells = cooc.tocoo()
pmi = np.log(cells.data / total / (p_word[cells.row] * p_context[cells.col]))
positive = pmi > 0
ppmi = sp.csr_matrix((pmi[positive], (cells.row[positive], cells.col[positive])),
                     shape=cooc.shape)

svd = TruncatedSVD(n_components=DIM, random_state=0)
vectors = svd.fit_transform(ppmi)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
print(f"PPMI keeps {ppmi.nnz:,} positive cells; static vectors: {vectors.shape}")

# %% [markdown]
# The library packages this recipe as `el.static.ppmi_svd` (lesson 06 uses its vectors as the
# pretrained word vectors of a task model, the role GloVe plays in the paper); it gives the
# vectors we just built:

# %%
packaged = el.static.ppmi_svd(lines, vocab_size=VOCAB_SIZE, window=WINDOW, dim=DIM)
print(f"same words: {packaged.words == words}; largest difference between the vectors: "
      f"{np.abs(packaged.vectors - vectors).max():.1e}")

# %% [markdown]
# ## 3. Nearest neighbours
# Cosine similarity between unit vectors is a dot product. We list neighbours among
# alphabetic words only (punctuation is in the vocabulary, but not interesting to read).

# %%
is_word = np.array([word.isalpha() for word in words])

def neighbours(word, k=8):
    """The k words whose static vectors are closest (cosine) to `word`'s."""
    scores = vectors @ vectors[index[word]]
    scores[~is_word] = -np.inf
    scores[index[word]] = -np.inf
    return [words[i] for i in np.argsort(-scores)[:k]]

for word in ["king", "france", "film", "season"]:
    print(f"{word:>8}: {', '.join(neighbours(word))}")

# %% [markdown]
# The neighbours make sense: kings with kings, countries with countries. Static vectors
# capture a lot. Now some words with more than one meaning:

# %%
polysemous = {word: neighbours(word) for word in [TARGET, "play", "rock", "fall", "light"]}
for word, near in polysemous.items():
    print(f"{word:>8} ({counts[word]:>4}x): {', '.join(near)}")
results["neighbours"] = polysemous


# %% [markdown]
# In the full run, *record*'s neighbours are all about sport (*consecutive, wins, streak*),
# although WikiText-2 also talks a lot about the music business (*record label*, *record
# deal*). *light* is a kind of infantry, *rock* is music, never a stone; *fall* is the
# season (*winter, spring, autumn*), not the verb. One vector per word must average its
# senses, and the most frequent sense wins. Measure it: how similar is *record* to words of
# each sense?

# %%
def cosine(a, b):
    return float(vectors[index[a]] @ vectors[index[b]])

sport = ["wins", "season", "consecutive"]
music = ["label", "album", "songs"]
sport_similarity = np.mean([cosine(TARGET, w) for w in sport])
music_similarity = np.mean([cosine(TARGET, w) for w in music])
print(f"cos({TARGET}, sport words) = {sport_similarity:.2f}   "
      f"cos({TARGET}, music words) = {music_similarity:.2f}")
results["cosine_to_sense_words"] = {"sport": sport_similarity, "music": music_similarity}

# %% [markdown]
# ## 4. One vector, two meanings
# Here are two sentences. A static model looks *record* up in a table, so both sentences
# get exactly the same vector, whatever the words around it say.

# %%
music_sentence = "the band signed a record deal with a new label".split()
sport_sentence = "she set a new world record in the final".split()

def static_vectors(sentence):
    return np.stack([vectors[index[token]] for token in sentence])

v_music = static_vectors(music_sentence)[music_sentence.index(TARGET)]
v_sport = static_vectors(sport_sentence)[sport_sentence.index(TARGET)]

print("the two vectors of 'record' are identical:", np.array_equal(v_music, v_sport))


# %% [markdown]
# ## 5. Preview: let the context in
# ELMo's answer (lesson 05) is to compute a word's vector *from the whole sentence* with a
# bidirectional language model. We can get a first feel with a crude stand-in: represent each
# occurrence of *record* by the **average static vector of the words around it** (up to
# `CONTEXT_WINDOW` words on each side). This is only a preview: averaging ignores word order
# and cannot build a new meaning, which is exactly what a biLM learns to do.

# %%
def context_vector(sentence, position, window=CONTEXT_WINDOW):
    """Mean static vector of the in-vocabulary words around `position`, skipping the
    word itself and its two direct neighbours (those give the sense label below)."""
    around = [sentence[j] for j in range(position - window, position + window + 1)
              if 0 <= j < len(sentence) and abs(j - position) > 1
              and sentence[j] in index]
    return np.mean([vectors[index[w]] for w in around], axis=0) if around else None

c_music = context_vector(music_sentence, music_sentence.index(TARGET))
c_sport = context_vector(sport_sentence, sport_sentence.index(TARGET))
similarity = c_music @ c_sport / np.linalg.norm(c_music) / np.linalg.norm(c_sport)
print(f"cosine of the two contextual previews: {similarity:.2f} (static: 1.00)")

# %% [markdown]
# To see this on real text we need sense labels. A simple heuristic uses the *direct*
# neighbours of *record*: "record **label** / **deal** / **company** ..." is the music
# business, "**world** / **franchise** / **career** ... record" is an achievement. Everything
# else stays unlabelled. The context vectors skip those direct neighbours, so the label
# words are not inside the vectors we plot. The heuristic lives in `el.senses`, because lesson
# 05 scores the biLM's layers on exactly these occurrences.

# %%
print("music business if the next word is one of:", sorted(el.senses.RECORD_MUSIC_NEXT)[:8], "...")
print("achievement if the word before is one of:", sorted(el.senses.RECORD_ACHIEVEMENT_PREVIOUS)[:8],
      "...")
sense = el.senses.record_sense  # (tokens, position) -> "music business", "achievement" or None


# %%
occurrences, senses = [], []
for line in lines:
    for i, token in enumerate(line):
        label = sense(line, i) if token == TARGET else None
        vector = context_vector(line, i) if label else None
        if vector is not None:
            occurrences.append(vector)
            senses.append(label)
occurrences, senses = np.stack(occurrences), np.array(senses)
print(f"{counts[TARGET]} occurrences of {TARGET!r}, {len(senses)} labelled:",
      dict(Counter(senses.tolist())))

# %% [markdown]
# Project the labelled occurrences to 2-D with PCA, and put the single static vector of
# *record* in the same projection. In a static model every one of these points would sit
# on the star.

# %%
pca = PCA(n_components=2, random_state=0).fit(occurrences)
points = pca.transform(occurrences)
star = pca.transform(vectors[index[TARGET]][None])[0]
fig = el.plotting.scatter_2d(
    points, "01_record_contexts", labels=senses, xlabel="PC 1 of context vectors",
    ylabel="PC 2 of context vectors",
    highlight={f"static vector of '{TARGET}'": star},
    title=f"Occurrences of '{TARGET}' in WikiText-2 (context-average preview)")
print(f"PC 1 and PC 2 hold {pca.explained_variance_ratio_.sum():.0%} of the variance; mean PC 1: "
      + ", ".join(f"{name} {points[senses == name, 0].mean():+.2f}" for name in sorted(set(senses))))

# %% [markdown]
# In these two directions the senses overlap heavily: they only lean to opposite sides of PC 1
# (mean +0.07 for *achievement*, -0.08 for *music business*), and the two axes hold just 30% of
# the variance. The static model has one point for all of them: the star. A plot of two
# directions cannot say how separable the senses are in all 100; a classifier can. How
# separable are they? A logistic regression on the context vectors (cross-
# validated: every occurrence is predicted once, by a model that did not see it) against the
# best a static model can do: one vector for every occurrence, so one answer, at best the
# majority sense. Error bars are binomial standard errors over the labelled occurrences.

# %%
folds = StratifiedKFold(n_splits=min(5, min(Counter(senses.tolist()).values())),
                        shuffle=True, random_state=0)
accuracy = cross_val_score(LogisticRegression(max_iter=1000), occurrences, senses,
                           cv=folds).mean()
majority = max(Counter(senses.tolist()).values()) / len(senses)
print(f"sense accuracy over {len(senses)} occurrences: static vector {majority:.1%} "
      f"(majority guess), context-average preview {accuracy:.1%}")
results["sense_accuracy"] = {"occurrences": len(senses), "senses": dict(Counter(senses.tolist())),
                             "static_majority": majority, "context_average": accuracy}

# %%
fig = el.plotting.accuracy_chart(
    ["static vector\n(one answer)", "context average\n(logistic regression)"],
    [100 * majority, 100 * accuracy], "01_sense_accuracy",
    errors=100 * el.plotting.binomial_error(np.array([majority, accuracy]), len(senses)),
    chance=50.0, majority=100 * majority, xlabel="representation of each occurrence",
    ylabel="sense accuracy (%)", title=f"Telling the senses of '{TARGET}' apart "
    f"({len(senses)} labelled occurrences, {folds.get_n_splits()}-fold cross-validation)")

# %% [markdown]
# In the full run the crude context average recovers the sense about 8 times in 10 (82% ± 4,
# one standard error), where any static vector is stuck at the majority guess (52%: a coin
# flip here). Averaging has clear limits: it cannot use word order ("a record *of* 10 wins"
# vs "*recorded*"), and its vector lives in the same space as the static ones. A bidirectional LM reads the sentence left to
# right and right to left and *computes* a new vector for every token: that is ELMo.

# %%
results.save()
print(el.results.measured_on(results.lesson))

# %% [markdown]
# ## Summary
# - Co-occurrence counts + PPMI + truncated SVD give useful **static** word vectors from 2M
#   tokens in under a minute.
# - Each word gets **one** vector: the senses of *record*, *rock*, *light* are merged, and the
#   frequent sense dominates the neighbours.
# - In "a record deal" and "a world record" a static model gives *record* **identical**
#   vectors (printed above).
# - Letting the context in, even crudely, separates the senses: ELMo does this properly with
#   a biLM (lessons 03-05).
#
# ## Exercises
# 1. *(easy)* Print the neighbours of *play*, *match* and *present*. Which sense wins?
# 2. *(easy)* Set `WINDOW = 1` and then `10`. How do the neighbours of *king* change
#    (syntactic vs topical similarity)?
# 3. *(medium)* Drop the smoothing (`** 0.75` → `** 1.0`) and compare the neighbours of rare words.
# 4. *(medium)* Write a sense heuristic for *play* (theatre vs sport) and redo the figure.
# 5. *(open)* Instead of averaging, weight the context words by their distance or by PPMI with
#    *record*. Does the preview accuracy improve? Why can no context average reach 100%?
#
# **Next:** [02 · Text to characters](02_text_to_characters.ipynb): how ELMo reads text.

"""Write lessons 01-03 (``notebooks/0[1-3]_*.ipynb``) from the Python source below, unexecuted.

The notebooks are generated so that their source is reviewable as a diff of this file. After a
change: rebuild, execute (full run) and normalize, from the repo root::

    .venv/bin/python tools/build_notebooks.py            # all three, or pass 01 / 02 / 03
    .venv/bin/python tools/build_notebooks.py 03 --markdown-only  # keep outputs, refresh text
    .venv/bin/jupyter nbconvert --to notebook --execute --inplace notebooks/01_*.ipynb
    .venv/bin/python tools/normalize_notebooks.py notebooks/01_*.ipynb

Lessons 04 and later have their own generators in ``tools/lessons/`` (they use ``write_lesson``).
"""

from __future__ import annotations

import pathlib
import sys
import textwrap

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# GitHub "owner/name" of this repository, for the Colab badge and the Colab install.
GITHUB_REPO = "elmo-keras-lessons/elmo-keras-lessons"


def md(source: str):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(source).strip("\n"))


def code(source: str, tags: tuple[str, ...] = ()):
    cell = nbformat.v4.new_code_cell(textwrap.dedent(source).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def header(number: str, slug: str, title: str, description: str, prerequisite: str):
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"(https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/"
             f"{number}_{slug}.ipynb)")
    return md(f"# {number} · {title}\n\n{description}\n\n{badge}\n\n**Prerequisite:** {prerequisite}")


def setup(extra_imports: str = ""):
    return code(f'''
        import os
        import sys

        if "google.colab" in sys.modules:  # on Colab: install this repo (data downloads on first use)
            import subprocess
            subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                            "git+https://github.com/{GITHUB_REPO}"], check=True)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: quieter C++ logs

        import keras
        import numpy as np
        {extra_imports.strip().replace(chr(10), chr(10) + " " * 8)}
        import elmo_lib as el

        keras.utils.set_random_seed(0)
    ''')


def notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number:02d}"  # stable ids: rebuilding gives a clean diff
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


# --------------------------------------------------------------------------------------------
# 01 · Why context matters
# --------------------------------------------------------------------------------------------
def lesson_01():
    return notebook([
        header("01", "why_context_matters", "Why context matters",
               "Static word vectors give every word one point in space, whatever it means in a "
               "sentence; we build some and watch them fail on words with two meanings.",
               "none (start here). Python and NumPy; what a word vector is helps but is not needed."),
        md("""
        ## What you will learn
        - **Count** word co-occurrences in WikiText-2 with `scipy.sparse` and turn them into PPMI.
        - **Compress** the PPMI matrix with truncated SVD into static word vectors and query their nearest neighbours.
        - **Show** that a static model gives *record* the same vector in "a record deal" and "a world record".
        - **Preview** what a contextual representation does differently (the real thing is lesson 05).
        """),
        setup("import scipy.sparse as sp\nfrom collections import Counter\n"
              "from sklearn.decomposition import PCA, TruncatedSVD\n"
              "from sklearn.linear_model import LogisticRegression\n"
              "from sklearn.model_selection import StratifiedKFold, cross_val_score"),
        md("""
        ## Parameters
        Every size lives in the next cell. `ELMO_QUICK=1` (what CI sets) uses the first 15,000
        lines and a 3,000-word vocabulary; the full run uses all 36,718 lines of the training split
        and 10,000 words. **Full run: about __TIME_01__ on a 2-core CPU** (most of it reading the
        corpus and the SVD). The numbers quoted in the text are from the full run.
        """),
        code('''
            QUICK = os.environ.get("ELMO_QUICK") == "1"
            N_LINES = 15_000 if QUICK else None  # lines of wiki.train.tokens (None = all)
            VOCAB_SIZE = 3_000 if QUICK else 10_000  # the most frequent (lower-cased) words
            WINDOW = 4  # co-occurrence window: up to 4 words on each side
            DIM = 50 if QUICK else 100  # size of the static vectors (SVD components)
            CONTEXT_WINDOW = 8  # words on each side averaged in the contextual preview
            TARGET = "record"  # the polysemous word we follow through the lesson
        ''', tags=("parameters",)),
        md("""
        ## 1. The corpus
        WikiText-2 is Wikipedia text, already tokenized (`@-@` is a split hyphen, `<unk>` a rare
        word). We lower-case it: for a static model, *Record* and *record* should be one word.
        """),
        code('''
            lines = el.data.load_wikitext2("train")[:N_LINES]
            lines = [[token.lower() for token in line] for line in lines if line]
            counts = Counter(token for line in lines for token in line)
            words = [word for word, _ in counts.most_common(VOCAB_SIZE)]
            index = {word: i for i, word in enumerate(words)}
            print(f"{len(lines):,} non-empty lines, {sum(counts.values()):,} tokens, "
                  f"{len(counts):,} types; keeping the top {len(words):,}")
            print(" ".join(lines[3][:25]))
        '''),
        md(r"""
        ## 2. Co-occurrence counts and PPMI
        Words that appear in similar contexts have similar meanings (the *distributional
        hypothesis*). Count, for every pair of vocabulary words, how often they appear within
        `WINDOW` tokens of each other, weighting a pair at distance $d$ by $1/d$. Lines are kept
        apart by padding between them. One vectorised pass per distance fills a sparse matrix.
        """),
        code('''
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
        '''),
        code('''
            assert abs(cooc - cooc.T).max() <= 1e-9 * cooc.max(), "window counts must be symmetric"
            assert cooc[index["the"], index["of"]] > cooc[index["the"], index[TARGET]]
        '''),
        md(r"""
        Raw counts are dominated by frequent words (*the*, *,*). **Positive pointwise mutual
        information** asks instead whether two words co-occur *more than chance*:

        $$\mathrm{PPMI}(w, c) = \max\Big(0,\ \log \frac{P(w, c)}{P(w)\, P_\alpha(c)}\Big), \qquad
        P_\alpha(c) = \frac{\#(c)^\alpha}{\sum_{c'} \#(c')^\alpha},\ \alpha = 0.75,$$

        where the smoothed context distribution $P_\alpha$ (Levy et al., 2015) stops rare contexts
        from getting huge scores. Truncated SVD then keeps the `DIM` strongest directions:
        $\mathrm{PPMI} \approx U_k \Sigma_k V_k^\top$, and row $w$ of $U_k \Sigma_k$ is the vector of
        word $w$ (we normalise rows to unit length, so a dot product is a cosine).
        """),
        code('''
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
        '''),
        code('''
            assert ppmi.min() >= 0 and np.isfinite(ppmi.data).all()
            assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
        '''),
        md("""
        ## 3. Nearest neighbours
        Cosine similarity between unit vectors is a dot product. We list neighbours among
        alphabetic words only (punctuation is in the vocabulary, but not interesting to read).
        """),
        code('''
            is_word = np.array([word.isalpha() for word in words])

            def neighbours(word, k=8):
                """The k words whose static vectors are closest (cosine) to `word`'s."""
                scores = vectors @ vectors[index[word]]
                scores[~is_word] = -np.inf
                scores[index[word]] = -np.inf
                return [words[i] for i in np.argsort(-scores)[:k]]

            for word in ["king", "france", "film", "season"]:
                print(f"{word:>8}: {', '.join(neighbours(word))}")
        '''),
        md("""
        The neighbours make sense: kings with kings, countries with countries. Static vectors
        capture a lot. Now some words with more than one meaning:
        """),
        code('''
            for word in [TARGET, "play", "rock", "fall", "light"]:
                print(f"{word:>8} ({counts[word]:>4}x): {', '.join(neighbours(word))}")
        '''),
        md("""
        In the full run, *record*'s neighbours are all about sport (*consecutive, wins, streak*),
        although WikiText-2 also talks a lot about the music business (*record label*, *record
        deal*). *light* is a kind of infantry, *rock* is music, never a stone; *fall* mixes the
        season with falling down. One vector per word must average its senses, and the most
        frequent sense wins. Measure it: how similar is *record* to words of each sense?
        """),
        code('''
            def cosine(a, b):
                return float(vectors[index[a]] @ vectors[index[b]])

            sport = ["wins", "season", "consecutive"]
            music = ["label", "album", "songs"]
            sport_similarity = np.mean([cosine(TARGET, w) for w in sport])
            music_similarity = np.mean([cosine(TARGET, w) for w in music])
            print(f"cos({TARGET}, sport words) = {sport_similarity:.2f}   "
                  f"cos({TARGET}, music words) = {music_similarity:.2f}")
        '''),
        md("""
        ## 4. One vector, two meanings
        Here are two sentences. A static model looks *record* up in a table, so both sentences
        get exactly the same vector, whatever the words around it say.
        """),
        code('''
            music_sentence = "the band signed a record deal with a new label".split()
            sport_sentence = "she set a new world record in the final".split()

            def static_vectors(sentence):
                return np.stack([vectors[index[token]] for token in sentence])

            v_music = static_vectors(music_sentence)[music_sentence.index(TARGET)]
            v_sport = static_vectors(sport_sentence)[sport_sentence.index(TARGET)]
        '''),
        code('''
            assert np.array_equal(v_music, v_sport), "a static model cannot tell the senses apart"
        '''),
        md("""
        ## 5. Preview: let the context in
        ELMo's answer (lesson 05) is to compute a word's vector *from the whole sentence* with a
        bidirectional language model. We can get a first feel with a crude stand-in: represent each
        occurrence of *record* by the **average static vector of the words around it** (up to
        `CONTEXT_WINDOW` words on each side). This is only a preview: averaging ignores word order
        and cannot build a new meaning, which is exactly what a biLM learns to do.
        """),
        code('''
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
            assert similarity < 0.99
        '''),
        md("""
        To see this on real text we need sense labels. A simple heuristic uses the *direct*
        neighbours of *record*: "record **label** / **deal** / **company** ..." is the music
        business, "**world** / **franchise** / **career** ... record" is an achievement. Everything
        else stays unlabelled. The context vectors skip those direct neighbours, so the label
        words are not inside the vectors we plot.
        """),
        code('''
            MUSIC_NEXT = {"label", "labels", "company", "companies", "deal", "producer", "producers",
                          "store", "stores", "executive", "executives", "contract", "industry",
                          "shop", "album", "sales", "charts", "chart"}
            ACHIEVEMENT_PREVIOUS = {"world", "franchise", "career", "school", "club", "league",
                                    "olympic", "attendance", "national", "season", "winning",
                                    "losing", "track", "team", "unbeaten", "undefeated",
                                    "conference", "british", "european", "american", "australian",
                                    "stadium"}

            def sense(sentence, i):
                after = sentence[i + 1] if i + 1 < len(sentence) else ""
                before = sentence[i - 1] if i > 0 else ""
                if after in MUSIC_NEXT:
                    return "music business"
                return "achievement" if before in ACHIEVEMENT_PREVIOUS else None
        '''),
        code('''
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
        '''),
        md("""
        Project the labelled occurrences to 2-D with PCA, and put the single static vector of
        *record* in the same projection. In a static model every one of these points would sit
        on the star.
        """),
        code('''
            pca = PCA(n_components=2, random_state=0).fit(occurrences)
            points = pca.transform(occurrences)
            star = pca.transform(vectors[index[TARGET]][None])[0]
            fig = el.plotting.scatter_2d(
                points, "01_record_contexts", labels=senses, xlabel="PC 1 of context vectors",
                ylabel="PC 2 of context vectors",
                highlight={f"static vector of '{TARGET}'": star},
                title=f"Occurrences of '{TARGET}' in WikiText-2 (context-average preview)")
        '''),
        md("""
        The two senses occupy different regions, while the static model has one point for all of
        them. How separable are they? A logistic regression on the context vectors (cross-
        validated) against the best a static model can do: always guess the majority sense.
        """),
        code('''
            folds = StratifiedKFold(n_splits=min(5, min(Counter(senses.tolist()).values())),
                                    shuffle=True, random_state=0)
            accuracy = cross_val_score(LogisticRegression(max_iter=1000), occurrences, senses,
                                       cv=folds).mean()
            majority = max(Counter(senses.tolist()).values()) / len(senses)
            print(f"sense accuracy: static vector {majority:.0%} (majority guess), "
                  f"context-average preview {accuracy:.0%}")
        '''),
        code('''
            assert 0.0 <= majority <= 1.0 and 0.0 <= accuracy <= 1.0
        '''),
        md("""
        In the full run the crude context average recovers the sense about 8 times in 10, where
        any static vector is stuck at the majority guess (a coin flip here). Averaging has clear
        limits: it cannot use word order ("a record *of* 10 wins" vs "*recorded*"), and its vector
        lives in the same space as the static ones. A bidirectional LM reads the sentence left to
        right and right to left and *computes* a new vector for every token: that is ELMo.

        ## Summary
        - Co-occurrence counts + PPMI + truncated SVD give useful **static** word vectors from 2M
          tokens in under a minute.
        - Each word gets **one** vector: the senses of *record*, *rock*, *light* are merged, and the
          frequent sense dominates the neighbours.
        - In "a record deal" and "a world record" a static model gives *record* **identical**
          vectors (asserted above).
        - Letting the context in, even crudely, separates the senses: ELMo does this properly with
          a biLM (lessons 03-05).

        ## Exercises
        1. *(easy)* Print the neighbours of *play*, *match* and *present*. Which sense wins?
        2. *(easy)* Set `WINDOW = 1` and then `10`. How do the neighbours of *king* change
           (syntactic vs topical similarity)?
        3. *(medium)* Drop the smoothing (`** 0.75` → `** 1.0`) and compare the neighbours of rare words.
        4. *(medium)* Write a sense heuristic for *play* (theatre vs sport) and redo the figure.
        5. *(open)* Instead of averaging, weight the context words by their distance or by PPMI with
           *record*. Does the preview accuracy improve? Why can no context average reach 100%?

        **Next:** [02 · Text to characters](02_text_to_characters.ipynb): how ELMo reads text.
        """),
    ])


# --------------------------------------------------------------------------------------------
# 02 · Text to characters
# --------------------------------------------------------------------------------------------
def lesson_02():
    return notebook([
        header("02", "text_to_characters", "Text to characters",
               "How ELMo reads text: tokens, the vocabulary file, 50 character ids per token, "
               "sentence boundaries, and the language-model batches with their two targets.",
               "lesson 01 (why we want a model that reads context)."),
        md("""
        ## What you will learn
        - **Build** a vocabulary and save it in the bilm-tf file format.
        - **Encode** tokens as bilm-tf / AllenNLP character ids, including the boundary tokens `<S>`/`</S>`, the +1 shift and the zero mask.
        - **Check** what happens to non-ASCII and very long tokens, and how long WikiText-2 tokens are.
        - **Measure** out-of-vocabulary rates for word vocabularies of several sizes (why ELMo reads characters).
        - **Line up** a language-model batch with its next-token and previous-token targets.
        """),
        setup("import tempfile\nfrom collections import Counter"),
        md("""
        ## Parameters
        `ELMO_QUICK=1` uses the first 5,000 lines of the training split for the length statistics
        and LM batches; the full run uses all of them. The token counts and OOV rates always use the
        full splits (they are cheap). **Full run: about __TIME_02__ on a 2-core CPU.**
        """),
        code('''
            QUICK = os.environ.get("ELMO_QUICK") == "1"
            N_LINES = 5_000 if QUICK else None  # training lines for statistics and batches (None = all)
            VOCAB_CAPS = [1_000, 2_000, 5_000, 10_000, 20_000, 33_277]  # word-vocabulary sizes to test
            BATCH_SIZE = 4  # windows per LM batch
            UNROLL_STEPS = 10  # tokens per window
        ''', tags=("parameters",)),
        md("""
        ## 1. Tokens
        WikiText-2 is already tokenized: split each line on spaces. The paper counts one
        end-of-line token per line, giving the published 2,088,628 training tokens.
        """),
        code('''
            train = el.data.load_wikitext2("train")
            valid = el.data.load_wikitext2("valid")
            test = el.data.load_wikitext2("test")
            print(f"train: {len(train):,} lines, {el.data.count_lm_tokens(train):,} tokens")
            print(train[1][:20])
        '''),
        code('''
            assert el.data.count_lm_tokens(train) == 2_088_628
            assert el.data.count_lm_tokens(valid) == 217_646
            assert el.data.count_lm_tokens(test) == 245_569
        '''),
        md("""
        ## 2. The vocabulary file
        The biLM *predicts* words, so it needs a word vocabulary for its softmax (its *input* will
        be characters). bilm-tf stores it as a text file with one token per line: line $i$ is id
        $i$. The three special tokens come first: `<S>` and `</S>` (sentence boundaries) and
        `<UNK>`. Then words by descending count.
        """),
        code('''
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
        '''),
        md("""
        WikiText-2 already replaced rare words by the literal word `<unk>`; to the vocabulary that
        is just another (very frequent) word, different from our `<UNK>` id. So: 33,277 corpus
        types + 3 specials.
        """),
        code('''
            assert reloaded.tokens == vocab.tokens
            assert vocab.tokens[:3] == ["<S>", "</S>", "<UNK>"] and len(vocab) == 33_277 + 3
            ids = vocab.encode(["The", "play", "zyzzyva"])
            assert vocab.decode(ids) == ["The", "play", "<UNK>"]
            print(ids)
        '''),
        md(r"""
        ## 3. Characters: 50 ids per token
        ELMo's input is not word ids but **characters**, so it can build a vector for any
        string, including words it never saw. The scheme of bilm-tf and AllenNLP (we must match
        it exactly to load the published weights, lesson 06):

        - the token's UTF-8 **bytes** (0-255), at most 48 of them;
        - framed by **begin-of-word** (258) and **end-of-word** (259), padded with **PAD** (260) to 50 slots;
        - the sentence boundary tokens are special characters: `<S>` = `[BOW, 256, EOW, PAD…]`,
          `</S>` = `[BOW, 257, EOW, PAD…]`;
        - finally **every id is shifted by +1**, so that an all-zero row means "no token here".
        """),
        code('''
            play = el.text.token_char_ids("play")
            print(play[:8], "...", play[-2:])
            assert play.shape == (50,)
            assert list(play[:6]) == [259, ord("p") + 1, ord("l") + 1, ord("a") + 1, ord("y") + 1, 260]
            assert (play[6:] == 261).all()  # PAD + 1
        '''),
        code('''
            bos, eos = el.text.boundary_char_ids()
            print("<S> ", bos[:5])
            print("</S>", eos[:5])
            assert list(bos[:4]) == [259, 257, 260, 261] and list(eos[:4]) == [259, 258, 260, 261]
        '''),
        md("""
        The biLM adds the boundary tokens itself. To *see* what it reads, add them by hand and draw
        the ids of one sentence (first 16 of the 50 slots; the rest is PAD):
        """),
        code('''
            sentence = ["The", "play", "opened", "in", "London", "."]
            ids = el.text.char_ids([sentence])[0]  # [T, 50]
            with_boundaries = np.concatenate([bos[None], ids, eos[None]])
            fig = el.plotting.char_id_heatmap(with_boundaries, ["<S>", *sentence, "</S>"],
                                              "02_char_ids", max_characters=16,
                                              title="Character ids of one sentence")
        '''),
        md("""
        ## 4. Padding and the mask
        Sentences in a batch have different lengths. `char_ids` pads the short ones with
        **all-zero rows**: thanks to the +1 shift no real token has a 0 anywhere, so "any id > 0"
        is the token mask.
        """),
        code('''
            batch = el.text.char_ids([["A", "short", "one"], ["A", "longer", "sentence", "here", "."]])
            mask = el.text.mask_from_char_ids(batch)
            print(batch.shape)
            print(mask.astype(int))
        '''),
        code('''
            assert batch.shape == (2, 5, 50)
            assert (batch[0, 3:] == 0).all() and (batch[batch > 0] >= 1).all()
            assert mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
            assert el.text.sentence_lengths(batch).tolist() == [3, 5]
        '''),
        md("""
        ## 5. Non-ASCII and very long tokens
        Bytes, not characters: a Japanese character is 3 UTF-8 bytes, so it takes 3 slots.
        WikiText-2 opens with exactly such a title. A 300-character token is **cut to 48 bytes**,
        and still ends with EOW.
        """),
        code('''
            title = "戦場のヴァルキュリア3"
            ids = el.text.token_char_ids(title)
            n_bytes = len(title.encode("utf-8"))
            print(f"{len(title)} characters, {n_bytes} bytes:", ids[: n_bytes + 2])
            assert ids[n_bytes + 1] == 260  # EOW + 1 right after the last byte

            long_ids = el.text.token_char_ids("x" * 300)
            assert (long_ids[1:49] == ord("x") + 1).all() and long_ids[49] == 260
            print("300 x's ->", long_ids[:3], "...", long_ids[-3:])
        '''),
        md("How long are WikiText-2 tokens? Count UTF-8 bytes of every token occurrence:"),
        code('''
            stats_lines = train[:N_LINES]
            lengths = np.array([len(token.encode("utf-8")) for line in stats_lines for token in line])
            too_long = int((lengths > 48).sum())
            longest = max((t for line in stats_lines for t in line), key=lambda t: len(t.encode()))
            print(f"{lengths.size:,} tokens; mean {lengths.mean():.2f} bytes; "
                  f"{too_long} longer than 48 bytes; longest: {longest!r} ({len(longest.encode())} bytes)")
            fig = el.plotting.histogram(lengths, "02_token_lengths", xlabel="token length (UTF-8 bytes)",
                                        ylabel="tokens", bins=np.arange(0.5, 50.5, 1), log_y=True,
                                        vline=48, vline_label="48-byte limit",
                                        title="Token lengths in WikiText-2 train")
        '''),
        md("""
        In the full run no WikiText-2 token exceeds 48 bytes (the longest is the Japanese title
        above, 31 bytes): the cut never loses information here, but on web text (URLs) it would.

        ## 6. Why characters: out-of-vocabulary words
        A word-level model maps every word outside its vocabulary to `<UNK>`. Cap the vocabulary at
        the most frequent *N* training words and count how many validation and test tokens fall out.
        (At 33,277 the rate is 0 only because WikiText-2 already replaced its rare words by `<unk>`,
        itself 5.4% of validation tokens; on real text the tail never ends.)
        """),
        code('''
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
        '''),
        code('''
            assert oov["valid"][-1] == 0.0 and oov["test"][-1] == 0.0  # the full train vocabulary
            assert all(a >= b for a, b in zip(oov["valid"], oov["valid"][1:]))  # more words, fewer OOV
            fig = el.plotting.line_curves(VOCAB_CAPS, oov, "02_oov_rates", xlabel="vocabulary size (words)",
                                          ylabel="out-of-vocabulary tokens (%)", log_x=True,
                                          title="OOV rate vs vocabulary size (WikiText-2)")
        '''),
        md("""
        In the full run a 10,000-word vocabulary leaves 6.3% of validation tokens unknown (1 in
        16), and 1,000 words leave 28%. The character CNN has no
        such hole: every string has character ids. (The softmax still predicts words from a fixed
        vocabulary: that is the cost we pay in lesson 04.)

        ## 7. Language-model batches
        The biLM trains two language models at once: **forward** (predict the next token) and
        **backward** (predict the previous one). `el.data.lm_dataset` concatenates sentences as
        `<S> w1 … wn </S>` into one stream and cuts windows of `UNROLL_STEPS` tokens. For the
        window starting at stream position $j$: inputs $s_{j+1..j+T}$, next targets $s_{j+2..j+T+1}$,
        previous targets $s_{j..j+T-1}$.
        """),
        code('''
            lm_lines = train[:N_LINES]
            dataset = el.data.lm_dataset(lm_lines, vocab, batch_size=BATCH_SIZE,
                                         unroll_steps=UNROLL_STEPS, shuffle=False)
            inputs, targets = next(iter(dataset))
            for key, value in {**inputs, **targets}.items():
                print(f"{key:>18}: {value.dtype.name} {tuple(value.shape)}")
        '''),
        code('''
            assert inputs["char_ids"].shape == (BATCH_SIZE, UNROLL_STEPS, 50)
            for key in ("token_ids", "next_token_ids", "previous_token_ids", "mask"):
                assert (inputs | targets)[key].shape == (BATCH_SIZE, UNROLL_STEPS)
        '''),
        md("The first window, one row per position. Read *next* down-left and *previous* up-left:"),
        code('''
            window = {name: vocab.decode(tensor[0].numpy()) for name, tensor in
                      [("previous", targets["previous_token_ids"]), ("input", inputs["token_ids"]),
                       ("next", targets["next_token_ids"])]}
            print(f"{'t':>2}  {'previous':>12}  {'input':>12}  {'next':>12}")
            for t in range(UNROLL_STEPS):
                print(f"{t:>2}  {window['previous'][t]:>12}  {window['input'][t]:>12}  {window['next'][t]:>12}")
        '''),
        code('''
            token_ids = inputs["token_ids"].numpy()
            next_ids = targets["next_token_ids"].numpy()
            previous_ids = targets["previous_token_ids"].numpy()
            assert (next_ids[:, :-1] == token_ids[:, 1:]).all()  # next target = the following input
            assert (previous_ids[:, 1:] == token_ids[:, :-1]).all()  # previous target = the preceding input
            assert (targets["mask"].numpy() == 1).all()  # full windows: every position is real
            chars = inputs["char_ids"].numpy()  # char ids spell the real token, <unk> included
            assert all((chars[0, t] == el.text.token_char_ids(window["input"][t])).all()
                       for t in range(UNROLL_STEPS) if window["input"][t] != "<UNK>")
        '''),
        md("""
        ## Summary
        - The vocabulary file is one token per line, `<S>`, `</S>`, `<UNK>` first; the biLM needs
          it only for its softmax.
        - A token is 50 character ids: `[BOW, bytes[:48], EOW, PAD…] + 1`; `<S>`/`</S>` use two
          special characters; all-zero rows are padding (the mask).
        - Non-ASCII characters take several byte slots; tokens longer than 48 bytes are cut
          (none in WikiText-2).
        - A word vocabulary leaves tokens unknown (6% at 10k words); characters never do.
        - An LM batch holds inputs plus next and previous targets, offset by one position each way.

        ## Exercises
        1. *(easy)* Encode your name and an emoji with `el.text.token_char_ids`. How many slots does
           the emoji take?
        2. *(easy)* Print the vocabulary ids of `<S>` and `</S>` and check them against the
           first window above.
        3. *(medium)* Plot the OOV rate of the UD English-EWT dev set (`el.data.load_ud_ewt("dev")`)
           against a WikiText-2 vocabulary. Why is it much higher?
        4. *(medium)* Build `lm_dataset` with `drop_remainder=False` and find the partial window:
           what does its mask look like?
        5. *(open)* The 48-byte cut can split a multi-byte character. Does it matter for the
           model? (Hint: what does the char CNN see?)

        **Next:** [03 · Building the biLM](03_building_the_bilm.ipynb): the layers that turn these
        ids into contextual vectors.
        """),
    ])


# --------------------------------------------------------------------------------------------
# 03 · Building the biLM
# --------------------------------------------------------------------------------------------
def lesson_03():
    return notebook([
        header("03", "building_the_bilm", "Building the biLM",
               "The layers of ELMo's bidirectional language model, one at a time: character CNN, "
               "highway, LSTM with projection, skip connections and the sampled softmax.",
               "lesson 02 (character ids and LM batches)."),
        md("""
        ## What you will learn
        - **Rebuild** the character CNN from plain Keras layers and match `el.layers.CharCNN` exactly.
        - **Explain** the highway layer and why its gate bias starts at −2.
        - **Verify** one LSTM-with-projection step against NumPy, and that clipping bounds the outputs.
        - **Trace** the encoder's tensor shapes from character ids to the three ELMo layers.
        - **Compare** the sampled-softmax loss with the full softmax, and count the parameters of the published models.
        """),
        setup("import inspect"),
        md("""
        ## Parameters
        `ELMO_QUICK=1` traces shapes through the `tiny` preset and runs the softmax experiment
        with a 2,000-word vocabulary and fewer draws; the full run uses the `cpu` preset (the
        model lesson 04 trains) and WikiText-2's 33,278 words. Both build the published
        `small` and `original` models once to count their parameters.
        **Full run: about __TIME_03__ on a 2-core CPU.**
        """),
        code('''
            QUICK = os.environ.get("ELMO_QUICK") == "1"
            SHAPE_CONFIG = el.bilm.BiLMConfig.tiny() if QUICK else el.bilm.BiLMConfig.cpu()
            SOFTMAX_VOCAB = 2_000 if QUICK else 33_278  # vocabulary of the softmax experiment
            SOFTMAX_DIM = 64  # hidden size of the random model
            SOFTMAX_POSITIONS = 256 if QUICK else 1_024  # tokens per loss evaluation
            NUM_SAMPLED = [8, 32, 128, 512] if QUICK else [16, 64, 256, 1024, 4096, 8192]
            DRAWS = 5 if QUICK else 20  # repeated samples per num_sampled
        ''', tags=("parameters",)),
        md(r"""
        ## The plan
        For a sentence of $T$ tokens the biLM computes, for every token $k$:

        1. a **context-independent** vector $x_k$ from its characters (char CNN → highway → projection);
        2. a **forward** LSTM stack reading $x_1..x_k$ and a **backward** one reading $x_T..x_k$;
        3. during training, a shared softmax predicting $t_{k+1}$ (forward) and $t_{k-1}$ (backward).

        ELMo (lesson 05) then mixes the layers $[x_k; x_k]$, $[\overrightarrow{h}_{k,1}; \overleftarrow{h}_{k,1}]$,
        $[\overrightarrow{h}_{k,2}; \overleftarrow{h}_{k,2}]$.

        ## 1. The character CNN
        Embed each of the 50 character ids in $\mathbb{R}^{16}$, run 1-D convolutions of several
        widths (character $n$-gram detectors), keep each filter's maximum over positions, apply
        ReLU, concatenate. A toy configuration:
        """),
        code('''
            cnn = el.layers.CharCNN(filters=[(1, 4), (2, 4), (3, 8)], n_highway=1, projection_dim=6,
                                    embedding_dim=4)
            char_ids = el.text.char_ids([["The", "play", "opened", "."], ["Bravo", "!"]])
            library_output = cnn(char_ids).numpy()
            print(char_ids.shape, "->", library_output.shape)
        '''),
        md("""
        Now the same computation from plain Keras pieces, reusing the library layer's weights.
        The highway and projection are written out in NumPy (the equations are in the next section):
        """),
        code('''
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
        '''),
        code('''
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
        '''),
        md("""
        The one thing the library does that we skipped: it reshapes `[B, T, 50]` to `[B·T, 50]`
        itself instead of using `TimeDistributed`, which gets shapes wrong in graph mode when $T$ is
        dynamic (see DESIGN.md). Here is its `call`:
        """),
        code('''
            print(inspect.getsource(el.layers.CharCNN.call))
        '''),
        md(r"""
        ## 2. Highway layers
        A highway layer (Srivastava et al., 2015) lets each feature choose between being
        transformed and being carried through unchanged:

        $$y = t \odot \mathrm{relu}(W_h x + b_h) + (1 - t) \odot x, \qquad t = \sigma(W_t x + b_t).$$

        With $b_t = -2$ at initialisation, $t \approx \sigma(-2) = 0.12$: a fresh layer is close
        to the identity, so gradients flow through it easily and the network learns to transform
        only where that helps. (In bilm-tf weight files the gate $t$ is called `W_carry`, although
        it multiplies the transform branch: lesson 06 loads those files.)
        """),
        code('''
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
        '''),
        code('''
            assert abs(mean_gate[-2.0] - 1 / (1 + np.exp(2.0))) < 0.03  # sigmoid(-2) = 0.119
            assert abs(mean_gate[0.0] - 0.5) < 0.03
        '''),
        md(r"""
        ## 3. LSTM with projection and clipping
        ELMo's LSTMs have a big memory cell ($H$ = 4096 in the original model) but pass only a
        small **projection** ($P$ = 512) to the next step and the next layer (Sak et al., 2014).
        Both the cell and the projected output are **clipped** to ±3. With gates in Keras order:

        $$\begin{aligned}
        [i; f; g; o] &= x_t W + h_{t-1} R + b\\
        c_t &= \mathrm{clip}\big(\sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g),\ \pm c_{\text{clip}}\big)\\
        h_t &= \mathrm{clip}\big((\sigma(o) \odot \tanh(c_t))\, P,\ \pm p_{\text{clip}}\big)
        \end{aligned}$$

        Keras' built-in `LSTM` has no projection, so `el.layers.LSTMP` writes the cell. Run it on a
        toy input and redo the recurrence in NumPy:
        """),
        code('''
            lstm = el.layers.LSTMP(units=5, projection_dim=3, cell_clip=3.0, proj_clip=3.0)
            inputs = keras.random.normal((2, 4, 6), seed=1)
            outputs = lstm(inputs).numpy()  # [B=2, T=4, P=3]
            W, R, b, P = (w.numpy() for w in (lstm.kernel, lstm.recurrent_kernel, lstm.bias,
                                              lstm.projection_kernel))
            sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
        '''),
        code('''
            h, c = np.zeros((2, 3)), np.zeros((2, 5))
            for t in range(4):
                i, f, g, o = np.split(inputs.numpy()[:, t] @ W + h @ R + b, 4, axis=-1)
                c = np.clip(sigmoid(f) * c + sigmoid(i) * np.tanh(g), -3, 3)
                h = np.clip((sigmoid(o) * np.tanh(c)) @ P, -3, 3)
                np.testing.assert_allclose(h, outputs[:, t], rtol=1e-5, atol=1e-6)
            print("NumPy recurrence == el.layers.LSTMP at all 4 steps")
        '''),
        md("Clipping: with large inputs and tight clip values, the outputs hit the bound but never pass it."),
        code('''
            clipped = el.layers.LSTMP(units=5, projection_dim=3, cell_clip=0.5, proj_clip=0.2)
            big = clipped(10 * keras.random.normal((8, 20, 6), seed=2)).numpy()
            at_bound = np.isclose(np.abs(big), 0.2).mean()
            print(f"max |h| = {np.abs(big).max():.3f}; {at_bound:.0%} of outputs sit at the bound")
            assert np.abs(big).max() <= 0.2 + 1e-6 and at_bound > 0
        '''),
        md(r"""
        ## 4. Two directions, two layers, skip connections
        The backward LSTM is the same kind of layer (with its own weights) run on each sentence
        reversed (within its length, so padding stays at the end), and its outputs are reversed
        back. Layers after the first add their input to their output (a **skip connection**):
        $h_{k,2} = \mathrm{LSTMP}_2(h_{k,1}) + h_{k,1}$. For speed, layer $k$ of both directions runs
        in one recurrence loop (`el.lstm.run_lstmps`), whose gradient is written by hand
        (back-propagation through time; `tests/test_lstm.py` checks it against TensorFlow's
        automatic differentiation).
        """),
        code('''
            print(inspect.getsource(el.bilm.BiLMEncoder.run_lstms))
        '''),
        md("""
        ## 5. The encoder, stage by stage
        Build the encoder for `SHAPE_CONFIG` and push a batch of two sentences through its pieces
        by hand, recording the shape at every stage (B = batch, T = tokens):
        """),
        code('''
            config = SHAPE_CONFIG
            encoder = el.bilm.BiLMEncoder(config)
            sentences = [["The", "play", "opened", "in", "London", "."], ["It", "ran", "."]]
            ids = el.text.char_ids(sentences)
            outputs = encoder(ids)
            print(f"preset: {config.note}; {el.bilm.count_parameters(config):,} parameters")
        '''),
        code('''
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
        '''),
        code('''
            stages = [("char ids", ids), ("+ <S>, </S>", framed), ("char embeddings", embedded_chars),
                      *[(f"conv width {w} ({n} filters)", h) for (w, n), h in zip(config.filters, convs)],
                      ("max-pool + concat", pooled), ("highway + projection (layer 0)", tokens),
                      *[(f"forward LSTM layer {k + 1}", h) for k, h in enumerate(forward)],
                      *[(f"backward LSTM layer {k + 1}", h) for k, h in enumerate(backward)],
                      *[(f"output {key}", outputs[key]) for key in encoder.output_keys]]
            print(f"{'stage':<34}{'shape':>18}")
            for name, tensor in stages:
                print(f"{name:<34}{str(tuple(tensor.shape)):>18}")
        '''),
        code('''
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
        '''),
        md(r"""
        The encoder strips `<S>`/`</S>` from its outputs, so they line up with the input tokens,
        and the forward layer-1 state of "play" in sentence 1 depends only on "<S> The play".

        ## 6. The softmax, full and sampled
        Both directions share one softmax over the word vocabulary: $p(t \mid h) =
        \exp(w_t^\top h + b_t) / \sum_{j=1}^{V} \exp(w_j^\top h + b_j)$. With $V$ = 793,471 (the
        1B Word Benchmark) the sum is the most expensive part of training. **Sampled softmax**
        (Jean et al., 2015) draws $S$ candidate words $\mathcal{S}$ from a proposal $Q$ (log-uniform:
        frequent ids more often) and normalises over the true word plus the candidates only, each
        logit corrected by $-\log(S\,Q(j))$:

        $$\mathcal{L}_{\text{sampled}} = -\tilde z_t + \log\Big(e^{\tilde z_t} + \sum_{j \in \mathcal{S},\ j \ne t} e^{\tilde z_j}\Big),
        \qquad \tilde z_j = w_j^\top h + b_j - \log\big(S\,Q(j)\big).$$

        It gives a cheap estimate of the gradient, but the *loss value* is not the full
        cross-entropy. Measure both on a random model whose targets follow a Zipf-like law:
        """),
        code('''
            softmax = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=NUM_SAMPLED[0], seed=0)
            softmax.build((None, SOFTMAX_DIM))
            hidden = keras.random.normal((1, SOFTMAX_POSITIONS, SOFTMAX_DIM), seed=3)
            # targets: SOFTMAX_POSITIONS draws from the same log-uniform (Zipf-like) law
            target_sampler = el.layers.LMSoftmax(SOFTMAX_VOCAB, num_sampled=SOFTMAX_POSITIONS, seed=1)
            labels = keras.ops.reshape(target_sampler.sample_candidates(), (1, SOFTMAX_POSITIONS))
            full = float(softmax.full_loss(hidden, labels))
            print(f"full-softmax loss {full:.3f} nats (log V = {np.log(SOFTMAX_VOCAB):.3f})")
        '''),
        md(r"""
        Where should the sampled loss land? When the candidates cover the vocabulary well,
        $\sum_{j \in \mathcal{S}} e^{\tilde z_j}$ is an importance-sampling estimate of the full
        normaliser $Z = \sum_j e^{z_j}$, so $\mathcal{L}_{\text{sampled}} \approx \log Z - z_t + \log(S\,Q(t))
        = \mathcal{L}_{\text{full}} + \log(S\,Q(t))$: the correction applied to the *true* word shifts the
        value. Subtracting the mean of $\log(S\,Q(t))$ should recover the full loss.
        """),
        code('''
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
        '''),
        code('''
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
        '''),
        md("""
        The raw sampled loss moves with $S$, from far below the full loss to above it: it is a
        training signal, not a cross-entropy over the vocabulary. That is why lesson 04
        evaluates perplexity with the **full** softmax and never reports `exp(sampled loss)` as
        a perplexity.

        ## 7. How big are these models?
        Count the parameters by formula, check the formula against the built layers, and compare
        with the published ELMo models: *small* (13.6M) and *original* (93.6M), both without the
        softmax.
        """),
        code(r'''
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
        '''),
        code('''
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
        '''),
        code('''
            assert round(table["small"][2] / 1e6, 1) == 13.6  # elmo_2x1024_128_2048cnn_1xhighway
            assert round(table["original"][2] / 1e6, 1) == 93.6  # elmo_2x4096_512_2048cnn_2xhighway
        '''),
        md("""
        The published numbers come out exactly. Two things stand out: in the *original* model the
        two highway layers over 2,048 CNN features hold 16.8M weights, and the softmax over a
        793k-word vocabulary (406M weights) is 4× bigger than the whole encoder, which is why ELMo
        trains with a sampled softmax and ships without it.

        ## Summary
        - The char CNN is embedding → convolutions → max-pool → ReLU → highway → projection; we
          rebuilt it from Keras pieces and matched the library to 1e-5.
        - Highway gates start near 0.12 (bias −2), so new layers begin close to the identity.
        - `LSTMP` = LSTM + projection + clipping; our NumPy recurrence matches it step by step and
          clipping bounds its outputs.
        - The encoder outputs `word_emb` `[B, T, P]` and one `[B, T, 2P]` layer per LSTM layer, with
          skip connections after the first layer and boundary tokens stripped.
        - The sampled-softmax loss is cheap but is not the full cross-entropy (it is shifted by
          $\\log S\\,Q(t)$); the parameter counts of the published models (13.6M, 93.6M) come out exactly.

        ## Exercises
        1. *(easy)* Change `gate_bias_init` to +2. What is the mean gate, and what does the layer do?
        2. *(easy)* Set `cell_clip=None, proj_clip=None` in the clipping cell: how large do the outputs get?
        3. *(medium)* Count the parameters of a model with 3 LSTM layers and `projection_dim=256`
           with the formula, then check it with `el.bilm.count_parameters`.
        4. *(medium)* In the softmax experiment, draw the targets uniformly instead. How does the
           gap between sampled and full loss change, and why?
        5. *(open)* Which stage of the encoder costs the most time on a CPU? Time the pieces of
           section 5 for the `cpu` preset.

        **Next:** [04 · Training the biLM](04_training_the_bilm.ipynb): train this model on
        WikiText-2 and measure its perplexity.
        """),
    ])


LESSONS = {
    "01": ("01_why_context_matters.ipynb", lesson_01),
    "02": ("02_text_to_characters.ipynb", lesson_02),
    "03": ("03_building_the_bilm.ipynb", lesson_03),
}
# Measured full-run wall times (nbconvert --execute, 2-core CPU), filled into the markdown.
FULL_RUN_TIMES = {"01": "70-90 seconds", "02": "45-50 seconds", "03": "30 seconds"}


def write_lesson(fresh: nbformat.NotebookNode, filename: str, markdown_only: bool = False) -> None:
    """Write a generated lesson to notebooks/. With ``markdown_only``, keep the executed notebook
    on disk and replace only its markdown cells (matched by cell id), so outputs are kept."""
    path = NOTEBOOKS / filename
    if markdown_only:
        nb = nbformat.read(path, as_version=4)
        sources = {cell.id: cell for cell in fresh.cells}
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.id in sources:
                cell.source = sources[cell.id].source
        fresh = nb
    nbformat.validate(fresh)
    nbformat.write(fresh, path)
    print(f"wrote notebooks/{filename}")


def main(argv: list[str]) -> None:
    markdown_only = "--markdown-only" in argv
    chosen = [a for a in argv if a != "--markdown-only"] or list(LESSONS)
    for number in chosen:
        filename, build = LESSONS[number]
        nb = build()
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = cell.source.replace(f"__TIME_{number}__", FULL_RUN_TIMES[number])
        write_lesson(nb, filename, markdown_only)


if __name__ == "__main__":
    main(sys.argv[1:])

"""IMDB movie reviews (Maas et al. 2011) as sentences that look like SST-2's: read, clean, tokenize.

The registry entry ``"imdb"`` (:mod:`elmo_lib.data`) holds five TSV files, one per folder of the
``aclImdb_v1.tar.gz`` archive: ``train_unsup.tsv`` (50,000 unlabelled reviews), ``train_pos.tsv``,
``train_neg.tsv``, ``test_pos.tsv``, ``test_neg.tsv`` (12,500 each), one review per line as
``<id>\\t<rating>\\t<text>``, sorted by id, the text untokenized (HTML ``<br />`` breaks kept).
They are found like every dataset (``$ELMO_DATA_DIR`` -> ``data/`` -> download); a download fetches
the archive (sha256 checked), converts it with :func:`archive_to_tsv` and checks each TSV's sha256.

SST-2 (Kim's ``stsa.binary.*``) is lower-cased and Penn-Treebank-tokenized. :func:`tokenize` gives
IMDB text the same look with a dozen documented regular expressions, so a biLM can be adapted on
IMDB's unlabelled reviews and then used on SST-2 (lesson 08, "Going further": domain adaptation).
:func:`drop_overlap` removes IMDB sentences that are also SST-2 dev/test sentences.
"""

from __future__ import annotations

import html
import re
import tarfile
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from elmo_lib import data

DATASET = "imdb"
PARTS = ("train_unsup", "train_pos", "train_neg", "test_pos", "test_neg")  # the TSV files' stems

# ---------------------------------------------------------------- archive -> TSV (the download)

_REVIEW_FILE = re.compile(r"(\d+)_(\d+)\.txt")
_LINE_BREAKS = re.compile(r" *[\t\r\n][\t\r\n ]*")  # a run of whitespace holding a tab, CR or LF


def archive_to_tsv(archive, outputs: Mapping[str, object]) -> None:
    """Write one TSV per folder of ``aclImdb_v1.tar.gz``, as the shared copy was made.

    Each review file ``<folder>/<id>_<rating>.txt`` (UTF-8) becomes the line
    ``<id>\\t<rating>\\t<text>``, lines sorted by id; in ``<text>`` a run of whitespace that holds a
    tab, CR or LF becomes one space (64 of the 100,000 files have one), nothing else changes.
    Called by :func:`elmo_lib.data.find_file` when it downloads the ``"imdb"`` dataset; the TSVs
    are then checked against the registry's sha256.

    Args:
        archive: path of the (gzipped) tar archive.
        outputs: archive folder (e.g. ``"aclImdb/train/unsup"``) -> path of the TSV to write.

    Raises:
        ValueError: not a tar archive, a review that is not UTF-8 (named), or a folder without reviews.
    """
    rows: dict[str, list[tuple[int, int, str]]] = {folder.strip("/"): [] for folder in outputs}
    try:
        with tarfile.open(archive) as opened:
            for info in opened:  # streams through the archive once
                folder, _, name = info.name.removeprefix("./").rpartition("/")
                if folder in rows and info.isfile() and (match := _REVIEW_FILE.fullmatch(name)):
                    with opened.extractfile(info) as handle:
                        raw = handle.read()
                    try:
                        review = raw.decode("utf-8")
                    except UnicodeDecodeError as error:
                        raise ValueError(f"{info.name} is not UTF-8 ({error.reason} at byte "
                                         f"{error.start})") from error
                    rows[folder].append((int(match[1]), int(match[2]), _LINE_BREAKS.sub(" ", review)))
    except tarfile.TarError as error:
        raise ValueError(f"not a tar archive of aclImdb: {error}") from error
    for folder, path in outputs.items():
        found = sorted(rows[folder.strip("/")])
        if not found:
            raise ValueError(f"the archive has no <id>_<rating>.txt reviews in {folder}/")
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.writelines(f"{review_id}\t{rating}\t{review}\n" for review_id, rating, review in found)


# ---------------------------------------------------------------- reading the TSV files


def _check_cap(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive int or None, received {value!r}")


def load_reviews(part: str = "train_unsup", max_reviews: int | None = None) -> list[str]:
    """The raw review texts of one TSV file, in file order (by id); ``<br />`` breaks kept.

    Args:
        part: one of :data:`PARTS` (``"train_unsup"``: the 50,000 unlabelled reviews).
        max_reviews: read only the first ``max_reviews`` reviews (``None``: all).

    Returns:
        A list of non-empty strings.

    Raises:
        ValueError: unknown ``part``, a bad ``max_reviews``, a line that is not
            ``<id>\\t<rating>\\t<text>`` with a non-empty text (file and line named), or an empty file.
        FileNotFoundError / ChecksumError: as :func:`elmo_lib.data.find_file` (names the file and
            every URL tried).
    """
    if part not in PARTS:
        raise ValueError(f"unknown IMDB part {part!r}; valid parts: {list(PARTS)}")
    _check_cap("max_reviews", max_reviews)
    name = f"{part}.tsv"
    reviews = []
    for number, line in enumerate(data._lines(data._read_text(DATASET, name)), start=1):
        if max_reviews is not None and len(reviews) == max_reviews:
            break
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit() or not fields[2].strip():
            raise ValueError(f"imdb/{name} line {number}: expected '<id>\\t<rating>\\t<text>' with a "
                             f"non-empty text, got {line[:80]!r}")
        reviews.append(fields[2])
    if not reviews:
        raise ValueError(f"imdb/{name} holds no reviews")
    return reviews


def load_imdb(split: str) -> tuple[list[str], np.ndarray]:
    """The labelled reviews of a split, negatives then positives, as :func:`elmo_lib.data.load_sst2`.

    Args:
        split: ``"train"`` or ``"test"`` (25,000 reviews each; train and test cover disjoint movies).

    Returns:
        ``(texts, labels)``: raw review texts (clean them with :func:`review_sentences`) and
        int32 ``[reviews]`` labels, 0 negative (rating <= 4) and 1 positive (rating >= 7).

    Raises:
        ValueError: unknown split; as :func:`load_reviews` otherwise.
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown IMDB split {split!r}; valid splits: ['test', 'train']")
    negative, positive = load_reviews(f"{split}_neg"), load_reviews(f"{split}_pos")
    return negative + positive, np.array([0] * len(negative) + [1] * len(positive), dtype=np.int32)


# ---------------------------------------------------------------- cleaning and sentences

_HTML_BREAKS = re.compile(r"<\s*br\s*/?\s*>|<\s*/?\s*p\s*/?\s*>", re.IGNORECASE)  # <br />, <p>, </p>
# A "." after these (or after an initial such as "J." or "U.S.") does not end a sentence or a token.
# Not "no": in these reviews "no." ends a sentence 8 times as often as it abbreviates "number".
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc vol mt ft lt sgt capt col gen rev inc ltd co approx"
    " jan feb mar apr jun jul aug sep sept oct nov dec".split())
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
# A candidate sentence end: .!? or an ellipsis, closing quotes/brackets, spaces, then something
# that can start a sentence (an opening quote/bracket, a capital letter or a digit).
_SENTENCE_END = re.compile("(?:[.!?]+|\u2026)[\"'\u201d\u2019)\\]]*\\s+(?=[\"'\u201c\u2018(\\[]*[A-Z0-9])")


def clean_html(review: str) -> str:
    """HTML line breaks (``<br />``, ``<br>``, ``<p>``, ``</p>``) -> ``"\\n"``; entities -> characters."""
    return html.unescape(_HTML_BREAKS.sub("\n", review))


def _is_abbreviation(word: str) -> bool:
    word = word.lstrip("\"'(`[").removesuffix(".")
    return word.lower() in ABBREVIATIONS or (word != "I" and bool(_INITIALS.fullmatch(word)))


def split_sentences(review: str) -> list[str]:
    """Cased sentences of one review: cleaned with :func:`clean_html`, then cut at line breaks and
    after ``.``/``!``/``?``/``…`` followed by space and a capital letter, digit or opening quote,
    unless the ``.`` ends an abbreviation (:data:`ABBREVIATIONS`) or an initial (``J.``, ``U.S.``).

    Returns:
        The non-empty sentences, stripped, in order (a regex heuristic: reviewers who never use
        capitals get long sentences).
    """
    if not isinstance(review, str):
        raise TypeError(f"review must be a str, received {type(review).__name__}")
    sentences = []
    for paragraph in clean_html(review).split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            before = paragraph[start:match.start() + 1].split()
            if match.group().startswith(".") and not match.group().startswith("..") and before \
                    and _is_abbreviation(before[-1]):
                continue
            sentences.append(paragraph[start:match.end()])
            start = match.end()
        sentences.append(paragraph[start:])
    return [sentence.strip() for sentence in sentences if sentence.strip()]


# ---------------------------------------------------------------- SST-2's tokens

# Applied in this order to one cased sentence; then tokens are split on spaces, mapped, lower-cased.
_RULES = [(re.compile(pattern), replacement) for pattern, replacement in [
    ("[\u201c\u201d\u201e]", '"'), ("[\u2018\u2019\u00b4]", "'"),  # curly quotes -> ASCII
    ("\u2026|\\.{2,}", " ... "), ("[\u2013\u2014]|-{2,}", " -- "),  # ellipses, dashes
    ('^"|(?<=[\\s(\\[{<])"|``', " `` "), ("\"|''", " '' "),  # opening / closing double quotes
    # an opening single quote (not 's, 'em, 'til, '70s ...) becomes ` as in SST-2
    ("(?:^|(?<=[\\s(\\[{<]))'(?=[A-Za-z])(?!(?:s|m|d|ll|re|ve|em|til|cause|n)\\b)", " ` "),
    ("[?!]+", " \\g<0> "), ("[;@#$%()\\[\\]{}]", " \\g<0> "),  # separate punctuation
    ("(?<!\\d)[,:]|[,:](?!\\d)", " \\g<0> "),  # commas and colons, not inside numbers (2,500 10:30)
    ("(?i)\\b(can)(not)\\b", "\\1 \\2"), ("(?i)\\b(?:gon|wan)(?=na\\b)|\\bgot(?=ta\\b)", "\\g<0> "),  # PTB splits
    ("(?i)(\\w)(n't)\\b", "\\1 \\2"),  # doesn't -> does n't, can't -> ca n't, won't -> wo n't
    ("(?i)(\\w)('(?:s|m|d|ll|re|ve))\\b", "\\1 \\2"),  # it's -> it 's, we'll -> we 'll
    ("(?<=[^\\s'])'(?=\\s|$)", " ' "),  # a closing single quote or plural possessive: actors' -> actors '
]]
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}


def _final_period(token: str) -> list[str]:
    """Split a token's last ``.`` off unless it ends an abbreviation or initial (``mr.``, ``u.s.``)."""
    if len(token) > 1 and token.endswith(".") and not token.endswith("..") and not _is_abbreviation(token):
        return [token[:-1], "."]
    return [token]


def tokenize(sentence: str) -> list[str]:
    """One sentence -> SST-2's tokens: lower-cased, Penn-Treebank style, with SST-2's escapes.

    ``n't`` and ``'s``/``'re``/``'ll``/``'ve``/``'m``/``'d`` are split off (``doesn't`` -> ``does
    n't``, ``can't`` -> ``ca n't``, ``cannot`` -> ``can not``); punctuation is separated except a
    token-final ``.`` of an abbreviation (``mr.``, ``u.s.``), commas and colons inside numbers, and
    hyphens inside words; ``...`` and ``--`` are one token each; double quotes become ````` and
    ``''``, an opening single quote `````; ``(``/``)`` become ``-lrb-``/``-rrb-`` (``[]{}`` likewise),
    ``/`` and ``*`` are escaped as ``\\/`` and ``\\*``. For example ``He said "it doesn't (really)
    work."`` -> ``he said `` it does n't -lrb- really -rrb- work . ''``.

    Args:
        sentence: one sentence of raw text (see :func:`split_sentences`).

    Returns:
        The tokens (an empty list for blank text).

    Raises:
        TypeError: ``sentence`` is not a str.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, received {type(sentence).__name__}")
    for pattern, replacement in _RULES:
        sentence = pattern.sub(replacement, sentence)
    tokens = [piece for token in sentence.split() for piece in _final_period(token)]
    return [_BRACKETS.get(token, token.replace("/", "\\/").replace("*", "\\*")).lower() for token in tokens]


def review_sentences(review: str) -> list[list[str]]:
    """One raw review -> its sentences as SST-2-style token lists (:func:`split_sentences`, then
    :func:`tokenize`); sentences that give no token are left out."""
    return [tokens for sentence in split_sentences(review) if (tokens := tokenize(sentence))]


def sentences(reviews: Iterable[str], max_sentences: int | None = None) -> Iterator[list[str]]:
    """Yield the SST-2-style sentences (token lists) of ``reviews``, in order, at most ``max_sentences``.

    Raises:
        ValueError: ``reviews`` is one string (pass a list of reviews), or a bad ``max_sentences``.
        TypeError: a review that is not a str (its index named).
    """
    if isinstance(reviews, str):
        raise ValueError("reviews must be a list of review strings, received one str: wrap it in [...]")
    _check_cap("max_sentences", max_sentences)
    return _sentences(reviews, max_sentences)  # the checks above run now, not at the first next()


def _sentences(reviews: Iterable[str], max_sentences: int | None) -> Iterator[list[str]]:
    count = 0
    for index, review in enumerate(reviews):
        if not isinstance(review, str):
            raise TypeError(f"review {index} must be a str, received {type(review).__name__}")
        for tokens in review_sentences(review):
            if max_sentences is not None and count == max_sentences:
                return
            count += 1
            yield tokens


def unsup_sentences(max_reviews: int | None = None, max_sentences: int | None = None) -> Iterator[list[str]]:
    """The unlabelled reviews (``train_unsup.tsv``) as SST-2-style sentences: a biLM corpus.

    Full data: 50,000 reviews -> 605,780 sentences, 13,397,004 tokens (22 per sentence), in
    about 50-70 s on 2 CPU cores; ``list(...)`` of it holds about 2 GB. Lesson 08 ("Going further")
    adapts the biLM on them, after :func:`drop_overlap`.

    Args:
        max_reviews: read only the first reviews (``None``: all 50,000).
        max_sentences: stop after this many sentences (``None``: all).

    Yields:
        One list of str tokens per sentence (never empty).

    Raises:
        As :func:`load_reviews` and :func:`sentences`.
    """
    _check_cap("max_sentences", max_sentences)
    return sentences(load_reviews("train_unsup", max_reviews), max_sentences)


# ---------------------------------------------------------------- overlap with held-out sets


def drop_overlap(
    corpus: Iterable[Sequence[str]], held_out: Mapping[str, Iterable[str | Sequence[str]]], examples: int = 5
) -> tuple[list[list[str]], dict]:
    """Drop the corpus sentences that equal a held-out sentence, and say how many held-out ones occur.

    Sentences match when their lower-cased tokens are equal (held-out strings are split on spaces,
    as :func:`elmo_lib.data.load_sst2` returns them). Use it before adapting a biLM on IMDB text
    that is later judged on SST-2 dev/test: ``drop_overlap(imdb, {"dev": dev_texts, "test":
    test_texts})``. On all of :func:`unsup_sentences`, 5 of SST-2's 872 dev and 8 of its 1,821
    test sentences occur (short ones such as "bad ." or "good movie ."), and 79 IMDB sentences are
    dropped (lesson 08).

    Args:
        corpus: the training sentences (token lists), e.g. from :func:`unsup_sentences`.
        held_out: name -> sentences (strings or token lists) that training must not see.
        examples: how many found held-out sentences to list per name.

    Returns:
        ``(kept, report)``: the corpus sentences not in any held-out set, in order, and
        ``{"corpus_sentences": n, "corpus_tokens": t, "kept": k, "kept_tokens": u, "dropped": n - k,
        "held_out": {name: {"sentences": m, "found": f, "examples": [...]}}}`` where ``m`` counts
        the distinct held-out sentences, ``found`` those that occur in the corpus (``dropped``
        counts corpus sentences, so repeats of one held-out sentence count each time).

    Raises:
        ValueError: ``held_out`` is empty or one of its sets is empty or a single string; the
            corpus is empty or a single string. TypeError: a sentence that is not a str or a list
            of str.
    """
    if isinstance(corpus, str):
        raise ValueError("corpus must be a list of token lists, received one str")
    if not held_out:
        raise ValueError("held_out is empty: give at least one named set of sentences")
    keys = {}
    for name, group in held_out.items():
        if isinstance(group, str):
            raise ValueError(f"held_out[{name!r}] must be a list of sentences, received one str")
        keys[name] = {_key(sentence, f"held_out[{name!r}]") for sentence in group}
        if not keys[name]:
            raise ValueError(f"held_out[{name!r}] holds no sentences")
    every = set().union(*keys.values())
    kept, seen, n_sentences, n_tokens, kept_tokens = [], set(), 0, 0, 0
    for sentence in corpus:
        key = _key(sentence, "corpus")
        n_sentences, n_tokens = n_sentences + 1, n_tokens + len(key)
        if key in every:
            seen.add(key)
        else:
            kept.append(list(sentence))
            kept_tokens += len(key)
    if n_sentences == 0:
        raise ValueError("the corpus holds no sentences")
    report = {name: {"sentences": len(group), "found": len(group & seen),
                     "examples": [" ".join(key) for key in sorted(group & seen)[:examples]]}
              for name, group in keys.items()}
    return kept, {"corpus_sentences": n_sentences, "corpus_tokens": n_tokens, "kept": len(kept),
                  "kept_tokens": kept_tokens, "dropped": n_sentences - len(kept), "held_out": report}


def _key(sentence, where: str) -> tuple[str, ...]:
    tokens = sentence.split() if isinstance(sentence, str) else sentence
    if isinstance(tokens, (bytes, Mapping)) or not all(isinstance(token, str) for token in tokens):
        raise TypeError(f"{where}: a sentence must be a str or a list of str, received {sentence!r:.80}")
    return tuple(token.lower() for token in tokens)

"""Tokens -> character ids (the bilm-tf / AllenNLP scheme) and the bilm-tf vocabulary file.

Pure NumPy (no TensorFlow), so it is cheap to import and easy to test.

A token becomes 50 character ids: ``[BOW, utf8_bytes[:48], EOW, PAD, ...]``, and the sentence
boundary tokens ``<S>``/``</S>`` become ``[BOW, BOS_CHAR, EOW, PAD, ...]`` / ``[BOW, EOS_CHAR, ...]``.
Then every id is shifted by +1, so that 0 means "no token here" (padding / mask) and the character
embedding has ``N_CHARACTERS = 262`` rows. This is exactly bilm-tf's ``UnicodeCharsVocabulary`` and
AllenNLP's ``ELMoCharacterMapper``, so pretrained ELMo weights see the ids they were trained on.
Introduced in lesson 01.
"""

from __future__ import annotations

import os
import pathlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

# Raw character ids (before the +1 shift); bytes are 0..255.
BOS_CHAR = 256  # "beginning of sentence" character, used only by the token <S>
EOS_CHAR = 257  # "end of sentence" character, used only by the token </S>
BOW_CHAR = 258  # beginning of word
EOW_CHAR = 259  # end of word
PAD_CHAR = 260  # padding inside a token's 50 slots
MAX_CHARACTERS_PER_TOKEN = 50
N_CHARACTERS = 262  # 261 raw ids + the 0 "no token" id created by the +1 shift

BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"
UNK_TOKEN = "<UNK>"
SPECIAL_TOKENS = (BOS_TOKEN, EOS_TOKEN, UNK_TOKEN)


# ----- the tokenization rule: one for every path that splits text ---------------------------
# Every character ``str.isspace()`` calls whitespace (Unicode White_Space plus the ASCII
# separators U+001C..U+001F): ASCII space/tab/line breaks, U+0085, U+00A0, U+1680,
# U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. tests/test_text.py checks this list
# against all code points. Zero-width characters (U+200B, U+FEFF) are not whitespace.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# The same set as an RE2 character class run (TensorFlow's tf.strings.regex_replace).
WHITESPACE_REGEX = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in WHITESPACE) + "]+"


def split_tokens(line: str) -> list[str]:
    """Tokens of one line of text: the one tokenization rule of ``elmo_lib``.

    A line is cut at every run of whitespace, as ``str.isspace`` defines it (ASCII and Unicode:
    U+00A0 no-break space, U+2003 em space, U+3000 ideographic space, U+0085 next line, ...; see
    :data:`WHITESPACE`); leading and trailing whitespace is dropped, and a line of whitespace
    has no tokens. This is Python's ``line.split()``. Text files are cut into lines at ``"\\n"``
    only (a ``"\\r"`` before it is whitespace). Every path that splits text follows it: text
    files (``elmo-lib --train-file``, ``embed_file``), sharded corpora and their streaming
    vocabulary (``elmo_lib.corpus``, in TensorFlow ops with :data:`WHITESPACE_REGEX`), the
    ``"strings"`` input of ``elmo_lib.elmo.ELMo`` and the exported TF Hub module's ``default``
    signature (where ``google/elmo/3`` splits on ASCII spaces only). Introduced in lesson 01.

    Args:
        line: one line of text.

    Returns:
        the tokens, non-empty strings without whitespace.

    Raises:
        TypeError: ``line`` is not a ``str`` (decode bytes as UTF-8 first).

    Example:
        >>> split_tokens("a\\u00a0b\\u3000 c ")
        ['a', 'b', 'c']
    """
    if not isinstance(line, str):
        raise TypeError(f"line must be a str (decode bytes as UTF-8 first), received {line!r} "
                        f"of type {type(line).__name__}")
    return line.split()


def _check_max_characters(max_characters_per_token: int) -> None:
    if isinstance(max_characters_per_token, bool) or not isinstance(
        max_characters_per_token, (int, np.integer)
    ):
        raise TypeError(
            f"max_characters_per_token must be an int, received {max_characters_per_token!r}"
        )
    if max_characters_per_token < 3:
        raise ValueError(
            "max_characters_per_token must be >= 3 (BOW, one character, EOW), "
            f"received {max_characters_per_token}"
        )


def token_char_ids(token: str, max_characters_per_token: int = MAX_CHARACTERS_PER_TOKEN) -> np.ndarray:
    """Character ids of one token, as bilm-tf / AllenNLP compute them (with the +1 shift).

    The token's UTF-8 bytes are cut to ``max_characters_per_token - 2`` (which may split a multi-byte
    character: that is the reference behaviour) and framed by BOW/EOW, then padded with PAD. The
    strings ``"<S>"`` and ``"</S>"`` are the sentence boundary tokens. Like the references, characters
    that cannot be encoded (lone surrogates) are dropped.

    Args:
        token: the token string. ``""`` gives ``[BOW, EOW, PAD, ...] + 1``.
        max_characters_per_token: number of slots (50 in every published ELMo model).

    Returns:
        int32 array of shape ``[max_characters_per_token]``, values in ``1..261``.

    Raises:
        TypeError: if ``token`` is not a ``str``.
        ValueError: if ``max_characters_per_token < 3``.
    """
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, received {token!r} of type {type(token).__name__}")
    _check_max_characters(max_characters_per_token)
    ids = np.full(max_characters_per_token, PAD_CHAR, dtype=np.int32)
    if token == BOS_TOKEN or token == EOS_TOKEN:
        body = [BOS_CHAR if token == BOS_TOKEN else EOS_CHAR]
    else:
        body = list(token.encode("utf-8", "ignore")[: max_characters_per_token - 2])
    ids[0] = BOW_CHAR
    ids[1 : 1 + len(body)] = body
    ids[1 + len(body)] = EOW_CHAR
    return ids + 1


def boundary_char_ids(
    max_characters_per_token: int = MAX_CHARACTERS_PER_TOKEN,
) -> tuple[np.ndarray, np.ndarray]:
    """Character ids of the sentence boundary tokens ``<S>`` and ``</S>`` (with the +1 shift).

    Args:
        max_characters_per_token: number of slots per token.

    Returns:
        ``(bos, eos)``, two int32 arrays of shape ``[max_characters_per_token]``.
    """
    return (
        token_char_ids(BOS_TOKEN, max_characters_per_token),
        token_char_ids(EOS_TOKEN, max_characters_per_token),
    )


def _check_sentence(sentence: object, index: int) -> None:
    if isinstance(sentence, (str, bytes)):
        raise ValueError(
            f"sentence {index} is a string ({sentence[:40]!r}...), not a list of tokens: "
            "split it first, e.g. `sentence.split()`"
        )
    if not isinstance(sentence, Iterable):
        raise ValueError(f"sentence {index} must be a sequence of str tokens, received {sentence!r}")


def check_sentences(sentences: object, *, str_tokens: bool = False) -> list:
    """``sentences`` as a list after checking it is a list of token lists, not one string (whose
    characters would pass for sentences) nor a list of strings (whose characters would pass for
    tokens). ValueError for either; TypeError for a token that is not ``str`` (``str_tokens``)."""
    if isinstance(sentences, (str, bytes)):
        raise ValueError(f"`sentences` must be a list of token lists, received one string "
                         f"({sentences[:40]!r}...): pass e.g. [text.split()]")
    sentences = list(sentences)
    for index, sentence in enumerate(sentences):
        _check_sentence(sentence, index)
        if str_tokens:
            for token in sentence:
                if not isinstance(token, str):
                    raise TypeError(f"sentence {index} has a token of type "
                                    f"{type(token).__name__} ({token!r}): tokens must be str")
    return sentences


def char_ids(
    sentences: Sequence[Sequence[str]],
    max_characters_per_token: int = MAX_CHARACTERS_PER_TOKEN,
    max_length: int | None = None,
    truncate: bool = False,
) -> np.ndarray:
    """Character ids for a batch of tokenized sentences, padded with all-zero rows.

    No sentence boundary tokens are added (the biLM adds ``<S>``/``</S>`` itself).

    Args:
        sentences: a batch of sentences, each a sequence of ``str`` tokens.
        max_characters_per_token: number of character slots per token.
        max_length: pad every sentence to this many tokens (default: the longest sentence).
        truncate: if ``True``, cut sentences longer than ``max_length`` instead of raising.

    Returns:
        int32 array ``[batch, max_length, max_characters_per_token]``; rows past a sentence's end
        are all zero. An all-empty batch gives ``[batch, 0, C]`` (or ``[batch, max_length, C]``).

    Raises:
        ValueError: if a sentence is a plain string, a sentence is longer than ``max_length`` and
            ``truncate`` is false, or ``max_length`` is negative.
        TypeError: if a token is not a ``str``.
    """
    _check_max_characters(max_characters_per_token)
    sentences = [list(sentence) for sentence in check_sentences(sentences)]
    longest = max((len(s) for s in sentences), default=0)
    if max_length is None:
        max_length = longest
    elif max_length < 0:
        raise ValueError(f"max_length must be >= 0, received {max_length}")
    elif longest > max_length and not truncate:
        raise ValueError(
            f"a sentence has {longest} tokens but max_length={max_length}: "
            "pass a larger max_length or truncate=True"
        )
    out = np.zeros((len(sentences), max_length, max_characters_per_token), dtype=np.int32)
    cache: dict[str, np.ndarray] = {}
    for b, sentence in enumerate(sentences):
        for t, token in enumerate(sentence[:max_length]):
            ids = cache.get(token) if isinstance(token, str) else None
            if ids is None:
                ids = cache[token] = token_char_ids(token, max_characters_per_token)
            out[b, t] = ids
    return out


def mask_from_char_ids(char_ids_array: np.ndarray) -> np.ndarray:
    """Boolean mask ``[..., T]``: True where a token is present (its char ids are not all zero).

    Args:
        char_ids_array: integer array ``[..., T, C]`` as returned by :func:`char_ids`.

    Returns:
        bool array with the last axis removed.
    """
    return np.any(np.asarray(char_ids_array) != 0, axis=-1)


def sentence_lengths(char_ids_array: np.ndarray) -> np.ndarray:
    """Number of real (non-padding) tokens per sentence.

    Args:
        char_ids_array: integer array ``[B, T, C]`` as returned by :func:`char_ids`.

    Returns:
        int32 array ``[B]``.
    """
    return mask_from_char_ids(char_ids_array).sum(axis=-1).astype(np.int32)


class Vocabulary:
    """A token vocabulary in the bilm-tf file format.

    The file has one token per line; line ``i`` is token id ``i``. The three special tokens
    ``<S>``, ``</S>`` and ``<UNK>`` take the first three lines, in any order (bilm-tf's own files start
    ``</S>``, ``<S>``, ``<UNK>``; vocabularies built here use ``<S>``, ``</S>``, ``<UNK>``). Built
    vocabularies list the other tokens by descending count, ties broken alphabetically (by code
    point), so the result does not depend on the order the counts were gathered in.

    Args:
        tokens: all tokens in id order, the three special tokens first.

    Raises:
        ValueError: if the specials are not the first three tokens, a token repeats, or a token is
            empty, contains a line break, or has leading/trailing whitespace.

    Example:
        >>> vocab = Vocabulary.from_corpus([["the", "cat"], ["the"]])
        >>> vocab.tokens
        ['<S>', '</S>', '<UNK>', 'the', 'cat']
        >>> vocab.encode(["the", "dog"]).tolist()
        [3, 2]
    """

    def __init__(self, tokens: Iterable[str]):
        tokens = list(tokens)
        if sorted(tokens[:3]) != sorted(SPECIAL_TOKENS):
            raise ValueError(
                f"the first three tokens must be {', '.join(SPECIAL_TOKENS)} (in any order), "
                f"received {tokens[:3]!r}"
            )
        index: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if not isinstance(token, str) or not token or token != token.strip() or (
                "\n" in token or "\r" in token
            ):
                raise ValueError(
                    f"token {i} must be a non-empty str without leading/trailing whitespace or "
                    f"line breaks, received {token!r}"
                )
            if token in index:
                raise ValueError(f"duplicate token {token!r} at ids {index[token]} and {i}")
            index[token] = i
        self._tokens = tokens
        self._index = index

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Build a vocabulary from token counts (e.g. a ``Counter`` filled while streaming a corpus).

        Args:
            counts: token -> count. Special tokens in it are ignored (they are always included).
            min_count: drop tokens seen fewer times than this.
            max_size: maximum vocabulary size **including** the 3 special tokens (``None``: no cap).

        Returns:
            A ``Vocabulary``: specials, then tokens by descending count, ties alphabetical.

        Raises:
            ValueError: if ``min_count < 1`` or ``max_size < 3``.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, received {min_count}")
        if max_size is not None and max_size < len(SPECIAL_TOKENS):
            raise ValueError(f"max_size must be >= 3 (it counts <S>, </S>, <UNK>), received {max_size}")
        kept = [(t, c) for t, c in counts.items() if c >= min_count and t not in SPECIAL_TOKENS]
        kept.sort(key=lambda item: (-item[1], item[0]))
        words = [t for t, _ in kept]
        if max_size is not None:
            words = words[: max_size - len(SPECIAL_TOKENS)]
        return cls([*SPECIAL_TOKENS, *words])

    @classmethod
    def from_corpus(
        cls, sentences: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Count the tokens of tokenized sentences and build a vocabulary (see :meth:`from_counts`).

        Args:
            sentences: iterable of token sequences.
            min_count: drop tokens seen fewer times than this.
            max_size: maximum size including the 3 special tokens.

        Returns:
            A ``Vocabulary``.

        Raises:
            ValueError: if a sentence is a plain string, a token is not what
                :func:`split_tokens` gives (empty, or containing whitespace: the message names the
                sentence and position), or bad ``min_count``/``max_size``.
        """
        counts: Counter[str] = Counter()
        for index, sentence in enumerate(sentences):
            _check_sentence(sentence, index)
            for position, token in enumerate(sentence):
                if not isinstance(token, str) or split_tokens(token) != [token]:
                    raise ValueError(
                        f"sentence {index}, token {position}: {token!r} is not one token of "
                        "split_tokens (empty, not a str, or it contains whitespace); split each "
                        "line with elmo_lib.text.split_tokens")
            counts.update(sentence)
        return cls.from_counts(counts, min_count=min_count, max_size=max_size)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a bilm-tf vocabulary file (UTF-8, one token per line, stripped like bilm-tf does).

        Args:
            path: the file.

        Returns:
            A ``Vocabulary`` with the ids of the file (line ``i`` -> id ``i``).

        Raises:
            ValueError: if the file is not valid UTF-8 (the message gives the byte offset), has an
                empty line, or breaks the rules of the constructor.
        """
        path = pathlib.Path(path)
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: invalid UTF-8 at byte offset {error.start}") from error
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        tokens = [line.strip() for line in lines]
        for number, token in enumerate(tokens, start=1):
            if not token:
                raise ValueError(f"{path}: line {number} is empty")
        return cls(tokens)

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary file atomically (a temporary file, ``fsync``, then ``os.replace``).

        Args:
            path: destination; its directory must exist.
        """
        from elmo_lib import atomic

        atomic.write_text(path, "".join(f"{token}\n" for token in self._tokens))

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    @property
    def bos_id(self) -> int:
        """Id of ``<S>``."""
        return self._index[BOS_TOKEN]

    @property
    def eos_id(self) -> int:
        """Id of ``</S>``."""
        return self._index[EOS_TOKEN]

    @property
    def unk_id(self) -> int:
        """Id of ``<UNK>``, returned for every unknown token."""
        return self._index[UNK_TOKEN]

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, first={self._tokens[:6]!r})"

    def token_to_id(self, token: str) -> int:
        """Id of ``token``, or :attr:`unk_id` if it is not in the vocabulary."""
        return self._index.get(token, self.unk_id)

    def id_to_token(self, token_id: int) -> str:
        """Token with id ``token_id``.

        Raises:
            IndexError: if ``token_id`` is not in ``0 .. len(self) - 1`` (negative ids included).
        """
        if not 0 <= token_id < len(self._tokens):
            raise IndexError(f"token id {token_id} is out of range 0..{len(self._tokens) - 1}")
        return self._tokens[int(token_id)]

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of a token sequence (unknown tokens -> :attr:`unk_id`).

        Returns:
            int32 array ``[len(tokens)]``.

        Raises:
            ValueError: if ``tokens`` is a plain string rather than a list of tokens.
        """
        _check_sentence(tokens, 0)
        unk = self.unk_id
        return np.array([self._index.get(t, unk) for t in tokens], dtype=np.int32).reshape(-1)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of a sequence of ids (see :meth:`id_to_token` for the errors)."""
        return [self.id_to_token(int(i)) for i in np.asarray(ids).reshape(-1)]

    def char_table(self, max_characters_per_token: int = MAX_CHARACTERS_PER_TOKEN) -> np.ndarray:
        """Character ids of every vocabulary token: row ``i`` is ``token_char_ids(tokens[i])``.

        Returns:
            int32 array ``[len(self), max_characters_per_token]`` (``<S>``/``</S>`` rows hold the
            boundary ids; ``<UNK>`` is spelled literally, as in bilm-tf).
        """
        _check_max_characters(max_characters_per_token)
        return np.stack([token_char_ids(t, max_characters_per_token) for t in self._tokens])

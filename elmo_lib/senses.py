"""The senses of *record* in WikiText-2, labelled by a transparent heuristic (lessons 01 and 05).

WikiText-2 has no sense annotations. Lesson 01 labels an occurrence of *record* by its **direct
neighbours**: "record **label** / **deal** / **company** ..." is the music business, "**world** /
**career** / **franchise** ... record" an achievement; anything else stays unlabelled. The label
words are then kept out of every representation that is scored (lesson 01 skips them in its
context average, lesson 05 hides them from the biLM), so a classifier cannot read the label off
them. Lesson 05 scores the biLM's layers on exactly the occurrences lesson 01 scores.
"""

from __future__ import annotations

from collections.abc import Sequence

MUSIC = "music business"
ACHIEVEMENT = "achievement"
# the word after "record" that marks the music business (record label, record deal, ...)
RECORD_MUSIC_NEXT = frozenset({
    "label", "labels", "company", "companies", "deal", "producer", "producers", "store", "stores",
    "executive", "executives", "contract", "industry", "shop", "album", "sales", "charts",
    "chart"})
# the word before "record" that marks an achievement (world record, career record, ...)
RECORD_ACHIEVEMENT_PREVIOUS = frozenset({
    "world", "franchise", "career", "school", "club", "league", "olympic", "attendance",
    "national", "season", "winning", "losing", "track", "team", "unbeaten", "undefeated",
    "conference", "british", "european", "american", "australian", "stadium"})


def record_sense(tokens: Sequence[str], position: int) -> str | None:
    """The heuristic sense of ``tokens[position]`` (an occurrence of *record*), or ``None``.

    Compares lower-cased neighbours: :data:`MUSIC` if the next word is in
    :data:`RECORD_MUSIC_NEXT`, else :data:`ACHIEVEMENT` if the previous word is in
    :data:`RECORD_ACHIEVEMENT_PREVIOUS`, else ``None`` (unlabelled).

    Raises:
        IndexError: ``position`` is outside ``tokens``.
    """
    if not 0 <= position < len(tokens):
        raise IndexError(f"position {position} is outside a sentence of {len(tokens)} tokens")
    after = tokens[position + 1].lower() if position + 1 < len(tokens) else ""
    before = tokens[position - 1].lower() if position > 0 else ""
    if after in RECORD_MUSIC_NEXT:
        return MUSIC
    return ACHIEVEMENT if before in RECORD_ACHIEVEMENT_PREVIOUS else None


def labelled_occurrences(lines: Sequence[Sequence[str]], target: str = "record"
                         ) -> list[tuple[int, int, str]]:
    """Every occurrence of ``target`` (any case) that :func:`record_sense` labels.

    Returns:
        ``[(line index, position, sense)]`` in text order.
    """
    found = []
    for line_index, tokens in enumerate(lines):
        for position, token in enumerate(tokens):
            if token.lower() == target:
                sense = record_sense(tokens, position)
                if sense is not None:
                    found.append((line_index, position, sense))
    return found


def hide_neighbours(tokens: Sequence[str], position: int, *, radius: int = 1,
                    mask_token: str = "<unk>", window: int | None = None) -> tuple[list[str], int]:
    """``tokens`` with the ``radius`` words on each side of ``position`` replaced by ``mask_token``.

    Lesson 05 feeds this to the biLM, so its vector of *record* cannot contain the words that gave
    the label (WikiText-2 writes unknown words as ``<unk>``, so the biLM has seen that token).
    ``window`` keeps only that many tokens on each side (long paragraphs are cut).

    Returns:
        ``(new tokens, the position of the word in them)``.
    """
    start = 0 if window is None else max(0, position - window)
    stop = len(tokens) if window is None else min(len(tokens), position + window + 1)
    out = list(tokens[start:stop])
    centre = position - start
    for offset in range(1, radius + 1):
        for j in (centre - offset, centre + offset):
            if 0 <= j < len(out):
                out[j] = mask_token
    return out, centre

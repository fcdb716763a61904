"""elmo_lib.senses: the record-sense heuristic of lessons 01 and 05."""

import pytest

import elmo_lib as el


@pytest.mark.parametrize(("sentence", "position", "expected"), [
    ("the band signed a record deal".split(), 4, "music business"),
    ("she set a new World record in the final".split(), 5, "achievement"),
    ("Record label boss".split(), 0, "music business"),  # case-insensitive, at the start
    ("a world record".split(), 2, "achievement"),  # at the end
    ("the record was broken".split(), 1, None),
    ("world record label".split(), 1, "music business"),  # the next word wins a tie
])
def test_record_sense(sentence, position, expected):
    assert el.senses.record_sense(sentence, position) == expected


def test_record_sense_rejects_a_position_outside():
    with pytest.raises(IndexError, match="position 3"):
        el.senses.record_sense(["a", "record"], 3)


def test_labelled_occurrences_in_text_order():
    lines = [["a", "record", "deal", "and", "a", "world", "Record"], ["no", "record"], []]
    assert el.senses.labelled_occurrences(lines) == [
        (0, 1, "music business"), (0, 6, "achievement")]


def test_hide_neighbours():
    tokens = "x y a world record in the final z".split()
    hidden, centre = el.senses.hide_neighbours(tokens, 4, window=3)
    assert hidden == ["y", "a", "<unk>", "record", "<unk>", "the", "final"]
    assert hidden[centre] == "record"
    assert el.senses.hide_neighbours(["record", "deal"], 0) == (["record", "<unk>"], 0)

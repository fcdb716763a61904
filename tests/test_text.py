"""elmo_lib.text: character ids checked against hand-computed bilm-tf ids, and Vocabulary."""

from collections import Counter

import numpy as np
import pytest

from elmo_lib import text

# Hand-computed ids (raw + 1): BOW 258 -> 259, EOW 259 -> 260, PAD 260 -> 261, byte b -> b + 1.
BOW, EOW, PAD = 259, 260, 261


def padded(*ids, width=50):
    return list(ids) + [PAD] * (width - len(ids))


def test_constants():
    assert (text.BOS_CHAR, text.EOS_CHAR, text.BOW_CHAR, text.EOW_CHAR, text.PAD_CHAR) == (
        256, 257, 258, 259, 260)
    assert text.N_CHARACTERS == 262 and text.MAX_CHARACTERS_PER_TOKEN == 50


@pytest.mark.parametrize(
    "token, expected",
    [
        ("a", padded(BOW, 98, EOW)),  # 'a' = 0x61 = 97
        ("é", padded(BOW, 0xC3 + 1, 0xA9 + 1, EOW)),  # U+00E9 = C3 A9
        ("东京", padded(BOW, 0xE4 + 1, 0xB8 + 1, 0x9C + 1, 0xE4 + 1, 0xBA + 1, 0xAC + 1, EOW)),
        ("\U0001f600", padded(BOW, 0xF0 + 1, 0x9F + 1, 0x98 + 1, 0x80 + 1, EOW)),  # 😀
        ("", padded(BOW, EOW)),
        ("<S>", padded(BOW, 257, EOW)),  # BOS_CHAR 256 + 1
        ("</S>", padded(BOW, 258, EOW)),  # EOS_CHAR 257 + 1
        ("<UNK>", padded(BOW, 61, 86, 79, 76, 63, EOW)),  # spelled literally: < U N K >
    ],
)
def test_token_char_ids_hand_computed(token, expected):
    ids = text.token_char_ids(token)
    assert ids.dtype == np.int32 and ids.shape == (50,)
    assert ids.tolist() == expected


def test_long_token_is_cut_to_48_bytes():
    assert text.token_char_ids("x" * 300).tolist() == [BOW] + [ord("x") + 1] * 48 + [EOW]


def test_cut_may_split_a_multibyte_character():
    # "a" + 30 x "é" is 61 bytes; the first 48 are "a", 23 full "é" and the lead byte C3.
    ids = text.token_char_ids("a" + "é" * 30).tolist()
    assert ids == [BOW, 98] + [0xC4, 0xAA] * 23 + [0xC4, EOW]


def test_small_max_characters_per_token():
    assert text.token_char_ids("abcdef", 5).tolist() == [BOW, 98, 99, 100, EOW]
    assert text.token_char_ids("<S>", 3).tolist() == [BOW, 257, EOW]
    with pytest.raises(ValueError, match="max_characters_per_token"):
        text.token_char_ids("a", 2)


@pytest.mark.parametrize("bad", [5, b"abc", None])
def test_token_must_be_str(bad):
    with pytest.raises(TypeError, match=repr(bad).replace("(", r"\(")):
        text.token_char_ids(bad)


def test_boundary_char_ids():
    bos, eos = text.boundary_char_ids()
    assert bos.tolist() == padded(BOW, 257, EOW)
    assert eos.tolist() == padded(BOW, 258, EOW)


def test_char_ids_batch_padding_rows_are_zero():
    ids = text.char_ids([["a", "bb"], [], ["é"]])
    assert ids.dtype == np.int32 and ids.shape == (3, 2, 50)
    assert ids[0, 0].tolist() == padded(BOW, 98, EOW)
    assert ids[0, 1].tolist() == padded(BOW, 99, 99, EOW)
    assert not ids[1].any()  # empty sentence: all-zero rows
    assert ids[2, 0].tolist() == padded(BOW, 196, 170, EOW)
    assert not ids[2, 1].any()
    assert text.sentence_lengths(ids).tolist() == [2, 0, 1]
    assert text.mask_from_char_ids(ids).tolist() == [[True, True], [False, False], [True, False]]


def test_char_ids_no_boundary_tokens_added():
    ids = text.char_ids([["a"]])
    assert ids.shape == (1, 1, 50)


def test_char_ids_all_empty_and_max_length():
    assert text.char_ids([[], []]).shape == (2, 0, 50)
    assert text.char_ids([]).shape == (0, 0, 50)
    padded_batch = text.char_ids([[], ["a"]], max_length=4, max_characters_per_token=7)
    assert padded_batch.shape == (2, 4, 7)
    assert padded_batch[1, 0].tolist() == [BOW, 98, EOW, PAD, PAD, PAD, PAD]
    assert not padded_batch[1, 1:].any() and not padded_batch[0].any()


def test_char_ids_too_long_raises_unless_truncate():
    with pytest.raises(ValueError, match="max_length=2"):
        text.char_ids([["a", "b", "c"]], max_length=2)
    cut = text.char_ids([["a", "b", "c"]], max_length=2, truncate=True)
    assert cut.shape == (1, 2, 50) and cut[0, 1, 1] == ord("b") + 1


def test_sentence_given_as_string_is_an_error():
    with pytest.raises(ValueError, match="split"):
        text.char_ids(["the cat sat"])
    with pytest.raises(ValueError, match="split"):
        text.char_ids([["ok"], "the cat sat"])
    with pytest.raises(TypeError, match="3"):
        text.char_ids([["ok", 3]])


def test_repeated_tokens_get_identical_rows():
    ids = text.char_ids([["the", "cat", "the"], ["the"]])
    assert np.array_equal(ids[0, 0], ids[0, 2]) and np.array_equal(ids[0, 0], ids[1, 0])


CORPUS = [["b", "a", "c", "a"], ["c", "d", "a"], ["<S>", "e"]]


def test_from_corpus_orders_by_count_then_alphabetically():
    vocab = text.Vocabulary.from_corpus(CORPUS)
    # counts: a 3, c 2, b 1, d 1, e 1 (ties alphabetical); "<S>" in the corpus is not counted twice
    assert vocab.tokens == ["<S>", "</S>", "<UNK>", "a", "c", "b", "d", "e"]
    assert (vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2)
    assert len(vocab) == 8 and "c" in vocab and "z" not in vocab and list(vocab) == vocab.tokens


def test_from_corpus_min_count_and_max_size():
    assert text.Vocabulary.from_corpus(CORPUS, min_count=2).tokens[3:] == ["a", "c"]
    assert text.Vocabulary.from_corpus(CORPUS, max_size=4).tokens == ["<S>", "</S>", "<UNK>", "a"]
    assert len(text.Vocabulary.from_corpus(CORPUS, max_size=3)) == 3
    with pytest.raises(ValueError, match="max_size"):
        text.Vocabulary.from_corpus(CORPUS, max_size=2)
    with pytest.raises(ValueError, match="min_count"):
        text.Vocabulary.from_corpus(CORPUS, min_count=0)
    with pytest.raises(ValueError, match="split"):
        text.Vocabulary.from_corpus(["a b c"])


def test_from_counts_does_not_depend_on_insertion_order():
    one = text.Vocabulary.from_counts(Counter({"x": 2, "y": 2, "z": 5}))
    two = text.Vocabulary.from_counts(Counter({"z": 5, "y": 2, "x": 2}))
    assert one.tokens == two.tokens == ["<S>", "</S>", "<UNK>", "z", "x", "y"]


def test_save_load_round_trip(tmp_path):
    vocab = text.Vocabulary.from_corpus(CORPUS + [["東京", "é"]])
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines == ["<S>", "</S>", "<UNK>", "a", "c", "b", "d", "e", "é", "東京", ""]
    assert text.Vocabulary.load(path).tokens == vocab.tokens
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vocab.txt"]  # no temp file left


def test_load_bilm_tf_special_order(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"</S>\n<S>\n<UNK>\nthe\n,\n")
    vocab = text.Vocabulary.load(path)
    assert (vocab.bos_id, vocab.eos_id, vocab.unk_id) == (1, 0, 2)
    assert vocab.token_to_id("the") == 3 and vocab.token_to_id(",") == 4
    assert vocab.token_to_id("unseen") == 2
    table = vocab.char_table()
    assert table.shape == (5, 50)
    assert table[0].tolist() == padded(BOW, 258, EOW) and table[1].tolist() == padded(BOW, 257, EOW)
    assert table[3].tolist() == padded(BOW, 117, 105, 102, EOW)  # t h e


def test_load_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"<S>\n</S>\n<UNK>\nab\xffc\n")
    with pytest.raises(ValueError, match="byte offset 17"):
        text.Vocabulary.load(bad)
    bad.write_bytes(b"<S>\n</S>\n<UNK>\n\nthe\n")
    with pytest.raises(ValueError, match="line 4 is empty"):
        text.Vocabulary.load(bad)
    bad.write_bytes(b"the\n<S>\n</S>\n<UNK>\n")
    with pytest.raises(ValueError, match="first three tokens"):
        text.Vocabulary.load(bad)


def test_constructor_validation():
    with pytest.raises(ValueError, match="duplicate token 'a'"):
        text.Vocabulary(["<S>", "</S>", "<UNK>", "a", "a"])
    with pytest.raises(ValueError, match="first three"):
        text.Vocabulary(["<S>", "</S>", "a", "<UNK>"])
    with pytest.raises(ValueError, match="whitespace"):
        text.Vocabulary(["<S>", "</S>", "<UNK>", "a\nb"])


def test_encode_decode_and_range_errors():
    vocab = text.Vocabulary.from_corpus(CORPUS)
    ids = vocab.encode(["a", "zzz", "</S>"])
    assert ids.dtype == np.int32 and ids.tolist() == [3, 2, 1]
    assert vocab.decode(ids) == ["a", "<UNK>", "</S>"]
    assert vocab.encode([]).shape == (0,)
    assert vocab.id_to_token(7) == "e"
    for bad in (8, -1):
        with pytest.raises(IndexError, match=f"token id {bad} is out of range 0..7"):
            vocab.id_to_token(bad)
    with pytest.raises(ValueError, match="split"):
        vocab.encode("a c")


def test_char_table_rows_equal_token_char_ids():
    vocab = text.Vocabulary.from_corpus([["the", "東京"]])
    table = vocab.char_table(max_characters_per_token=8)
    assert table.shape == (5, 8) and table.dtype == np.int32
    for i, token in enumerate(vocab.tokens):
        assert table[i].tolist() == text.token_char_ids(token, 8).tolist()


# ----- one whitespace rule on every path that splits text (issue 18, part 3) -----------------
def test_whitespace_list_is_every_code_point_str_isspace_accepts():
    import sys

    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert text.WHITESPACE == every


# Each line and its tokens by the rule, written out by hand (not computed with str.split).
WHITESPACE_TABLE = [
    ("a\u00a0", ["a"]),                          # the shard: no-break space at the end
    ("a\u00a0b", ["a", "b"]),
    ("\u2003x\u3000y z", ["x", "y", "z"]),       # em space, ideographic space
    ("p\u0085q", ["p", "q"]),                    # NEL (U+0085) inside a line
    ("\tcafé  東京\x0b\x0c\r", ["café", "東京"]),  # ASCII whitespace; a "\r" before "\n"
    ("s\u2028t\u2029u\u202fv\u205fw\u1680k", ["s", "t", "u", "v", "w", "k"]),
    ("m\x1cn\x1fo", ["m", "n", "o"]),            # ASCII separators count too (str.isspace)
    ("zero\u200bwidth\ufeff", ["zero\u200bwidth\ufeff"]),  # not whitespace: one token
    ("\u00a0\u3000 ", []),                       # only whitespace: an empty sentence
]
LINES_TABLE = [line for line, _ in WHITESPACE_TABLE]
TOKENS_TABLE = [tokens for _, tokens in WHITESPACE_TABLE]
NON_EMPTY = [tokens for tokens in TOKENS_TABLE if tokens]


def test_split_tokens_follows_the_table():
    assert [text.split_tokens(line) for line in LINES_TABLE] == TOKENS_TABLE
    with pytest.raises(TypeError, match="decode"):
        text.split_tokens(b"a b")


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "lines.txt"
    path.write_bytes("\n".join(LINES_TABLE).encode("utf-8") + b"\n")
    return path


def test_every_python_path_follows_the_table(table_file):
    from elmo_lib import cli, corpus

    assert cli.read_sentences(table_file) == NON_EMPTY                     # --train-file
    counts, total, _ = corpus.streaming_counts(str(table_file))              # --train-shards
    assert counts == Counter(t for s in NON_EMPTY for t in s)
    assert total == sum(len(s) for s in NON_EMPTY)
    shard_vocab = corpus.streaming_vocabulary(str(table_file))
    assert shard_vocab.tokens == text.Vocabulary.from_corpus(NON_EMPTY).tokens
    assert "a" in shard_vocab and "a\u00a0" not in shard_vocab


def test_every_tensorflow_path_follows_the_table(table_file, tmp_path):
    import h5py
    import tensorflow as tf

    from elmo_lib import bilm, corpus, elmo, interop

    strings = tf.constant(LINES_TABLE)
    split = [[t.decode() for t in row] for row in corpus.tf_split_tokens(strings).to_list()]
    assert split == TOKENS_TABLE
    tokens, lengths = interop.split_sentences(strings)                      # hub "default"
    assert lengths.numpy().tolist() == [len(t) for t in TOKENS_TABLE]
    assert [[t.decode() for t in row[:n]] for row, n in zip(tokens.numpy(), lengths.numpy())] \
        == TOKENS_TABLE
    np.testing.assert_array_equal(elmo.string_char_ids(strings),              # ELMo strings
                                  text.char_ids(TOKENS_TABLE))
    # The shard pipeline's token stream (windows of one input token: stream[k : k + 3]).
    windows = list(corpus._file_windows(1)(tf.constant(str(table_file))).as_numpy_iterator())
    stream = [w[1].decode() for w in windows]
    expected = [t for s in NON_EMPTY for t in ["<S>", *s, "</S>"]][1:-1]
    assert stream == expected
    # The ELMo layer's strings input and embed_file (one HDF5 dataset per line).
    encoder = bilm.build_encoder(bilm.BiLMConfig.tiny())
    layer = elmo.ELMo(encoder, input_type="strings", output_mode="lstm_outputs1")
    assert layer.compute_mask(strings).numpy().sum(axis=1).tolist() == [len(t) for t in TOKENS_TABLE]
    np.testing.assert_allclose(layer(strings), encoder(text.char_ids(TOKENS_TABLE))["lstm_outputs1"],
                               atol=1e-6)
    output = elmo.embed_file(table_file, tmp_path / "table.hdf5", encoder, output_layer="top",
                             progress=False)
    with h5py.File(output, "r") as handle:
        assert [handle[str(i)].shape[0] for i in range(len(LINES_TABLE))] == [
            len(t) for t in TOKENS_TABLE]


def test_from_corpus_names_a_token_with_whitespace():
    with pytest.raises(ValueError, match=r"sentence 1, token 0: 'a\\xa0'.*split_tokens"):
        text.Vocabulary.from_corpus([["x"], ["a\u00a0", "b"]])


def test_shard_that_is_not_utf8_names_the_file_and_line(tmp_path):
    from elmo_lib import corpus

    path = tmp_path / "shard.txt"
    path.write_bytes(b"good line\nbad \xff byte\n")
    with pytest.raises(ValueError, match=r"shard\.txt, line 2: invalid UTF-8"):
        corpus.streaming_vocabulary(str(path))


def test_count_windows_equals_the_windows_the_shard_pipeline_cuts(tmp_path):
    import tensorflow as tf

    from elmo_lib import corpus

    # Streams of 5 + 6 = 11 and 4 tokens (words + <S>/</S> per line): (11-2)//3 + (4-2)//3 = 3.
    (tmp_path / "a.txt").write_text("w w w\n\n x\u00a0y z w\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("q q\n", encoding="utf-8")
    stream_tokens = {}
    corpus.streaming_vocabulary(str(tmp_path / "*.txt"), stream_tokens=stream_tokens)
    assert sorted(stream_tokens.values()) == [4, 11]
    assert corpus.count_windows(stream_tokens, 3) == 3
    cut = sum(len(list(corpus._file_windows(3)(tf.constant(f)))) for f in stream_tokens)
    assert cut == 3

"""elmo_lib.imdb: SST-2-style tokens for IMDB reviews, the reader, the overlap helper, and the
download (archive -> TSV) against a local HTTP server on 127.0.0.1."""

import dataclasses
import hashlib
import io
import logging
import tarfile

import pytest
from local_http import Body, Status, refused_url, serve

from elmo_lib import data, download, imdb

# ---------------------------------------------------------------- tokenizer (hand-written outputs)


@pytest.mark.parametrize("raw, expected", [
    ('He said "it doesn\'t (really) work."', "he said `` it does n't -lrb- really -rrb- work . ''"),
    ("I can't believe it's not butter!", "i ca n't believe it 's not butter !"),
    ("Won't, cannot, gonna, gotta: we'll see.", "wo n't , can not , gon na , got ta : we 'll see ."),
    ("I said no. Gone.", "i said no . gone ."),
    ("The actors' work was 'so-so', Mr. Smith said...", "the actors ' work was ` so-so ' , mr. smith said ..."),
    ("It cost $2,500 at 10:30 -- a bargain/steal ***", "it cost $ 2,500 at 10:30 -- a bargain\\/steal \\*\\*\\*"),
    ("The '70s [sic] {ok} in the U.S.", "the '70s -lsb- sic -rsb- -lcb- ok -rcb- in the u.s."),
    ("\u201cCurly\u201d quotes\u2026 and \u2018single\u2019 ones \u2014 see?!",
     "`` curly '' quotes ... and ` single ' ones -- see ?!"),
    ("Rated 7.5/10. Really..", "rated 7.5\\/10 . really ..."),
    ("", ""),
])
def test_tokenize_matches_sst2_conventions(raw, expected):
    assert imdb.tokenize(raw) == expected.split()


def test_html_breaks_and_entities_are_cleaned():
    review = "Great film.<br /><br />Loved it &amp; more<BR>so <p>much</p>."
    assert imdb.clean_html(review) == "Great film.\n\nLoved it & more\nso \nmuch\n."
    assert imdb.review_sentences(review) == [["great", "film", "."], ["loved", "it", "&", "more"],
                                             ["so"], ["much"], ["."]]


def test_split_sentences_keeps_abbreviations_and_initials():
    text = "So did I. Then J. Barry met Mr. X in the U.S. Army! Why? Okay... and then 2 more.<br />End"
    assert imdb.split_sentences(text) == ["So did I.", "Then J. Barry met Mr. X in the U.S. Army!", "Why?",
                                          "Okay... and then 2 more.", "End"]
    assert imdb.split_sentences(' "Stop." She left.') == ['"Stop."', "She left."]


def test_tokenize_refuses_non_strings():
    with pytest.raises(TypeError, match="sentence must be a str, received list"):
        imdb.tokenize(["a"])
    with pytest.raises(TypeError, match="review must be a str, received bytes"):
        imdb.split_sentences(b"a")


# ---------------------------------------------------------------- the reader on a tiny fixture


# the `isolated` fixture (an empty data directory, no proxy) is shared: tests/conftest.py


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def place(isolated, monkeypatch, files: dict[str, bytes], **changes):
    """Put ``files`` in $ELMO_DATA_DIR/imdb/ and register their sha256 (plus other changes)."""
    (isolated / "env" / "imdb").mkdir(exist_ok=True)
    for name, content in files.items():
        (isolated / "env" / "imdb" / name).write_bytes(content)
    spec = data.DATASETS["imdb"]
    registered = {**spec.files, **{name: sha(content) for name, content in files.items()}}
    monkeypatch.setitem(data.DATASETS, "imdb", dataclasses.replace(spec, files=registered, **changes))


UNSUP = (b"0\t0\tA fine film.<br /><br />I didn't like the end (at all). Mr. Big was great!\n"
         b"1\t0\tBad.\n"
         b"2\t0\tIt's \"okay\".\n")


def test_reader_on_a_tiny_file(isolated, monkeypatch):
    place(isolated, monkeypatch, {"train_unsup.tsv": UNSUP})
    assert imdb.load_reviews(max_reviews=2) == ["A fine film.<br /><br />I didn't like the end (at all). "
                                                "Mr. Big was great!", "Bad."]
    assert [" ".join(s) for s in imdb.unsup_sentences()] == [
        "a fine film .", "i did n't like the end -lrb- at all -rrb- .", "mr. big was great !", "bad .",
        "it 's `` okay '' ."]
    assert len(list(imdb.unsup_sentences(max_sentences=2))) == 2
    assert len(list(imdb.unsup_sentences(max_reviews=1))) == 3


def test_labelled_reader(isolated, monkeypatch):
    place(isolated, monkeypatch, {"train_neg.tsv": b"3\t1\tAwful.\n7\t4\tMeh.\n", "train_pos.tsv": b"5\t10\tGreat.\n"})
    texts, labels = imdb.load_imdb("train")
    assert texts == ["Awful.", "Meh.", "Great."] and labels.tolist() == [0, 0, 1] and labels.dtype == "int32"
    with pytest.raises(ValueError, match="unknown IMDB split 'dev'"):
        imdb.load_imdb("dev")


@pytest.mark.parametrize("content, message", [
    (b"", "imdb/train_unsup.tsv holds no reviews"),
    (b"0\t0\tfine\n1\t0\t \n", r"imdb/train_unsup.tsv line 2: expected '<id>\\t<rating>\\t<text>'"),
    (b"0\t0\tfine\nno tabs here\n", "line 2: expected"),
    (b"x\t0\tfine\n", "line 1: expected"),
])
def test_odd_files_are_clear_errors(isolated, monkeypatch, content, message):
    place(isolated, monkeypatch, {"train_unsup.tsv": content})
    with pytest.raises(ValueError, match=message):
        imdb.load_reviews()


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown IMDB part 'unsup'.*train_unsup"):
        imdb.load_reviews("unsup")
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=f"max_reviews must be a positive int or None, received {bad!r}"):
            imdb.load_reviews(max_reviews=bad)
        with pytest.raises(ValueError, match="max_sentences must be a positive int"):
            imdb.sentences(["a."], max_sentences=bad)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match="received one str"):
        imdb.sentences("one review.")
    with pytest.raises(TypeError, match="review 1 must be a str, received int"):
        list(imdb.sentences(["fine.", 3]))


def test_missing_file_names_the_file_and_every_url(isolated, monkeypatch):
    urls = [refused_url("/a/aclImdb_v1.tar.gz"), refused_url("/b/aclImdb_v1.tar.gz")]
    mirror = data.DATASETS["imdb"].mirrors[0]
    place(isolated, monkeypatch, {}, mirrors=tuple(dataclasses.replace(mirror, url=url) for url in urls))
    with pytest.raises(FileNotFoundError) as info:
        imdb.load_reviews()
    message = str(info.value)
    assert "imdb/train_unsup.tsv" in message and "dataset 'imdb'" in message
    for url in urls:
        assert f"  {url}: connection failed" in message
    assert files_under(isolated / "repo") == []


# ---------------------------------------------------------------- overlap with SST-2 dev/test


def test_drop_overlap_on_a_small_fixture():
    corpus = [["a", "fine", "film", "."], ["Bad", "."], ["bad", "."], ["it", "'s", "new", "."], ["x"]]
    held_out = {"dev": ["bad .", "never seen ."], "test": [["A", "fine", "film", "."], ["x", "y"]]}
    kept, report = imdb.drop_overlap(corpus, held_out)
    assert kept == [["it", "'s", "new", "."], ["x"]]
    assert report == {"corpus_sentences": 5, "corpus_tokens": 13, "kept": 2, "kept_tokens": 5, "dropped": 3,
                      "held_out": {"dev": {"sentences": 2, "found": 1, "examples": ["bad ."]},
                                   "test": {"sentences": 2, "found": 1, "examples": ["a fine film ."]}}}


def test_drop_overlap_errors():
    with pytest.raises(ValueError, match="held_out is empty"):
        imdb.drop_overlap([["a"]], {})
    with pytest.raises(ValueError, match=r"held_out\['dev'\] holds no sentences"):
        imdb.drop_overlap([["a"]], {"dev": []})
    with pytest.raises(ValueError, match=r"held_out\['dev'\] must be a list of sentences, received one str"):
        imdb.drop_overlap([["a"]], {"dev": "a b"})
    with pytest.raises(ValueError, match="the corpus holds no sentences"):
        imdb.drop_overlap([], {"dev": ["a"]})
    with pytest.raises(ValueError, match="corpus must be a list of token lists"):
        imdb.drop_overlap("a b", {"dev": ["a"]})
    with pytest.raises(TypeError, match="corpus: a sentence must be a str or a list of str"):
        imdb.drop_overlap([["a", 1]], {"dev": ["a"]})


# ---------------------------------------------------------------- download: archive -> TSV


def test_registry_entry():
    spec = data.DATASETS["imdb"]
    [mirror] = spec.mirrors
    assert mirror.url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert mirror.convert == "aclimdb-tsv" and len(mirror.sha256) == 64
    assert mirror.members == {f"{part}.tsv": "aclImdb/" + part.replace("_", "/") for part in imdb.PARTS}
    assert set(spec.files) == {f"{part}.tsv" for part in imdb.PARTS}
    with pytest.raises(ValueError, match="unknown converter 'nope'"):
        data._converter("nope")


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# A tiny aclImdb: review files in each folder (ids out of order, one with CR LF and a tab), and the
# archive's other files, which the conversion ignores.
FAKE = {
    "aclImdb/README": b"Large Movie Review Dataset v1.0\n",
    "aclImdb/imdb.vocab": b"the\nand\n",
    "aclImdb/train/urls_unsup.txt": b"http://www.imdb.com/title/tt0000001/usercomments\n",
    "aclImdb/train/unsupBow.feat": b"0 0:1\n",
    "aclImdb/train/unsup/10_0.txt": b"Ten.<br /><br />Still ten.",
    "aclImdb/train/unsup/2_0.txt": "Two\r\n\tlines, caf\u00e9.".encode(),
    "aclImdb/train/pos/0_9.txt": b"Loved it.",
    "aclImdb/train/neg/1_2.txt": b"Hated it.",
    "aclImdb/test/pos/4_8.txt": b"Good.",
    "aclImdb/test/neg/3_1.txt": b"Poor.",
}
EXPECTED = {"train_unsup.tsv": "2\t0\tTwo lines, caf\u00e9.\n10\t0\tTen.<br /><br />Still ten.\n".encode(),
            "train_pos.tsv": b"0\t9\tLoved it.\n", "train_neg.tsv": b"1\t2\tHated it.\n",
            "test_pos.tsv": b"4\t8\tGood.\n", "test_neg.tsv": b"3\t1\tPoor.\n"}


def register_fake(monkeypatch, routes_urls, archive: bytes):
    spec = data.DATASETS["imdb"]
    mirror = spec.mirrors[0]
    mirrors = tuple(dataclasses.replace(mirror, url=url, sha256=sha(archive)) for url in routes_urls)
    monkeypatch.setitem(data.DATASETS, "imdb", dataclasses.replace(
        spec, files={name: sha(content) for name, content in EXPECTED.items()}, mirrors=mirrors))


def test_download_converts_the_archive_to_the_registered_tsvs(isolated, monkeypatch, caplog):
    archive = tar_gz(FAKE)
    tampered = tar_gz({**FAKE, "aclImdb/train/pos/0_9.txt": b"Loathed it."})
    with serve({"/dead.tar.gz": Status(404), "/tampered.tar.gz": Body(tampered),
                "/aclImdb_v1.tar.gz": Body(archive)}) as server:
        register_fake(monkeypatch, [server.url(p) for p in ("/dead.tar.gz", "/tampered.tar.gz",
                                                            "/aclImdb_v1.tar.gz")], archive)
        with caplog.at_level(logging.WARNING):
            reviews = imdb.load_reviews()
        texts, labels = imdb.load_imdb("test")
        assert texts == ["Poor.", "Good."] and labels.tolist() == [0, 1]
        assert [path for path, _ in server.requests] == ["/dead.tar.gz", "/tampered.tar.gz", "/aclImdb_v1.tar.gz"]
    assert reviews == ["Two lines, caf\u00e9.", "Ten.<br /><br />Still ten."]
    failures = [r.getMessage() for r in caplog.records if r.name == "elmo_lib.download"]
    assert "HTTP 404" in failures[0] and "sha256 of the archive is" in failures[1]
    assert files_under(isolated) == sorted(f"repo/imdb/{name}" for name in EXPECTED)  # one download, 5 files
    for name, content in EXPECTED.items():
        assert (isolated / "repo" / "imdb" / name).read_bytes() == content


@pytest.mark.parametrize("archive, reason", [
    (b"<html>moved</html>", "not a tar archive of aclImdb"),
    (tar_gz({k: v for k, v in FAKE.items() if "/test/neg/" not in k}), "no <id>_<rating>.txt reviews in aclImdb/test/neg/"),
    (tar_gz({**FAKE, "aclImdb/test/neg/3_1.txt": b"caf\xe9 !"}), "aclImdb/test/neg/3_1.txt is not UTF-8"),
    (tar_gz({**FAKE, "aclImdb/test/neg/3_1.txt": b"Poorer."}), "sha256 of test_neg.tsv is"),
])
def test_bad_archives_are_refused_and_leave_nothing(isolated, monkeypatch, archive, reason):
    with serve({"/aclImdb_v1.tar.gz": Body(archive)}) as server:
        register_fake(monkeypatch, [server.url("/aclImdb_v1.tar.gz")], archive)  # archive sha256 "right"
        with pytest.raises(FileNotFoundError) as info:
            imdb.load_reviews()
    assert f"{server.url('/aclImdb_v1.tar.gz')}: " in str(info.value) and reason in str(info.value)
    assert isinstance(info.value.__cause__, download.DownloadError)
    assert files_under(isolated) == []


@pytest.mark.slow
def test_conversion_rebuilds_the_shared_files_byte_for_byte(data_dir, tmp_path):
    """The shared TSVs, written back as an aclImdb-like tar of <id>_<rating>.txt files (in the
    archive's unsorted order), convert to files with the registry's sha256."""
    members = {}
    for name in data.DATASETS["imdb"].files:
        folder = "aclImdb/" + name.removesuffix(".tsv").replace("_", "/")
        for line in data._lines((data_dir / "imdb" / name).read_text(encoding="utf-8")):
            review_id, rating, review = line.split("\t")
            members[f"{folder}/{review_id}_{rating}.txt"] = review.encode()
    archive = tmp_path / "aclImdb.tar"
    with tarfile.open(archive, "w") as opened:
        for name in sorted(members):  # by name, so ids come as 0, 1, 10, 100, ...
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            opened.addfile(info, io.BytesIO(members[name]))
    del members
    spec = data.DATASETS["imdb"]
    outputs = {spec.mirrors[0].members[name]: tmp_path / name for name in spec.files}
    imdb.archive_to_tsv(archive, outputs)
    for name, expected in spec.files.items():
        assert download.sha256_of(tmp_path / name) == expected, name

"""elmo_lib.data: published dataset counts, lookup/checksum/download safety, LM batches."""

import dataclasses
import hashlib
import io
import json
import logging
import pathlib
import re
import tarfile
import tracemalloc
import zipfile

import numpy as np
import pytest
from local_http import Body, RefusesPythonAgent, Status, Truncated, refused_url, serve

from elmo_lib import data, download, text

# ---------------------------------------------------------------- real data: published counts


@pytest.fixture(scope="module")
def wikitext_train(data_dir):
    return data.load_wikitext2("train")


def test_wikitext2_counts(wikitext_train):
    train = wikitext_train
    assert len(train) == 36_718
    assert data.count_lm_tokens(train) == 2_088_628
    assert train[1] == ["=", "Valkyria", "Chronicles", "III", "="] and train[0] == []
    assert data.count_lm_tokens(data.load_wikitext2("valid")) == 217_646
    assert data.count_lm_tokens(data.load_wikitext2("test")) == 245_569
    assert len(data.load_wikitext2("validation")) == 3_760
    assert len(text.Vocabulary.from_corpus(train)) == 33_277 + 3  # published 33,278 incl. <eos>


def test_sst2_counts(data_dir):
    for split, negative, positive in [("train", 3310, 3610), ("dev", 428, 444), ("test", 912, 909)]:
        texts, labels = data.load_sst2(split)
        assert labels.dtype == np.int32 and len(texts) == len(labels) == negative + positive
        assert (labels == 0).sum() == negative and (labels == 1).sum() == positive
    texts, labels = data.load_sst2("validation")
    assert len(texts) == 872 and texts[0] == "one long string of cliches ." and labels[0] == 0


def test_sst2_glue_counts_and_dev_is_the_sentence_level_dev(data_dir):
    texts, labels = data.load_sst2_glue("train")
    assert len(texts) == len(labels) == 67_349 and labels.dtype == np.int32
    assert (labels == 0).sum() == 29_780 and (labels == 1).sum() == 37_569
    assert texts[0] == "hide new secretions from the parental units"  # trailing space stripped
    glue_dev = data.load_sst2_glue("validation")
    assert len(glue_dev[0]) == 872 and (glue_dev[1] == 0).sum() == 428
    # with PTB escapes the 872 GLUE dev sentences are exactly stsa.binary.dev (texts and labels)
    sentence_dev = data.load_sst2("dev")
    assert sorted(zip(glue_dev[0], glue_dev[1].tolist())) == sorted(zip(sentence_dev[0], sentence_dev[1].tolist()))


def test_sst2_glue_tokens_follow_the_sentence_level_files(data_dir):
    glue_tokens = {token for sentence in data.load_sst2_glue("train")[0] for token in sentence.split()}
    sentence_tokens = {token for sentence in data.load_sst2("train")[0] for token in sentence.split()}
    assert "(" not in glue_tokens and ")" not in glue_tokens and "-lrb-" in glue_tokens
    assert not any("/" in t and "\\/" not in t for t in glue_tokens) and "writer\\/director" in glue_tokens
    assert len(glue_tokens & sentence_tokens) > 0.99 * len(sentence_tokens)  # one vocabulary


def test_sst2_glue_test_split_has_no_labels(data_dir):
    with pytest.raises(ValueError, match=r"test.tsv has no labels.*with_labels=False.*load_sst2\('test'\)"):
        data.load_sst2_glue("test")
    texts = data.load_sst2_glue("test", with_labels=False)
    assert len(texts) == 1_821 and texts[0] == "uneasy mishmash of styles and genres ."


def test_sst2_glue_reader_by_hand(isolated, monkeypatch):
    files = {"dev.tsv": "sentence\tlabel\na ( b ) c/d \t1\nworse \t0\n",
             "test.tsv": "index\tsentence\n0\tfine ( really ) .\n",
             "train.tsv": "sentence\tlabel\nno label here\t\n"}
    (isolated / "env" / "sst2-glue").mkdir()
    for name, content in files.items():
        (isolated / "env" / "sst2-glue" / name).write_text(content, encoding="utf-8")
    register(monkeypatch, "sst2-glue", files={n: sha(c.encode()) for n, c in files.items()})
    texts, labels = data.load_sst2_glue("dev")
    assert texts == ["a -lrb- b -rrb- c\\/d", "worse"] and labels.tolist() == [1, 0]
    assert data.load_sst2_glue("test", with_labels=False) == ["fine -lrb- really -rrb- ."]
    with pytest.raises(ValueError, match=r"sst2-glue/train.tsv line 2: expected 'sentence\\tlabel'"):
        data.load_sst2_glue("train")
    with pytest.raises(ValueError, match="valid splits"):
        data.load_sst2_glue("phrases")


def test_sst2_readers_refuse_empty_texts(isolated, monkeypatch):
    """A label with no text would reach the task model as an empty sentence (pooled to zeros)."""
    files = {("sst2", "stsa.binary.dev"): "1 good movie\n0 \n1\n",
             ("sst2-glue", "dev.tsv"): "sentence\tlabel\nfine\t1\n \t0\n"}
    for (dataset, name), content in files.items():
        (isolated / "env" / dataset).mkdir()
        (isolated / "env" / dataset / name).write_text(content, encoding="utf-8")
        register(monkeypatch, dataset, files={name: sha(content.encode())})
    with pytest.raises(ValueError, match=r"stsa\.binary\.dev line 2: expected '<0\|1> <text>', got '0 '"):
        data.load_sst2("dev")
    with pytest.raises(ValueError, match=r"sst2-glue/dev\.tsv line 3: .* with a text and a 0/1 label"):
        data.load_sst2_glue("dev")
    with pytest.raises(ValueError, match=r"unknown split \['dev'\]"):  # not a TypeError from a dict
        data.load_sst2(["dev"])


def test_mr_counts_and_cp1252(data_dir):
    texts, labels = data.load_mr()
    assert len(texts) == 10_662 and (labels == 1).sum() == 5_331 and (labels == 0).sum() == 5_331
    assert labels[:5_331].all() and not labels[5_331:].any()
    assert any("\u2026" in t for t in texts)  # byte 0x85 is "…" in cp1252, not a line break
    assert texts[0].startswith("the rock is destined to be the 21st century's new")


def test_ud_ewt_counts(data_dir):
    for split, sentences, words in [("train", 12_544, 204_577), ("dev", 2_001, 25_147),
                                    ("test", 2_077, 25_094)]:
        tokens, upos = data.load_ud_ewt(split)
        assert len(tokens) == len(upos) == sentences
        assert [len(t) for t in tokens] == [len(u) for u in upos]
        assert sum(len(t) for t in tokens) == words  # syntactic words (stats.xml)
    assert "PROPN" in upos[0] and all(u.isupper() for u in upos[0])


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="valid splits"):
        data.load_sst2("validate")
    with pytest.raises(ValueError, match="wikitext-2"):
        data.find_file("wikitext-3", "x")
    with pytest.raises(ValueError, match="stsa.binary.train"):
        data.find_file("sst2", "stsa.binary.nope")


def test_manifest_json_equals_registry():
    manifest = pathlib.Path(data.__file__).resolve().parents[1] / "data" / "manifest.json"
    expected = {name: dataclasses.asdict(spec) for name, spec in data.DATASETS.items()}
    assert json.loads(manifest.read_text(encoding="utf-8")) == json.loads(json.dumps(expected))


def test_readme_sha256_table_equals_registry():
    readme = (pathlib.Path(data.__file__).resolve().parents[1] / "data" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|$", readme, flags=re.MULTILINE)
    table = {path: digest for path, _, digest in rows}
    assert table == {f"{spec.subdirectory}/{rel}": digest
                     for spec in data.DATASETS.values() for rel, digest in spec.files.items()}


def test_readme_sizes_match_the_real_files(data_dir):
    readme = (pathlib.Path(data.__file__).resolve().parents[1] / "data" / "README.md").read_text(encoding="utf-8")
    for path, size, _ in re.findall(r"^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|$", readme, flags=re.MULTILINE):
        assert (data_dir / path).stat().st_size == int(size.replace(",", "")), path


# ---------------------------------------------------------------- lookup, checksums, downloads


# the `isolated` fixture (an empty data directory, no proxy) is shared: tests/conftest.py


def register(monkeypatch, name, **changes):
    monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(data.DATASETS[name], **changes))


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_invalid_utf8_is_a_clear_error(isolated, monkeypatch):
    content = b"1 good\n0 caf\xe9 bad\n"  # latin-1 byte 0xE9 at offset 12
    (isolated / "env" / "sst2").mkdir()
    (isolated / "env" / "sst2" / "stsa.binary.dev").write_bytes(content)
    register(monkeypatch, "sst2", files={"stsa.binary.dev": sha(content)})
    with pytest.raises(ValueError, match=r"stsa\.binary\.dev: invalid utf-8 at byte offset 12"):
        data.load_sst2("dev")


def test_corrupt_file_raises_checksum_error(isolated):
    path = isolated / "env" / "sst2" / "stsa.binary.dev"
    path.parent.mkdir()
    path.write_bytes(b"1 not the real file\n")
    with pytest.raises(data.ChecksumError) as info:
        data.load_sst2("dev")
    message = str(info.value)
    assert str(path) in message and sha(b"1 not the real file\n") in message
    assert data.DATASETS["sst2"].files["stsa.binary.dev"] in message
    assert isinstance(info.value, ValueError)


def test_verification_is_cached_but_notices_changes(isolated, monkeypatch):
    content = b"1 fine\n"
    path = isolated / "env" / "sst2" / "stsa.binary.dev"
    path.parent.mkdir()
    path.write_bytes(content)
    register(monkeypatch, "sst2", files={"stsa.binary.dev": sha(content)})
    calls = []
    real = data._sha256
    monkeypatch.setattr(data, "_sha256", lambda p: calls.append(p) or real(p))
    assert data.find_file("sst2", "stsa.binary.dev") == path
    assert data.find_file("sst2", "stsa.binary.dev") == path
    assert len(calls) == 1
    path.write_bytes(b"1 tampered\n")
    with pytest.raises(data.ChecksumError):
        data.find_file("sst2", "stsa.binary.dev")


def test_missing_file_without_network(isolated, monkeypatch):
    urls = [refused_url("/a/"), refused_url("/b/")]
    register(monkeypatch, "sst2", mirrors=(data.Mirror(urls[0]), data.Mirror(urls[1])))
    with pytest.raises(FileNotFoundError) as info:
        data.load_sst2("dev")
    message = str(info.value)
    assert "dataset 'sst2'" in message and "sst2/stsa.binary.dev" in message
    assert "ELMO_DATA_DIR" in message and "sha256" in message
    for url in urls:
        assert f"  {url}stsa.binary.dev: connection failed" in message
    for place in ("env", "repo", "cache"):
        assert str(isolated / place / "sst2" / "stsa.binary.dev") in message
    assert isinstance(info.value.__cause__, download.DownloadError)
    assert files_under(isolated) == []


def test_download_false_never_fetches(isolated, monkeypatch):
    monkeypatch.setattr(download, "fetch", lambda *args, **kwargs: pytest.fail("network used"))
    with pytest.raises(FileNotFoundError, match="download=False") as info:
        data.find_file("wikitext-2", "wiki.test.tokens", download=False)
    for url in data.DATASETS["wikitext-2"].file_urls("wiki.test.tokens"):
        assert url in str(info.value)


def test_registry_mirror_order():
    wikitext = data.DATASETS["wikitext-2"].file_urls("wiki.train.tokens")
    assert wikitext[0] == "https://wikitext.smerity.com/wikitext-2-v1.zip"  # the author's mirror first
    assert wikitext[-1] == "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
    for spec in data.DATASETS.values():
        for mirror in spec.mirrors:
            assert mirror.url.startswith("https://") and mirror.note
            assert not mirror.members or set(mirror.members) == set(spec.files)  # archives: every file
            assert mirror.members or mirror.url.endswith("/")


def test_download_goes_to_temp_name_then_final(isolated, monkeypatch):
    content = b"1 good movie\n0 bad movie\n"
    with serve({"/dead/stsa.binary.dev": Status(403), "/data/stsa.binary.dev": Body(content)}) as server:
        register(monkeypatch, "sst2", files={"stsa.binary.dev": sha(content)},
                 mirrors=(data.Mirror(server.url("/dead/")), data.Mirror(server.url("/data/"))))
        texts, labels = data.load_sst2("dev")
        assert [path for path, _ in server.requests] == ["/dead/stsa.binary.dev", "/data/stsa.binary.dev"]
    assert texts == ["good movie", "bad movie"] and labels.tolist() == [1, 0]
    assert files_under(isolated) == ["repo/sst2/stsa.binary.dev"]


def test_corrupt_downloads_leave_no_file(isolated, monkeypatch):
    with serve({"/a/stsa.binary.dev": Body(b"<html>rate limited</html>"),
                "/b/stsa.binary.dev": Truncated(b"1 good movie\n", 4)}) as server:
        register(monkeypatch, "sst2", files={"stsa.binary.dev": sha(b"1 good movie\n")},
                 mirrors=(data.Mirror(server.url("/a/")), data.Mirror(server.url("/b/"))))
        with pytest.raises(FileNotFoundError) as info:
            data.load_sst2("dev")
    message = str(info.value)
    assert f"{server.url('/a/')}stsa.binary.dev: sha256 of stsa.binary.dev is " in message
    assert f"{server.url('/b/')}stsa.binary.dev: truncated: received 4 of 13 bytes" in message
    assert files_under(isolated) == []


def make_archive(kind, members) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, content in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


MR_POS, MR_NEG = b"good \x96 fun .\n", b"dull .\nbad .\n"
MR_MEMBERS = {"rt-polarity.pos": "rt-polaritydata/rt-polarity.pos",
              "rt-polarity.neg": "rt-polaritydata/rt-polarity.neg"}


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_archive_extracts_only_registered_members(isolated, monkeypatch, kind):
    archive = make_archive(kind, {"rt-polaritydata/rt-polarity.pos": MR_POS,
                                  "rt-polaritydata/rt-polarity.neg": MR_NEG, "../evil": b"x"})
    with serve({"/upstream": Body(archive)}) as server:
        register(monkeypatch, "mr", files={"rt-polarity.pos": sha(MR_POS), "rt-polarity.neg": sha(MR_NEG)},
                 mirrors=(data.Mirror(server.url("/upstream"), MR_MEMBERS, "test"),))
        texts, labels = data.load_mr()
        assert len(server.requests) == 1  # one download gives both files
    assert texts == ["good \u2013 fun .", "dull .", "bad ."] and labels.tolist() == [1, 0, 0]
    assert files_under(isolated) == ["repo/mr/rt-polarity.neg", "repo/mr/rt-polarity.pos"]


@pytest.mark.parametrize("relpath, member", [("evil", "../evil"), ("../../evil", "rt-polaritydata/rt-polarity.pos")])
def test_archive_path_traversal_refused(isolated, monkeypatch, relpath, member):
    archive = make_archive("tar", {"rt-polaritydata/rt-polarity.pos": MR_POS, "../evil": b"x"})
    with serve({"/upstream": Body(archive)}) as server:
        register(monkeypatch, "mr", files={relpath: sha(b"x")},
                 mirrors=(data.Mirror(server.url("/upstream"), {relpath: member}),))
        with pytest.raises(ValueError, match="refusing archive member"):
            data.find_file("mr", relpath)
        assert server.requests == []  # refused before any download
    assert files_under(isolated) == []
    assert not (isolated.parent / "evil").exists()


def test_bad_archives_fall_through_to_the_next_mirror(isolated, monkeypatch, caplog):
    tampered = make_archive("tar", {"rt-polaritydata/rt-polarity.pos": b"tampered\n",
                                    "rt-polaritydata/rt-polarity.neg": MR_NEG})
    routes = {"/tampered.tar.gz": Body(tampered), "/html.zip": Body(b"<html>moved</html>"),
              "/files/rt-polarity.pos": Body(MR_POS), "/files/rt-polarity.neg": Body(MR_NEG)}
    with serve(routes) as server:
        register(monkeypatch, "mr", files={"rt-polarity.pos": sha(MR_POS), "rt-polarity.neg": sha(MR_NEG)},
                 mirrors=(data.Mirror(server.url("/tampered.tar.gz"), MR_MEMBERS),
                          data.Mirror(server.url("/html.zip"), MR_MEMBERS),
                          data.Mirror(server.url("/files/"))))
        with caplog.at_level(logging.WARNING):
            texts, _ = data.load_mr()
    assert texts[0] == "good \u2013 fun ."
    failures = [r.getMessage() for r in caplog.records if r.name == "elmo_lib.download"]
    # rt-polarity.pos: the tampered archive and the HTML page fail, the files mirror works;
    # rt-polarity.neg: the tampered archive's neg member is good (each member is checked alone)
    assert len(failures) == 2
    assert "sha256 of rt-polarity.pos is" in failures[0] and "not a zip or tar archive" in failures[1]
    assert files_under(isolated) == ["repo/mr/rt-polarity.neg", "repo/mr/rt-polarity.pos"]


def real_mirror_routes(spec, mirror, path, data_dir):
    """Routes serving ``mirror``'s layout at ``path`` with the real files: an archive or the files."""
    real = {rel: (data_dir / spec.subdirectory / rel).read_bytes() for rel in spec.files}
    if mirror.members:
        kind = "zip" if mirror.url.split("?")[0].endswith(".zip") else "tar"
        return {path: Body(make_archive(kind, {mirror.members[rel]: real[rel] for rel in spec.files}))}
    return {path + rel: Body(content) for rel, content in real.items()}


@pytest.mark.parametrize("name, working", [(name, index) for name, spec in data.DATASETS.items()
                                           for index in range(len(spec.mirrors))
                                           if not any(m.convert for m in spec.mirrors)])
def test_every_registered_mirror_layout_gives_the_real_files(isolated, monkeypatch, data_dir, name, working):
    """Each mirror's layout (archive members as the registry maps them, or base URL + file) served
    with the real files from 127.0.0.1: earlier mirrors fail (refused, 403), mirror ``working``
    answers only to our User-Agent, later ones are never asked. Mirrors whose files are converted
    from the archive (IMDB) are tested in test_imdb.py."""
    spec = data.DATASETS[name]
    routes = {}
    for index, mirror in enumerate(spec.mirrors):
        path = f"/m{index}/" if not mirror.members else f"/m{index}/archive"
        if index == working:
            routes.update({p: RefusesPythonAgent(b.content)
                           for p, b in real_mirror_routes(spec, mirror, path, data_dir).items()})
        else:
            routes.update({p: Status(403) for p in real_mirror_routes(spec, mirror, path, data_dir)})
    with serve(routes) as server:
        mirrors = [dataclasses.replace(m, url=server.url(f"/m{i}/" if not m.members else f"/m{i}/archive"))
                   for i, m in enumerate(spec.mirrors)]
        if working > 0:
            mirrors[0] = dataclasses.replace(mirrors[0], url=refused_url(
                "/" if not mirrors[0].members else "/archive"))
        register(monkeypatch, name, mirrors=tuple(mirrors))
        for rel in spec.files:
            path = data.find_file(name, rel)
            assert path == isolated / "repo" / spec.subdirectory / rel
            assert path.read_bytes() == (data_dir / spec.subdirectory / rel).read_bytes()
        asked = {int(p.split("/")[1][1:]) for p, _ in server.requests}
    assert asked == set(range(1 if working > 0 else 0, working + 1))
    assert files_under(isolated) == sorted(f"repo/{spec.subdirectory}/{rel}" for rel in spec.files)


# ---------------------------------------------------------------- language-model batches

TINY = [["a", "b", "c"], [], ["d", "e"]]  # stream: <S> a b c </S> <S> d e </S>
TINY_VOCAB = text.Vocabulary(["<S>", "</S>", "<UNK>", "a", "b", "c", "d"])  # "e" is OOV


def batches(dataset):
    return [({k: v.numpy() for k, v in x.items()}, {k: v.numpy() for k, v in y.items()})
            for x, y in dataset]


def test_lm_windows_by_hand():
    dataset = data.lm_dataset(TINY, TINY_VOCAB, batch_size=2, unroll_steps=3, shuffle=False)
    [(inputs, targets)] = batches(dataset)
    # windows start at j = 0 and 3: inputs s[j+1:j+4], next s[j+2:j+5], previous s[j:j+3]
    assert inputs["token_ids"].tolist() == [[3, 4, 5], [1, 0, 6]]  # a b c | </S> <S> d
    assert targets["next_token_ids"].tolist() == [[4, 5, 1], [0, 6, 2]]  # b c </S> | <S> d e
    assert targets["previous_token_ids"].tolist() == [[0, 3, 4], [5, 1, 0]]  # <S> a b | c </S> <S>
    assert targets["mask"].tolist() == [[1, 1, 1], [1, 1, 1]] and targets["mask"].dtype == np.float32
    expected_chars = text.char_ids([["a", "b", "c"], ["</S>", "<S>", "d"]])
    assert inputs["char_ids"].dtype == np.int32 and np.array_equal(inputs["char_ids"], expected_chars)
    for ids in (inputs["token_ids"], targets["next_token_ids"], targets["previous_token_ids"]):
        assert ids.dtype == np.int32  # as documented (np.append used to widen them to int64)
    assert data.lm_num_windows(TINY, 3) == 2 and data.lm_steps_per_epoch(TINY, 2, 3) == 1


def test_lm_partial_window_and_oov_chars():
    dataset = data.lm_dataset(TINY, TINY_VOCAB, 2, 3, shuffle=False, drop_remainder=False)
    first, (inputs, targets) = batches(dataset)
    assert first[0]["token_ids"].shape == (2, 3)
    # the last window starts at j = 6: input "e" (OOV -> <UNK> id 2), then padding
    assert inputs["token_ids"].tolist() == [[2, 0, 0]]
    assert targets["next_token_ids"].tolist() == [[1, 0, 0]]  # </S>
    assert targets["previous_token_ids"].tolist() == [[6, 0, 0]]  # d
    assert targets["mask"].tolist() == [[1, 0, 0]]
    assert inputs["char_ids"][0, 0].tolist() == text.token_char_ids("e").tolist()  # real chars
    assert not inputs["char_ids"][0, 1:].any()
    assert data.lm_num_windows(TINY, 3, drop_remainder=False) == 3
    assert data.lm_steps_per_epoch(TINY, 2, 3, drop_remainder=False) == 2


def test_lm_include_flags():
    inputs, targets = batches(data.lm_dataset(TINY, TINY_VOCAB, 1, 2, include_char_ids=False))[0]
    assert set(inputs) == {"token_ids"} and set(targets) == {"next_token_ids", "previous_token_ids", "mask"}
    inputs, _ = batches(data.lm_dataset(TINY, TINY_VOCAB, 1, 2, include_token_ids=False))[0]
    assert set(inputs) == {"char_ids"}


def test_lm_shuffle_is_seeded_and_covers_every_window():
    corpus = [[f"w{i}", f"w{i + 1}", "x"] for i in range(40)]
    vocab = text.Vocabulary.from_corpus(corpus)

    def order(seed, shuffle=True, repeat=False, take=-1):
        dataset = data.lm_dataset(corpus, vocab, 3, 5, seed=seed, shuffle=shuffle, repeat=repeat)
        return [row.tolist() for x, _ in dataset.take(take) for row in x["token_ids"].numpy()]

    assert order(1) == order(1) and order(1) != order(2)
    assert order(1) != order(0, shuffle=False) and sorted(order(1)) == sorted(order(0, shuffle=False))
    steps = data.lm_steps_per_epoch(corpus, 3, 5)
    assert steps == (40 * 5 - 2) // 5 // 3 == 13  # 39 windows, all used
    two_epochs = order(1, repeat=True, take=2 * steps)
    assert two_epochs[: 3 * steps] == order(1)  # a new order each epoch, same windows
    assert sorted(two_epochs[3 * steps :]) == sorted(order(1)) != two_epochs[3 * steps :]


def test_lm_argument_validation():
    with pytest.raises(ValueError, match="batch_size"):
        data.lm_dataset(TINY, TINY_VOCAB, 0, 3)
    with pytest.raises(ValueError, match="unroll_steps"):
        data.lm_dataset(TINY, TINY_VOCAB, 2, 0)
    with pytest.raises(ValueError, match=r"0 window\(s\).*0 stream tokens"):
        data.lm_dataset([[], []], TINY_VOCAB, 2, 3)
    with pytest.raises(ValueError, match="nothing to feed"):
        data.lm_dataset(TINY, TINY_VOCAB, 2, 3, include_char_ids=False, include_token_ids=False)
    with pytest.raises(ValueError, match="split"):
        data.lm_dataset(["a b c"], TINY_VOCAB, 2, 3)


def test_wikitext2_train_pipeline_does_not_materialise_char_ids(wikitext_train):
    train = wikitext_train
    vocab = text.Vocabulary.from_corpus(train)
    tracemalloc.start()
    try:
        dataset = data.lm_dataset(train, vocab, batch_size=16, unroll_steps=20, repeat=True)
        inputs, targets = next(iter(dataset))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert inputs["char_ids"].shape == (16, 20, 50) and targets["mask"].shape == (16, 20)
    # all char ids of the 2.1M-token stream would be 2.1M * 50 * 4 bytes = 420 MB
    assert peak < 64e6, f"peak {peak / 1e6:.0f} MB"
    stream = 2_051_910 + 2 * sum(1 for line in train if line)  # words + <S>, </S> per sentence
    assert data.lm_steps_per_epoch(train, 16, 20) == (stream - 2) // 20 // 16

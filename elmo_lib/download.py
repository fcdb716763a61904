"""Downloads that survive dead hosts: mirrors tried in order, a User-Agent sent, every byte checked.

A file is fetched into a temporary ``.part`` file next to its final place, checked (the byte count
against ``Content-Length``, then the caller's checks, e.g. sha256) and only then renamed into place,
so an interrupted, truncated or wrong download never sits under the final name (not after an
exception, not after Ctrl-C). A mirror that fails is logged in one line and the next one is tried;
when all fail, :class:`DownloadError` names what was wanted and every URL with its failure.

``keras.utils.get_file`` is not used because it cannot send a User-Agent without installing a
global ``urllib`` opener, and some hosts (the WikiText author's mirror) answer 403 to Python's
default one. Progress is shown with ``keras.utils.Progbar``.

Used by :mod:`elmo_lib.data` (datasets, lesson 01) and for pretrained model files.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

import keras

from elmo_lib import __version__, atomic

logger = logging.getLogger(__name__)

# Names the library and its version: polite, and hosts that refuse Python's default
# ("Python-urllib/3.x") accept it.
USER_AGENT = f"elmo_lib/{__version__}"
TIMEOUT_SECONDS = 60.0  # per connection attempt and per read: no download waits forever
PROGRESS_MIN_BYTES = 1 << 20  # with ``progress=None``, show a progress bar from this size on
_CHUNK_BYTES = 1 << 16

T = TypeVar("T")


class DownloadError(OSError):
    """No URL gave a good copy. ``failures`` lists ``(url, reason)`` in the order tried,
    ``errors`` the exceptions (``ValueError``: a copy arrived but failed a check)."""

    def __init__(self, message: str, failures: Sequence[tuple[str, str]],
                 errors: Sequence[BaseException] = ()):
        super().__init__(message)
        self.failures, self.errors = list(failures), list(errors)


class IncompleteDownloadError(OSError):
    """The connection ended before ``Content-Length`` bytes arrived (a truncated body)."""


class TooLargeError(OSError):
    """The body is bigger than the size the caller declared (``max_bytes``)."""


def confined(directory: str | os.PathLike, name: str, what: str) -> pathlib.Path:
    """``directory / name`` for a ``name`` from a registry or manifest (hostile input): one plain
    path component, or a relative path without ``..`` that stays inside ``directory``.

    Raises:
        ValueError: naming ``what`` and ``name``, when it would leave ``directory`` (``../x``,
            an absolute path, a drive, a backslash, an empty name).
    """
    parts = pathlib.PurePosixPath(name).parts if isinstance(name, str) else ()
    if (not parts or name.startswith("/") or "\\" in name or ":" in name
            or any(part in ("..", ".") for part in parts)):
        raise ValueError(f"refusing {what} {name!r}: a path must stay inside {directory}")
    path = pathlib.Path(directory, *parts)
    if not path.resolve().is_relative_to(pathlib.Path(directory).resolve()):
        raise ValueError(f"refusing {what} {name!r}: it leads outside {directory}")
    return path


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, destination: str | os.PathLike, *, timeout: float = TIMEOUT_SECONDS,
          progress: bool | None = None, max_bytes: int | None = None) -> int:
    """Write the body of ``url`` to the file ``destination`` (created or truncated).

    Sends ``User-Agent: elmo_lib/<version>``; follows redirects (301/302/303/307/308).

    Args:
        url: an ``http(s)://`` URL.
        destination: the file to write; the caller owns it (and removes it on failure).
        timeout: seconds to wait for the connection and for each read (a server that accepts and
            never answers fails after this long).
        progress: show a ``keras.utils.Progbar``; ``None`` shows one when the size is unknown or
            at least ``PROGRESS_MIN_BYTES``.
        max_bytes: the size the caller expects at most (a registry's declared size): a larger
            ``Content-Length`` is refused before reading, and reading stops one chunk past it.

    Returns:
        The number of bytes written.

    Raises:
        urllib.error.HTTPError: the server answered with an error status (e.g. 403, 404).
        urllib.error.URLError: no connection (refused, unknown host, TLS failure).
        IncompleteDownloadError: fewer (or more) bytes than the ``Content-Length`` header said.
        TooLargeError: more than ``max_bytes``.
        OSError: a timeout (``TimeoutError``) or a write error.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(destination, "wb") as out:
        header = response.headers.get("Content-Length", "")
        expected = int(header) if header.strip().isdigit() else None
        if max_bytes is not None and expected is not None and expected > max_bytes:
            raise TooLargeError(f"Content-Length {expected:,} is more than the {max_bytes:,} "
                                "bytes declared")
        show = progress if progress is not None else (expected is None or expected >= PROGRESS_MIN_BYTES)
        bar = None
        if show:
            print(f"Downloading {url}")
            bar = keras.utils.Progbar(expected, unit_name="B")
        received = 0
        while chunk := response.read(_CHUNK_BYTES):
            out.write(chunk)
            received += len(chunk)
            if max_bytes is not None and received > max_bytes:
                raise TooLargeError(f"more than the {max_bytes:,} bytes declared (stopped "
                                    f"reading at {received:,})")
            if bar is not None:
                bar.update(received)
    if expected is not None and received != expected:
        raise IncompleteDownloadError(f"truncated: received {received:,} of {expected:,} bytes "
                                      "(Content-Length)")
    if bar is not None and expected is None:
        bar.update(received, finalize=True)
    return received


def _reason(error: BaseException) -> str:
    """One line saying what went wrong, without a traceback."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"connection failed: {error.reason}"
    if isinstance(error, (IncompleteDownloadError, TooLargeError, ValueError)):
        return str(error)
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return f"no answer within the timeout ({error})"
    return f"{type(error).__name__}: {error}"


def download_first(urls: str | Sequence[str], directory: str | os.PathLike,
                   use: Callable[[str, pathlib.Path], T], *, description: str,
                   timeout: float = TIMEOUT_SECONDS, progress: bool | None = None,
                   max_bytes: int | None = None) -> T:
    """Try ``urls`` in order: download to a temporary file in ``directory`` and hand it to ``use``.

    ``use(url, temporary_path)`` checks the download and moves what it keeps into place (it may
    raise ``ValueError`` or ``OSError`` to reject it: the next URL is then tried). The temporary
    file is always removed, also after an exception or Ctrl-C (``KeyboardInterrupt`` is never
    caught). Each failure is logged as one warning line. ``elmo_lib.data.find_file`` uses it to
    extract and check archive members (lesson 01).

    Args:
        urls: the mirrors, best first.
        directory: where the temporary file goes (the final file's folder, so the rename is atomic).
        use: called with the URL and the downloaded temporary file; its result is returned.
        description: what is downloaded, for messages (e.g. ``"dataset 'wikitext-2' files ..."``).
        timeout, progress, max_bytes: as :func:`fetch`.

    Temporary files of killed earlier downloads in ``directory`` (their pid is dead) are deleted
    first (``elmo_lib.atomic.clean_stale``).

    Returns:
        What ``use`` returned for the first URL that worked.

    Raises:
        DownloadError: every URL failed; the message names ``description`` and each URL with
            its failure.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError(f"no URL to download {description} from")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic.clean_stale(directory, suffix=".part")
    failures, errors = [], []
    for url in urls:
        temporary = directory / f".download.{os.getpid()}.{uuid.uuid4().hex}.part"
        try:
            fetch(url, temporary, timeout=timeout, progress=progress, max_bytes=max_bytes)
            return use(url, temporary)
        except (OSError, ValueError, http.client.HTTPException) as error:  # not KeyboardInterrupt
            failures.append((url, _reason(error)))
            errors.append(error)
            logger.warning("download failed: %s: %s", url, failures[-1][1])
        finally:
            temporary.unlink(missing_ok=True)
    tried = "\n".join(f"  {url}: {reason}" for url, reason in failures)
    raise DownloadError(f"could not download {description}; tried in order:\n{tried}", failures,
                        errors)


def download_file(urls: str | Sequence[str], path: str | os.PathLike, *, sha256: str | None = None,
                  size: int | None = None, timeout: float = TIMEOUT_SECONDS,
                  progress: bool | None = None) -> pathlib.Path:
    """Download one file from the first of ``urls`` that gives a good copy; place it atomically.

    Example: ``download_file([primary, mirror], "models/x/weights.hdf5", sha256="9e9f...")``.
    Meant for pretrained model files (``elmo_lib.presets``, lessons 04 and 07); datasets use
    :func:`download_first` through ``elmo_lib.data.find_file`` (lesson 01).

    Args:
        urls: the file's URLs (mirrors), best first.
        path: the final path; its folder is created. An existing file is replaced only by a
            verified download.
        sha256: the expected hex sha256; ``None`` checks only the length (``Content-Length``).
        size: the expected size in bytes: reading stops past it, a shorter file is refused.
        timeout, progress: as :func:`fetch`.

    Returns:
        ``path`` as a ``pathlib.Path``.

    Raises:
        DownloadError: no URL gave a file with the right length and sha256; the message names
            ``path`` and every URL with its failure (HTTP status, refused connection, truncated
            body, sha256 mismatch).
    """
    path = pathlib.Path(path)

    def place(url: str, temporary: pathlib.Path) -> pathlib.Path:
        if size is not None and (found := temporary.stat().st_size) != size:
            raise ValueError(f"{path.name} has {found:,} bytes, expected {size:,}")
        if sha256 is not None and (actual := sha256_of(temporary)) != sha256:
            raise ValueError(f"sha256 of {path.name} is {actual}, expected {sha256}")
        atomic.fsync_file(temporary)
        os.replace(temporary, path)
        atomic.fsync_directory(path.parent)
        return path

    return download_first(urls, path.parent, place, description=str(path), timeout=timeout,
                          progress=progress, max_bytes=size)


def cached_url(url: str, *, cache_dir: str | os.PathLike | None = None,
               timeout: float = TIMEOUT_SECONDS) -> pathlib.Path:
    """The local copy of ``url`` in the cache, downloaded (:func:`download_file`) if needed.

    The cache is keyed by the whole URL: ``<cache_dir>/<sha256(url)[:16]>/<basename>`` (default
    ``$KERAS_HOME`` or ``~/.keras``, then ``datasets/elmo_lib``), so two URLs with the same file
    name never share a copy. ``<basename>.json`` records the URL, size and sha256 of the copy; a
    copy that no longer matches (cut short, changed) is fetched again. Used for weights by URL
    (``elmo_lib.interop.load_bilm_tf``, the AllenNLP presets).

    Raises:
        DownloadError: the download failed; the message names the URL and why.
    """
    if cache_dir is None:
        cache_dir = pathlib.Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() \
            / "datasets" / "elmo_lib"
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    path = pathlib.Path(cache_dir) / key / name
    record = path.with_name(name + ".json")
    try:
        known = atomic.read_json(record) if record.is_file() else None
    except (OSError, ValueError):
        known = None
    if (isinstance(known, dict) and path.is_file() and known.get("url") == url
            and path.stat().st_size == known.get("bytes") and sha256_of(path) == known.get("sha256")):
        return path
    download_file(url, path, timeout=timeout)
    atomic.write_json(record, {"url": url, "bytes": path.stat().st_size, "sha256": sha256_of(path)})
    return path

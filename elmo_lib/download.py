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
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

import keras

from elmo_lib import __version__

logger = logging.getLogger(__name__)

# Names the library and its version: polite, and hosts that refuse Python's default
# ("Python-urllib/3.x") accept it.
USER_AGENT = f"elmo_lib/{__version__}"
PROGRESS_MIN_BYTES = 1 << 20  # with ``progress=None``, show a progress bar from this size on
_CHUNK_BYTES = 1 << 16

T = TypeVar("T")


class DownloadError(OSError):
    """No URL gave a good copy. ``failures`` lists ``(url, reason)`` in the order tried."""

    def __init__(self, message: str, failures: Sequence[tuple[str, str]]):
        super().__init__(message)
        self.failures = list(failures)


class IncompleteDownloadError(OSError):
    """The connection ended before ``Content-Length`` bytes arrived (a truncated body)."""


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, destination: str | os.PathLike, *, timeout: float = 60.0,
          progress: bool | None = None) -> int:
    """Write the body of ``url`` to the file ``destination`` (created or truncated).

    Sends ``User-Agent: elmo_lib/<version>``; follows redirects (301/302/303/307/308).

    Args:
        url: an ``http(s)://`` URL.
        destination: the file to write; the caller owns it (and removes it on failure).
        timeout: seconds to wait for the connection and for each read.
        progress: show a ``keras.utils.Progbar``; ``None`` shows one when the size is unknown or
            at least ``PROGRESS_MIN_BYTES``.

    Returns:
        The number of bytes written.

    Raises:
        urllib.error.HTTPError: the server answered with an error status (e.g. 403, 404).
        urllib.error.URLError: no connection (refused, unknown host, TLS failure).
        IncompleteDownloadError: fewer (or more) bytes than the ``Content-Length`` header said.
        OSError: a timeout or a write error.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(destination, "wb") as out:
        header = response.headers.get("Content-Length", "")
        expected = int(header) if header.strip().isdigit() else None
        show = progress if progress is not None else (expected is None or expected >= PROGRESS_MIN_BYTES)
        bar = None
        if show:
            print(f"Downloading {url}")
            bar = keras.utils.Progbar(expected, unit_name="B")
        received = 0
        while chunk := response.read(_CHUNK_BYTES):
            out.write(chunk)
            received += len(chunk)
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
    if isinstance(error, (IncompleteDownloadError, ValueError)):
        return str(error)
    return f"{type(error).__name__}: {error}"


def download_first(urls: str | Sequence[str], directory: str | os.PathLike,
                   use: Callable[[str, pathlib.Path], T], *, description: str,
                   timeout: float = 60.0, progress: bool | None = None) -> T:
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
        timeout, progress: as :func:`fetch`.

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
    failures = []
    for url in urls:
        temporary = directory / f".download.{uuid.uuid4().hex}.part"
        try:
            fetch(url, temporary, timeout=timeout, progress=progress)
            return use(url, temporary)
        except (OSError, ValueError, http.client.HTTPException) as error:  # not KeyboardInterrupt
            failures.append((url, _reason(error)))
            logger.warning("download failed: %s: %s", url, failures[-1][1])
        finally:
            temporary.unlink(missing_ok=True)
    tried = "\n".join(f"  {url}: {reason}" for url, reason in failures)
    raise DownloadError(f"could not download {description}; tried in order:\n{tried}", failures)


def download_file(urls: str | Sequence[str], path: str | os.PathLike, *, sha256: str | None = None,
                  timeout: float = 60.0, progress: bool | None = None) -> pathlib.Path:
    """Download one file from the first of ``urls`` that gives a good copy; place it atomically.

    Example: ``download_file([primary, mirror], "models/x/weights.hdf5", sha256="9e9f...")``.
    Meant for pretrained model files (``elmo_lib.presets``, lessons 04 and 07); datasets use
    :func:`download_first` through ``elmo_lib.data.find_file`` (lesson 01).

    Args:
        urls: the file's URLs (mirrors), best first.
        path: the final path; its folder is created. An existing file is replaced only by a
            verified download.
        sha256: the expected hex sha256; ``None`` checks only the length (``Content-Length``).
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
        if sha256 is not None and (actual := sha256_of(temporary)) != sha256:
            raise ValueError(f"sha256 of {path.name} is {actual}, expected {sha256}")
        os.replace(temporary, path)
        return path

    return download_first(urls, path.parent, place, description=str(path), timeout=timeout,
                          progress=progress)

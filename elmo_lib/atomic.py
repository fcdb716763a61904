"""Files that are whole or absent, and paths that one process uses at a time.

- :func:`writing` / :func:`write_bytes` / :func:`write_text` / :func:`write_json`  write a file
  atomically: a temporary file in the same directory, flushed and ``fsync``-ed, then ``os.replace``
  (a kill leaves the old file or the new one, never a mix); the directory is ``fsync``-ed too
- :func:`temporary_name`   the temporary sibling of a path (``.tmp-<pid>-<random>-<name>``)
- :func:`clean_stale`      delete temporary files and folders whose writer is dead
- :func:`replace_directory` swap a finished directory in for an old one without a moment in which
  neither exists
- :class:`PathLock`        a lock file holding the owner's pid; a second user gets
  :class:`PathLockedError` naming the path and the owner; a dead owner's lock is taken over

Limits (docs/what_survives_what.md): ``os.replace`` is atomic on one local or POSIX file system;
the lock uses ``fcntl.flock`` (Linux, macOS; on NFS only where the server supports it). Used by
:mod:`elmo_lib.train` (run directories), :mod:`elmo_lib.presets`, :mod:`elmo_lib.elmo`
(``embed_file``) and :mod:`elmo_lib.download`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import shutil
import socket
import time
import uuid

_TEMPORARY = re.compile(r"^\.(?:tmp|download)[-.](\d+)[-.]")
STALE_WITHOUT_PID_SECONDS = 24 * 3600.0  # temporaries that name no pid are stale after a day


class PathLockedError(OSError):
    """Another live process holds the lock of a path. ``path``, ``owner_pid`` say which."""

    def __init__(self, message: str, path: os.PathLike, owner_pid: int | None):
        super().__init__(message)
        self.path, self.owner_pid = pathlib.Path(path), owner_pid


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def temporary_name(path: str | os.PathLike) -> pathlib.Path:
    """``dir/.tmp-<pid>-<random>-<name>``: a sibling of ``path`` that keeps its suffixes (Keras
    wants ``.weights.h5``) and names its writer, so :func:`clean_stale` knows when it is stale."""
    path = pathlib.Path(path)
    return path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}")


def fsync_directory(directory: str | os.PathLike) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a closed file's data to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def writing(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; when the block ends without an error, the file
    written there is ``fsync``-ed and renamed to ``path``. On an error it is deleted and ``path``
    is untouched.

    Example:
        >>> with atomic.writing("run/best.weights.h5") as tmp:
        ...     model.save_weights(tmp)
    """
    path = pathlib.Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`writing`)."""
    with writing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` (``"\\n"`` line ends) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data, indent: int | None = 1) -> None:
    """Write ``json.dumps(data, indent=indent)`` to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=indent))


def read_json(path: str | os.PathLike, what: str = "file"):
    """``json.loads`` of a file; a damaged file is a ``ValueError`` naming it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8 or not JSON (cut short by a kill, or another program's file).
    """
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: damaged {what}, not valid JSON ({error}); it may have been cut "
                         "short: restore or delete it") from error


def _writer_pid(name: str) -> int | None:
    match = _TEMPORARY.match(name)
    return int(match.group(1)) if match else None


def clean_stale(directory: str | os.PathLike, *, suffix: str = "") -> list[pathlib.Path]:
    """Delete the temporary files and folders in ``directory`` whose writer is dead.

    A temporary is a name of :func:`temporary_name` (``.tmp-<pid>-...``) or of
    ``elmo_lib.download`` (``.download.<pid>....part``), ending with ``suffix``; it is stale when
    its pid is not a running process. Names from older versions (no pid) ending with ``.part``
    are stale after :data:`STALE_WITHOUT_PID_SECONDS`. A directory that a killed
    :func:`replace_directory` left aside is renamed back when its place is empty, not deleted.
    Returns what was deleted.
    """
    directory = pathlib.Path(directory)
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or not name.endswith(suffix):
            continue
        pid = _writer_pid(name)
        if pid is not None:
            stale = pid != os.getpid() and not pid_alive(pid)
        else:
            try:
                age = time.time() - entry.lstat().st_mtime
            except OSError:
                continue
            stale = name.endswith(".part") and age > STALE_WITHOUT_PID_SECONDS
        if not stale:
            continue
        rest = name.split("-", 3)[-1]
        if rest.startswith("old-") and entry.is_dir() and not (directory / rest[4:]).exists():
            os.replace(entry, directory / rest[4:])  # a swap killed halfway: the old one is whole
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def replace_directory(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put the finished directory ``new`` at ``target``, replacing what is there.

    The old directory is renamed aside (``.tmp-<pid>-...-old-<name>``), ``new`` renamed in, then
    the old one deleted: a kill at any point leaves ``target`` whole (old or new) or, between the
    two renames only, the old one aside, where :func:`clean_stale` would delete it. So that nothing
    complete is lost, a missing ``target`` next to an aside copy is restored first by
    :func:`restore_aside`.
    """
    new, target = pathlib.Path(new), pathlib.Path(target)
    aside = None
    if target.exists():
        aside = temporary_name(target.with_name(f"old-{target.name}"))
        os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        if aside is not None:
            os.replace(aside, target)
        raise
    fsync_directory(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def restore_aside(target: str | os.PathLike) -> pathlib.Path | None:
    """If ``target`` is missing and a dead process left it aside in :func:`replace_directory`,
    rename it back; returns the restored path or None."""
    target = pathlib.Path(target)
    if target.exists():
        return None
    suffix = f"-old-{target.name}"
    for entry in sorted(target.parent.glob(f".tmp-*{suffix}")):
        pid = _writer_pid(entry.name)
        if pid is not None and not pid_alive(pid) and entry.is_dir():
            os.replace(entry, target)
            return target
    return None


class PathLock:
    """A lock on ``path`` held through the file ``lock_file`` (default ``path + ".lock"``).

    The file holds ``pid host`` of its owner and is locked with ``fcntl.flock``, which the kernel
    releases when the owner dies: a lock left by a killed process is taken over without asking.
    A second live user gets :class:`PathLockedError` naming ``path``, the lock file and the owner's
    pid. Use as a context manager; the lock file is deleted on release.

    Args:
        path: what is protected (a run directory, an output file), for messages.
        lock_file: the lock file (its folder must exist).
    """

    def __init__(self, path: str | os.PathLike, lock_file: str | os.PathLike | None = None):
        self.path = pathlib.Path(path)
        self.lock_file = pathlib.Path(lock_file or f"{self.path}.lock")
        self._fd: int | None = None

    def _owner(self) -> int | None:
        try:
            return int(self.lock_file.read_text(encoding="ascii").split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _refuse(self):
        owner = self._owner()
        who = f"process {owner}" if owner is not None else "another process"
        raise PathLockedError(
            f"{self.path} is in use by {who} (lock file {self.lock_file}); wait for it to finish, "
            "or use another path", self.path, owner)

    def acquire(self) -> PathLock:
        import fcntl

        for _ in range(100):  # the file may be deleted by its owner between open and lock
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._refuse()
            except OSError:  # a file system without flock: fall back to the pid in the file
                os.close(fd)
                owner = self._owner()
                if owner is not None and owner != os.getpid() and pid_alive(owner):
                    self._refuse()
                fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_file).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode("ascii", "replace"))
            os.fsync(fd)
            self._fd = fd
            return self
        raise OSError(f"could not take the lock file {self.lock_file}")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.lock_file.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> PathLock:
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False

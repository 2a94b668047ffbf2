"""Files we deliver: written whole or not at all, readable by the owner only.

In: bytes and paths (a rendered PDF and its reports, a batch run's files and state). Out: files written to
a temp name in the same directory, fsynced, renamed into place, and the directory fsynced (so a rename
survives a power cut); directories created 0700 and files 0600. `remove_strays` deletes what a killed
batch run left half-written; `flocked` holds a lock file (0600) for a block; `state_dir_errors` names the
state directory setting in an `OSError` of making it. An `OSError` while writing (disk full, read-only file
system, no permission) is an `OutputError` naming the file and the system's reason (`cannot_write`), exit 1.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from renderer.errors import OutputError, UsageError

TEMP_SUFFIX = ".tmp"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def os_reason(exc: OSError) -> str:
    """The system's reason for an `OSError`, e.g. ``No space left on device (ENOSPC)`` — never its filename or
    other text (the class name when there is no errno)."""
    if not exc.errno:
        return exc.__class__.__name__
    name = errno.errorcode.get(exc.errno)
    return f"{os.strerror(exc.errno)} ({name})" if name else os.strerror(exc.errno)


def cannot_write(path: Path, exc: OSError, then: str = "nothing was delivered") -> OutputError:
    """`exc`, raised while writing `path`, as the error to show: the path, the reason, what follows."""
    return OutputError(f"cannot write {path}: {os_reason(exc)}; {then}")


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Atomically write `data` to `path`: temp file, fsync, rename, fsync of the directory. Mode 0600
    unless told (golden files are ordinary repository files, 0644). An `OSError` (a full disk: ENOSPC, a
    read-only file system, no permission) is an `OutputError` naming `path` and the reason; no temp file stays."""
    try:
        _write_atomic(path, data, mode)
    except OSError as exc:
        raise cannot_write(path, exc) from None


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)   # 0600
    try:
        if mode != 0o600:
            Path(tmp).chmod(mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


@contextmanager
def flocked(path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive `flock` on the file at `path` (created 0600 whatever the umask) while the block runs;
    it dies with the process (a kill -9 frees it). `wait=False`: `BlockingIOError` at once if it is held."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def state_dir_errors(path: Path) -> Iterator[None]:
    """An `OSError` of the block (a file in the way, read-only, no permission) as a `UsageError` naming
    ``CHOHYO_STATE_DIR`` and `path` (the state directory, or the part of it that is not a directory)."""
    try:
        yield
    except OSError as exc:
        why = "a file is in the way" if isinstance(exc, FileExistsError | NotADirectoryError) \
            else (os.strerror(exc.errno) if exc.errno else exc.__class__.__name__)
        raise UsageError(f"CHOHYO_STATE_DIR (--state-dir) {path} cannot be used as the state directory: {why}",
                         field="CHOHYO_STATE_DIR") from None


def sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_strays(directory: Path) -> int:
    """Delete temp files a killed run left behind (they never reached their final name)."""
    removed = 0
    for stray in directory.glob(f".*{TEMP_SUFFIX}"):
        stray.unlink(missing_ok=True)
        removed += 1
    return removed

"""A per-machine cache of what the vendored font files say, so a process does not parse 60 MB of fonts.

(The directory rules below also hold for the validated-layout cache, `renderer.spec.cache`.)

In: a font file (path and its manifest sha256), a kind (``metrics``: the fontTools view in `renderer.fonts`;
``reportlab-face``: ReportLab's parsed tables in `renderer.draw.fonts`), the version of the code that reads
it, and a builder that parses the file. Out: the builder's plain data (dicts, lists, tuples, numbers,
strings, bytes) — read from ``<cache dir>/fonts/<kind>-<family file>-<key>.marshal`` when a valid entry is
there, else built, stored atomically (temporary file + rename) and returned.

The key is a sha256 over the format version, the kind, the reader's version, the manifest's sha256 of the
font and the file's size and modification time: a replaced font file, a new fontTools/ReportLab or a new
reader makes a new entry, never a stale answer. Entries are written with `marshal` (the fastest way
Python reads plain data; about 30 ms for IPAmj明朝's tables against 0.4–0.5 s of parsing) and checked on
reading: a damaged, truncated or foreign entry is ignored and rebuilt.

Where: ``CHOHYO_CACHE_DIR``, else ``$XDG_CACHE_HOME/chohyo``, else ``~/.cache/chohyo``; ``CHOHYO_CACHE_DIR=off``
turns the cache off. The directory is created 0700. A directory that is not owned by this user or is
writable by group or others is never read (anyone able to write there could make text measure wrong):
the fonts are then parsed in every process — correct, only slower — and the reason is logged once. A
directory that cannot be written (a read-only image) is read when it is valid and otherwise ignored.
``chohyo fonts cache`` fills it ahead of time (an image build, a vendor's installation step).
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("chohyo.fonts")

FORMAT = 1
MAGIC = b"CHOHYO-FONTCACHE\x01"
OFF = "off"

Builder = Callable[[], dict[str, Any]]


def default_directory() -> Path | None:
    """The cache directory the environment names (None when the cache is off)."""
    named = os.environ.get("CHOHYO_CACHE_DIR")
    if named is not None:
        return None if named.strip().lower() == OFF else Path(named)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "chohyo"


def unsafe_reason(directory: Path) -> str | None:
    """Why `directory` must not be trusted (None when it is ours and private)."""
    try:
        st = directory.stat()
    except OSError as exc:
        return f"cannot be read ({exc.__class__.__name__})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "is owned by another user"
    if st.st_mode & 0o022:
        return f"is writable by group or others (mode {st.st_mode & 0o777:#o})"
    return None


@dataclass(frozen=True)
class FontCache:
    """Where font data is kept between processes; `directory=None` keeps nothing (always parse)."""

    directory: Path | None

    @classmethod
    def from_env(cls) -> FontCache:
        return cls(default_directory())

    def entry(self, kind: str, path: Path, sha256: str, version: str) -> Path | None:
        """The file an entry would live in (None when the cache is off or the font file is unreadable)."""
        if self.directory is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        key = hashlib.sha256(
            f"{FORMAT}\0{kind}\0{version}\0{sha256}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]
        return self.directory / "fonts" / f"{kind}-{path.stem}-{key}.marshal"

    def load(self, kind: str, path: Path, sha256: str, version: str, build: Builder) -> dict[str, Any]:
        """The data `build` returns for this font, from the cache when a valid entry exists."""
        entry = self.entry(kind, path, sha256, version)
        if entry is None or not usable(entry.parent.parent):
            return build()
        data = _read(entry)
        if data is None:
            data = build()
            try:
                payload = marshal.dumps({"format": FORMAT, "data": data})
            except ValueError as exc:
                _warn_once(f"font cache entry {entry.name} not written ({exc.__class__.__name__})")
            else:
                write_entry(entry, MAGIC + payload)
        return data


def usable(directory: Path) -> bool:
    """Whether a cache may live in `directory` (created 0700 when missing; warned about once when not)."""
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return False
    reason = unsafe_reason(directory)
    if reason is not None:
        _warn_once(f"cache {directory} not used: it {reason}; fonts and layouts are read afresh in every process")
        return False
    return True


def write_entry(entry: Path, payload: bytes) -> None:
    """Write a cache entry atomically (temporary file + rename); a failure only costs the next process time."""
    try:
        entry.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
            Path(tmp).replace(entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:   # read-only image, full disk: built again next time
        _warn_once(f"cache entry {entry.name} not written ({exc.__class__.__name__})")


def _read(entry: Path) -> dict[str, Any] | None:
    try:
        raw = entry.read_bytes()
    except OSError:
        return None
    if not raw.startswith(MAGIC):
        return None
    try:
        loaded = marshal.loads(raw[len(MAGIC):])
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(loaded, dict) or loaded.get("format") != FORMAT or not isinstance(loaded.get("data"), dict):
        return None
    data: dict[str, Any] = loaded["data"]
    return data


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)

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

Big tables are stored packed (`pack_codes`, `pack_pairs`, `pack_ints`: machine-order `array` bytes, which
`marshal` reads as one copy) and read through `CodeTable` / `PairList` / `array`, which look entries up in
place: a process pays for the few hundred codes a document uses, not for building dicts of 60,000 entries
(IPAmj明朝's tables cost about 0.1 s a process as dicts). Packing is exact: a table whose values do not
survive it (types, ranges) is stored as it is. Entries are machine-specific (the key names the byte order).

Where: ``CHOHYO_CACHE_DIR``, else ``$XDG_CACHE_HOME/chohyo``, else ``~/.cache/chohyo``; ``CHOHYO_CACHE_DIR=off``
turns the cache off. The directory is created 0700. A directory that is not owned by this user or is
writable by group or others is never read (anyone able to write there could make text measure wrong):
the fonts are then parsed in every process — correct, only slower — and the reason is logged once. A
directory that cannot be written (a read-only image) is read when it is valid and otherwise ignored.
``chohyo fonts cache`` fills it ahead of time (an image build, a vendor's installation step).
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import marshal
import math
import os
import stat
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("chohyo.fonts")

FORMAT = 2
MAGIC = b"CHOHYO-FONTCACHE\x02"
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
            f"{FORMAT}\0{sys.byteorder}\0{kind}\0{version}\0{sha256}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]
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
    except OSError as exc:   # read-only image, full disk: built again next time (one warning per directory)
        _warn_once(f"cache {entry.parent.parent} (CHOHYO_CACHE_DIR) cannot be written ({exc.__class__.__name__}); "
                   f"what it would hold is built again in every process")


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


#: a gap of more absent codes than this starts a new dense segment of a `CodeTable`
_GAP = 4096
_INT_MAX = 2**31 - 1


def pack_codes(table: Mapping[int, int] | Mapping[int, float]) -> Any:
    """`table` (code → non-negative int, or code → float) as dense segments of machine-order array bytes
    (absent codes: -1 / NaN); `table` itself when its values would not come back identical."""
    values = list(table.values())
    if all(type(v) is int and 0 <= v <= _INT_MAX for v in values):
        typecode, absent = "i", -1.0
    elif all(type(v) is float and not math.isnan(v) for v in values):
        typecode, absent = "d", math.nan
    else:
        return dict(table)
    if not all(type(c) is int and c >= 0 for c in table):
        return dict(table)
    codes = sorted(table)
    segments: list[tuple[int, bytes]] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] - codes[j] <= _GAP:
            j += 1
        start = codes[i]
        arr = array(typecode, [int(absent) if typecode == "i" else absent]) * (codes[j] - start + 1)
        for code in codes[i:j + 1]:
            arr[code - start] = table[code]
        segments.append((start, arr.tobytes()))
        i = j + 1
    return ("codes", typecode, len(codes), segments)


class CodeTable(Mapping[int, Any]):
    """A packed code table (`pack_codes`) read in place: look-ups index the segment's array. Assignments
    (ReportLab adds codes when it shapes text) go to an overlay dict consulted first."""

    def __init__(self, packed: Any) -> None:
        _tag, typecode, count, segments = packed
        self._float = typecode == "d"
        self._count = int(count)
        self._segments = [(start, start + len(arr), arr) for start, arr in
                          ((int(start), array(typecode, raw)) for start, raw in segments)]
        self._extra: dict[int, Any] = {}

    def get(self, code: Any, default: Any = None) -> Any:
        if self._extra:
            found = self._extra.get(code, self)
            if found is not self:
                return found
        for start, stop, arr in self._segments:
            if start <= code < stop:
                v = arr[code - start]
                if (v == v) if self._float else (v >= 0):
                    return v
                return default
        return default

    def __getitem__(self, code: int) -> Any:
        v = self.get(code, self)
        if v is self:
            raise KeyError(code)
        return v

    def __contains__(self, code: object) -> bool:
        return type(code) is int and self.get(code, self) is not self

    def __setitem__(self, code: int, value: Any) -> None:
        if code not in self:
            self._count += 1
        self._extra[code] = value

    def setdefault(self, code: int, default: Any = None) -> Any:
        if code not in self:
            self[code] = default
        return self[code]

    def __iter__(self) -> Iterator[int]:
        for start, _stop, arr in self._segments:
            for i, v in enumerate(arr):
                if ((v == v) if self._float else (v >= 0)) and start + i not in self._extra:
                    yield start + i
        yield from self._extra

    def __len__(self) -> int:
        return self._count


def unpack_codes(stored: Any) -> Mapping[int, Any]:
    """The mapping `pack_codes` stored (a `CodeTable`, or the plain dict it kept)."""
    return stored if isinstance(stored, dict) else CodeTable(stored)


def pack_pairs(pairs: Sequence[tuple[int, int]]) -> Any:
    """A list of (int, int) pairs as two machine-order arrays; the list itself when it would not come back equal."""
    if all(type(p) is tuple and len(p) == 2 and all(type(v) is int and -_INT_MAX <= v <= _INT_MAX for v in p)
           for p in pairs):
        return ("pairs", array("i", [p[0] for p in pairs]).tobytes(), array("i", [p[1] for p in pairs]).tobytes())
    return list(pairs)


class PairList(Sequence[tuple[int, int]]):
    """A packed list of pairs (`pack_pairs`) read in place: ``pairs[i]`` is built from the two arrays."""

    def __init__(self, packed: Any) -> None:
        _tag, first, second = packed
        self._first, self._second = array("i", first), array("i", second)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [(a, b) for a, b in zip(self._first[index], self._second[index], strict=True)]
        return (self._first[index], self._second[index])

    def __len__(self) -> int:
        return len(self._first)


def unpack_pairs(stored: Any) -> Sequence[tuple[int, int]]:
    return stored if isinstance(stored, list) else PairList(stored)


def pack_ints(values: Sequence[int]) -> Any:
    """A list of ints as machine-order ``q`` array bytes (the list itself when an item is not an int)."""
    if all(type(v) is int and -(2**63) <= v < 2**63 for v in values):
        return ("ints", array("q", values).tobytes())
    return list(values)


def unpack_ints(stored: Any) -> Sequence[int]:
    return stored if isinstance(stored, list) else array("q", stored[1])


def first_index(keys: Sequence[int], key: int) -> int | None:
    """The index of `key` in the sorted sequence `keys` (an array), or None."""
    i = bisect.bisect_left(keys, key)
    return i if i < len(keys) and keys[i] == key else None


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)

"""Batch input: a JSONL file read as a stream of records, located by byte offset.

In: ``INPUT.jsonl`` — one envelope per line, or one ``data`` object per line when the run gives a
run-level request (``--request``) — and optionally a sort key (a declared path into the data). Out: an
`InputIndex`: for each record, in printing order, its 1-based line number and byte offset (two int
arrays, 16 bytes per record; the record itself is parsed only when it is planned), and the input's
sha256. The index is written to the run directory so that a resumed run prints in the same order even if
the layout's sort declarations change. Blank lines are not records. A line that is not a JSON object is
still a record: it fails as ``invalid`` with its line number, and the run goes on.

Sorting is stable (input order among equal keys); records without the key sort last. Only the keys and
two ints per record are held in memory, never the records.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from renderer.errors import InputError, UsageError

ORDER_MAGIC = b"CHOHYO-ORDER-1\n"


@dataclass
class InputIndex:
    lines: array[int]     # 1-based line numbers, in printing order
    offsets: array[int]   # byte offset of each line, in printing order
    sha256: str

    def __len__(self) -> int:
        return len(self.lines)

    def save(self, path: Path) -> None:
        from renderer.batch.files import write_private

        header = ORDER_MAGIC + f"{len(self.lines)} {self.sha256}\n".encode("ascii")
        write_private(path, header + self.lines.tobytes() + self.offsets.tobytes())

    @classmethod
    def load(cls, path: Path) -> InputIndex:
        data = path.read_bytes()
        if not data.startswith(ORDER_MAGIC):
            raise UsageError(f"{path} is not a batch order file", field="--resume")
        head_end = data.index(b"\n", len(ORDER_MAGIC)) + 1
        count_text, sha = data[len(ORDER_MAGIC):head_end].decode("ascii").split()
        count = int(count_text)
        lines, offsets = array("q"), array("q")
        body = data[head_end:]
        lines.frombytes(body[: 8 * count])
        offsets.frombytes(body[8 * count: 16 * count])
        if len(lines) != count or len(offsets) != count:
            raise UsageError(f"{path} is truncated", field="--resume")
        return cls(lines, offsets, sha)


def scan(path: Path, *, sort_path: str | None = None, data_only: bool = False) -> InputIndex:
    """One streaming pass: hash the file, note each record's line and offset (and its sort key)."""
    digest = hashlib.sha256()
    lines, offsets = array("q"), array("q")
    keys: list[tuple[int, str]] = []
    parts = _split(sort_path) if sort_path else None
    try:
        with path.open("rb") as fh:
            offset = 0
            for number, raw in enumerate(fh, start=1):
                digest.update(raw)
                if raw.strip():
                    lines.append(number)
                    offsets.append(offset)
                    if parts is not None:
                        keys.append(_sort_key(raw, parts, data_only))
                offset += len(raw)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.__class__.__name__}", field="INPUT") from None
    if parts is not None:
        order = sorted(range(len(keys)), key=keys.__getitem__)   # stable: input order among equal keys
        lines = array("q", (lines[i] for i in order))
        offsets = array("q", (offsets[i] for i in order))
    return InputIndex(lines, offsets, digest.hexdigest())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_record(fh: IO[bytes], offset: int, line: int, request: dict[str, Any] | None, layout_id: str) -> Any:
    """The envelope of one record (a `data` line is wrapped in the run-level request)."""
    fh.seek(offset)
    raw = fh.readline()
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise InputError(f"line {line} is not JSON ({msg})", field="") from None
    if not isinstance(value, dict):
        raise InputError(f"line {line} is not a JSON object", field="")
    if request is None:
        return value
    return {"layout": layout_id, **request, "data": value}


def _split(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def _sort_key(raw: bytes, parts: list[str], data_only: bool) -> tuple[int, str]:
    try:
        value: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return (1, "")
    if not data_only:
        value = value.get("data") if isinstance(value, dict) else None
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        else:
            return (1, "")
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return (1, "")
    return (0, str(value))

"""Batch input: a JSONL or CSV file read as a stream of records, located by byte offset.

In: ``INPUT.jsonl`` — one envelope per line, or one ``data`` object per line when the run gives a
run-level request (``--request``) — or ``INPUT.csv`` with a header row and a declared column mapping
(``--csv-map``: header → data path and type; the run gives the request), and optionally a sort key (a
declared path into the data). Out: an
`InputIndex`: for each record, in printing order, its 1-based line number and byte offset (two int
arrays, 16 bytes per record; the record itself is parsed only when it is planned), and the input's
sha256. The index is written to the run directory so that a resumed run prints in the same order even if
the layout's sort declarations change. Blank lines are not records. A line that is not a JSON object (or
a CSV row with the wrong number of cells) is still a record: it fails as ``invalid`` with its line
number, and the run goes on. A record's number is the line it starts on.

Sorting is stable (input order among equal keys); records without the key sort last, and so do records whose
key the caller says is hidden (`Hidden`: a postcode under a DV 支援措置, which printed 「記載省略」 would
otherwise be placed among its real neighbours). Only the keys and two ints per record are held in memory,
never the records.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from renderer import jsontext
from renderer.diagnostics import from_pydantic
from renderer.errors import InputError, UsageError
from renderer.files import write_atomic
from renderer.spec.model import DataPath

#: whether a record's sort key may not be used: given the record's tenant (or None) and its data
Hidden = Callable[[Any, Any], bool]

ORDER_MAGIC = b"CHOHYO-ORDER-1\n"


@dataclass
class InputIndex:
    lines: array[int]     # 1-based line numbers, in printing order
    offsets: array[int]   # byte offset of each line, in printing order
    sha256: str

    def __len__(self) -> int:
        return len(self.lines)

    def save(self, path: Path) -> None:
        header = ORDER_MAGIC + f"{len(self.lines)} {self.sha256}\n".encode("ascii")
        write_atomic(path, header + self.lines.tobytes() + self.offsets.tobytes())

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


class Source:
    """JSONL input: one envelope per line, or one `data` object per line with a run-level request."""

    def __init__(self, path: Path, *, request: dict[str, Any] | None, layout_id: str) -> None:
        self.path = path
        self.request = request
        self.layout_id = layout_id

    def scan(self, sort_path: str | None = None, *, hidden: Hidden | None = None) -> InputIndex:
        """One streaming pass: hash the file, note each record's line and offset (and its sort key; a key
        `hidden` says may not be used sorts as no key)."""
        digest = hashlib.sha256()
        lines, offsets = array("q"), array("q")
        keys: list[tuple[int, str]] = []
        parts = _split(sort_path) if sort_path else None
        try:
            with self.path.open("rb") as fh:
                for line, offset, value in self._records(fh, digest):
                    lines.append(line)
                    offsets.append(offset)
                    if parts is not None:
                        tenant, data = value()
                        keys.append((1, "") if hidden is not None and hidden(tenant, data) else _sort_key(data, parts))
        except OSError as exc:
            raise UsageError(f"cannot read {self.path}: {exc.__class__.__name__}", field="INPUT") from None
        if parts is not None:
            order = sorted(range(len(keys)), key=keys.__getitem__)   # stable: input order among equal keys
            lines = array("q", (lines[i] for i in order))
            offsets = array("q", (offsets[i] for i in order))
        return InputIndex(lines, offsets, digest.hexdigest())

    def _records(self, fh: IO[bytes], digest: Any) -> Iterator[tuple[int, int, Callable[[], Any]]]:
        """(line, offset, a function giving the record's (tenant, data) for its sort key) for every record."""
        offset = 0
        for number, raw in enumerate(fh, start=1):
            digest.update(raw)
            if raw.strip():
                yield number, offset, functools.partial(self._data_for_key, raw)
            offset += len(raw)

    def _data_for_key(self, raw: bytes) -> tuple[Any, Any]:
        try:
            value = jsontext.loads(raw)
        except jsontext.NotJson:
            return None, None
        if self.request is not None:
            return self.request.get("tenant"), value
        return (value.get("tenant"), value.get("data")) if isinstance(value, dict) else (None, None)

    def read(self, fh: IO[bytes], offset: int, line: int) -> Any:
        """The envelope of one record (a `data` line is wrapped in the run-level request)."""
        fh.seek(offset)
        raw = fh.readline()
        try:
            value = jsontext.loads(raw)
        except jsontext.NotJson as exc:
            where = jsontext.under("data" if self.request is not None else "", exc.path)
            raise InputError(f"line {line} is not JSON ({exc.reason})", field=where) from None
        if not isinstance(value, dict):
            raise InputError(f"line {line} is not a JSON object", field="")
        return self.wrap(value)

    def wrap(self, value: dict[str, Any]) -> Any:
        if self.request is None:
            return value
        return {"layout": self.layout_id, **self.request, "data": value}


class CsvColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: DataPath
    type: Literal["str", "int", "bool"] = "str"


class CsvMapping(BaseModel):
    """A declared column mapping: CSV header → data path (and type) of the layout's data model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    encoding: Literal["utf-8", "utf-8-sig", "cp932"] = "utf-8-sig"
    delimiter: Literal[",", "\t"] = ","
    columns: dict[str, DataPath | CsvColumn] = Field(min_length=1)

    def column(self, name: str) -> CsvColumn:
        c = self.columns[name]
        return c if isinstance(c, CsvColumn) else CsvColumn(path=c)


def load_csv_mapping(path: Path) -> CsvMapping:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CsvMapping.model_validate(raw)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read {path} ({exc.__class__.__name__})", field="--csv-map") from None
    except ValidationError as exc:
        diags = from_pydantic(exc)
        raise UsageError(f"{path}: invalid column mapping: " + "; ".join(d.format() for d in diags),
                         field="--csv-map") from None


_TRUE = {"1", "true", "yes", "y", "はい", "有"}
_FALSE = {"0", "false", "no", "n", "いいえ", "無"}


class CsvSource(Source):
    """CSV input with a header row and a declared column mapping; every row is a `data` object (the run
    gives the request). Blank cells are left out (the data model's default applies); a row with another
    number of cells than the header, or a cell that does not convert, is an invalid record naming the line
    and column — never the cell's value."""

    def __init__(self, path: Path, mapping: CsvMapping, *, request: dict[str, Any], layout_id: str) -> None:
        super().__init__(path, request=request, layout_id=layout_id)
        self.mapping = mapping
        self.header: list[str] = []
        with path.open("rb") as fh:
            self._read_header(fh)

    def _lines(self, fh: IO[bytes], digest: Any = None) -> _LineReader:
        return _LineReader(fh, self.mapping.encoding, digest)

    def _reader(self, lines: _LineReader) -> Iterator[list[str]]:
        return csv.reader(lines, delimiter="\t" if self.mapping.delimiter == "\t" else ",")

    def _read_header(self, fh: IO[bytes]) -> None:
        lines = self._lines(fh)
        try:
            header = next(self._reader(lines), None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(f"{self.path}: the header row cannot be read ({exc.__class__.__name__})",
                             field="INPUT") from None
        if not header:
            raise UsageError(f"{self.path} has no header row", field="INPUT")
        self.header = [h.strip() for h in header]
        missing = sorted(set(self.mapping.columns) - set(self.header))
        if missing:
            raise UsageError(f"{self.path}: columns declared in the mapping are not in the header: "
                             f"{', '.join(missing)}", field="--csv-map")

    def _records(self, fh: IO[bytes], digest: Any) -> Iterator[tuple[int, int, Callable[[], Any]]]:
        lines = self._lines(fh, digest)
        reader = self._reader(lines)
        first = True
        while True:
            offset, line = lines.offset, lines.line + 1
            try:
                row = next(reader, None)
            except UnicodeDecodeError:
                raise UsageError(f"{self.path}: line {line} is not {self.mapping.encoding}", field="INPUT") from None
            except csv.Error as exc:
                raise UsageError(f"{self.path}: line {line}: {exc}", field="INPUT") from None
            if row is None:
                return
            if first:
                first = False
                continue
            if any(cell.strip() for cell in row):
                yield line, offset, functools.partial(self._data_or_none, row)

    def _data_or_none(self, row: list[str]) -> tuple[Any, Any]:
        tenant = self.request.get("tenant") if self.request is not None else None
        try:
            return tenant, self._data(row, 0)
        except InputError:
            return tenant, None

    def _data(self, row: list[str], line: int) -> dict[str, Any]:
        if len(row) != len(self.header):
            raise InputError(f"line {line} has {len(row)} cells, the header has {len(self.header)}", field="")
        data: dict[str, Any] = {}
        for name, cell in zip(self.header, row, strict=True):
            if name not in self.mapping.columns or not cell.strip():
                continue
            col = self.mapping.column(name)
            value: Any = cell.strip()
            if col.type == "int":
                try:
                    value = int(value.replace(",", ""))
                except ValueError:
                    raise InputError(f"line {line}: column {name} is not a whole number",
                                     field=f"data.{col.path}") from None
            elif col.type == "bool":
                if value.lower() not in _TRUE | _FALSE:
                    raise InputError(f"line {line}: column {name} is not a yes/no value", field=f"data.{col.path}")
                value = value.lower() in _TRUE
            _put(data, col.path, value)
        return data

    def read(self, fh: IO[bytes], offset: int, line: int) -> Any:
        fh.seek(offset)
        lines = self._lines(fh)
        try:
            row = next(self._reader(lines), None)
        except (UnicodeDecodeError, csv.Error):
            raise InputError(f"line {line} cannot be read as {self.mapping.encoding} CSV", field="") from None
        if row is None:
            raise InputError(f"line {line} is missing", field="")
        return self.wrap(self._data(row, line))


class _LineReader:
    """Decoded lines of a binary file, counting bytes and lines (the csv module reads no further than the
    record it returns, so `offset` before a `next()` is where that record starts)."""

    def __init__(self, fh: IO[bytes], encoding: str, digest: Any = None) -> None:
        self.fh = fh
        self.encoding = encoding
        self.digest = digest
        self.offset = fh.tell()
        self.line = 0

    def __iter__(self) -> _LineReader:
        return self

    def __next__(self) -> str:
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        if self.digest is not None:
            self.digest.update(raw)
        self.offset += len(raw)
        self.line += 1
        return raw.decode(self.encoding)   # utf-8-sig drops the byte order mark of the first line


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    parts = _split(path)
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _split(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def _sort_key(value: Any, parts: list[str]) -> tuple[int, str]:
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        else:
            return (1, "")
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return (1, "")
    return (0, str(value))

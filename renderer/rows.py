"""Streamed list rows: an 一覧表 whose rows come as JSON Lines beside a small header envelope.

In: ``ROWS.jsonl`` (one row object per line, as the list's data model types one item of its row list;
blank lines are not rows), the layout, and the envelope without its rows (the *header*: the usual envelope
with the list's other data, e.g. ``program`` or ``period``). Out: the rows as the document holds them — a
`StreamedRows` view that reads, validates and runs each row through the rules when it is asked for — so
a list of any length is bound, checked, composed and drawn without holding every row model.

Which rows can stream (`streamed_field`): the rows of a layout's one ``table`` whose ``items`` is a list
field at the top of the data model (``data.rows`` in both list layouts), when every row carries the
``person_id`` its protected values belong to, the layout's DV policy is ``redact_address`` (a ``block``
refuses the whole document), no ``checks:`` entry reads the rows, and no row holds a 個人番号. Anything
else is refused as a usage error naming the reason, before the rows are read.

The passes over the file, none holding more than one row model (plus a page's worth while drawing):
1. `RowsFile.scan` — every line parsed and validated against the row model, in order; the first bad line
   is an `InputError` naming the line number and the field path (``data.rows[i]…``, i counting rows), so
   nothing is drawn, spent or delivered. A row model whose rows are once per person
   (`renderer.bind.once_per_person`: the 支給決定者一覧) refuses a person_id seen on an earlier line, naming
   both rows and lines (a set of the person_ids so far is kept while scanning). Kept: each row's byte offset
   and line number and the person_ids of each row (the issue log's ``person_ids`` and the DV registry read
   need them), and the file's sha256.
2. `RowStream.protect` — the DV registry is read once for every person of the document; only the rows
   whose persons hold a record are read again, through the rules, to learn what was protected.
3. the planning pass (`renderer.compose.table.plan_table`) reads every row once, in input order, through
   `RowStream.transform` (the standard's rules and the DV redaction, per row — the same functions an
   envelope with inline rows goes through), keeping a few numbers per row.
4. drawing reads the rows of each page, in printing order, again through the transform.
A row that passes the scan but cannot be measured or drawn (a character no font has, text over a cell that
refuses to overflow) is an error of passes 3 and 4 naming the row as the scan does: its input index and its
line (`StreamedRows.line_of`; `renderer.compose.table.row_error`), never its place in the printed order.
The file is read through one handle opened by the first pass, which also hashes it; `chohyo render --rows`
calls `RowsFile.check_unchanged` after drawing and before writing, so a file changed while its PDF was drawn
is never delivered. It must be a regular file (a pipe or FIFO cannot be read twice): anything else is a
`UsageError` naming ``--rows``, before a line is read.

Per-row rules are exactly the inline ones: the document with its header data and this one row goes through
`renderer.rules.policy.apply_rules` and `renderer.rules.dv.apply_dv`; a row's protected values belong to its
own person (every row has a ``person_id``), so one row at a time gives what the whole list gives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import typing
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, overload

from pydantic import BaseModel, ValidationError

from renderer import jsontext
from renderer.bind import BoundDocument, once_per_person, repeated_person
from renderer.caller import Caller
from renderer.datamodels import DATA_MODELS
from renderer.diagnostics import Diagnostic, from_pydantic
from renderer.envelope import Envelope
from renderer.errors import InputError, UsageError
from renderer.paths import OWNER_FIELD
from renderer.rules.dv import DvOutcome, apply_dv, hide_shared, persons_in, policy_of, protected_paths
from renderer.rules.policy import apply_rules
from renderer.spec.model import LayoutSpec, TableElement
from renderer.suppressions import Snapshot

#: rows read while drawing are kept this long (a page shows at most a few dozen): a page's cells, totals and
#: reports ask for the same row more than once
_CACHE_ROWS = 256
#: a printed 個人番号 field (`renderer.compose.printed`): rows holding one cannot stream
_MY_NUMBER = "my_number"


def streamed_field(spec: LayoutSpec) -> tuple[str, type[BaseModel]]:
    """The data field whose rows may stream for `spec`, and the model of one row; `UsageError` (exit 2)
    naming why when the layout's rows cannot stream (see the module docstring)."""
    def refuse(why: str) -> UsageError:
        return UsageError(f"--rows: the rows of {spec.id} cannot stream: {why}", field="--rows")

    tables = [el for el in spec.elements if isinstance(el, TableElement)]
    if len(tables) != 1:
        raise refuse("a layout with exactly one table element streams that table's rows")
    path = tables[0].items
    name = path.removeprefix("data.")
    if name == path or "." in name:
        raise refuse(f"its table lists {path}, not a list at the top of the data")
    model = DATA_MODELS[spec.data_model]
    info = model.model_fields.get(name)
    row = _list_item_model(info.annotation) if info is not None else None
    if row is None:
        raise refuse(f"data.{name} is not a list of rows in the {spec.data_model} model")
    if OWNER_FIELD not in row.model_fields:
        raise refuse(f"its rows carry no {OWNER_FIELD} (the DV rules apply per row, to the row's person)")
    if policy_of(spec) != "redact_address":
        raise refuse(f"its DV policy is {policy_of(spec)} (a protected person refuses the whole document)")
    for check in spec.checks:
        _, operands = check.operation()
        for operand in [*operands, check.equals]:
            if isinstance(operand, str) and (operand == name or operand.startswith((f"{name}[", f"{name}."))):
                raise refuse(f"check {check.name!r} reads data.{name}")
    if _holds(row, _MY_NUMBER, set()):
        raise refuse(f"its rows hold a {_MY_NUMBER} (個人番号 printed is decided over the whole document)")
    return name, row


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is not list:
        return None
    (item,) = typing.get_args(annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _holds(model: type[BaseModel], name: str, seen: set[type[BaseModel]]) -> bool:
    """Whether `model` or a model below it has a field `name`."""
    if model in seen:
        return False
    seen.add(model)
    for field_name, info in model.model_fields.items():
        if field_name == name:
            return True
        for arg in _types_in(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and _holds(arg, name, seen):
                return True
    return False


def _types_in(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _types_in(arg)


def _max_rows(model: type[BaseModel], name: str) -> int | None:
    """The row limit the data model declares for inline rows (`max_length`): streamed rows keep it."""
    for meta in model.model_fields[name].metadata:
        limit = getattr(meta, "max_length", None)
        if isinstance(limit, int):
            return limit
    return None


class RowsFile:
    """A JSONL file of rows, opened once and read in passes (see the module docstring). Use it as a context
    manager (or call `close`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offsets: array[int] = array("q")      # byte offset of each row's line
        self.lines: array[int] = array("q")        # its 1-based line number
        self.person_ids: list[str] = []            # every row's persons, row after row
        self.persons_at: array[int] = array("q")   # index in `person_ids` of each row's first person
        self.sha256 = ""
        self._fh: IO[bytes] | None = None
        self._model: type[BaseModel] | None = None
        self._name = ""
        self.scanned = False

    def __enter__(self) -> RowsFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __len__(self) -> int:
        return len(self.offsets)

    def _open(self) -> IO[bytes]:
        """The file, opened once. Only a regular file: the rows are read in several passes (checked, then
        drawn page by page) and hashed again before delivery, so the file is read from offsets more than once
        — a pipe, a FIFO or a terminal (``--rows /dev/stdin`` of ``cat … |``) can be read once only. Opened
        without blocking, so a FIFO no one writes to is refused rather than waited on."""
        if self._fh is None:
            try:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
            except OSError as exc:
                raise UsageError(f"--rows: cannot read {self.path.name} ({exc.__class__.__name__})",
                                 field="--rows") from None
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                os.close(fd)
                kind = "a pipe or FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) else \
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"
                raise UsageError(f"--rows: {self.path.name} is {kind}; it must be a regular file: the rows are "
                                 f"read more than once (checked, then drawn page by page) — write them to a file "
                                 f"first", field="--rows")
            self._fh = os.fdopen(fd, "rb")   # O_NONBLOCK changes nothing for a regular file
        return self._fh

    def scan(self, model: type[BaseModel], name: str, limit: int | None) -> None:
        """Pass 1: validate every line as one row of `model` for the data field `name`, in order; remember
        where each row is and whose it is. The first bad line raises `InputError` (line number and field)."""
        fh = self._open()
        fh.seek(0)
        self._model, self._name = model, name
        once = once_per_person(model)
        owners: set[str] = set()   # the rows' person_ids so far, when a person may have one row only
        digest = hashlib.sha256()
        offset, line, index = 0, 0, 0
        for raw in fh:
            line += 1
            digest.update(raw)
            here, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            if limit is not None and index >= limit:
                raise InputError(f"--rows {self.path.name} line {line}: more than {limit:,} rows (the "
                                 f"{name} limit of the data model)", field=f"data.{name}",
                                 diagnostics=[Diagnostic(path=f"data.{name}", line=line, source=self.path.name,
                                                         message=f"at most {limit:,} rows")])
            row = self._parse(raw, line, index)
            if once is not None:
                owner = getattr(row, OWNER_FIELD)
                if owner in owners:
                    first = next(i for i in range(index) if owner in self.persons(i))
                    raise repeated_person(name, first, index, once, line=line, first_line=self.lines[first],
                                          source=self.path.name)
                owners.add(owner)
            self.offsets.append(here)
            self.lines.append(line)
            self.persons_at.append(len(self.person_ids))
            self.person_ids.extend(pid for _, pid in persons_in(row))
            index += 1
        self.sha256 = digest.hexdigest()
        self.scanned = True

    def _parse(self, raw: bytes, line: int, index: int) -> BaseModel:
        assert self._model is not None
        where = f"data.{self._name}[{index}]"
        head = f"--rows {self.path.name} line {line}"
        try:
            value = jsontext.loads(raw)
        except jsontext.NotJson as exc:
            raise InputError(f"{head} is not JSON ({exc.reason})", field=jsontext.under(where, exc.path)) from None
        if not isinstance(value, dict):
            raise InputError(f"{head} is not a JSON object (one row per line)", field=where)
        try:
            return self._model.model_validate(value)
        except ValidationError as exc:
            diags = [dataclasses.replace(d, line=line) for d in from_pydantic(exc, prefix=where,
                                                                             source=self.path.name)]
            raise InputError(f"{head}: the row does not match the {self._model.__name__} model: "
                             f"{len(diags)} problem(s)", diagnostics=diags,
                             field=diags[0].path if diags else where) from None

    def read(self, index: int) -> BaseModel:
        """Row `index` (input order), read again from its offset and validated."""
        fh = self._open()
        fh.seek(self.offsets[index])
        return self._parse(fh.readline(), self.lines[index], index)

    def __iter__(self) -> Iterator[BaseModel]:
        """Every row in input order, read sequentially (one pass over the file)."""
        fh = self._open()
        for index in range(len(self.offsets)):
            if index == 0 or fh.tell() != self.offsets[index]:
                fh.seek(self.offsets[index])
            yield self._parse(fh.readline(), self.lines[index], index)

    def persons(self, index: int) -> list[str]:
        end = self.persons_at[index + 1] if index + 1 < len(self.persons_at) else len(self.person_ids)
        return self.person_ids[self.persons_at[index]:end]

    def check_unchanged(self) -> None:
        """Raise `UsageError` when the file's bytes are not those the first pass read (it changed while the
        document was drawn): nothing drawn from it may be delivered."""
        fh = self._open()
        fh.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
        if digest.hexdigest() != self.sha256:
            raise UsageError(f"--rows: {self.path.name} changed while the list was drawn; nothing was delivered",
                             field="--rows")


class RowStream:
    """One render's streamed rows: the file, the data field they fill, and how each row goes through the
    rules (`transform`). Built by `open_stream`; `Renderer.plan` scans, protects and attaches it."""

    def __init__(self, file: RowsFile, name: str, model: type[BaseModel], limit: int | None) -> None:
        self.file, self.name, self.model, self.limit = file, name, model, limit
        self._header: BoundDocument | None = None
        self._header_persons: list[tuple[str, str]] = []
        self._snapshot: Snapshot | None = None
        self._caller: Caller | None = None
        self._paths: list[tuple[str, frozenset[str]]] = []   # the layout's protected paths
        self._hidden: frozenset[str] = frozenset()            # values hidden in some row (`protect`)

    @property
    def person_ids(self) -> list[str]:
        """Every row's persons, row after row (the issue log's ``person_ids`` after the header's)."""
        return self.file.person_ids

    def everyone(self) -> list[tuple[str, str]]:
        """(input path, person_id) of every row's persons: with the header's, whom the DV registry is read
        for and to whom a protected value of the header without an owner of its own belongs."""
        return [(f"data.{self.name}[{index}]", pid) for index in range(len(self.file))
                for pid in self.file.persons(index)]

    def scan(self, bound: BoundDocument) -> None:
        """Pass 1 over the file (every line validated), for the bound header document."""
        self._header = bound
        self._header_persons = persons_in(bound.data)
        self._paths = protected_paths(bound.layout)
        self.file.scan(self.model, self.name, self.limit)

    def protect(self, snapshot: Snapshot, caller: Caller, header: DvOutcome) -> DvOutcome:
        """Pass 2: the DV outcome of the whole document — the header's, merged with that of every row whose
        persons the registry knows (only those rows are read again). The rows are redacted the same way
        whenever they are read afterwards (`transform`)."""
        self._snapshot, self._caller = snapshot, caller
        protected = set(header.protected)
        redacted = header.redacted
        hidden = set(header.hidden)
        known = snapshot.suppressions
        for index in range(len(self.file)):
            if not any(pid in known for pid in self.file.persons(index)):
                continue
            _, outcome, _count = self._through_rules(index, self.file.read(index))
            if outcome is not None:
                protected.update(outcome.protected)
                redacted += outcome.redacted
                hidden |= outcome.hidden
        self._hidden = frozenset(hidden)
        if self._hidden:   # pass 3, only when something was hidden: the same value in any other row is hidden too
            redacted = header.redacted + sum(self._through_rules(index, row)[2] for index, row in
                                             enumerate(self.file))
        return dataclasses.replace(header, protected=sorted(protected), redacted=redacted,
                                   hidden=self._hidden)

    def transform(self, index: int, row: BaseModel) -> BaseModel:
        """Row `index` as the document prints it: after the standard's rules and the DV redaction (a value
        equal to one hidden in any row hidden too, `renderer.rules.dv.hide_shared`)."""
        return self._through_rules(index, row)[0]

    def _through_rules(self, index: int, row: BaseModel) -> tuple[BaseModel, DvOutcome | None, int]:
        """The row after the rules and DV, its own DV outcome (None when nobody on it is registered) and how
        many values it has 「記載省略」 in all (its own and those shared with a hidden value)."""
        header = self._header
        assert header is not None, "scan the rows first"
        one = dataclasses.replace(header, data=header.data.model_copy(update={self.name: [row]}))
        doc = apply_rules(one)
        outcome: DvOutcome | None = None
        snapshot = self._snapshot
        if snapshot is not None and self._caller is not None and \
                any(pid in snapshot.suppressions for pid in self.file.persons(index)):
            everyone = [*self._header_persons,
                        *((f"data.{self.name}[{index}]", pid) for pid in self.file.persons(index))]
            doc, outcome = apply_dv(doc, everyone, snapshot, self._caller)
        data, shared = hide_shared(doc.data, self._paths, self._hidden)
        rows = getattr(data, self.name)
        return rows[0], outcome, (outcome.redacted if outcome is not None else 0) + shared

    def attach(self, doc: BoundDocument) -> BoundDocument:
        """`doc` (the header after the rules and DV) holding the streamed rows in place of its empty list.
        The model is copied without validation: the field holds a `StreamedRows` view, not a list."""
        view = StreamedRows(self.file, self.transform)
        return dataclasses.replace(doc, data=doc.data.model_copy(update={self.name: view}))


def open_stream(envelope: Envelope, spec: LayoutSpec, file: RowsFile) -> tuple[Envelope, RowStream]:
    """The header envelope to bind (its row list empty: the rows come from `file`) and the stream. The
    header must not carry rows of its own (`InputError` naming the field)."""
    name, row_model = streamed_field(spec)
    if name in envelope.data:
        raise InputError(f"data.{name}: the rows come from --rows {file.path.name}; leave data.{name} out of "
                         f"the header envelope", field=f"data.{name}")
    header = envelope.model_copy(update={"data": {**envelope.data, name: []}})
    return header, RowStream(file, name, row_model, _max_rows(DATA_MODELS[spec.data_model], name))


class StreamedRows(Sequence[Any]):
    """The rows of a streamed list as its document holds them (`data.rows`): read from the file when asked
    for, through the rules (`transform`), in input order — or in printing order once planned
    (`reordered`). A few recently read rows are kept; nothing else. The table's plan is kept here too
    (`cached_plan`), so the sheet count and the drawing share one planning pass."""

    def __init__(self, file: RowsFile, transform: Any, order: Sequence[int] | None = None,
                 plans: dict[int, tuple[object, Any]] | None = None) -> None:
        self._file = file
        self._transform = transform
        self._order = order if isinstance(order, array) or order is None else array("q", order)
        self._cache: dict[int, Any] = {}
        self._plans: dict[int, tuple[object, Any]] = plans if plans is not None else {}
        #: rows read one by one (`__getitem__`), not counting the cache's answers (tests watch it)
        self.reads = 0

    def __len__(self) -> int:
        return len(self._order) if self._order is not None else len(self._file)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        row = self._cache.get(index)
        if row is None:
            source = self._order[index] if self._order is not None else index
            row = self._transform(source, self._file.read(source))
            if len(self._cache) >= _CACHE_ROWS:
                self._cache.clear()
            self._cache[index] = row
            self.reads += 1
        return row

    def __iter__(self) -> Iterator[Any]:
        if self._order is not None:
            for i in range(len(self)):
                yield self[i]
            return
        for index, row in enumerate(self._file):
            yield self._transform(index, row)

    def reordered(self, order: Sequence[int]) -> StreamedRows:
        """The same rows viewed in `order` (input indexes, printing order)."""
        return StreamedRows(self._file, self._transform, order, self._plans)

    def line_of(self, index: int) -> tuple[str, int]:
        """The file name and 1-based line of input row `index` (what an error found while drawing names)."""
        return self._file.path.name, self._file.lines[index]

    def cached_plan(self, key: object) -> Any:
        kept = self._plans.get(id(key))
        return kept[1] if kept is not None and kept[0] is key else None

    def keep_plan(self, key: object, plan: Any) -> None:
        self._plans[id(key)] = (key, plan)


__all__ = ["RowStream", "RowsFile", "StreamedRows", "open_stream", "streamed_field"]

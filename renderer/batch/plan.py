"""Batch planning: each input record to a plan (or the reason it fails), and a chunk of them to serials.

In: the run's input (`Source`, `InputIndex`), the `Renderer`, the run's `BatchLog` (id, caller, layout) and
the DV registry as the coordinator reads it (`RegistryViews`). Out:
- `Planner.plan_one`: an `Outcome` per record — its `Plan` (`Renderer.prepare` in `Mode.BATCH`: rules, DV,
  sheet count; no serial, nothing logged) or the journal row saying why it fails (``refused``, ``invalid``,
  ``failed``) with its refusal record. One record's failure never stops the run; a failing issue log or
  database does (the run resumes later);
- `reserve`: inside a chunk's commit transaction, its serials (one reservation per counter, handed out in
  printing order), its journal rows and its `FilePlan` (what the worker draws);
- `RegistryViews`: the registry read once per (tenant, layout) and checked inside each commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy.engine import Connection

from renderer.api import Mode, Plan, Renderer
from renderer.batch.journal import FileRow, RecordRow
from renderer.batch.records import BatchLog, SerialKey, issue_numbers_of, numbers_of, serial_key
from renderer.batch.source import InputIndex, Source
from renderer.batch.status import FileStatus, RecordStatus
from renderer.batch.work import PlannedRecord
from renderer.compose.compose import UNNUMBERED
from renderer.envelope import Envelope
from renderer.errors import ChohyoError, InputError, LayoutError, RefusedError, UsageError
from renderer.spec.model import LayoutSpec
from renderer.state.issue_log import IssueLogError, LogRecord
from renderer.state.registry import Registry, RegistryView, generation
from renderer.state.serials import allocate_in
from renderer.suppressions import Snapshot


@dataclass
class Outcome:
    """One record as planned: a plan, or the journal row of its failure (and the log records it needs)."""

    position: int
    line: int
    plan: Plan | None = None
    row: RecordRow | None = None          # failed: the journal row (refused / invalid / failed)
    refusal: LogRecord | None = None
    voids: LogRecord | None = None        # on resume: the void record of the serials it was given
    printer: str | None = None            # the printer a record naming none was planned for (--print-to)

    @property
    def pages(self) -> int:
        """Pages in the file: a two-sided layout's copies are padded to whole sheets (`batch.work.whole_sheets`)."""
        if self.plan is None:
            return 0
        needs = self.plan.doc.layout.printing
        pad = self.plan.sheets % 2 if needs is not None and needs.sides != "one-sided" else 0
        return (self.plan.sheets + pad) * self.plan.copies


def failed(position: int, line: int, rule: str | None, field_path: str | None, message: str, *,
           status: RecordStatus = RecordStatus.FAILED, problem: str = "refused") -> Outcome:
    return Outcome(position, line, row=RecordRow(position, line, status, problem=problem, rule=rule,
                                                 field=field_path, message=message))


def log_records(outcomes: Iterable[Outcome]) -> list[LogRecord]:
    """The refusal and void records of failed outcomes, in order."""
    return [r for o in outcomes for r in (o.refusal, o.voids) if r is not None]


@dataclass
class FilePlan:
    """The records of one output file: position → (plan, serials, input line), in printing order."""

    name: str
    plans: dict[int, tuple[Plan, tuple[int, ...], int]] = field(default_factory=dict)

    def add(self, position: int, plan: Plan, serials: tuple[int, ...], line: int) -> None:
        self.plans[position] = (plan, serials, line)

    def records(self) -> list[PlannedRecord]:
        """What the worker draws."""
        return [PlannedRecord(position, line, plan.doc, serials)
                for position, (plan, serials, line) in self.plans.items()]


class Planner:
    def __init__(self, renderer: Renderer, source: Source, index: InputIndex, log: BatchLog,
                 views: RegistryViews, printers: tuple[str, ...] = ()) -> None:
        self.renderer = renderer
        self.source = source
        self.index = index
        self.log = log
        self.views = views
        #: the printers of a run that prints (``--print-to``): a record's ``request.printer`` must be one of them
        self.printers = printers

    def named_printer(self, fh: IO[bytes], position: int) -> str | None:
        """The printer the record at `position` names in ``request.printer`` ("" none; None unreadable)."""
        try:
            raw = self.source.read(fh, self.index.offsets[position], self.index.lines[position])
        except ChohyoError:
            return None
        request = raw.get("request") if isinstance(raw, dict) else None
        named = request.get("printer") if isinstance(request, dict) else None
        return named if isinstance(named, str) else ""

    def plan_one(self, fh: IO[bytes], position: int, *, today: dt.date | None = None,
                 cached: bool = True, printer: str | None = None) -> Outcome:
        """Plan the record at `position` (issued `today` when it names no date: the day its serials were
        counted in, on resume); `cached=False` reads the registry from the database, not the views.
        `printer`: the printer a record that names none prints on (a run with ``--print-to``: its 発行番号
        names the printer that prints it); a record naming a printer the run does not print on is invalid."""
        line = self.index.lines[position]
        out = self._plan(fh, position, line, today, cached, printer)
        out.printer = printer
        return out

    def _plan(self, fh: IO[bytes], position: int, line: int, today: dt.date | None, cached: bool,
              printer: str | None) -> Outcome:
        now = self.renderer.settings.now()
        refusal: list[LogRecord] = []

        def refused(envelope: Envelope, spec: LayoutSpec, exc: RefusedError) -> None:
            refusal.append(self.log.refusal(envelope, spec, exc, now, line))

        try:
            raw = self.source.read(fh, self.index.offsets[position], line)
            if self.printers:
                raw = self._on_printer(raw, printer)
            return Outcome(position, line, plan=self.renderer.prepare(
                raw, layout_id=self.log.layout, caller=self.log.caller, mode=Mode.BATCH, now=now, today=today,
                registry=self.views if cached else None, on_refusal=refused))
        except RefusedError as exc:
            out = failed(position, line, exc.rule or "refused", exc.field, exc.message, status=RecordStatus.REFUSED)
            out.refusal = refusal[0] if refusal else None
            return out
        except (InputError, LayoutError, UsageError) as exc:
            return failed(position, line, None, exc.field, str(exc), status=RecordStatus.INVALID,
                          problem=exc.problem)
        except IssueLogError:
            raise   # the log or database is down: stop the run (resume later), never print unlogged
        except ChohyoError as exc:
            return failed(position, line, exc.rule, exc.field, exc.message, problem=exc.problem)
        except Exception as exc:   # one record must not stop a print run; the class name only, never data
            return failed(position, line, None, None, f"internal failure ({exc.__class__.__name__})",
                          problem="internal")


    def _on_printer(self, raw: Any, printer: str | None) -> Any:
        request = raw.get("request") if isinstance(raw, dict) else None
        if not isinstance(request, dict):
            return raw   # the envelope's own validation names what is missing
        named = request.get("printer")
        if named in (None, ""):
            if printer is None:
                return raw
            return {**raw, "request": {**request, "printer": printer}}   # the run-level request is shared
        if named not in self.printers:
            raise UsageError(f"request.printer: the record names printer {named!r}, but this run prints on "
                             f"{', '.join(self.printers)}; the 発行番号 must name the printer that prints it",
                             field="request.printer")
        return raw


@dataclass
class Reservation:
    """What one chunk's commit wrote: the journal rows, the file's row and plan, the reserve record."""

    rows: list[RecordRow]
    file: FileRow | None
    plan: FilePlan
    reserve: LogRecord | None


def reserve(conn: Connection, chunk: list[Outcome], name: str | None, log: BatchLog) -> Reservation:
    """Inside the commit transaction: one reservation per counter for the whole chunk, handed out in
    printing order; a journal row per record (planned, or why it failed) and the file's row. `name` is
    None when no record of the chunk was planned (no file)."""
    placed = [o for o in chunk if o.plan is not None]
    wanted: dict[SerialKey, int] = {}
    for o in placed:
        assert o.plan is not None
        if o.plan.doc.layout.prints_issue_number:   # a layout that prints none spends none
            key = serial_key(o.plan)
            wanted[key] = wanted.get(key, 0) + o.plan.copies
    pools = {key: iter(allocate_in(conn, *key, n)) for key, n in wanted.items()}
    rows: list[RecordRow] = []
    file = FilePlan(name or "")
    for o in chunk:
        if o.plan is None:
            assert o.row is not None
            rows.append(o.row)
            continue
        req, doc = o.plan.doc.request, o.plan.doc
        pool = pools.get(serial_key(o.plan))
        serials = tuple(next(pool) if pool is not None else UNNUMBERED for _ in range(req.copies))
        rows.append(RecordRow(o.position, o.line, RecordStatus.PLANNED, file=name, tenant=doc.tenant.code,
                              day=req.issued_on.isoformat(), terminal=req.terminal, printer=req.printer,
                              serials=serials, issue_numbers=tuple(issue_numbers_of(o.plan, serials)),
                              pages=o.pages))
        file.add(o.position, o.plan, serials, o.line)
    row = FileRow(name, placed[0].position, placed[-1].position, FileStatus.PLANNED, None, None) if name else None
    numbers = [n for plan, serials, _ in file.plans.values() for n in numbers_of(plan, serials)]
    return Reservation(rows, row, file, log.reserve(numbers, name) if numbers else None)


class RegistryChanged(ChohyoError):
    """Raised inside a chunk's commit when the registry it was planned from is no longer current."""


class RegistryViews:
    """The DV registry as the coordinator plans from it: one in-memory view per (tenant, layout), read in
    one transaction and read again only after the registry changed. Each record's snapshot is exactly what
    `Registry.snapshot` would return (lifts judged against the record's own clock), without a database
    round trip per record; `current` is checked inside the commit transaction."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.views: dict[tuple[str, str], RegistryView] = {}

    def snapshot(self, tenant: str, person_ids: Iterable[str], requester_ids: Iterable[str], layout_id: str,
                 now: dt.datetime) -> Snapshot:
        view = self.views.get((tenant, layout_id))
        if view is None:
            view = self.views[(tenant, layout_id)] = self.registry.view(tenant, layout_id, now)
        return view.snapshot(tenant, person_ids, requester_ids, layout_id, now)

    def current(self, conn: Connection) -> bool:
        return all(generation(conn, v.tenant) == v.generation for v in self.views.values())

    def clear(self) -> None:
        self.views.clear()


__all__ = ["FilePlan", "Outcome", "Planner", "RegistryChanged", "RegistryViews", "Reservation", "failed",
           "log_records", "reserve"]

"""The batch coordinator: plan records, reserve serials, hand files to workers, keep the journal.

In: `BatchOptions` (layout, INPUT.jsonl, output directory, optional run-level request, workers or a Dask
scheduler, pages per file, sort key, resume) and a `Renderer`. Out: PDF files of at most
``pages_per_file`` pages in the output directory, ``manifest.json`` and ``errors.json``, and a
`BatchSummary` (exit code 0, or 4 when some records failed).

How a run stays exactly-once through a ``kill -9`` at any moment:
1. the input is indexed once (line numbers and offsets in printing order, after ``--sort``) and the index
   is kept in the run directory (``.chohyo-batch/``);
2. records are planned in order (rules, DV, sheet count — `Renderer.plan`) and grouped into files; one
   transaction per file reserves each record's serials, writes its journal rows and logs refusals, so a
   record either has its serials in the journal or was never planned;
3. a worker draws the file from its plan file into a temp file of its own (fsynced); this process renames
   it into place, then one transaction logs every record's issue-log entry (with the file's sha256), the
   file's own entry, and marks the file complete. Only complete files enter the manifest;
4. on ``--resume``: temp files are deleted; files planned but not complete are deleted and re-planned
   from the input with the serials the journal holds (the rules and the DV registry are applied again,
   today: a lift that expired or a suppression added meanwhile is honoured); planning continues after
   the last planned record.
Planning runs here, drawing runs in the workers: the coordinator's per-record cost is about 1 ms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from renderer.api import TOKYO, Plan, Renderer, parse_envelope, refusal_record, render_record
from renderer.batch.executors import DaskExecutor, Executor, LocalExecutor
from renderer.batch.journal import FileRow, Journal, RecordRow
from renderer.batch.progress import BatchProgress
from renderer.batch.source import CsvSource, InputIndex, Source, file_sha256, load_csv_mapping
from renderer.batch.work import FileResult, FileTask, PlannedRecord, RecordFailure, save_plan
from renderer.caller import Caller
from renderer.compose.compose import issue_number
from renderer.errors import ChohyoError, InputError, LayoutError, RefusedError, UsageError
from renderer.files import TEMP_SUFFIX, private_dir, remove_strays, sync_dir, write_atomic
from renderer.state.issue_log import IssuedNumber, IssueLogError, LogRecord
from renderer.state.registry import Registry, RegistryView, Snapshot, generation, instant
from renderer.state.serials import allocate_in

STATE_DIR = ".chohyo-batch"
RUN_FILE = "run.json"
LOCK_FILE = "lock"
ORDER_FILE = "order.bin"
MANIFEST = "manifest.json"
ERRORS = "errors.json"
#: records whose failure is held in memory before their chunk is committed without a file
MAX_CHUNK_RECORDS = 2000


@dataclass(frozen=True)
class BatchOptions:
    layout: str
    input: Path
    out_dir: Path
    request: Path | None = None
    csv_map: Path | None = None
    workers: int = 2
    pages_per_file: int = 1000
    sort: str | None = None
    scheduler: str | Any | None = None   # "tcp://host:port", or a distributed Client/cluster (tests)
    resume: bool = False
    progress: bool = True
    #: the operator checked identity documents (``--identity-verified``): see `renderer.caller`
    identity_verified: bool = False

    def caller(self) -> Caller:
        return Caller.local("batch", identity_verified=self.identity_verified)

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the run it finishes (workers may differ)."""
        return {"layout": self.layout, "sort": self.sort, "pages_per_file": self.pages_per_file,
                "request": file_sha256(self.request) if self.request else None,
                "csv_map": file_sha256(self.csv_map) if self.csv_map else None}


@dataclass
class BatchSummary:
    run_id: str
    records: int
    rendered: int = 0
    refused: int = 0
    invalid: int = 0
    failed: int = 0
    files: int = 0
    pages: int = 0
    manifest: Path | None = None
    errors: Path | None = None
    resumed: bool = False

    @property
    def exit_code(self) -> int:
        return 4 if self.refused or self.invalid or self.failed else 0


@dataclass
class _Outcome:
    position: int
    line: int
    plan: Plan | None = None
    row: RecordRow | None = None          # failed: the journal row (refused / invalid / failed)
    refusal: LogRecord | None = None
    voids: LogRecord | None = None        # on resume: the void record of the serials it was given

    @property
    def pages(self) -> int:
        return self.plan.sheets * self.plan.copies if self.plan else 0


@dataclass
class _InFlight:
    name: str
    plans: dict[int, tuple[Plan, tuple[int, ...], int]] = field(default_factory=dict)   # position → plan


class BatchRun:
    def __init__(self, renderer: Renderer, options: BatchOptions) -> None:
        self.renderer = renderer
        self.opts = options
        self.state = options.out_dir / STATE_DIR
        self.plans_dir = self.state / "plans"
        self.source: Source
        self.index: InputIndex
        self.journal: Journal
        self.run_id = ""
        self.summary: BatchSummary
        self.inflight: dict[Any, _InFlight] = {}
        self.caller = options.caller()
        self.views = RegistryViews(renderer.registry)

    # ------------------------------------------------------------------ entry

    def run(self) -> BatchSummary:
        self._check_options()   # before anything is created on disk
        with _private_umask(), self._exclusive():
            self._open()
            executor = self._executor()
            progress = BatchProgress(len(self.index), self._finished_count(), enabled=self.opts.progress)
            try:
                self._resume_unfinished(executor, progress)
                self._plan_all(executor, progress)
                while self.inflight:
                    self._collect(executor, progress)
            finally:
                progress.close()
                executor.close()
            self._write_reports()
            self.journal.finish(instant(self.renderer.settings.now()))
        return self.summary

    # ------------------------------------------------------------------ setup and resume

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One coordinator per output directory: a second `--resume` while the first still runs would
        draw the same files twice. The lock dies with its process (a kill -9 frees it)."""
        private_dir(self.state)
        with (self.state / LOCK_FILE).open("a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"another chohyo batch is running in {self.opts.out_dir}", field="--output") from None
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _check_options(self) -> None:
        opts = self.opts
        spec = self.renderer.layout(opts.layout)   # unknown layout: UsageError naming the known ones
        if opts.sort is not None and opts.sort not in spec.sort_keys:
            declared = ", ".join(sorted(spec.sort_keys)) or "none"
            raise UsageError(f"--sort {opts.sort!r} is not a sort key of {opts.layout} (declared: {declared})",
                             field="--sort")
        if opts.pages_per_file < 1:
            raise UsageError("--pages-per-file must be at least 1", field="--pages-per-file")
        if not opts.input.is_file():
            raise UsageError(f"cannot read {opts.input}: no such file", field="INPUT")
        if opts.resume and not (self.state / RUN_FILE).exists():
            raise UsageError(f"there is no batch run to resume in {opts.out_dir}", field="--resume")
        request = self._run_request()
        if opts.csv_map is not None:
            if request is None:
                raise UsageError("CSV rows are data: --csv-map needs --request {tenant, request}", field="--request")
            self.source = CsvSource(opts.input, load_csv_mapping(opts.csv_map), request=request, layout_id=opts.layout)
        else:
            self.source = Source(opts.input, request=request, layout_id=opts.layout)

    def _open(self) -> None:
        opts = self.opts
        spec = self.renderer.layout(opts.layout)
        run_file = self.state / RUN_FILE
        db = self.renderer.db
        if run_file.exists():
            if not opts.resume:
                raise UsageError(f"{opts.out_dir} holds an unfinished or finished batch run; pass --resume to "
                                 f"finish it, or choose another output directory", field="--output")
            saved = json.loads(run_file.read_text(encoding="utf-8"))
            self.run_id = str(saved["run_id"])
            if saved["options"] != opts.fingerprint():
                raise UsageError("--resume needs the options of the run it finishes (layout, --sort, "
                                 "--pages-per-file, --request)", field="--resume")
            if file_sha256(opts.input) != saved["input_sha256"]:
                raise UsageError(f"{opts.input} changed since the run started (sha256 differs); a run resumes "
                                 f"only on the same input", field="INPUT")
            self.index = InputIndex.load(self.state / ORDER_FILE)
            self.journal = Journal(db, self.run_id)
            if self.journal.run() is None:
                raise UsageError(f"the runtime database has no batch run {self.run_id} (another --state-dir?)",
                                 field="--state-dir")
            self.summary = BatchSummary(self.run_id, len(self.index), resumed=True)
        else:
            if opts.resume:
                raise UsageError(f"there is no batch run to resume in {opts.out_dir}", field="--resume")
            private_dir(opts.out_dir)
            if any(p.name != STATE_DIR for p in opts.out_dir.iterdir()):
                raise UsageError(f"{opts.out_dir} is not empty; a batch run writes into an empty directory",
                                 field="--output")
            sort_path = spec.sort_keys[opts.sort] if opts.sort else None
            self.index = self.source.scan(sort_path)
            private_dir(self.state)
            self.index.save(self.state / ORDER_FILE)
            self.run_id = str(uuid.uuid4())
            self.journal = Journal(db, self.run_id)
            self.journal.create(created_at=instant(self.renderer.settings.now()), layout=opts.layout,
                                input_sha256=self.index.sha256, options=opts.fingerprint(), records=len(self.index))
            write_atomic(run_file, json.dumps({
                "run_id": self.run_id, "input_sha256": self.index.sha256, "options": opts.fingerprint()},
                ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
            self.summary = BatchSummary(self.run_id, len(self.index))
        private_dir(self.plans_dir)
        remove_strays(opts.out_dir)
        remove_strays(self.state)
        for stale in self.plans_dir.iterdir():   # plans are rewritten for every file still to draw
            stale.unlink()

    def _run_request(self) -> dict[str, Any] | None:
        path = self.opts.request
        if path is None:
            return None
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {path} as JSON ({exc.__class__.__name__})", field="--request") from None
        if not isinstance(value, dict) or set(value) - {"tenant", "request", "layout"} or "data" in value:
            raise UsageError("--request must be a JSON object {tenant, request} (each input line is the data)",
                             field="--request")
        if value.get("layout", self.opts.layout) != self.opts.layout:
            raise UsageError(f"--request names layout {value['layout']!r}, not {self.opts.layout!r}",
                             field="--request.layout")
        return {k: v for k, v in value.items() if k != "layout"}

    def _executor(self) -> Executor:
        if self.opts.scheduler is not None:
            return DaskExecutor(self.opts.scheduler)
        if self.opts.workers < 1:
            raise UsageError("--workers must be at least 1", field="--workers")
        return LocalExecutor(self.opts.workers, str(self.renderer.settings.fonts_dir))

    def _finished_count(self) -> int:
        return sum(1 for r in self.journal.records() if r.status != "planned")

    def _resume_unfinished(self, executor: Executor, progress: BatchProgress) -> None:
        """Files planned but never completed: delete what may exist, re-plan with the journal's serials."""
        for f in self.journal.files("planned"):
            (self.opts.out_dir / f.name).unlink(missing_ok=True)
            rows = self.journal.records_of(f.name)
            planned: list[PlannedRecord] = []
            flight = _InFlight(f.name)
            failed: list[_Outcome] = []
            with self._input() as fh:
                for row in rows:
                    if row.status != "planned":
                        continue
                    day = dt.date.fromisoformat(row.day or "1970-01-01")
                    out = self._plan_one(fh, row.position, today=day, cached=False)
                    if out.plan is not None and not _same_key(out.plan, row):
                        out = _failed(row.position, row.line, "batch-resume-mismatch", "request",
                                      "the record's request no longer matches the serials it was given")
                    if out.plan is None:
                        out.voids = self._void_numbers(row)
                        failed.append(out)
                        continue
                    planned.append(PlannedRecord(row.position, row.line, out.plan.doc, row.serials))
                    flight.plans[row.position] = (out.plan, row.serials, row.line)
            if failed:
                rows_failed = [o.row for o in failed if o.row is not None]

                def mark(conn: Any, rows_failed: list[RecordRow] = rows_failed) -> None:
                    self.journal.replan(conn, rows_failed)

                self.renderer.issue_log.append_many(_records_of(failed), also=mark)
                progress.advance(len(failed))
            if planned:
                self._submit(executor, flight, planned)
            else:
                self._complete_empty(f.name)

    # ------------------------------------------------------------------ planning

    @contextmanager
    def _input(self) -> Iterator[IO[bytes]]:
        with self.opts.input.open("rb") as fh:
            yield fh

    def _plan_one(self, fh: IO[bytes], position: int, *, today: dt.date | None = None,
                  cached: bool = True) -> _Outcome:
        line = self.index.lines[position]
        now = self.renderer.settings.now()
        envelope = None
        try:
            raw = self.source.read(fh, self.index.offsets[position], line)
            envelope = parse_envelope(raw, today=today or now.astimezone(TOKYO).date())
            if envelope.layout != self.opts.layout:
                raise InputError(f"the record's layout {envelope.layout!r} is not {self.opts.layout!r}",
                                 field="layout")
            spec = self.renderer.layout(envelope.layout)
            tenant = self.renderer.tenant(envelope.tenant)
            registry = self.views if cached else None
            return _Outcome(position, line, plan=self.renderer.plan(envelope, spec, tenant, now, caller=self.caller,
                                                                    registry=registry))
        except RefusedError as exc:
            out = _failed(position, line, exc.rule or "refused", exc.field, exc.message, status="refused")
            if envelope is not None:
                out.refusal = refusal_record(envelope, self.renderer.layout(envelope.layout), exc, now, self.caller,
                                             extra={"batch": self.run_id, "record": line})
            return out
        except (InputError, LayoutError, UsageError) as exc:
            return _failed(position, line, None, exc.field, str(exc), status="invalid", problem=exc.problem)
        except IssueLogError:
            raise   # the log or database is down: stop the run (resume later), never print unlogged
        except ChohyoError as exc:
            return _failed(position, line, exc.rule, exc.field, exc.message, status="failed", problem=exc.problem)
        except Exception as exc:   # one record must not stop a print run; the class name only, never data
            return _failed(position, line, None, None, f"internal failure ({exc.__class__.__name__})",
                           status="failed", problem="internal")

    def _plan_all(self, executor: Executor, progress: BatchProgress) -> None:
        position = self.journal.next_position()
        chunk: list[_Outcome] = []
        pages = 0
        limit = self.opts.pages_per_file
        in_flight_max = max(2, self._capacity() + 1)
        with self._input() as fh:
            while position < len(self.index):
                out = self._plan_one(fh, position)
                position += 1
                if out.plan is not None and pages and pages + out.pages > limit:
                    self._commit(executor, chunk, progress, fh)
                    chunk, pages = [], 0
                    while len(self.inflight) >= in_flight_max:
                        self._collect(executor, progress)
                chunk.append(out)
                pages += out.pages
                if len(chunk) >= MAX_CHUNK_RECORDS:   # many small or failed records: bound the chunk
                    self._commit(executor, chunk, progress, fh)
                    chunk, pages = [], 0
            if chunk:
                self._commit(executor, chunk, progress, fh)

    def _capacity(self) -> int:
        if self.opts.scheduler is not None:
            return 2 * max(1, self.opts.workers)
        return self.opts.workers

    def _commit(self, executor: Executor, chunk: list[_Outcome], progress: BatchProgress, fh: IO[bytes]) -> None:
        """One transaction: serials for every planned record, the journal rows, the refusal records — and
        only while the DV registry is as the chunk was planned from; if it changed meanwhile (an import, a
        lift, a revoke), the chunk is planned again from the fresh registry first."""
        while True:
            try:
                self._commit_once(executor, chunk, progress)
                return
            except RegistryChanged:
                self.views.clear()
                chunk = [self._plan_one(fh, o.position) for o in chunk]

    def _commit_once(self, executor: Executor, chunk: list[_Outcome], progress: BatchProgress) -> None:
        ok = [o for o in chunk if o.plan is not None]
        name = f"{self.opts.layout}-{self.journal.next_file_number():05d}.pdf" if ok else None
        rows: list[RecordRow] = []
        planned: list[PlannedRecord] = []
        flight = _InFlight(name or "")

        def entries(conn: Any) -> list[LogRecord]:
            if not self.views.current(conn):
                raise RegistryChanged("the DV registry changed while the chunk was planned")
            rows.clear()
            planned.clear()
            # one reservation per counter for the whole chunk, handed out in printing order
            wanted: dict[tuple[str, dt.date, str, str], int] = {}
            for o in ok:
                assert o.plan is not None
                key = _serial_key(o.plan)
                wanted[key] = wanted.get(key, 0) + o.plan.copies
            pools = {key: iter(allocate_in(conn, *key, n)) for key, n in wanted.items()}
            for o in chunk:
                if o.plan is None:
                    assert o.row is not None
                    rows.append(o.row)
                    continue
                req, doc = o.plan.doc.request, o.plan.doc
                pool = pools[_serial_key(o.plan)]
                serials = tuple(next(pool) for _ in range(req.copies))
                rows.append(RecordRow(o.position, o.line, "planned", file=name, tenant=doc.tenant.code,
                                      day=req.issued_on.isoformat(), terminal=req.terminal, printer=req.printer,
                                      serials=serials, issue_numbers=tuple(issue_number(doc, s) for s in serials),
                                      pages=o.pages))
                planned.append(PlannedRecord(o.position, o.line, doc, serials))
                flight.plans[o.position] = (o.plan, serials, o.line)
            file = FileRow(name, ok[0].position, ok[-1].position, "planned", None, None) if name else None
            self.journal.insert_chunk(conn, rows, file)
            records = _records_of(chunk)
            reserved = [IssuedNumber(*_serial_key(plan), s) for plan, serials, _ in flight.plans.values()
                        for s in serials]
            if reserved:   # the chunk's numbers, accounted for in the same commit as the counters and journal
                records.append(LogRecord("reserve", self.renderer.settings.now(), {
                    "tenant": reserved[0].tenant, "layout": self.opts.layout, "caller": self.caller.record(),
                    "batch": self.run_id, "file": name}, reserves=tuple(reserved)))
            return records

        self.renderer.issue_log.append_many(entries, locks=("serials",))
        progress.advance(len(chunk) - len(ok))
        if planned:
            self._submit(executor, flight, planned)

    def _submit(self, executor: Executor, flight: _InFlight, planned: list[PlannedRecord]) -> None:
        plan_path = self.plans_dir / (flight.name + ".plan")
        save_plan(plan_path, planned)
        # The worker writes a temp name of its own; this process renames it into place once the result is
        # back, so a straggler of a killed run (a Dask task still running) can never overwrite a file.
        temp = self.opts.out_dir / f".{flight.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
        task = FileTask(flight.name, str(plan_path), str(temp),
                        str(self.renderer.settings.fonts_dir))
        self.inflight[executor.submit(task)] = flight

    # ------------------------------------------------------------------ completion

    def _collect(self, executor: Executor, progress: BatchProgress) -> None:
        for future in executor.wait_any(self.inflight):
            flight = self.inflight.pop(future)
            try:
                result: FileResult = future.result()
            except ChohyoError:
                raise
            except Exception as exc:   # a worker died or the disk is full: stop; --resume finishes the run
                raise ChohyoError(f"drawing {flight.name} failed ({exc.__class__.__name__}); the run stopped "
                                  f"and can be finished with --resume") from None
            if result.sha256:
                Path(result.path).replace(self.opts.out_dir / flight.name)
                sync_dir(self.opts.out_dir)
            self._complete(flight, result)
            progress.advance(len(flight.plans))

    def _complete(self, flight: _InFlight, result: FileResult) -> None:
        now = self.renderer.settings.now()
        entries: list[LogRecord] = []
        first_plan: Plan | None = None
        for r in result.records:
            plan, serials, line = flight.plans[r.position]
            first_plan = first_plan or plan
            req = plan.doc.request
            record = render_record(
                plan, now, pages=r.pages, issue_numbers=[issue_number(plan.doc, s) for s in serials],
                seal_printed=r.seal_printed, my_number_printed=r.my_number_printed, pdf_sha256=result.sha256,
                extra={"batch": self.run_id, "file": flight.name, "record": line})
            entries.append(dataclasses.replace(record, closes=tuple(
                IssuedNumber(plan.doc.tenant.code, req.issued_on, req.terminal, req.printer, s) for s in serials)))
        failed = [_from_failure(f, flight.plans[f.position][2]) for f in result.failures]
        for f in result.failures:   # drawn records that failed: their numbers are void, with the reason
            plan, serials, line = flight.plans[f.position]
            entries.append(self._void_record(plan, serials, f.problem, f.rule, line))
        if first_plan is not None:
            entries.append(LogRecord("batch-file", now, {
                "tenant": first_plan.doc.tenant.code, "layout": self.opts.layout, "batch": self.run_id,
                "file": flight.name, "file_sha256": result.sha256, "pages": result.pages,
                "records": len(result.records)}))

        def also(conn: Any) -> None:
            self.journal.complete(conn, flight.name, result.sha256, result.pages,
                                  [(r.position, r.first_page, r.pages) for r in result.records])
            self.journal.replan(conn, failed)

        self.renderer.issue_log.append_many(entries, also=also)
        (self.plans_dir / (flight.name + ".plan")).unlink(missing_ok=True)

    def _void_record(self, plan: Plan, serials: tuple[int, ...], reason: str, rule: str | None,
                     line: int) -> LogRecord:
        doc, req = plan.doc, plan.doc.request
        return LogRecord("void", self.renderer.settings.now(), {
            "tenant": doc.tenant.code, "layout": doc.layout.id, "caller": self.caller.record(), "reason": reason,
            "rule": rule, "batch": self.run_id, "record": line},
            closes=tuple(IssuedNumber(doc.tenant.code, req.issued_on, req.terminal, req.printer, s) for s in serials))

    def _void_numbers(self, row: RecordRow) -> LogRecord | None:
        """The void record for a journal row's serials (a record the rules refuse on resume)."""
        if not row.serials or row.tenant is None or row.day is None:
            return None
        day = dt.date.fromisoformat(row.day)
        return LogRecord("void", self.renderer.settings.now(), {
            "tenant": row.tenant, "layout": self.opts.layout, "caller": self.caller.record(),
            "reason": "refused-on-resume", "batch": self.run_id, "record": row.line},
            closes=tuple(IssuedNumber(row.tenant, day, row.terminal or "", row.printer or "", s) for s in row.serials))

    def _complete_empty(self, name: str) -> None:
        with self.renderer.db.write("batch") as conn:
            self.journal.complete(conn, name, "", 0, [])

    # ------------------------------------------------------------------ reports

    def _write_reports(self) -> None:
        """manifest.json (every file and every record) and errors.json (failed records), streamed."""
        s = self.summary
        files = [f for f in self.journal.files("complete") if f.pages]
        s.files, s.pages = len(files), sum(f.pages or 0 for f in files)
        counts = {"rendered": 0, "refused": 0, "invalid": 0, "failed": 0}
        first_last: dict[str, list[int]] = {}
        manifest_tmp = self.state / (MANIFEST + ".part")
        errors_tmp = self.state / (ERRORS + ".part")
        with manifest_tmp.open("w", encoding="utf-8") as mf, errors_tmp.open("w", encoding="utf-8") as ef:
            mf.write('{\n"records": [\n')
            ef.write('{\n"errors": [\n')
            first_rec, first_err = True, True
            for r in self.journal.records():
                entry = _manifest_entry(r)
                if r.status not in counts:
                    raise ChohyoError(f"record {r.line} is still {r.status} after the run; nothing was reported")
                counts[r.status] += 1
                mf.write(("" if first_rec else ",\n") + json.dumps(entry, ensure_ascii=False))
                first_rec = False
                if r.status == "rendered" and r.file:
                    first_last.setdefault(r.file, [r.line, r.line])[1] = r.line
                else:
                    err = {**entry, "message": r.message}
                    ef.write(("" if first_err else ",\n") + json.dumps(err, ensure_ascii=False))
                    first_err = False
            s.rendered, s.refused, s.invalid, s.failed = (counts[k] for k in ("rendered", "refused", "invalid",
                                                                             "failed"))
            file_entries = [{"name": f.name, "sha256": f.sha256, "pages": f.pages,
                             "first_record": first_last.get(f.name, [None, None])[0],
                             "last_record": first_last.get(f.name, [None, None])[1],
                             # one record longer than --pages-per-file gets a file of its own (never split)
                             **({"over_page_limit": True} if (f.pages or 0) > self.opts.pages_per_file else {})}
                            for f in files]
            totals = {"records": s.records, **counts, "files": s.files, "pages": s.pages}
            head = {"run_id": self.run_id, "layout": self.opts.layout,
                    "input": {"name": self.opts.input.name, "sha256": self.index.sha256},
                    "options": self.opts.fingerprint(), "files": file_entries, "totals": totals}
            mf.write("\n],\n" + json.dumps(head, ensure_ascii=False, indent=1)[1:] + "\n")
            ef.write("\n],\n" + json.dumps({"totals": totals}, ensure_ascii=False)[1:] + "\n")
            for fh in (mf, ef):
                fh.flush()
                os.fsync(fh.fileno())
        if sum(counts.values()) != s.records:
            raise ChohyoError(f"the journal accounts for {sum(counts.values())} of {s.records} records; "
                              f"no manifest was written (run again with --resume)")
        manifest_tmp.replace(self.opts.out_dir / MANIFEST)
        errors_path = self.opts.out_dir / ERRORS
        if s.exit_code:
            errors_tmp.replace(errors_path)
            s.errors = errors_path
        else:
            errors_tmp.unlink()
            errors_path.unlink(missing_ok=True)
        s.manifest = self.opts.out_dir / MANIFEST


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

    def current(self, conn: Any) -> bool:
        return all(generation(conn, v.tenant) == v.generation for v in self.views.values())

    def clear(self) -> None:
        self.views.clear()


def _manifest_entry(r: RecordRow) -> dict[str, Any]:
    if r.status == "rendered":
        return {"record": r.line, "position": r.position, "status": r.status, "file": r.file,
                "first_page": r.first_page, "pages": r.pages, "issue_numbers": list(r.issue_numbers)}
    entry: dict[str, Any] = {"record": r.line, "position": r.position, "status": r.status,
                             "problem": r.problem, "rule": r.rule, "field": r.field}
    if r.issue_numbers:   # serials reserved before the record failed in drawing: spent, never printed
        entry["unused_issue_numbers"] = list(r.issue_numbers)
    return entry


def _failed(position: int, line: int, rule: str | None, field_path: str | None, message: str, *,
            status: str = "failed", problem: str = "refused") -> _Outcome:
    return _Outcome(position, line, row=RecordRow(position, line, status, problem=problem, rule=rule,
                                                  field=field_path, message=message))


def _records_of(outcomes: list[_Outcome]) -> list[LogRecord]:
    """The refusal and void records of failed outcomes, in order."""
    return [r for o in outcomes for r in (o.refusal, o.voids) if r is not None]


def _from_failure(f: RecordFailure, line: int) -> RecordRow:
    status = "invalid" if f.problem.startswith("invalid") or f.problem in {"glyph-not-covered", "text-overflow"} \
        else "refused" if f.problem == "refused" else "failed"
    return RecordRow(f.position, line, status, problem=f.problem, rule=f.rule, field=f.field, message=f.message)


def _serial_key(plan: Plan) -> tuple[str, dt.date, str, str]:
    req = plan.doc.request
    return (plan.doc.tenant.code, req.issued_on, req.terminal, req.printer)


def _same_key(plan: Plan, row: RecordRow) -> bool:
    req = plan.doc.request
    return (plan.doc.tenant.code, req.issued_on.isoformat(), req.terminal, req.printer, req.copies) == (
        row.tenant, row.day, row.terminal, row.printer, len(row.serials))


@contextmanager
def _private_umask() -> Iterator[None]:
    """Everything the run creates (PDFs, journal, plans, SQLite files) is readable by the owner only."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def run_batch(renderer: Renderer, options: BatchOptions) -> BatchSummary:
    return BatchRun(renderer, options).run()


__all__ = ["BatchOptions", "BatchRun", "BatchSummary", "run_batch"]

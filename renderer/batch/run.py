"""The batch coordinator: plan records, reserve serials, hand files to workers, keep the journal.

In: `BatchOptions` (layout, INPUT.jsonl, output directory, optional run-level request, workers or a Dask
scheduler, pages per file, sort key, resume) and a `Renderer`. Out: PDF files of at most
``pages_per_file`` pages in the output directory, ``manifest.json`` and ``errors.json``, and a
`BatchSummary` (exit code 0, or 4 when some records failed).

How a run stays exactly-once through a ``kill -9`` at any moment:
1. the input is indexed once (line numbers and offsets in printing order, after ``--sort``) and the index
   is kept in the run directory (``.chohyo-batch/``; `renderer.batch.resume`);
2. records are planned in order (rules, DV, sheet count — `renderer.batch.plan`, through `Renderer.prepare`)
   and grouped into files; one transaction per file reserves each record's serials, writes its journal
   rows and logs refusals and the reservation, so a record either has its serials in the journal or was
   never planned;
3. a worker draws the file from its plan file into a temp file of its own (fsynced); this process renames
   it into place, then one transaction logs every record's issue-log entry (with the file's sha256), the
   file's own entry, and marks the file complete. Only complete files enter the manifest
   (`renderer.batch.reports`);
4. a run stopped by Ctrl-C, SIGTERM or SIGHUP (at a safe point: `renderer.stopping`) or by a failure stops and
   reaps its workers before it exits: the journal is then as after a kill at that moment;
5. on ``--resume``: temp files are deleted; files planned but not complete are deleted and re-planned
   from the input with the serials the journal holds (the rules and the DV registry are applied again,
   today: a lift that expired or a suppression added meanwhile is honoured; a record now refused has its
   numbers voided); planning continues after the last planned record.
Planning runs here, drawing runs in the workers: the coordinator's per-record cost is about 1 ms. The
options are checked in `renderer.batch.options`, the statuses are `renderer.batch.status`, the issue-log
records are built in `renderer.batch.records`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Connection

from renderer import stopping
from renderer.api import Plan, Renderer
from renderer.batch.executors import DaskExecutor, Executor, LocalExecutor
from renderer.batch.journal import Journal, RecordRow
from renderer.batch.options import BatchOptions, BatchSummary, checked_source
from renderer.batch.plan import (
    FilePlan,
    Outcome,
    Planner,
    RegistryChanged,
    RegistryViews,
    Reservation,
    failed,
    log_records,
    reserve,
)
from renderer.batch.progress import BatchProgress
from renderer.batch.records import BatchLog
from renderer.batch.reports import write_reports
from renderer.batch.resume import RunDir, RunState, exclusive, open_run, private_umask
from renderer.batch.source import InputIndex, Source
from renderer.batch.status import FileStatus, RecordStatus
from renderer.batch.work import FileResult, FileTask, RecordFailure, save_plan
from renderer.errors import ChohyoError, UsageError
from renderer.files import TEMP_SUFFIX, cannot_write, os_reason, sync_dir
from renderer.gcpolicy import fewer_collections, loading
from renderer.state.issue_log import LogRecord
from renderer.suppressions import instant

#: records whose failure is held in memory before their chunk is committed without a file
MAX_CHUNK_RECORDS = 2000
#: seconds the coordinator waits for a worker before it looks whether a signal asked it to stop
WAKE_S = 0.2


class BatchRun:
    def __init__(self, renderer: Renderer, options: BatchOptions) -> None:
        self.renderer = renderer
        self.opts = options
        self.where = RunDir(options.out_dir)
        self.caller = options.caller()
        self.views = RegistryViews(renderer.registry)
        self.inflight: dict[Any, FilePlan] = {}
        self.source: Source
        self.opened: RunState
        self.log: BatchLog
        self.planner: Planner

    @property
    def run_id(self) -> str:
        return self.opened.run_id

    @property
    def journal(self) -> Journal:
        return self.opened.journal

    @property
    def index(self) -> InputIndex:
        return self.opened.index

    @property
    def summary(self) -> BatchSummary:
        return self.opened.summary

    # ------------------------------------------------------------------ entry

    def run(self) -> BatchSummary:
        self._check_options()   # before anything is created on disk
        with private_umask(), exclusive(self.where):
            executor = self._executor()   # its workers start while the run is opened and the first file planned
            try:
                with loading():   # the layout (checked above) and what opening the run read stay to its end
                    self._open()
            except BaseException:
                executor.close(abort=True)
                raise
            progress = BatchProgress(len(self.index), self._finished_count(), enabled=self.opts.progress)
            stopped = True
            try:
                # Ctrl-C, SIGTERM and SIGHUP (`renderer.stopping`) stop the run between records and while it waits
                # for its workers (`stopping.check`), never inside the pool's or the database's own code
                with fewer_collections(), stopping.safe_points():   # planning: short-lived, acyclic objects
                    self._resume_unfinished(executor, progress)
                    self._plan_all(executor, progress)
                    while self.inflight:
                        self._collect(executor, progress)
                stopped = False
            finally:
                # Stopped (a signal or a failure): no file still being drawn will be collected, so the workers are
                # stopped now and reaped; the journal is as after a kill -9 at the same moment, and --resume
                # finishes the run.
                progress.close()
                executor.close(abort=stopped)
            write_reports(self.journal, self.summary, self.opts, run_id=self.run_id,
                          input_sha256=self.index.sha256, state_dir=self.where.state)
            self.journal.finish(instant(self.renderer.settings.now()))
        return self.summary

    # ------------------------------------------------------------------ setup and resume

    def _check_options(self) -> None:
        self.source = checked_source(self.renderer, self.opts, run_file=self.where.run_file)

    def _open(self) -> None:
        self.opened = open_run(self.renderer, self.opts, self.source)
        self.log = BatchLog(self.renderer.settings, self.opts.layout, self.caller, self.opened.run_id)
        self.planner = Planner(self.renderer, self.source, self.opened.index, self.log, self.views,
                               self.opts.printers)

    def _executor(self) -> Executor:
        if self.opts.scheduler is not None:
            return DaskExecutor(self.opts.scheduler)
        if self.opts.workers < 1:
            raise UsageError("--workers must be at least 1", field="--workers")
        return LocalExecutor(self.opts.workers, str(self.renderer.settings.fonts_dir))

    def _finished_count(self) -> int:
        return sum(1 for r in self.journal.records() if r.status.finished)

    def _resume_unfinished(self, executor: Executor, progress: BatchProgress) -> None:
        """Files planned but never completed: delete what may exist, re-plan with the journal's serials."""
        for f in self.journal.files(FileStatus.PLANNED):
            (self.opts.out_dir / f.name).unlink(missing_ok=True)
            file, refused = self._replan_file(f.name)
            if refused:
                rows = [o.row for o in refused if o.row is not None]

                def mark(conn: Connection, rows: list[RecordRow] = rows) -> None:
                    self.journal.replan(conn, rows)

                self.renderer.issue_log.append_many(log_records(refused), also=mark)
                progress.advance(len(refused))
            if file.plans:
                self._submit(executor, file)
            else:
                self._complete_empty(f.name)

    def _replan_file(self, name: str) -> tuple[FilePlan, list[Outcome]]:
        """The still-planned records of a file, planned again: those that still print (with their serials),
        and those that no longer do (with the void record of their serials)."""
        rows = self.journal.records_of(name)
        file = FilePlan(name)
        refused: list[Outcome] = []
        with self._input() as fh:
            for row in rows:
                if row.status is not RecordStatus.PLANNED:
                    continue
                out = self._replan(fh, row)
                if out.plan is None:
                    refused.append(out)
                else:
                    file.add(row.position, out.plan, row.serials, row.line)
        return file, refused

    def _replan(self, fh: IO[bytes], row: RecordRow) -> Outcome:
        day = dt.date.fromisoformat(row.day or "1970-01-01")
        out = self.planner.plan_one(fh, row.position, today=day, cached=False, printer=row.printer or None)
        if out.plan is not None and not _same_key(out.plan, row):
            out = failed(row.position, row.line, "batch-resume-mismatch", "request",
                         "the record's request no longer matches the serials it was given")
        if out.plan is None:
            out.voids = self.log.void_row(row)
        return out

    # ------------------------------------------------------------------ planning

    @contextmanager
    def _input(self) -> Iterator[IO[bytes]]:
        with self.opts.input.open("rb") as fh:
            yield fh

    def _plan_all(self, executor: Executor, progress: BatchProgress) -> None:
        position = self.journal.next_position()
        chunk: list[Outcome] = []
        pages = 0
        limit = self.opts.pages_per_file
        # files planned ahead: each worker's own and two more, so that when two workers finish at once neither
        # waits while the next file is planned (with one more, the second waited ≈ 0.03-0.08 s, measured). On
        # 2 cores that wait cost nothing (the coordinator used the core meanwhile); with a core to spare it idles.
        in_flight_max = self._capacity() + 2
        printers = self.opts.printers
        chunk_printer: str | None = None   # a run that prints: the printer of the file being filled
        with self._input() as fh:
            while position < len(self.index):
                want: str | None = None
                named: str | None = None
                if printers:
                    # one file, one printer: a record naming another printer than the file's starts a new
                    # file; a record naming none prints on the file's printer (new files take them in turn)
                    named = self.planner.named_printer(fh, position) or None
                    want = named if named in printers else (chunk_printer if pages else self._next_printer())
                    if pages and want != chunk_printer:
                        self._commit(executor, chunk, progress, fh)
                        chunk, pages = [], 0
                        while len(self.inflight) >= in_flight_max:
                            self._collect(executor, progress)
                stopping.check()
                out = self.planner.plan_one(fh, position, printer=want)
                position += 1
                if out.plan is not None and pages and pages + out.pages > limit:
                    self._commit(executor, chunk, progress, fh)
                    chunk, pages = [], 0
                    while len(self.inflight) >= in_flight_max:
                        self._collect(executor, progress)
                    if printers and named not in printers and want != self._next_printer():
                        want = self._next_printer()   # the record opens the next file: that file's printer
                        out = self.planner.plan_one(fh, position - 1, printer=want)
                if out.plan is not None:
                    chunk_printer = want
                chunk.append(out)
                pages += out.pages
                if len(chunk) >= MAX_CHUNK_RECORDS:   # many small or failed records: bound the chunk
                    self._commit(executor, chunk, progress, fh)
                    chunk, pages = [], 0
            if chunk:
                self._commit(executor, chunk, progress, fh)

    def _next_printer(self) -> str:
        """The printer of the next file when its first record names none (the run's printers in turn)."""
        printers = self.opts.printers
        return printers[(self.journal.next_file_number() - 1) % len(printers)]

    def _capacity(self) -> int:
        if self.opts.scheduler is not None:
            return 2 * max(1, self.opts.workers)
        return self.opts.workers

    def _commit(self, executor: Executor, chunk: list[Outcome], progress: BatchProgress, fh: IO[bytes]) -> None:
        """One transaction: serials for every planned record, the journal rows, the refusal records — and
        only while the DV registry is as the chunk was planned from; if it changed meanwhile (an import, a
        lift, a revoke), the chunk is planned again from the fresh registry first."""
        while True:
            try:
                self._commit_once(executor, chunk, progress)
                return
            except RegistryChanged:
                self.views.clear()
                chunk = [self.planner.plan_one(fh, o.position, printer=o.printer) for o in chunk]

    def _commit_once(self, executor: Executor, chunk: list[Outcome], progress: BatchProgress) -> None:
        placed = sum(1 for o in chunk if o.plan is not None)
        name = f"{self.opts.layout}-{self.journal.next_file_number():05d}.pdf" if placed else None
        done: list[Reservation] = []

        def entries(conn: Connection) -> list[LogRecord]:
            if not self.views.current(conn):
                raise RegistryChanged("the DV registry changed while the chunk was planned")
            reservation = reserve(conn, chunk, name, self.log)
            done[:] = [reservation]
            self.journal.insert_chunk(conn, reservation.rows, reservation.file)
            # the chunk's numbers, accounted for in the same commit as the counters and journal
            return log_records(chunk) + ([reservation.reserve] if reservation.reserve else [])

        self.renderer.issue_log.append_many(entries, locks=("serials",))
        progress.advance(len(chunk) - placed)
        if done and done[0].plan.plans:
            self._submit(executor, done[0].plan)

    def _submit(self, executor: Executor, file: FilePlan) -> None:
        plan_path = self.where.plans / (file.name + ".plan")
        save_plan(plan_path, file.records())
        # The worker writes a temp name of its own; this process renames it into place once the result is
        # back, so a straggler of a killed run (a Dask task still running) can never overwrite a file.
        temp = self.opts.out_dir / f".{file.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
        task = FileTask(file.name, str(plan_path), str(temp), str(self.renderer.settings.fonts_dir))
        self.inflight[executor.submit(task)] = file

    # ------------------------------------------------------------------ completion

    def _collect(self, executor: Executor, progress: BatchProgress) -> None:
        done: set[Any] = set()
        while not done:   # woken every WAKE_S to see whether a signal asked the run to stop
            stopping.check()
            done = executor.wait_any(self.inflight, timeout=WAKE_S)
        for future in done:
            file = self.inflight.pop(future)
            try:
                result: FileResult = future.result()
            except ChohyoError:
                raise
            except Exception as exc:   # a worker died: stop; --resume finishes the run
                stopping.check()   # Ctrl-C on a terminal also reaches the workers: the interruption, not their end
                why = f": {os_reason(exc)}" if isinstance(exc, OSError) else ""
                raise ChohyoError(f"drawing {file.name} failed ({exc.__class__.__name__}{why}); the run stopped "
                                  f"and can be finished with --resume") from None
            if result.sha256:
                try:
                    Path(result.path).replace(self.opts.out_dir / file.name)
                    sync_dir(self.opts.out_dir)
                except OSError as exc:
                    raise cannot_write(self.opts.out_dir / file.name, exc, "the file is not complete") from None
            self._complete(file, result)
            progress.advance(len(file.plans))

    def _complete(self, file: FilePlan, result: FileResult) -> None:
        """One transaction: every drawn record's render record, void records for records that failed in
        drawing, the file's own record; the file complete and its records rendered (or failed)."""
        now = self.renderer.settings.now()
        entries: list[LogRecord] = []
        for r in result.records:
            plan, serials, line = file.plans[r.position]
            entries.append(self.log.render(plan, serials, line, r, file.name, result.sha256, now))
        failures = [_from_failure(f, file.plans[f.position][2]) for f in result.failures]
        for f in result.failures:   # drawn records that failed: their numbers are void, with the reason
            plan, serials, line = file.plans[f.position]
            entries.append(self.log.void(plan, serials, f.problem, f.rule, line))
        if result.records:
            entries.append(self.log.file(file.plans[result.records[0].position][0], file.name, result, now))

        def also(conn: Connection) -> None:
            self.journal.complete(conn, file.name, result.sha256, result.pages,
                                  [(r.position, r.first_page, r.pages) for r in result.records])
            self.journal.replan(conn, failures)

        self.renderer.issue_log.append_many(entries, also=also)
        (self.where.plans / (file.name + ".plan")).unlink(missing_ok=True)

    def _complete_empty(self, name: str) -> None:
        with self.renderer.db.write("batch") as conn:
            self.journal.complete(conn, name, "", 0, [])


def _from_failure(f: RecordFailure, line: int) -> RecordRow:
    return RecordRow(f.position, line, RecordStatus.of_problem(f.problem), problem=f.problem, rule=f.rule,
                     field=f.field, message=f.message)


def _same_key(plan: Plan, row: RecordRow) -> bool:
    req = plan.doc.request
    return (plan.doc.tenant.code, req.issued_on.isoformat(), req.terminal, req.printer, req.copies) == (
        row.tenant, row.day, row.terminal, row.printer, len(row.serials))


def run_batch(renderer: Renderer, options: BatchOptions) -> BatchSummary:
    return BatchRun(renderer, options).run()


__all__ = ["BatchOptions", "BatchRun", "BatchSummary", "RegistryChanged", "RegistryViews", "run_batch"]

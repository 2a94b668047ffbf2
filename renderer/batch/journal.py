"""The batch journal: what a run planned and finished, in the runtime database.

In: the run's id and the `Database` (the same one that holds serials and the issue log, so a chunk's
serials, its journal rows and its refusal records are committed in one transaction). Out: rows of
``batch_runs``, ``batch_files`` and ``batch_records`` (see `renderer.state.db`), read back on resume and
for the manifest. A record row is written once when its chunk is planned (status planned, refused or
invalid, with its serials) and updated once when its file is complete (rendered, first page, pages).
Statuses are `renderer.batch.status` enums (stored as their unchanged strings). Nothing here holds names,
addresses or numbers of residents: only positions, line numbers, serials, rule names and field paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.engine import Connection

from renderer.batch.status import FileStatus, RecordStatus
from renderer.state.db import Database, batch_files, batch_records, batch_runs


@dataclass(frozen=True)
class RecordRow:
    position: int
    line: int
    status: RecordStatus
    file: str | None = None
    tenant: str | None = None
    day: str | None = None
    terminal: str | None = None
    printer: str | None = None
    serials: tuple[int, ...] = ()
    issue_numbers: tuple[str, ...] = ()
    first_page: int | None = None
    pages: int | None = None
    problem: str | None = None
    rule: str | None = None
    field: str | None = None
    message: str | None = None

    def values(self, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "position": self.position, "line": self.line, "status": self.status.value,
                "file": self.file, "tenant": self.tenant, "day": self.day, "terminal": self.terminal,
                "printer": self.printer, "serials": json.dumps(list(self.serials)) if self.serials else None,
                "issue_numbers": json.dumps(list(self.issue_numbers), ensure_ascii=False)
                if self.issue_numbers else None,
                "first_page": self.first_page, "pages": self.pages, "problem": self.problem, "rule": self.rule,
                "field": self.field, "message": self.message}


def _row(r: Any) -> RecordRow:
    m = r._mapping
    return RecordRow(
        position=m["position"], line=m["line"], status=RecordStatus(m["status"]), file=m["file"], tenant=m["tenant"],
        day=m["day"], terminal=m["terminal"], printer=m["printer"],
        serials=tuple(json.loads(m["serials"])) if m["serials"] else (),
        issue_numbers=tuple(json.loads(m["issue_numbers"])) if m["issue_numbers"] else (),
        first_page=m["first_page"], pages=m["pages"], problem=m["problem"], rule=m["rule"], field=m["field"],
        message=m["message"])


@dataclass(frozen=True)
class FileRow:
    name: str
    first_position: int
    last_position: int
    status: FileStatus
    pages: int | None
    sha256: str | None


class Journal:
    def __init__(self, db: Database, run_id: str) -> None:
        self.db = db
        self.run_id = run_id

    # ------------------------------------------------------------------ run

    def create(self, *, created_at: str, layout: str, input_sha256: str, options: dict[str, Any],
               records: int) -> None:
        with self.db.write("batch") as conn:
            conn.execute(batch_runs.insert().values(
                run_id=self.run_id, created_at=created_at, layout=layout, input_sha256=input_sha256,
                options=json.dumps(options, sort_keys=True, ensure_ascii=False), records=records))

    def run(self) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(select(batch_runs).where(batch_runs.c.run_id == self.run_id)).first()
        return dict(row._mapping) if row is not None else None

    def finish(self, at: str) -> None:
        with self.db.write("batch") as conn:
            conn.execute(update(batch_runs).where(batch_runs.c.run_id == self.run_id).values(finished_at=at))

    # ------------------------------------------------------------------ planning

    def next_position(self) -> int:
        with self.db.read() as conn:
            last = conn.execute(select(func.max(batch_records.c.position))
                                .where(batch_records.c.run_id == self.run_id)).scalar()
        return 0 if last is None else int(last) + 1

    def next_file_number(self) -> int:
        with self.db.read() as conn:
            count = conn.execute(select(func.count()).select_from(batch_files)
                                 .where(batch_files.c.run_id == self.run_id)).scalar()
        return int(count or 0) + 1

    def insert_chunk(self, conn: Connection, rows: Sequence[RecordRow], file: FileRow | None) -> None:
        """Inside the chunk's transaction (which also reserved the serials and logged the refusals)."""
        if rows:
            conn.execute(batch_records.insert(), [r.values(self.run_id) for r in rows])
        if file is not None:
            conn.execute(batch_files.insert().values(
                run_id=self.run_id, name=file.name, first_position=file.first_position,
                last_position=file.last_position, status=FileStatus.PLANNED.value))

    def replan(self, conn: Connection, failed: Sequence[RecordRow]) -> None:
        """On resume, records of an unfinished file that the rules now refuse (or that no longer bind)."""
        if failed:
            conn.execute(update(batch_records).where(and_(
                batch_records.c.run_id == self.run_id, batch_records.c.position == bindparam("pos"))).values(
                status=bindparam("st"), file=None, problem=bindparam("pr"), rule=bindparam("ru"),
                field=bindparam("fi"), message=bindparam("me")),
                [{"pos": r.position, "st": r.status.value, "pr": r.problem, "ru": r.rule, "fi": r.field,
                  "me": r.message} for r in failed])

    # ------------------------------------------------------------------ completion

    def complete(self, conn: Connection, name: str, sha256: str, pages: int,
                 records: Sequence[tuple[int, int, int]]) -> None:
        """Mark a file complete and its records rendered: (position, first_page, pages) each."""
        conn.execute(update(batch_files).where(and_(batch_files.c.run_id == self.run_id,
                                                    batch_files.c.name == name))
                     .values(status=FileStatus.COMPLETE.value, pages=pages, sha256=sha256))
        if records:
            conn.execute(update(batch_records).where(and_(
                batch_records.c.run_id == self.run_id, batch_records.c.position == bindparam("pos")))
                .values(status=RecordStatus.RENDERED.value, first_page=bindparam("first"), pages=bindparam("count")),
                [{"pos": p, "first": f, "count": c} for p, f, c in records])

    # ------------------------------------------------------------------ reading

    def files(self, status: FileStatus | None = None) -> list[FileRow]:
        q = select(batch_files).where(batch_files.c.run_id == self.run_id)
        if status is not None:
            q = q.where(batch_files.c.status == status.value)
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(batch_files.c.first_position)).all()
        return [FileRow(r.name, r.first_position, r.last_position, FileStatus(r.status), r.pages, r.sha256)
                for r in rows]

    def records_of(self, name: str) -> list[RecordRow]:
        with self.db.read() as conn:
            rows = conn.execute(select(batch_records).where(and_(
                batch_records.c.run_id == self.run_id, batch_records.c.file == name))
                .order_by(batch_records.c.position)).all()
        return [_row(r) for r in rows]

    def records(self, batch: int = 5000) -> Iterator[RecordRow]:
        """Every record of the run in printing order, read in pages (the manifest streams them)."""
        start = 0
        while True:
            with self.db.read() as conn:
                rows = conn.execute(select(batch_records).where(and_(
                    batch_records.c.run_id == self.run_id, batch_records.c.position >= start))
                    .order_by(batch_records.c.position).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield _row(r)
            start = int(rows[-1].position) + 1

"""Batch statuses are enums whose values are the strings the journal, manifest.json and errors.json hold.

The strings never change (a run started before an upgrade resumes after it); the journal stores plain strings
and reads enums back; a worker's problem type maps to the status the run reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from renderer.batch.journal import FileRow, Journal, RecordRow
from renderer.batch.status import FAILURES, REPORTED, FileStatus, RecordStatus
from renderer.settings import PROJECT_ROOT, Settings
from renderer.state.db import batch_files, batch_records, open_database


def test_the_stored_strings_are_unchanged() -> None:
    assert [s.value for s in RecordStatus] == ["planned", "rendered", "refused", "invalid", "failed"]
    assert [s.value for s in FileStatus] == ["planned", "complete"]
    assert [s.value for s in REPORTED] == ["rendered", "refused", "invalid", "failed"]   # manifest totals order
    refused: str = RecordStatus.REFUSED
    assert RecordStatus("refused") is RecordStatus.REFUSED and refused == "refused"


def test_what_a_status_means() -> None:
    assert [s for s in RecordStatus if not s.finished] == [RecordStatus.PLANNED]
    assert [s for s in RecordStatus if s.failed] == sorted(FAILURES, key=list(RecordStatus).index)
    assert not RecordStatus.RENDERED.failed


@pytest.mark.parametrize(("problem", "status"), [
    ("invalid-input", RecordStatus.INVALID), ("invalid-layout", RecordStatus.INVALID),
    ("invalid-usage", RecordStatus.INVALID), ("glyph-not-covered", RecordStatus.INVALID),
    ("text-overflow", RecordStatus.INVALID), ("refused", RecordStatus.REFUSED), ("internal", RecordStatus.FAILED),
])
def test_a_drawing_failure_is_reported_by_its_problem_type(problem: str, status: RecordStatus) -> None:
    assert RecordStatus.of_problem(problem) is status


def test_the_journal_stores_plain_strings_and_reads_enums(tmp_path: Path) -> None:
    db = open_database(Settings(layouts_dir=PROJECT_ROOT / "layouts", fonts_dir=PROJECT_ROOT / "fonts",
                                state_dir=tmp_path / "state"))
    journal = Journal(db, "run-1")
    journal.create(created_at="2026-11-27T00:00:00.000000+00:00", layout="tsuchisho-kyufu-kettei",
                   input_sha256="0" * 64, options={}, records=2)
    rows = [RecordRow(0, 1, RecordStatus.PLANNED, file="f.pdf", serials=(1,)),
            RecordRow(1, 2, RecordStatus.REFUSED, problem="refused", rule="dv-block")]
    with db.write("batch") as conn:
        journal.insert_chunk(conn, rows, FileRow("f.pdf", 0, 0, FileStatus.PLANNED, None, None))
    with db.read() as conn:
        stored = conn.execute(select(batch_records.c.status).order_by(batch_records.c.position)).scalars().all()
        files = conn.execute(select(batch_files.c.status)).scalars().all()
    assert stored == ["planned", "refused"] and all(type(s) is str for s in stored) and files == ["planned"]
    assert [r.status for r in journal.records()] == [RecordStatus.PLANNED, RecordStatus.REFUSED]
    with db.write("batch") as conn:
        journal.complete(conn, "f.pdf", "ab" * 32, 1, [(0, 1, 1)])
    assert [r.status for r in journal.records()] == [RecordStatus.RENDERED, RecordStatus.REFUSED]
    assert [f.status for f in journal.files(FileStatus.COMPLETE)] == [FileStatus.COMPLETE]
    assert journal.files(FileStatus.PLANNED) == []

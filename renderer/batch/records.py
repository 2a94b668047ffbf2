"""The issue-log records a batch run writes, each naming the run (and the record's input line).

In: the run (id, layout, caller, the server's clock) and, per record, its `Plan` and serials, a worker's
`RecordResult`, or a journal row. Out: `LogRecord`s — ``reserve`` (a chunk's numbers, in the commit that
advances the counters), ``refusal``, ``render`` (closing a record's numbers, with its file's sha256),
``void`` (numbers of a record that failed after its reservation) and ``batch-file`` (a complete file).
They are written by the coordinator (`renderer.batch.run`) in the transactions that also update the journal.
No names, addresses or numbers of residents: the bodies are those of `renderer.api`'s records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from renderer.api import Plan, refusal_record, render_record
from renderer.batch.journal import RecordRow
from renderer.batch.work import FileResult, RecordResult
from renderer.caller import Caller
from renderer.compose.compose import UNNUMBERED, issue_number
from renderer.envelope import Envelope
from renderer.errors import RefusedError
from renderer.settings import Settings
from renderer.spec.model import LayoutSpec
from renderer.state.issue_log import IssuedNumber, LogRecord

#: (tenant, issued_on, terminal, printer): the series a record's serials are counted in
SerialKey = tuple[str, dt.date, str, str]


def serial_key(plan: Plan) -> SerialKey:
    req = plan.doc.request
    return (plan.doc.tenant.code, req.issued_on, req.terminal, req.printer)


def numbers_of(plan: Plan, serials: Sequence[int]) -> tuple[IssuedNumber, ...]:
    """The issued numbers of a record's serials (none for a layout that prints no 発行番号: its copies carry
    the placeholder `UNNUMBERED`)."""
    return tuple(IssuedNumber(*serial_key(plan), s) for s in serials if s != UNNUMBERED)


def issue_numbers_of(plan: Plan, serials: Sequence[int]) -> list[str]:
    """The printed 発行番号 of a record's copies (empty when its layout prints none)."""
    return [issue_number(plan.doc, s) for s in serials if s != UNNUMBERED]


@dataclass(frozen=True)
class BatchLog:
    settings: Settings
    layout: str
    caller: Caller
    run_id: str

    def refusal(self, envelope: Envelope, spec: LayoutSpec, exc: RefusedError, now: dt.datetime,
                line: int) -> LogRecord:
        return refusal_record(envelope, spec, exc, now, self.caller, extra={"batch": self.run_id, "record": line})

    def reserve(self, numbers: Sequence[IssuedNumber], file: str | None) -> LogRecord:
        """A chunk's numbers, accounted for in the same commit as the counters and the journal."""
        return LogRecord("reserve", self.settings.now(), {
            "tenant": numbers[0].tenant, "layout": self.layout, "caller": self.caller.record(),
            "batch": self.run_id, "file": file}, reserves=tuple(numbers))

    def render(self, plan: Plan, serials: Sequence[int], line: int, drawn: RecordResult, file: str,
               sha256: str, now: dt.datetime) -> LogRecord:
        return render_record(
            plan, now, pages=drawn.pages, issue_numbers=issue_numbers_of(plan, serials),
            seal_printed=drawn.seal_printed, my_number_printed=drawn.my_number_printed, pdf_sha256=sha256,
            closes=numbers_of(plan, serials), extra={"batch": self.run_id, "file": file, "record": line})

    def file(self, plan: Plan, name: str, result: FileResult, now: dt.datetime) -> LogRecord:
        return LogRecord("batch-file", now, {
            "tenant": plan.doc.tenant.code, "layout": self.layout, "batch": self.run_id, "file": name,
            "file_sha256": result.sha256, "pages": result.pages, "records": len(result.records)})

    def void(self, plan: Plan, serials: Sequence[int], reason: str, rule: str | None, line: int) -> LogRecord:
        """The numbers of a drawn record that failed are void, with the reason."""
        doc = plan.doc
        return LogRecord("void", self.settings.now(), {
            "tenant": doc.tenant.code, "layout": doc.layout.id, "caller": self.caller.record(), "reason": reason,
            "rule": rule, "batch": self.run_id, "record": line}, closes=numbers_of(plan, serials))

    def void_row(self, row: RecordRow) -> LogRecord | None:
        """The void record for a journal row's serials (a record the rules refuse on resume)."""
        if not [s for s in row.serials if s != UNNUMBERED] or row.tenant is None or row.day is None:
            return None
        day = dt.date.fromisoformat(row.day)
        return LogRecord("void", self.settings.now(), {
            "tenant": row.tenant, "layout": self.layout, "caller": self.caller.record(),
            "reason": "refused-on-resume", "batch": self.run_id, "record": row.line},
            closes=tuple(IssuedNumber(row.tenant, day, row.terminal or "", row.printer or "", s) for s in row.serials
                         if s != UNNUMBERED))


__all__ = ["BatchLog", "SerialKey", "issue_numbers_of", "numbers_of", "serial_key"]

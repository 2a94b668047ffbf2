"""Send a run's files to a printer exactly once, and resume after a kill or a stopped printer.

In: the output directory of a finished batch run (its ``manifest.json``: files with sha256 and the records'
発行番号), a `PrintTarget`, the issue log and the operator's decisions. Out: one IPP job per file (in manifest
order, one at a time, each watched to its final state), the print journal (`renderer.printing.journal`),
``manifest.json`` updated with each file's job id, final job state, time and printer, one ``print`` record
per final job in the issue log (printer, job id, state, the file's 発行番号), and a `PrintReport`.

The states of a file and what a run does with each (the README's "Printing (IPP)" has the table):

* none → send: write ``intent`` (fsynced), Print-Job, write ``accepted`` with the job id, watch.
* intent (killed or the printer went away between intent and answer) → ask the printer for jobs with the
  intent's job-name: found → ``accepted`` and watch; not found while the printer's declared job history
  (``job_history_seconds``) still covers the intent → ``not-received``, send again; older → ``unknown``.
* accepted → watch (Get-Job-Attributes) until completed, aborted or canceled → ``final``; a printer that
  does not answer, or a job held or stopped, makes the run wait and report every `report_every` seconds
  (never resend) until `wait_seconds` pass (then the run stops, exit 1, and ``--resume`` watches on); a job
  the printer no longer knows → ``unknown``.
* final completed → never sent again. final aborted / canceled → listed; sent again only when the operator
  says so (``--resubmit-aborted``, or ``--resubmit NAME``).
* unknown → listed for the operator, never guessed: ``--resubmit NAME`` (it did not print) or
  ``--mark-printed NAME`` (it did).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from renderer.datamodels.types import person_id_spelling
from renderer.errors import ChohyoError, UsageError
from renderer.files import write_atomic
from renderer.printing.calibrate import calibrated_copy
from renderer.printing.ipp import IppClient, Job, JobState, PrinterUnreachable
from renderer.printing.journal import JOURNAL_FILE, FileState, PrintJournal
from renderer.printing.target import PrintTarget
from renderer.state.db import issue_log as issue_log_table
from renderer.state.issue_log import IssueLog, LogRecord
from renderer.state.registry import Registry

Say = Callable[[str], None]
_LOG_LOCK = threading.Lock()


class PrintStopped(ChohyoError):
    """The printer did not come back within the wait: nothing is lost, ``--resume`` watches on (exit 1)."""

    problem = "printer-stopped"
    title = "The printer stopped; resume the run"


@dataclass(frozen=True)
class Decisions:
    """What the operator allowed for this run (flags of ``chohyo batch --resume``)."""

    resubmit_aborted: bool = False
    resubmit: frozenset[str] = frozenset()
    mark_printed: frozenset[str] = frozenset()


@dataclass
class PrintReport:
    printed: list[str] = field(default_factory=list)       # completed (this run or before)
    sent: list[str] = field(default_factory=list)          # jobs sent by this run
    needs_operator: dict[str, str] = field(default_factory=dict)   # file → why (aborted, canceled, unknown)

    @property
    def exit_code(self) -> int:
        return 0 if not self.needs_operator else 4


@dataclass(frozen=True)
class PrintFile:
    name: str
    sha256: str
    issue_numbers: tuple[str, ...]
    #: the printers the file's 発行番号 name (none: any printer of the run may print it)
    printers: tuple[str, ...] = ()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _instant(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def manifest_files(out_dir: Path) -> tuple[dict[str, Any], list[PrintFile]]:
    """The manifest and its files in order, each with the 発行番号 of the records in it."""
    path = out_dir / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the run's manifest ({exc.__class__.__name__})", field="-o") from None
    numbers: dict[str, list[str]] = {}
    for r in manifest.get("records", []):
        if r.get("status") == "rendered" and r.get("file"):
            numbers.setdefault(r["file"], []).extend(r.get("issue_numbers") or [])
    return manifest, [PrintFile(f["name"], f["sha256"], tuple(numbers.get(f["name"], [])),
                                tuple(f.get("printers") or ()))
                      for f in manifest.get("files", [])]


class PrintRun:
    """Print `files` (in `base_dir`) to `target`, exactly once, keeping the journal at `journal_path`."""

    def __init__(self, base_dir: Path, files: Sequence[PrintFile], target: PrintTarget, *, journal_path: Path,
                 run_id: str, layout: str, issue_log: IssueLog | None, decisions: Decisions = Decisions(),
                 say: Say = lambda _m: None, wait_seconds: float = 3600.0, report_every: float = 30.0,
                 poll: float = 0.2, client: IppClient | None = None, job_label: str | None = None,
                 copies_dir: Path | None = None, journal: PrintJournal | None = None,
                 number_jobs: bool | None = None, held: dict[str, str] | None = None) -> None:
        self.out_dir = base_dir
        #: what job-names start with (ASCII, never personal data): default chohyo-<run id>
        self.job_label = job_label or f"chohyo-{run_id[:12]}"
        self.files = list(files)
        self.target = target
        self.run_id = run_id
        self.layout = layout
        self.log = issue_log
        self.decisions = decisions
        self.say = say
        self.wait_seconds = wait_seconds
        self.report_every = report_every
        self.poll = poll
        self.client = client or target.client()
        self.journal = journal or PrintJournal(journal_path)
        #: job-names carry the file's number (<layout>-00001.pdf → -00001): a batch run's; default: several files
        self.number_jobs = len(self.files) > 1 if number_jobs is None else number_jobs
        #: where calibrated print copies are written (owner-only; default: next to the journal)
        self.copies_dir = copies_dir or journal_path.parent / "print-copies"
        #: files never sent that wait for the operator, and why (`dv_holds`): sent only with --resubmit
        self.held = held or {}

    def run(self) -> PrintReport:
        self._check_decisions(self.files)
        report = PrintReport()
        for f in self.files:
            self._one(f, report)
        return report

    def run_files(self, files: Sequence[PrintFile], report: PrintReport) -> None:
        """Print `files` (some of this run's, decisions already checked) into `report`."""
        for f in files:
            self._one(f, report)

    def _check_decisions(self, files: Sequence[PrintFile]) -> None:
        names = {f.name for f in files}
        for flag, chosen in (("--resubmit", self.decisions.resubmit), ("--mark-printed", self.decisions.mark_printed)):
            for name in sorted(chosen - names):
                raise UsageError(f"{flag}: {name!r} is not a file of this run", field=flag)
        for name in sorted(self.decisions.resubmit & self.decisions.mark_printed):
            raise UsageError(f"{name!r} is named by both --resubmit and --mark-printed", field="--resubmit")

    def _one(self, f: PrintFile, report: PrintReport) -> None:
        self._check_bytes(f)
        s = self.journal.state(f.name)
        if s.status in ("final", "unknown") and s.state != "completed":
            self._operator(f, s)
            s = self.journal.state(f.name)
        if s.status == "intent":
            s = self._settle_intent(f, s)
        if s.status == "none" and f.name in self.held and f.name not in self.decisions.resubmit:
            report.needs_operator[f.name] = self.held[f.name]
            return
        if s.status in ("none", "not-received"):
            s = self._send(f, s, report)
        if s.status == "accepted":
            s = self._watch(f, s)
        if s.status == "final" and not s.logged:
            self._log(f, s)
        if s.status == "final" and s.state == "completed":
            report.printed.append(f.name)
        elif s.status == "final":
            report.needs_operator[f.name] = (f"job {s.job_id} {s.state}: send it again with --resubmit-aborted or "
                                             f"--resubmit {f.name}")
        elif s.status == "unknown":
            report.needs_operator[f.name] = (f"{s.reason}: check the printer's output, then --resubmit {f.name} "
                                             f"(not printed) or --mark-printed {f.name} (printed)")

    def _check_bytes(self, f: PrintFile) -> None:
        path = self.out_dir / f.name
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
        if digest != f.sha256:
            raise ChohyoError(f"{f.name}: its bytes are not those the manifest records ({digest[:12]}); nothing sent")

    def _operator(self, f: PrintFile, s: FileState) -> None:
        d = self.decisions
        if f.name in d.mark_printed and s.status == "unknown":
            self._event(f, "operator", decision="printed", attempt=s.attempt)
        elif f.name in d.resubmit or (d.resubmit_aborted and s.status == "final"):
            self._event(f, "operator", decision="resubmit", attempt=s.attempt)

    # -- states -------------------------------------------------------------------------------------
    def _settle_intent(self, f: PrintFile, s: FileState) -> FileState:
        """An intent without an answer: did the printer get it? Ask it by job-name; never guess."""
        found = self._wait_for(lambda: self.client.jobs_named(s.job_name), f"looking up {f.name}")
        if found:
            job = max(found, key=lambda j: j.id)
            self._event(f, "accepted", attempt=s.attempt, job_id=job.id)
        elif (_now() - _parse(s.intent_at)).total_seconds() <= self.target.printer.job_history_seconds:
            self._event(f, "not-received", attempt=s.attempt,
                        reason=f"no job {s.job_name} on the printer within its job history")
        else:
            self._event(f, "unknown", attempt=s.attempt,
                        reason=f"attempt {s.attempt} was being sent and the printer's job history "
                               f"({self.target.printer.job_history_seconds} s) no longer covers it")
        return self.journal.state(f.name)

    def _send(self, f: PrintFile, s: FileState, report: PrintReport) -> FileState:
        attempt = s.attempt + 1
        number = f"-{Path(f.name).stem.rsplit('-', 1)[-1]}" if self.number_jobs else ""   # <layout>-00001.pdf
        job_name = f"{self.job_label}{number}-a{attempt}"
        self._event(f, "intent", attempt=attempt, job_name=job_name, sha256=f.sha256, printer=self.target.printer.id)
        ticket = self.target.ticket(job_name)
        document = self.out_dir / f.name
        if not self.target.tray.calibration.identity:   # pre-printed stock: the print copy, never the archive
            document = calibrated_copy(document, self.target.tray.calibration,
                                       self.copies_dir / f.name)
        try:
            job = self.client.print_job(document, ticket)
        except PrinterUnreachable as exc:
            self.say(f"{f.name}: printer {self.target.printer.id} did not answer while sending ({exc.message}); "
                     f"waiting to ask it what it received")
            return self._settle_intent(f, self.journal.state(f.name))
        report.sent.append(f.name)
        self._event(f, "accepted", attempt=attempt, job_id=job.id)
        return self.journal.state(f.name)

    def _watch(self, f: PrintFile, s: FileState) -> FileState:
        assert s.job_id is not None
        job_id = s.job_id
        started = last_report = time.monotonic()
        delay = self.poll
        while True:
            try:
                job: Job | None = self.client.job(job_id)
            except PrinterUnreachable as exc:
                job, why = Job(job_id, JobState.PENDING), f"the printer does not answer ({exc.message})"
            else:
                if job is None:
                    self._event(f, "unknown", attempt=s.attempt, job_id=job_id,
                                reason=f"the printer no longer knows job {job_id}")
                    return self.journal.state(f.name)
                why = f"job {job_id} is {job.state.keyword} ({', '.join(job.reasons) or 'no reason given'})"
            if job.state.final:
                self._event(f, "final", attempt=s.attempt, job_id=job_id, state=job.state.keyword)
                return self.journal.state(f.name)
            waited = time.monotonic() - started
            if waited > self.wait_seconds:
                raise PrintStopped(f"{f.name}: {why} after {waited:.0f} s; nothing was lost — run again with "
                                   f"--resume to go on watching it")
            if time.monotonic() - last_report >= self.report_every:
                self.say(f"waiting for printer {self.target.printer.id}: {f.name}: {why} ({waited:.0f} s)")
                last_report = time.monotonic()
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def _wait_for(self, ask: Callable[[], list[Job]], what: str) -> list[Job]:
        started = last_report = time.monotonic()
        while True:
            try:
                return ask()
            except PrinterUnreachable as exc:
                waited = time.monotonic() - started
                if waited > self.wait_seconds:
                    raise PrintStopped(f"{what}: the printer did not answer for {waited:.0f} s; run again with "
                                       f"--resume") from None
                if time.monotonic() - last_report >= self.report_every:
                    self.say(f"waiting for printer {self.target.printer.id} ({what}): {exc.message}")
                    last_report = time.monotonic()
                time.sleep(min(2.0, self.poll * 5))

    # -- records ------------------------------------------------------------------------------------
    def _event(self, f: PrintFile, ev: str, **facts: Any) -> None:
        self.journal.append({"ev": ev, "file": f.name, "at": _instant(_now()), **facts})

    def _log(self, f: PrintFile, s: FileState) -> None:
        if self.log is not None:
            with _LOG_LOCK:
                self._append_log(f, s)
        self._event(f, "logged", attempt=s.attempt)

    def _append_log(self, f: PrintFile, s: FileState) -> None:
        if self.log is not None:
            self.log.append(LogRecord("print", _now(), {
                "batch": self.run_id, "file": f.name, "file_sha256": f.sha256, "layout": self.layout,
                "tenant": self.target.tenant, "printer": self.target.printer.id, "print_job_id": s.job_id,
                "print_state": s.state, "issue_numbers": list(f.issue_numbers)}))



def assign(files: Sequence[PrintFile], targets: Sequence[PrintTarget], journal: PrintJournal) -> dict[str, PrintTarget]:
    """Which printer prints each file: the one its 発行番号 name; one already sent to (the journal); else the
    run's printers in turn. A file no printer of the run may print is `UsageError` (exit 2), nothing sent."""
    by_id = {t.printer.id: t for t in targets}
    ids = ", ".join(by_id)
    out: dict[str, PrintTarget] = {}
    wrong: list[str] = []
    for i, f in enumerate(files):
        earlier = journal.state(f.name).printer
        if len(f.printers) > 1:
            wrong.append(f"{f.name}: its 発行番号 name several printers ({', '.join(f.printers)})")
        elif f.printers and f.printers[0] not in by_id:
            wrong.append(f"{f.name}: its 発行番号 name printer {f.printers[0]} (print it with --print-to "
                         f"{f.printers[0]})")
        elif earlier and earlier not in by_id:
            wrong.append(f"{f.name}: it was sent to printer {earlier}; resume it there")
        else:
            out[f.name] = by_id[earlier or (f.printers[0] if f.printers else targets[i % len(targets)].printer.id)]
    if wrong:
        raise UsageError(f"--print-to: this run prints on {ids}, and " + "; ".join(wrong[:5]) +
                         (f"; and {len(wrong) - 5} more file(s)" if len(wrong) > 5 else "") + "; nothing was sent",
                         field="--print-to")
    return out


def record_jobs(out_dir: Path, manifest: dict[str, Any], files: Sequence[PrintFile], targets: Sequence[PrintTarget],
                journal: PrintJournal) -> None:
    """``manifest.json`` with each file's printer, job id, attempts, job state and time, and the printers."""
    entries = {e["name"]: e for e in manifest.get("files", [])}
    for f in files:
        s = journal.state(f.name)
        if s.attempt == 0:
            continue
        entries[f.name]["print"] = {
            "printer": s.printer, "job_id": s.job_id, "attempts": s.attempt,
            "job_state": s.state if s.status == "final" else s.status, "at": s.at,
            **({"note": s.reason} if s.reason else {})}
    manifest["printing"] = [{"printer": t.printer.id, "tray": t.purpose, "media_source": t.tray.source,
                             "sides": t.sides, "paper": t.paper} for t in targets]
    write_atomic(out_dir / "manifest.json",
                 json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8") + b"\n")


def print_batch(out_dir: Path, targets: PrintTarget | Sequence[PrintTarget], *, issue_log: IssueLog | None,
                decisions: Decisions = Decisions(), say: Say = lambda _m: None, wait_seconds: float = 3600.0,
                report_every: float = 30.0) -> PrintReport:
    """Print the files of the finished batch run in `out_dir` (its manifest) on its printers — each printer
    its own files, one job at a time, the printers side by side — and record the jobs in the manifest."""
    targets = [targets] if isinstance(targets, PrintTarget) else list(targets)
    manifest, files = manifest_files(out_dir)
    state = out_dir / ".chohyo-batch"
    state.mkdir(mode=0o700, exist_ok=True)
    journal = PrintJournal(state / JOURNAL_FILE)
    where = assign(files, targets, journal)
    unsent = {f.name for f in files if journal.state(f.name).status == "none"}
    held = dv_holds(issue_log, str(manifest["run_id"]), unsent) if issue_log is not None else {}
    runs = [PrintRun(out_dir, [f for f in files if where[f.name] is t], t, journal_path=journal.path,
                     run_id=str(manifest["run_id"]), layout=str(manifest["layout"]), issue_log=issue_log,
                     decisions=decisions, say=say, wait_seconds=wait_seconds, report_every=report_every,
                     journal=journal, number_jobs=True, held=held) for t in targets]
    runs[0]._check_decisions(files)
    reports = [PrintReport() for _ in runs]
    failures: list[BaseException] = []

    def work(run: PrintRun, report: PrintReport) -> None:
        try:
            run.run_files(run.files, report)
        except BaseException as exc:   # handed to the caller once every printer's thread has ended
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(r, rep), name=f"print-{r.target.printer.id}")
               for r, rep in zip(runs, reports, strict=True) if r.files]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        record_jobs(out_dir, manifest, files, targets, journal)
    if failures:
        raise failures[0]
    order = {f.name: i for i, f in enumerate(files)}
    merged = PrintReport()
    for rep in reports:
        merged.printed += rep.printed
        merged.sent += rep.sent
        merged.needs_operator.update(rep.needs_operator)
    merged.printed.sort(key=order.__getitem__)
    merged.sent.sort(key=order.__getitem__)
    merged.needs_operator = dict(sorted(merged.needs_operator.items(), key=lambda kv: order[kv[0]]))
    return merged


def dv_holds(log: IssueLog, run_id: str, names: set[str]) -> dict[str, str]:
    """The files of run `run_id` among `names` (never sent) with a person on them whose DV record was imported
    after the file was planned, and why they wait: the file was drawn knowing nothing of that protection (a
    --resume after the registry changed, or an import while the run drew). Read from the issue log (the file's
    reserve record: when it was planned; its records' render records: who is on it) and the registry; a file
    without a reserve record (a layout printing no 発行番号) counts from the run's first record."""
    if not names:
        return {}
    with log.db.read() as conn:
        rows = conn.execute(select(issue_log_table.c.event, issue_log_table.c.at, issue_log_table.c.tenant,
                                   issue_log_table.c.body)
                            .where(issue_log_table.c.event.in_(("reserve", "render", "refusal")),
                                   issue_log_table.c.body.like(f'%"batch":"{run_id}"%'))
                            .order_by(issue_log_table.c.seq)).all()
    planned: dict[str, str] = {}
    persons: dict[str, set[str]] = {}
    tenant = ""
    first = ""
    for event, at, row_tenant, body in rows:
        doc = json.loads(body)
        if doc.get("batch") != run_id:
            continue
        first = first or str(at)
        tenant = tenant or str(row_tenant or "")
        name = doc.get("file")
        if name not in names:
            continue
        if event == "reserve":
            planned.setdefault(name, str(at))
        elif event == "render":
            # a record an older release wrote may spell a person_id in lower case (the registry: upper, rev. 0003)
            persons.setdefault(name, set()).update(person_id_spelling(str(p)) for p in doc.get("person_ids") or [])
    registry = Registry(log.db)
    held: dict[str, str] = {}
    for name in sorted(persons):
        changed = registry.changed_since(tenant, persons[name], planned.get(name, first))
        if changed:
            held[name] = (f"{len(changed)} person(s) on it came under a DV 支援措置 (or their record changed) after it "
                          f"was planned (person_id {', '.join(changed)}): not sent — check its pages, then "
                          f"--resubmit {name} to print it as drawn, or void its numbers and print those records "
                          f"again")
    return held


__all__ = ["Decisions", "PrintFile", "PrintReport", "PrintRun", "PrintStopped", "assign", "dv_holds",
           "manifest_files", "print_batch", "record_jobs"]

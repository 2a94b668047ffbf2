"""The print journal of a print run: what was sent to which printer, in the run directory.

In: events appended by `renderer.printing.run` — one JSON object per line in
``<run>/.chohyo-batch/print-journal.jsonl`` (owner-only), each line written and fsynced *before* the action it
announces (an ``intent`` before the job is sent) or right after the fact it records (``accepted`` with the
printer's job id, ``final`` with the job's last state). Out: `FileState` per output file, folded from the
events of its latest attempt. A line cut short by a kill is the last line and is ignored: its action never
happened (it was never fsynced before acting).

Events (``ev``): ``intent`` (attempt n of a file, its job-name, the file's sha256), ``accepted`` (job id),
``final`` (completed / aborted / canceled), ``logged`` (the issue-log record of the final state is written),
``not-received`` (a resumed run found no job under the intent's job-name while the printer still shows its
history: the attempt never arrived), ``unknown`` (the state cannot be known: the printer no longer knows the
job), ``operator`` (the operator allowed a resubmission or confirmed a file printed). No personal data: file
names, hashes, job ids, states, times.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_FILE = "print-journal.jsonl"


@dataclass
class FileState:
    """Where one file stands with the printer: the latest attempt's status and facts."""

    name: str
    attempt: int = 0
    #: none, intent, accepted, final, not-received, unknown
    status: str = "none"
    job_name: str = ""
    job_id: int | None = None
    state: str = ""          # the final job state (completed, aborted, canceled), or "" before
    at: str = ""             # time of the last event
    intent_at: str = ""
    logged: bool = False
    printer: str = ""
    reason: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)


class PrintJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, FileState] = {}
        self._lock = threading.Lock()   # a run printing on several printers appends from one thread each
        self._read()

    def _read(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            # the last line was cut by a kill: its action never happened; drop it so that the next event
            # starts on a line of its own
            data = data[:data.rfind(b"\n") + 1]
            with self.path.open("r+b") as fh:
                fh.truncate(len(data))
                os.fsync(fh.fileno())
        for line in data.split(b"\n"):
            if line.strip():
                self._fold(json.loads(line))

    def _fold(self, e: dict[str, Any]) -> None:
        f = self.files.setdefault(e["file"], FileState(e["file"]))
        f.history.append(e)
        f.at = e["at"]
        ev = e["ev"]
        if ev == "intent":
            f.attempt, f.status, f.job_name, f.job_id, f.state = e["attempt"], "intent", e["job_name"], None, ""
            f.intent_at, f.logged, f.printer, f.reason = e["at"], False, e["printer"], ""
        elif ev == "accepted":
            f.status, f.job_id = "accepted", e["job_id"]
        elif ev == "final":
            f.status, f.state, f.job_id = "final", e["state"], e.get("job_id", f.job_id)
        elif ev == "logged":
            f.logged = True
        elif ev in ("not-received", "unknown"):
            f.status, f.reason = ev, e.get("reason", "")
        elif ev == "operator":
            if e["decision"] == "printed":
                f.status, f.state, f.reason = "final", "completed", "confirmed printed by the operator"
            else:   # resubmit: the next attempt may be sent
                f.status, f.state = "none", ""

    def append(self, event: dict[str, Any]) -> None:
        """Write one event durably (fsync) and fold it in."""
        line = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._fold(event)

    def state(self, name: str) -> FileState:
        return self.files.get(name) or FileState(name)


__all__ = ["JOURNAL_FILE", "FileState", "PrintJournal"]

"""Readiness of the runtime state for ``GET /readyz``: can this server write what a render must write?

In: the service's `Renderer` (its settings name the state directory and the database). Out: `None` when
the state directory takes a new file and the database takes a write transaction, else a `NotWritable`
(a short code for the access log, a detail for the 503 problem). A render that cannot write its 発行番号
and issue-log record fails, so a load balancer should stop sending renders here until this clears.

Cheap enough to poll every few seconds: a stat, one empty temp file created and removed, and one empty
write transaction (SQLite ``BEGIN IMMEDIATE`` + ``COMMIT``: nothing is written). One check runs at a
time; while it waits (a database held locked by a long writer), other polls answer at once — ready as
last seen for `stall_s` seconds, then not ready. The detail never names a path (``/readyz`` takes no key).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from renderer.state.db import DB_FILE
from renderer.state.migrations import SchemaError

if TYPE_CHECKING:
    from renderer.api import Renderer


@dataclass(frozen=True)
class NotWritable:
    code: str     # for the log: state-dir-missing, state-dir-not-writable, database-missing, database-not-writable,
    #               database-schema (not at this release's revision: `chohyo db upgrade`, or a newer release's), …
    detail: str   # for the problem's detail


class StateProbe:
    """Checks that the state directory and the database are writable, one check at a time."""

    def __init__(self, renderer: Renderer, *, stall_s: float = 5.0) -> None:
        self.renderer = renderer
        self.stall_s = stall_s
        self._running_since: float | None = None   # set and cleared on the event loop only
        self._last: NotWritable | None = None

    async def check(self) -> NotWritable | None:
        if self._running_since is not None:   # a check is waiting (the database is locked, a disk hangs)
            waited = time.monotonic() - self._running_since
            if waited < self.stall_s:
                return self._last
            return NotWritable("state-check-stalled", f"the check of the state directory and the database has "
                                                      f"not answered for {waited:.0f} s")
        self._running_since = time.monotonic()
        try:
            self._last = await run_in_threadpool(self.problem)
        finally:
            self._running_since = None
        return self._last

    def problem(self) -> NotWritable | None:
        """The check itself (blocking: run it in a thread)."""
        settings = self.renderer.settings
        state = settings.state_dir
        if not state.is_dir():
            return NotWritable("state-dir-missing", "the state directory is missing or not a directory")
        if not os.access(state, os.W_OK | os.X_OK):
            return NotWritable("state-dir-not-writable", "the state directory is not writable")
        try:   # os.access says yes to root everywhere; a real file says whether the file system takes it
            fd, name = tempfile.mkstemp(prefix=".readyz-", dir=state)
            os.close(fd)
            Path(name).unlink()
        except OSError as exc:
            return NotWritable("state-dir-not-writable",
                               f"the state directory does not take a new file ({exc.__class__.__name__})")
        try:
            db = self.renderer.db   # opened (and created) on first use, as a render would
            if settings.database_url is None and not (state / DB_FILE).is_file():
                # SQLite would quietly create an empty file in its place: renders would fail on missing tables
                return NotWritable("database-missing", "the database file is missing or not a file")
            with db.write("readyz") as conn:
                db.check_revision(conn)   # still this release's revision (no other server upgraded it since)
        except SchemaError as exc:   # revisions and the command to run; no path, no URL
            return NotWritable("database-schema", exc.message)
        except Exception as exc:   # SQLAlchemy's OperationalError, OSError, …: the class only, never the message
            return NotWritable("database-not-writable",
                               f"the database does not take a write transaction ({exc.__class__.__name__})")
        return None

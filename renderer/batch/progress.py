"""Batch progress on stderr: a rich progress bar (records/s, ETA) on a terminal, plain lines otherwise.

In: the number of records to print and, as the run goes, how many are finished. Out: text on stderr
only (never a record's content: counts and rates).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


class BatchProgress:
    def __init__(self, total: int, done: int = 0, *, stream: TextIO | None = None, interval: float = 5.0,
                 enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.total, self.done = total, done
        self.started = time.monotonic()
        self.start_done = done
        self.interval = interval
        self.enabled = enabled
        self.last = 0.0
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        if enabled and self.stream.isatty():
            self.bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]} rec/s"), TimeRemainingColumn(),
                                console=Console(file=self.stream), transient=False)
            self.task = self.bar.add_task("records", total=total, completed=done, rate="-")
            self.bar.start()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=self.done, rate=f"{self.rate():.1f}")
            return
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            self._line()

    def _line(self) -> None:
        rate = self.rate()
        left = self.total - self.done
        eta = f"{left / rate:.0f} s" if rate > 0 else "-"
        pct = 100.0 * self.done / self.total if self.total else 100.0
        self.stream.write(f"batch: {self.done}/{self.total} records ({pct:.1f} %), {rate:.1f} rec/s, ETA {eta}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

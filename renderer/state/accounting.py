"""Accounting of 発行番号: what the issue log says against what the tables hold.

In: the verified log bodies (seq, body) in order, the tables' rows (counters, issued numbers, outcomes),
the unfinished batch runs, the clock and a grace period. Out: the problems found and the reservations
still open. Plain values only: `renderer.state.issue_log.IssueLog.verify` reads the database and calls
`account`.

The rules: every number is reserved once (a ``reserve`` record) and closed at most once (``render`` or
``void``; a ``void`` with ``spoils`` turns a rendered number void — a PDF made but never delivered);
nothing is closed without a reservation; ``issued_numbers`` and ``number_outcomes`` hold exactly what the
log says; no counter is behind its numbers; no number below a counter is missing unless a ``counter``
record explains the gap (a series continued from older numbering); and a reservation open longer than the
grace period is a problem unless an unfinished batch run owns it (its ``--resume`` closes it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Series = tuple[str, str, str, str]   # tenant, day (ISO), terminal id, printer id
Number = tuple[Series, int]
#: what may close a reservation, and the outcome it records
OUTCOMES = {"render": "rendered", "void": "void"}


def numbers_of(groups: Any) -> list[Number]:
    """The (series, serial) pairs of a record's ``serials`` (empty for anything malformed: verify says so)."""
    out: list[Number] = []
    for g in groups if isinstance(groups, list) else []:
        if isinstance(g, list) and len(g) == 5 and all(isinstance(x, str) for x in g[:4]) \
                and isinstance(g[4], list):
            out.extend(((g[0], g[1], g[2], g[3]), int(n)) for n in g[4] if isinstance(n, int))
    return out


@dataclass(frozen=True)
class Tables:
    counters: Mapping[Series, int]
    issued: Mapping[Number, int]                    # number → reserve seq
    closed: Mapping[Number, tuple[int, str]]        # number → (seq, outcome)


@dataclass
class Ledger:
    """What the log says, read record by record."""

    problems: list[str] = field(default_factory=list)
    reserved: dict[Number, int] = field(default_factory=dict)
    closed: dict[Number, tuple[int, str]] = field(default_factory=dict)
    floors: dict[Series, int] = field(default_factory=dict)
    owners: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def read(self, bodies: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        for seq, body in bodies:
            event = str(body.get("event"))
            if event == "reserve":
                self._reserve(seq, body)
            elif event in OUTCOMES:
                self._close(seq, event, body)
            elif event == "counter":
                self._counter(body)

    def _reserve(self, seq: int, body: Mapping[str, Any]) -> None:
        self.owners[seq] = (str(body.get("at")), body.get("batch"))
        for number in numbers_of(body.get("serials")):
            if number in self.reserved:
                self.problems.append(f"{label(number)} reserved twice (records {self.reserved[number]} and {seq})")
            self.reserved.setdefault(number, seq)

    def _close(self, seq: int, event: str, body: Mapping[str, Any]) -> None:
        spoils = event == "void" and body.get("spoils") is True
        for number in numbers_of(body.get("serials")):
            if number not in self.reserved:
                self.problems.append(f"{label(number)} {OUTCOMES[event]} by record {seq} without a reservation")
            if spoils:   # a rendered number, spoiled afterwards (処分): its fate is now void
                if self.closed.get(number, (0, ""))[1] != "rendered":
                    self.problems.append(f"{label(number)} spoiled by record {seq} but never rendered")
                self.closed[number] = (seq, "void")
            elif number in self.closed:
                self.problems.append(f"{label(number)} accounted for twice "
                                     f"(records {self.closed[number][0]} and {seq})")
            else:
                self.closed[number] = (seq, OUTCOMES[event])

    def _counter(self, body: Mapping[str, Any]) -> None:
        for g in body.get("serials") or []:
            if isinstance(g, list) and len(g) == 5:
                series = (str(g[0]), str(g[1]), str(g[2]), str(g[3]))
                self.floors[series] = max(self.floors.get(series, 0), int(body.get("last", 0)))

    def compare(self, tables: Tables) -> None:
        """The tables hold exactly what the log says."""
        for number, seq in self.reserved.items():
            if number not in tables.issued:
                self.problems.append(f"{label(number)} (record {seq}) is missing from issued_numbers (deleted rows)")
            elif tables.issued[number] != seq:
                self.problems.append(f"{label(number)}: issued_numbers names record {tables.issued[number]}, "
                                     f"the log {seq}")
        for number in tables.issued.keys() - self.reserved.keys():
            self.problems.append(f"{label(number)} is in issued_numbers without a reserve record in the log")
        for number, (seq, outcome) in self.closed.items():
            if tables.closed.get(number) != (seq, outcome):
                self.problems.append(f"{label(number)}: number_outcomes does not show record {seq} ({outcome})")
        for number in tables.closed.keys() - self.closed.keys():
            self.problems.append(f"{label(number)} has an outcome without a render or void record in the log")

    def series(self, counters: Mapping[Series, int]) -> None:
        """Per series: the counter is not behind its numbers, and no number below it is missing."""
        taken: dict[Series, set[int]] = {}
        for series, serial in self.reserved:
            taken.setdefault(series, set()).add(serial)
        for series in sorted(taken.keys() | counters.keys() | self.floors.keys()):
            self._one_series(series, taken.get(series, set()), counters.get(series))

    def _one_series(self, series: Series, taken: set[int], counter: int | None) -> None:
        top = max(taken, default=0)
        name = " ".join(x for x in series if x) or "?"
        if counter is None:
            if taken:
                self.problems.append(f"series {name}: no counter, but numbers up to {top:06d} were reserved")
            return
        if counter < top:
            self.problems.append(f"series {name}: the counter is at {counter:06d}, behind its numbers "
                                 f"(up to {top:06d})")
        missing = [n for n in range(self.floors.get(series, 0) + 1, counter + 1) if n not in taken]
        if missing:
            shown = ", ".join(f"{n:06d}" for n in missing[:5]) + (" …" if len(missing) > 5 else "")
            self.problems.append(f"series {name}: {len(missing)} number(s) below the counter were never "
                                 f"reserved or voided ({shown})")

    def still_open(self, now: dt.datetime, grace_minutes: float, unfinished_batches: set[str]
                   ) -> list[tuple[int, int, float]]:
        """(reserve seq, open numbers, age in minutes) per open reservation; the stale ones are problems."""
        counts: dict[int, int] = {}
        for number, seq in self.reserved.items():
            if number not in self.closed:
                counts[seq] = counts.get(seq, 0) + 1
        out: list[tuple[int, int, float]] = []
        for seq, n in sorted(counts.items()):
            at, batch = self.owners.get(seq, ("", None))
            age = age_minutes(at, now)
            out.append((seq, n, age))
            if age > grace_minutes and not (batch and batch in unfinished_batches):
                self.problems.append(f"reservation {seq}: {n} number(s) open for {age:.0f} minutes without a "
                                     f"render or void record (void them with `chohyo audit void-stale`)")
        return out


def account(bodies: Sequence[tuple[int, Mapping[str, Any]]], tables: Tables, unfinished_batches: set[str],
            now: dt.datetime, grace_minutes: float) -> tuple[list[str], list[tuple[int, int, float]]]:
    """The accounting rules (module docstring). Returns (problems, open reservations)."""
    ledger = Ledger()
    ledger.read(bodies)
    ledger.compare(tables)
    ledger.series(tables.counters)
    still_open = ledger.still_open(now, grace_minutes, unfinished_batches)
    return ledger.problems, still_open


def label(number: Number) -> str:
    (tenant, day, terminal, printer), serial = number
    return " ".join(x for x in (tenant, day, terminal, printer) if x) + f" {serial:06d}"


def age_minutes(at: str, now: dt.datetime) -> float:
    try:
        then = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return max(0.0, (now - then).total_seconds() / 60)

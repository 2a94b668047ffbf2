"""発行番号 serials: allocated atomically per (tenant, date, terminal, printer), one per copy.

In: the state directory. Out: consecutive serial numbers; SQLite's write lock (BEGIN IMMEDIATE) makes
allocation atomic across processes on one machine, and the primary key makes a counter unique.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS serials (
    tenant   TEXT NOT NULL,
    day      TEXT NOT NULL,
    terminal TEXT NOT NULL,
    printer  TEXT NOT NULL,
    last     INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, terminal, printer)
)
"""


class SerialCounter:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "serials.sqlite3"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute(_SCHEMA)
        return con

    def allocate(self, tenant: str, day: dt.date, terminal: str, printer: str, count: int) -> list[int]:
        """Reserve `count` consecutive serials and return them (the first serial of a day is 1)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            key = (tenant, day.isoformat(), terminal, printer)
            row = con.execute(
                "SELECT last FROM serials WHERE tenant=? AND day=? AND terminal=? AND printer=?", key
            ).fetchone()
            last = int(row[0]) if row else 0
            con.execute(
                "INSERT INTO serials(tenant, day, terminal, printer, last) VALUES (?,?,?,?,?) "
                "ON CONFLICT(tenant, day, terminal, printer) DO UPDATE SET last=excluded.last",
                (*key, last + count),
            )
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return list(range(last + 1, last + count + 1))

    def seed(self, tenant: str, day: dt.date, terminal: str, printer: str, next_serial: int) -> None:
        """Set the counter so that the next allocation returns `next_serial` (golden fixtures, tests)."""
        con = self._connect()
        try:
            con.execute(
                "INSERT INTO serials(tenant, day, terminal, printer, last) VALUES (?,?,?,?,?) "
                "ON CONFLICT(tenant, day, terminal, printer) DO UPDATE SET last=excluded.last",
                (tenant, day.isoformat(), terminal, printer, next_serial - 1),
            )
        finally:
            con.close()

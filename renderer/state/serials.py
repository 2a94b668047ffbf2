"""発行番号 serials: allocated atomically per (tenant, date, terminal, printer), one per copy.

In: the state directory (or `Settings`, for a shared database). Out: consecutive serial numbers. The
counter lives in the runtime database (`renderer.state.db`) and is advanced inside a serialized write
transaction, so concurrent processes — and servers sharing one PostgreSQL database — never get the same
serial; the issue log's unique index on every issued 発行番号 is the backstop that rejects a duplicate
even if a counter were reset.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from renderer.settings import PROJECT_ROOT, Settings
from renderer.state.db import Database, open_database, serials


def _settings_for(state_dir: Path) -> Settings:
    return Settings(layouts_dir=PROJECT_ROOT / "layouts", fonts_dir=PROJECT_ROOT / "fonts", state_dir=state_dir)


class SerialCounter:
    def __init__(self, state_dir: Path | Settings) -> None:
        settings = state_dir if isinstance(state_dir, Settings) else _settings_for(state_dir)
        self.db: Database = open_database(settings)

    def allocate(self, tenant: str, day: dt.date, terminal: str, printer: str, count: int) -> list[int]:
        """Reserve `count` consecutive serials and return them (the first serial of a day is 1)."""
        with self.db.write("serials") as conn:
            return allocate_in(conn, tenant, day, terminal, printer, count)

    def seed(self, tenant: str, day: dt.date, terminal: str, printer: str, next_serial: int) -> None:
        """Set the counter so that the next allocation returns `next_serial` (golden fixtures, tests)."""
        key = and_(serials.c.tenant == tenant, serials.c.day == day.isoformat(),
                   serials.c.terminal == terminal, serials.c.printer == printer)
        with self.db.write("serials") as conn:
            conn.execute(serials.delete().where(key))
            conn.execute(serials.insert().values(tenant=tenant, day=day.isoformat(), terminal=terminal,
                                                 printer=printer, last=next_serial - 1))


def allocate_in(conn: Connection, tenant: str, day: dt.date, terminal: str, printer: str, count: int) -> list[int]:
    """Reserve `count` serials inside the caller's write transaction (which must hold the "serials" lock):
    a batch reserves them in the same commit as its journal, so a crash never leaves a record without
    the numbers it was given."""
    key = and_(serials.c.tenant == tenant, serials.c.day == day.isoformat(),
               serials.c.terminal == terminal, serials.c.printer == printer)
    last = conn.execute(select(serials.c.last).where(key)).scalar()
    if last is None:
        last = 0
        conn.execute(serials.insert().values(tenant=tenant, day=day.isoformat(), terminal=terminal,
                                             printer=printer, last=count))
    else:
        conn.execute(serials.update().where(key).values(last=last + count))
    return list(range(last + 1, last + count + 1))

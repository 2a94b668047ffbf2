"""発行番号 serial counters: one per series (tenant, date, terminal id, printer id), advanced in a transaction.

In: an open write transaction holding the "serials" lock (`renderer.state.db.Database.write`). Out:
consecutive serial numbers (the first of a day is 1). Only the issue log calls these: a counter moves
inside the same transaction that writes the record accounting for it — a ``reserve`` record for the
numbers taken (`IssueLog.reserve`, a batch chunk), or a ``counter`` record when a series is continued on
purpose (`IssueLog.set_counter`). Concurrent processes, and servers sharing one PostgreSQL database, never
get the same serial; the unique index on every issued 発行番号 is the backstop that rejects a duplicate
even if a counter were reset behind the log's back (and `chohyo audit verify` reports that reset).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from renderer.errors import UsageError
from renderer.state.db import serials


def _key(tenant: str, day: dt.date, terminal: str, printer: str) -> ColumnElement[bool]:
    return and_(serials.c.tenant == tenant, serials.c.day == day.isoformat(),
                serials.c.terminal == terminal, serials.c.printer == printer)


def allocate_in(conn: Connection, tenant: str, day: dt.date, terminal: str, printer: str, count: int) -> list[int]:
    """Reserve `count` consecutive serials inside the caller's write transaction."""
    key = _key(tenant, day, terminal, printer)
    last = conn.execute(select(serials.c.last).where(key)).scalar()
    if last is None:
        last = 0
        conn.execute(serials.insert().values(tenant=tenant, day=day.isoformat(), terminal=terminal,
                                             printer=printer, last=count))
    else:
        conn.execute(serials.update().where(key).values(last=last + count))
    return list(range(last + 1, last + count + 1))


def set_counter_in(conn: Connection, tenant: str, day: dt.date, terminal: str, printer: str, last: int) -> int:
    """Set a series' counter so that its next serial is ``last + 1``; never backwards. Returns ``last``."""
    if last < 0:
        raise UsageError("a series starts at 000001 or later", field="next_serial")
    key = _key(tenant, day, terminal, printer)
    current = conn.execute(select(serials.c.last).where(key)).scalar()
    if current is None:
        conn.execute(serials.insert().values(tenant=tenant, day=day.isoformat(), terminal=terminal,
                                             printer=printer, last=last))
    elif current > last:
        raise UsageError(f"the series is already at {current:06d}; a counter never moves backwards",
                         field="next_serial")
    else:
        conn.execute(serials.update().where(key).values(last=last))
    return last

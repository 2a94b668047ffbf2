"""Running the migrations with Alembic: create, stamp and upgrade a database, compare it with the models.

In: a `renderer.state.db.Database` (and a target revision). Out: `upgrade` (an `Upgrade`: the revision
before, after, and the revisions applied), `differences` (what separates a database from a `MetaData`, as
readable lines) and `script_revisions` (Alembic's own chain, oldest first, for the test that pins
`renderer.state.migrations.REVISIONS`).

Everything runs in one write transaction of the database (``Database.write("schema")``): on PostgreSQL a
``READ COMMITTED`` transaction that first takes the ``schema`` advisory lock, so several servers started
together (or ``chohyo db upgrade`` run on each) upgrade one after the other — the first applies the
revisions, the others then read the new revision and have nothing to do; on SQLite ``BEGIN IMMEDIATE``.
DDL is transactional on both, so an upgrade that fails leaves the database as it was. The revision is
read again after the lock is held, never trusted from before it.

A database with our tables and no ``alembic_version`` (created by a release before migrations) is compared
with revision 0001's frozen schema first: identical, it is stamped 0001 and upgraded; different, it is
refused with the differences (nothing is guessed).

Imported only to create or upgrade (Alembic is not loaded by the start-up check). No personal data: the
migrations move columns of hashes and versions, and log revision ids only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from renderer.errors import UsageError
from renderer.state.db import Database, read_schema
from renderer.state.migrations import HEAD, REVISIONS, VERSION_TABLE, SchemaError

SCRIPTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Upgrade:
    before: str | None          # None: an empty database
    after: str
    applied: tuple[str, ...]    # the revisions run, oldest first (empty: it was already there)
    stamped: bool = False       # tables of a release before migrations, recorded as 0001 (then `before`)

    def as_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "applied": list(self.applied),
                "stamped": self.stamped}


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def script_revisions() -> tuple[str, ...]:
    """Alembic's chain of the scripts in ``versions/``, oldest first (it must be `REVISIONS`)."""
    script = _script()
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration scripts have {len(heads)} heads: {', '.join(heads)}")
    return tuple(reversed([rev.revision for rev in script.walk_revisions("base", heads[0])]))


def upgrade(db: Database, to: str = HEAD) -> Upgrade:
    """Bring the database to revision `to` (default: head) in one transaction under the ``schema`` lock."""
    if to not in REVISIONS:
        raise UsageError(f"--to {to!r} is not a revision of this release ({', '.join(REVISIONS)})", field="--to")
    with db.write("schema") as conn:
        state = read_schema(conn)   # read again under the lock: another server may have just upgraded
        if state.status == "unknown":
            problem = state.problem()
            assert problem is not None
            raise problem
        stamped = False
        if state.status == "unversioned":
            _stamp_unversioned(conn)
            state, stamped = read_schema(conn), True
        before = state.revision
        start = -1 if before is None else REVISIONS.index(before)
        target = REVISIONS.index(to)
        if target < start:
            raise SchemaError(f"the database is at schema revision {before}, after {to}: `chohyo db upgrade` never "
                              f"downgrades (restore the backup taken before the upgrade)", field="--to")
        if target > start:
            command.upgrade(_config(conn), to)
        after = read_schema(conn).revision
        assert after == to, f"the upgrade ended at {after}, not {to}"
    return Upgrade(before, to, REVISIONS[start + 1:target + 1], stamped)


def _stamp_unversioned(conn: Connection) -> None:
    """Record revision 0001 on a database a release before migrations created, if its tables are exactly
    0001's; otherwise refuse with what differs."""
    from renderer.state.migrations.versions.r0001_initial import METADATA

    found = differences(conn, METADATA)
    if found:
        shown = "; ".join(found[:10]) + (f"; and {len(found) - 10} more" if len(found) > 10 else "")
        raise SchemaError(f"the database has tables but no {VERSION_TABLE}, and they are not revision "
                          f"{REVISIONS[0]} ({shown}): it cannot be upgraded safely — restore it from a backup "
                          f"of a release before migrations, or move its data to a new database",
                          field="CHOHYO_DATABASE_URL")
    command.stamp(_config(conn), REVISIONS[0])


def differences(conn: Connection, target: MetaData) -> list[str]:
    """What Alembic's autogenerate would change to make the database's tables (only those of `target`,
    plus any of ours it lacks) match `target`: one line per difference; empty when they match."""
    def ours(name: str | None, kind: str, parent: Any) -> bool:
        return kind != "table" or name in target.tables

    context = MigrationContext.configure(conn, opts={"include_name": ours, "compare_type": True})
    return [_describe(diff) for diff in compare_metadata(context, target)]


def _describe(diff: Any) -> str:
    if isinstance(diff, list):   # a column modification: [(op, schema, table, column, ...), ...]
        return ", ".join(f"{d[0]} {d[2]}.{d[3]}" for d in diff)
    op = diff[0]
    if op in ("add_column", "remove_column"):   # (op, schema, table, Column)
        return f"{op} {diff[2]}.{diff[3].name}"
    obj = diff[1]                                # a Table, Index or constraint
    table = getattr(getattr(obj, "table", None), "name", None)
    return f"{op} {table + '.' if table else ''}{getattr(obj, 'name', obj)}"

"""Schema revisions of the runtime database: what this release knows, without importing Alembic.

In: nothing (constants) and a revision read from a database's ``alembic_version`` table. Out: `REVISIONS`
(every revision this release knows, oldest first), `HEAD` (the one its code needs), `SchemaError` (exit 2:
the database is not at `HEAD` and this process will not work on it) and `describe`, the one-line state of a
database for messages and ``chohyo db status``.

The migration scripts themselves are in ``versions/`` (one file per revision, run by Alembic through
``env.py`` here, `renderer.state.migrations.run`); they ship inside the package, so an installed wheel can
upgrade a database. Only creating a database, ``chohyo db upgrade`` and an allowed auto-upgrade import
Alembic: the start-up check (`renderer.state.db`) reads ``alembic_version`` with SQLAlchemy and compares it
with `HEAD` here (``tests/state/test_migrations.py`` checks that these constants are Alembic's own chain).
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.errors import UsageError

#: every revision this release can upgrade from or to, oldest first (``versions/r<NNNN>_*.py``)
REVISIONS: tuple[str, ...] = ("0001_initial", "0002_log_provenance", "0003_person_ids_upper")
#: the revision this release's code reads and writes
HEAD = REVISIONS[-1]
#: the table Alembic keeps the revision in
VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "chohyo db upgrade"


class SchemaError(UsageError):
    """The database's schema is not the one this release works on (exit 2; nothing was written)."""

    problem = "database-schema"
    title = "The database schema does not match this release"


@dataclass(frozen=True)
class SchemaState:
    """What a database holds: its recorded revision (None: no ``alembic_version`` row) and whether any of
    our tables exist (a database with tables but no revision was created by a release before migrations)."""

    revision: str | None
    has_tables: bool
    #: more than one row in ``alembic_version`` (branches: never written by this project)
    revisions: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``current``, ``empty`` (nothing yet: created at head on first use), ``behind`` (a known older
        revision), ``unversioned`` (tables from a release before migrations), ``unknown`` (a revision this
        release does not know: a newer release upgraded it)."""
        if len(self.revisions) > 1:
            return "unknown"
        if self.revision is None:
            return "unversioned" if self.has_tables else "empty"
        if self.revision == HEAD:
            return "current"
        return "behind" if self.revision in REVISIONS else "unknown"

    @property
    def pending(self) -> tuple[str, ...]:
        """The revisions `chohyo db upgrade` would apply (none for an unknown revision)."""
        status = self.status
        if status in ("empty", "unversioned"):
            return REVISIONS
        if status == "behind":
            assert self.revision is not None
            return REVISIONS[REVISIONS.index(self.revision) + 1:]
        return ()

    def problem(self) -> SchemaError | None:
        """Why this release must not work on the database (None: it may; an empty one is created at head)."""
        status = self.status
        if status in ("current", "empty"):
            return None
        if status == "behind":
            return SchemaError(
                f"the database is at schema revision {self.revision} but this release needs {HEAD}: back it up, "
                f"then run `{UPGRADE_COMMAND}` once (with every server of the older release stopped), or set "
                f"CHOHYO_DB_AUTO_UPGRADE=1 to upgrade at start", field="CHOHYO_DATABASE_URL")
        if status == "unversioned":
            return SchemaError(
                f"the database was created by a release before schema migrations (it has the tables but no "
                f"{VERSION_TABLE}): back it up, then run `{UPGRADE_COMMAND}`, which checks that the tables are "
                f"revision {REVISIONS[0]}, records that and upgrades to {HEAD}", field="CHOHYO_DATABASE_URL")
        shown = ", ".join(self.revisions) if len(self.revisions) > 1 else self.revision
        return SchemaError(
            f"the database is at schema revision {shown}, which this release does not know (it knows "
            f"{', '.join(REVISIONS)}; its newest is {HEAD}): a newer release upgraded it — run that release, "
            f"or restore the backup taken before the upgrade", field="CHOHYO_DATABASE_URL")

    def describe(self) -> str:
        status = self.status
        if status == "empty":
            return f"no tables yet (created at revision {HEAD} on first use)"
        if status == "unversioned":
            return f"tables without a recorded revision (a release before migrations); head is {HEAD}"
        return f"revision {', '.join(self.revisions) or self.revision}; head is {HEAD}"

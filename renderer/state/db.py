"""The runtime database behind SQLAlchemy: 発行番号 counters, the DV suppression registry, lifts, issue log.

In: `Settings` (``database_url``, else the SQLite file ``<state_dir>/chohyo.sqlite3``). Out: a `Database`
with the tables below and two kinds of transaction:

- `Database.write(lock)`: one serialized writer. SQLite: ``BEGIN IMMEDIATE`` (the database write lock is
  taken before the first read, so read-check-write sequences cannot interleave). PostgreSQL: a
  ``READ COMMITTED`` transaction (set on every write, whatever the server's default) whose first
  statements take ``pg_advisory_xact_lock`` on the named locks (serials, the issue log, a tenant's
  registry, the batch journal), so several servers sharing one database serialize the same way. READ
  COMMITTED is what makes this correct: every later statement sees what the previous holder committed
  (under REPEATABLE READ or SERIALIZABLE the snapshot would be taken by the lock statement itself, before
  the wait, and the transaction would read stale counters). The locks end with the transaction, also
  when a connection dies; the unique constraints of `issued_numbers` and `number_outcomes` remain the
  last word whatever a lock did.
- `Database.read()`: one consistent snapshot for several SELECTs. SQLite (WAL): a deferred transaction
  whose snapshot is fixed at its first read. PostgreSQL: ``REPEATABLE READ``.

A PostgreSQL connection lost (server restarted) fails the transaction it was in — rolled back, nothing of
it kept — and the pool replaces dead connections before their next use (``pool_pre_ping``).

Dates are stored as ISO strings (``YYYY-MM-DD``) and instants as ISO UTC strings with microseconds, so
they compare as text on every backend. Nothing here holds names, addresses or numbers of residents.

Schema revisions (`renderer.state.migrations`): the tables below are revision
`renderer.state.migrations.HEAD`. Opening a `Database` reads its ``alembic_version`` with SQLAlchemy alone
(no Alembic import: one query for the table names, one for the revision) and compares it with ``HEAD``:
at head, it is used; empty, it is created by running the migrations (Alembic, under the ``schema`` lock);
at an older known revision or with tables but no revision (a release before migrations), it is upgraded
only when the settings allow it (``CHOHYO_DB_AUTO_UPGRADE``), else refused with a `SchemaError` (exit 2)
naming the revisions and ``chohyo db upgrade``; at a revision this release does not know, always refused.
`connect` opens a database without that check (``chohyo db status`` and ``upgrade``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import QueuePool

from renderer.errors import ChohyoError, UsageError
from renderer.files import state_dir_errors
from renderer.settings import Settings
from renderer.state.migrations import HEAD, VERSION_TABLE, SchemaError, SchemaState

DB_FILE = "chohyo.sqlite3"
LOGGER = logging.getLogger("chohyo.state")
_WRITE = "chohyo_write"

metadata = MetaData()

serials = Table(
    "serials", metadata,
    Column("tenant", String(6), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("terminal", String(20), primary_key=True),
    Column("printer", String(20), primary_key=True),
    Column("last", Integer, nullable=False),
)

# One row per (tenant, person_id): the latest version the 住民記録 system sent. A release keeps the row
# (status "released") so that an older upsert arriving later is ignored rather than re-applied.
suppressions = Table(
    "suppressions", metadata,
    Column("tenant", String(6), primary_key=True),
    Column("person_id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", String(10), nullable=False),          # active | released
    Column("case_id", String(64)),
    Column("role", String(10)),                             # applicant (申出者) | joint (併せて支援を求める者)
    Column("period_start", String(10)),
    Column("period_end", String(10)),
    Column("processes", String(100)),                       # comma list: certificate,notice,list
    Column("layouts", Text),                                # comma list of layout ids, NULL = every layout
    Column("addresses", String(40)),                        # comma list: current,previous
    Column("moved_out_on", String(10)),
    Column("continuation_end", String(10)),
    Column("updated_at", String(32), nullable=False),
)

suppression_adversaries = Table(
    "suppression_adversaries", metadata,
    Column("tenant", String(6), primary_key=True),
    Column("person_id", String(32), primary_key=True),      # the protected person's record
    Column("adversary_id", String(32), primary_key=True),   # 相手方 (加害者)
    Index("ix_adversary", "tenant", "adversary_id"),
)

# Advanced in every transaction that changes a tenant's registry (import, lift, revoke): a batch plans
# from an in-memory view of the registry and commits only while the generation it read is still current.
registry_state = Table(
    "registry_state", metadata,
    Column("tenant", String(6), primary_key=True),
    Column("generation", Integer, nullable=False),
)

lifts = Table(
    "lifts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(6), nullable=False),
    Column("person_id", String(32), nullable=False),
    Column("layout", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("reviewer", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("revoked_at", String(32)),
    Column("revoked_by", String(64)),
    Index("ix_lift_target", "tenant", "person_id", "layout"),
)

issue_log = Table(
    "issue_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("event", String(16), nullable=False),
    Column("tenant", String(6)),
    Column("layout", String(64)),
    Column("body", Text, nullable=False),                   # canonical JSON of the whole record
    Column("prev", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
    # A render's provenance, copied from the body (`provenance_columns`) so it can be searched: which
    # certificates a layout, tenant file, font manifest or renderer version drew (revision 0002).
    Column("layout_sha256", String(64)),
    Column("layout_parts_sha256", Text),                    # canonical JSON {part: sha256}
    Column("tenant_sha256", String(64)),
    Column("font_manifest_sha256", String(64)),
    Column("renderer_version", String(32)),
    Index("ix_log_tenant_at", "tenant", "at"),
)

#: the ``issue_log`` columns that repeat a render's provenance from its MACed body
PROVENANCE_COLUMNS = ("layout_sha256", "layout_parts_sha256", "tenant_sha256", "font_manifest_sha256",
                      "renderer_version")


def provenance_columns(body: Any) -> dict[str, str | None]:
    """The provenance columns of a record's body: strings as they are, ``layout_parts_sha256`` (a mapping)
    as canonical JSON, None where the body has none (revision 0002 backfills old rows the same way)."""
    out: dict[str, str | None] = dict.fromkeys(PROVENANCE_COLUMNS)
    if isinstance(body, dict):
        for name in PROVENANCE_COLUMNS:
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            out[name] = value
    return out


# Every 発行番号 ever reserved, once, with the reserve record that took it (`seq`): the unique constraint
# is what makes two copies sharing a number impossible, whatever a counter says, across processes and
# servers. `chohyo audit verify` checks this table, the counters and the log against each other.
issued_numbers = Table(
    "issued_numbers", metadata,
    Column("tenant", String(6), nullable=False),
    Column("day", String(10), nullable=False),
    Column("terminal", String(20), nullable=False),
    Column("printer", String(20), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    UniqueConstraint("tenant", "day", "terminal", "printer", "serial", name="uq_issued_number"),
    Index("ix_issued_numbers_seq", "seq"),                  # a reservation's numbers (revision 0002)
)

# The fate of every reserved 発行番号, once: printed (a render record) or void (a void record naming the
# reason). The unique constraint makes a number impossible to account for twice; a number in
# `issued_numbers` without a row here is an open reservation (a render in flight, or one to be voided).
number_outcomes = Table(
    "number_outcomes", metadata,
    Column("tenant", String(6), nullable=False),
    Column("day", String(10), nullable=False),
    Column("terminal", String(20), nullable=False),
    Column("printer", String(20), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("seq", Integer, nullable=False),                 # the render or void record
    Column("outcome", String(8), nullable=False),           # rendered | void
    UniqueConstraint("tenant", "day", "terminal", "printer", "serial", name="uq_number_outcome"),
)

# One row per reserve record: who may close it if its render never reports back (a service job id, so
# the service voids the numbers of a worker that died; a batch run id, whose --resume finishes them).
reservations = Table(
    "reservations", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("job", String(64)),
    Column("batch", String(36)),
    Index("ix_reservations_job", "job"),
)

# Batch print runs (renderer.batch): the journal that makes a run resumable with exactly-once output.
# A record's serials are reserved in the same transaction that advances the counter, so a resumed run
# prints each record with the 発行番号 it was first given. No names, addresses or numbers of residents.
batch_runs = Table(
    "batch_runs", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("layout", String(64), nullable=False),
    Column("input_sha256", String(64), nullable=False),
    Column("options", Text, nullable=False),                # canonical JSON of the run's options
    Column("records", Integer, nullable=False),
    Column("finished_at", String(32)),
)

batch_files = Table(
    "batch_files", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("first_position", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
    Column("status", String(10), nullable=False),           # planned | complete
    Column("pages", Integer),
    Column("sha256", String(64)),
)

batch_records = Table(
    "batch_records", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("position", Integer, primary_key=True),          # order of printing (after --sort)
    Column("line", Integer, nullable=False),                # 1-based line of the input file
    Column("status", String(10), nullable=False),           # planned | rendered | refused | invalid
    Column("file", String(64)),
    Column("tenant", String(6)),
    Column("day", String(10)),
    Column("terminal", String(20)),
    Column("printer", String(20)),
    Column("serials", Text),                                # JSON list, one per copy
    Column("issue_numbers", Text),                          # JSON list
    Column("first_page", Integer),
    Column("pages", Integer),
    Column("problem", String(40)),
    Column("rule", String(64)),
    Column("field", Text),
    Column("message", Text),
    Index("ix_batch_records_file", "run_id", "file"),
)


class Database:
    """One runtime database. `check_schema` (every use but ``chohyo db``): refuse it unless it is at
    `HEAD` — creating an empty one, upgrading an older one only when `auto_upgrade` allows."""

    def __init__(self, url: str, *, check_schema: bool = True, auto_upgrade: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # A small pool: a render's four or so transactions reuse open connections (each new one would
            # open the file and set its pragmas again: about 1.5 ms apiece). SQLite connections are used by one
            # thread at a time (the pool hands each out to one caller), so they may move between the service's
            # threads. A batch worker is a fresh process from the fork server: it never inherits these.
            self.engine: Engine = create_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=8,
                                                connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            try:
                self.engine = create_engine(engine_url(url), pool_pre_ping=True)
            except ImportError:
                raise UsageError(f"the database driver for {make_url(url).drivername} is not installed "
                                 f"(PostgreSQL: pip install 'chohyo-renderer[postgresql]')",
                                 field="CHOHYO_DATABASE_URL") from None
            except (ArgumentError, NoSuchModuleError) as exc:   # a typo: never reachable, not an outage
                raise UsageError(f"CHOHYO_DATABASE_URL {shown_url(url)} is not a database URL this renderer can "
                                 f"open ({exc.__class__.__name__}); write postgresql://USER:PASSWORD@HOST/DB",
                                 field="CHOHYO_DATABASE_URL") from None
        if check_schema:
            try:
                self._ensure_schema(auto_upgrade)
            except DBAPIError as exc:
                self.engine.dispose()
                if not _unreachable(exc):
                    raise
                raise self.unavailable(exc) from None
            except BaseException:   # DatabaseUnavailable from read() too
                self.engine.dispose()   # refused: no pooled connection outlives this object
                raise

    def schema(self) -> SchemaState:
        """The database's revision and whether it has our tables (SQLAlchemy only: no Alembic import)."""
        with self.read() as conn:
            return read_schema(conn)

    def _ensure_schema(self, auto_upgrade: bool) -> None:
        state = self.schema()
        if state.status == "current":
            return
        if state.status == "empty" or (auto_upgrade and state.status in ("behind", "unversioned")):
            from renderer.state.migrations.run import upgrade  # Alembic: only to create or upgrade

            done = upgrade(self)
            if done.applied:
                LOGGER.info("database schema upgraded from %s to %s", done.before or "nothing", done.after)
            return
        problem = state.problem()
        assert problem is not None
        raise problem

    def check_revision(self, conn: Connection) -> None:
        """Raise `SchemaError` unless the database is (still) at `HEAD`: another server may have upgraded
        it past this release since it was opened (``/readyz`` asks on every poll)."""
        state = read_schema(conn)
        if state.status != "current":
            raise state.problem() or SchemaError(f"the database has no tables at revision {HEAD}",
                                                 field="CHOHYO_DATABASE_URL")

    @contextmanager
    def write(self, lock: str, *more: str) -> Iterator[Connection]:
        """A serialized write transaction (committed on success, rolled back on any exception). With
        several locks (a batch commits serials and issue-log records together) they are taken in the
        order given; callers always name them in the order serials, issue_log, batch."""
        options: dict[str, Any] = {_WRITE: True}
        if not self.is_sqlite:
            options["isolation_level"] = "READ COMMITTED"
        with self._reachable(), self.engine.execution_options(**options).begin() as conn:
            if not self.is_sqlite:
                for name in (lock, *more):
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot for several SELECTs."""
        engine = self.engine if self.is_sqlite else self.engine.execution_options(
            isolation_level="REPEATABLE READ")
        with self._reachable(), engine.begin() as conn:
            yield conn

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A database that cannot be reached or written during the block (server down or restarting, connection
        lost, SQLite file locked past its timeout or on a full disk) as `DatabaseUnavailable` naming the setting —
        a server answers 503 with Retry-After (`renderer.service.problems`), the CLI exit 1. Never the driver's
        message: it may quote the statement and its parameters."""
        try:
            yield
        except DBAPIError as exc:
            if not _unreachable(exc):
                raise
            raise self.unavailable(exc) from None

    def unavailable(self, exc: DBAPIError) -> DatabaseUnavailable:
        """`exc` as the error to show: the setting, the database (never a password) and the driver's error code."""
        reason = _reason(exc)
        if self.is_sqlite:   # the state directory's own file: locked, read-only, full, or not a database file
            return DatabaseUnavailable(f"the state directory's database {make_url(self.url).database} "
                                       f"(CHOHYO_STATE_DIR) cannot be opened or written ({reason}); nothing was done",
                                       field="CHOHYO_STATE_DIR")
        return DatabaseUnavailable(f"the database {shown_url(self.url)} (CHOHYO_DATABASE_URL) cannot be opened or "
                                   f"reached ({reason}: not running, restarting, unreachable, or refusing this user); "
                                   f"nothing was done", field="CHOHYO_DATABASE_URL")


_TABLE_NAMES = {   # plain catalogue queries: the start-up check compiles no statement and loads no reflection
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()",
}


def read_schema(conn: Connection) -> SchemaState:
    """The revision recorded in ``alembic_version`` and whether any of our tables exist (two queries)."""
    query = _TABLE_NAMES.get(conn.dialect.name)
    names = ({str(n) for n in conn.exec_driver_sql(query).scalars()} if query is not None
             else set(inspect(conn).get_table_names()))
    has_tables = any(name in metadata.tables for name in names)
    if VERSION_TABLE not in names:
        return SchemaState(None, has_tables)
    found = tuple(sorted(str(v) for v in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars()))
    return SchemaState(found[0] if len(found) == 1 else None, has_tables, found)


def _unreachable(exc: DBAPIError) -> bool:
    """A failure of the database, not of the statement: connection refused or lost, server shutting down, locked,
    disk full (SQLAlchemy's `OperationalError` / `InterfaceError`, or a connection it invalidated)."""
    return isinstance(exc, OperationalError | InterfaceError) or bool(exc.connection_invalidated)


def _reason(exc: DBAPIError) -> str:
    """The error's class and the driver's code (SQLite's ``SQLITE_FULL``, PostgreSQL's SQLSTATE): never its text."""
    orig = exc.orig
    code = getattr(orig, "sqlite_errorname", None) or getattr(orig, "sqlstate", None)
    return f"{exc.__class__.__name__} {code}" if isinstance(code, str) and code else exc.__class__.__name__


class DatabaseUnavailable(ChohyoError):
    """The database cannot be opened or reached now (exit 1: nothing was done; a server answers 503 with
    Retry-After and reports it on /readyz)."""

    problem = "database-unavailable"
    title = "The database cannot be opened; nothing was done"


def shown_url(url: str) -> str:
    """`url` as a message may show it: scheme, user, host, port and database only — never a password, wherever
    it was written (``user:pw@``, ``?password=``, an ``@`` inside the password), nor any query parameter."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a URL)"
    host = parsed.host or ""
    if "@" in host or (parsed.password is not None and "@" in str(parsed.password)):
        return f"{parsed.drivername}://(host unclear: an @ in the password is not encoded)"
    user = f"{parsed.username}@" if parsed.username else ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.drivername}://{user}{host}{port}/{parsed.database or ''}"


def engine_url(url: str) -> URL:
    """`url` with its driver named: a plain ``postgresql://`` URL means psycopg 3 (the `postgresql` extra),
    not SQLAlchemy's default psycopg2."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let us emit BEGIN ourselves (pysqlite's implicit transactions would start too late for reads).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")   # readers keep their snapshot while a writer commits
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


_cache: dict[str, Database] = {}
_cache_lock = threading.Lock()


def private_dir(path: Path) -> None:
    """Create the state directory owner-only (0700, whatever the umask). An existing directory that others
    can enter is warned about, never changed: its owner may have chosen it (files inside stay 0600). A path
    that cannot be one (a file in the way, read-only, no permission) is a `UsageError` naming the setting."""
    with state_dir_errors(path):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = path.stat().st_mode & 0o777
    if mode & 0o077 and str(path) not in _warned:
        _warned.add(str(path))
        LOGGER.warning("the state directory %s has mode %s; 0700 is expected (its files are created 0600)",
                       path, oct(mode))


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 unless it exists, so SQLite opens a private file (SQLite gives its
    -wal and -shm files the database file's permissions)."""
    with state_dir_errors(path.parent), contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


_warned: set[str] = set()


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.state_dir / DB_FILE}"


def close_database(url: str) -> None:
    """Forget this process's `Database` for `url` and close its pooled connections (before the database
    is dropped, or to reconnect from scratch)."""
    with _cache_lock:
        db = _cache.pop(url, None)
    if db is not None:
        db.engine.dispose()


def open_database(settings: Settings) -> Database:
    """The database of these settings (one `Database` per URL per process), at `HEAD`: created on first
    use, else checked (`SchemaError` when it is not at head and may not be upgraded here)."""
    url = database_url(settings)
    with _cache_lock:
        db = _cache.get(url)
        local = settings.database_url is None
        if db is None or (local and not (settings.state_dir / DB_FILE).exists()):
            if local:
                private_dir(settings.state_dir)
                private_file(settings.state_dir / DB_FILE)
            db = _cache[url] = Database(url, auto_upgrade=settings.db_auto_upgrade)
        return db


def local_database_missing(settings: Settings) -> bool:
    """Whether the settings name the state directory's SQLite file and it does not exist yet (a state directory
    that could never hold it — a file in the way — is a `UsageError` naming the setting)."""
    if settings.database_url is not None:
        return False
    with state_dir_errors(settings.state_dir):
        for part in (settings.state_dir, *settings.state_dir.parents):
            if part.exists():
                if not part.is_dir():
                    raise NotADirectoryError(20, "Not a directory", str(part))
                break
    return not (settings.state_dir / DB_FILE).exists()


def connect(settings: Settings) -> Database:
    """The database of these settings without the revision check and outside the cache (``chohyo db``:
    status and upgrade work on a database the check would refuse). A missing SQLite file is created empty."""
    if settings.database_url is None:
        private_dir(settings.state_dir)
        private_file(settings.state_dir / DB_FILE)
    return Database(database_url(settings), check_schema=False)

"""PostgreSQL specifics: the write locks hold whatever the database's default isolation, and a plain
``postgresql://`` URL (as the README writes it) opens with psycopg 3.

In: a fresh database on the session's throwaway PostgreSQL server, set to ``default_transaction_isolation =
'repeatable read'`` (as a DBA might). Out: concurrent issue-log appends from several threads (each its
own `IssueLog` and state directory, as separate servers would be) still get consecutive seqs and a chain
that verifies: the renderer sets READ COMMITTED on its own write transactions, so a statement after the
advisory lock sees what the previous holder committed (without it, two writers read the same last seq).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from dvkit import TENANT, Clock
from sqlalchemy import create_engine, make_url, text

from renderer.settings import Settings
from renderer.state.db import close_database
from renderer.state.issue_log import IssueLog, LogRecord


def test_appends_serialize_under_a_repeatable_read_default(tmp_path: Path, pg_database: str) -> None:
    engine = create_engine(pg_database)
    name = make_url(pg_database).database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'"))
    engine.dispose()
    settings = Settings(layouts_dir=tmp_path, fonts_dir=tmp_path, state_dir=tmp_path / "state", clock=Clock(),
                        database_url=pg_database, log_key=bytes(range(32)))
    IssueLog(settings).append(LogRecord("list", settings.now(), {"tenant": TENANT, "records": 0}))
    errors: list[BaseException] = []

    def worker(n: int) -> None:   # a state directory each: no shared lock file, only the database's locks
        log = IssueLog(dataclasses.replace(settings, state_dir=tmp_path / f"state-{n}"))
        try:
            for i in range(15):
                log.append(LogRecord("list", settings.now(), {"tenant": TENANT, "records": n * 100 + i}))
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = IssueLog(settings).verify()
    assert report.ok and report.records == 61   # every seq once, the chain unbroken (each dir has its own head)


def test_a_plain_postgresql_url_uses_psycopg(tmp_path: Path, pg_database: str) -> None:
    plain = pg_database.replace("postgresql+psycopg://", "postgresql://")
    settings = Settings(layouts_dir=tmp_path, fonts_dir=tmp_path, state_dir=tmp_path / "state", clock=Clock(),
                        database_url=plain, log_key=bytes(range(32)))
    try:
        IssueLog(settings).append(LogRecord("list", settings.now(), {"tenant": TENANT, "records": 1}))
        assert IssueLog(settings).verify().ok
    finally:
        close_database(plain)

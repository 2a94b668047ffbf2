"""Shared pytest configuration: the golden-file update switch and the runtime database backends.

In: the command line and the machine. Out: the ``--update-golden`` option (store_true, read by
tests/test_golden.py via the ``update_golden`` fixture) — under CI (``CI`` set to ``true`` or ``1``) asking
for an update stops the whole session at once: CI compares golden files, it never rewrites them — and the
``database_url`` fixture, parametrised over ``sqlite`` (None: the state directory's SQLite file) and
``postgresql`` (a fresh database per test on one throwaway server per session, `tests/pgserver.py`, dropped
after the test). When that server cannot start, the postgresql case is skipped with the reason locally and
FAILS under CI: CI never passes without having run the state tests on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from renderer.golden import UPDATE_DEST, UPDATE_FLAG, is_ci


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        UPDATE_FLAG,
        action="store_true",
        default=False,
        dest=UPDATE_DEST,
        help="rewrite golden expected files that differ (local use only; refused when CI=true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption(UPDATE_DEST) and is_ci():
        raise pytest.UsageError(
            f"{UPDATE_FLAG} is refused in CI (CI={os.environ.get('CI')!r}): CI never updates golden files. "
            f"Run the update locally, review the changed files and commit them."
        )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the session was started with the golden update switch."""
    return bool(request.config.getoption(UPDATE_DEST))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One throwaway PostgreSQL server for the session (a `tests.pgserver.PgServer`), or the reason it
    cannot run here (a str): skipped locally, a failure under CI."""
    try:
        from pgserver import PgServer, pg_bin, unavailable
        reason = unavailable()
    except ImportError as exc:   # psycopg missing: the `postgresql` extra is not installed
        reason = f"psycopg is not installed ({exc}); pip install -e '.[test]'"
    if reason is not None:
        yield reason
        return
    bindir = pg_bin()
    assert bindir is not None
    server = PgServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        server.destroy()
        yield f"the throwaway PostgreSQL server did not start: {exc}"
        return
    yield server
    server.destroy()


def require_pg(pg_server: Any) -> Any:
    """The server, or skip (locally) / fail (CI) with the reason it is not there."""
    if isinstance(pg_server, str):
        if is_ci():
            pytest.fail(f"PostgreSQL is required under CI: {pg_server}", pytrace=False)
        pytest.skip(pg_server)
    return pg_server


@pytest.fixture
def pg_database(pg_server: Any) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    server = require_pg(pg_server)
    name = server.create_database()
    url: str = server.url(name)
    try:
        yield url
    finally:
        from renderer.state.db import close_database
        close_database(url)
        server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The runtime database of a state test: None (the state directory's SQLite file) or a fresh
    PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_database")
    return url

"""The service and its runtime state: `/readyz` fails while the state directory or the database cannot be
written; a client that goes away is logged 499, not 500; ``copies`` must be a JSON integer.

In: the session's started app (`svcfixtures.service`), apps built here without a pool for raw ASGI calls,
the fictitious samples. Out: assertions. The readiness cases break the session app's state directory and
restore it in a ``finally`` (tests run one at a time). Running as root, permission bits are not enforced,
so the "not writable" cases are made by putting a file where the directory was, a directory where the
database was, and a file system that refuses new files; the chmod case runs only for other users.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest
import sqlalchemy.exc
from svckit import TENANT_A, Running, make_keys, sample, service_settings
from uvicorn.protocols.utils import ClientDisconnected

from renderer.service import create_app, readiness
from renderer.service.logs import LOGGER, JsonFormatter
from renderer.service.readiness import NotWritable, StateProbe
from renderer.state.db import DB_FILE

pytest_plugins = ("svcfixtures",)   # the session's `service` fixture
PROBLEM = "application/problem+json"


# ---------------------------------------------------------------------- /readyz and the state


def entries(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == LOGGER]


def not_ready(service: Running, caplog: pytest.LogCaptureFixture, code: str) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        r = service.client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == PROBLEM and r.headers["retry-after"] == "5"
    body = r.json()
    assert body["type"] == "urn:chohyo:problem:not-ready" and body["status"] == 503
    assert str(service.settings.renderer.state_dir) not in r.text   # /readyz takes no key: no paths
    (entry,) = [e for e in entries(caplog) if e["route"] == "/readyz"]
    assert entry["status"] == 503 and entry["not_ready"] == code
    detail: str = body["detail"]
    return detail


def ready(service: Running) -> None:
    r = service.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"


@contextmanager
def moved_aside(path: Path, replacement: str) -> Iterator[None]:
    """`path` renamed away and a file or directory put in its place; everything restored afterwards."""
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        if replacement == "file":
            path.write_text("not a directory\n", encoding="utf-8")
        else:
            path.mkdir()
        yield
    finally:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        aside.rename(path)


def test_readyz_is_503_while_the_state_directory_is_not_a_directory(service: Running,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    ready(service)
    with moved_aside(service.settings.renderer.state_dir, "file"):
        detail = not_ready(service, caplog, "state-dir-missing")
        assert "state directory is missing or not a directory" in detail
    ready(service)


def test_readyz_is_503_while_the_database_is_not_a_file(service: Running, caplog: pytest.LogCaptureFixture) -> None:
    ready(service)   # opens the database if nothing has yet
    with moved_aside(service.settings.renderer.state_dir / DB_FILE, "directory"):
        assert "database file is missing" in not_ready(service, caplog, "database-missing")
    ready(service)


def test_readyz_is_503_while_the_file_system_refuses_new_files(service: Running, caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(**_: Any) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr(readiness, "tempfile", SimpleNamespace(mkstemp=read_only))
        detail = not_ready(service, caplog, "state-dir-not-writable")
    assert "does not take a new file (OSError)" in detail and "Read-only" not in detail
    ready(service)


def test_readyz_is_503_while_the_database_refuses_a_write_transaction(
        service: Running, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    db = service.app.state.service.renderer.db

    def refuses(lock: str, *more: str) -> Any:
        raise sqlalchemy.exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("readonly 秘密"))

    with monkeypatch.context() as m:
        m.setattr(db, "write", refuses)
        detail = not_ready(service, caplog, "database-not-writable")
    assert "does not take a write transaction (OperationalError)" in detail and "秘密" not in detail
    ready(service)


def test_one_state_check_at_a_time_and_a_stalled_one_is_not_ready() -> None:
    release = threading.Event()
    calls: list[int] = []

    class Slow(StateProbe):
        def problem(self) -> NotWritable | None:
            calls.append(1)
            release.wait(10)
            return None

    async def scenario() -> tuple[NotWritable | None, NotWritable | None, NotWritable | None]:
        probe = Slow(None, stall_s=0.2)   # type: ignore[arg-type]   # problem() is replaced: no renderer used
        first = asyncio.ensure_future(probe.check())
        await asyncio.sleep(0.05)
        waiting = await probe.check()        # the first is still running: the last answer (none yet: ready)
        await asyncio.sleep(0.3)
        stalled = await probe.check()        # still running after stall_s: not ready
        release.set()
        return await first, waiting, stalled

    done, waiting, stalled = asyncio.run(scenario())
    assert done is None and waiting is None
    assert stalled is not None and stalled.code == "state-check-stalled"
    assert calls == [1]


# ---------------------------------------------------------------------- a client that goes away: 499


def _scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }


def call(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]],
         fail_send: bool = False) -> list[dict[str, Any]]:
    """Run one ASGI request: `incoming` are the receive() messages in order; returns what was sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if fail_send:
            raise ClientDisconnected()
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_client_gone_while_the_body_is_read_is_logged_499_not_500(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    settings = service_settings(tmp_path)
    keys = make_keys(settings)
    app = create_app(settings)   # no lifespan: reading a sync body needs no pool
    headers = {**keys(TENANT_A, "sync"), "content-type": "application/json", "content-length": "4000"}
    body: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"tenant": "122122", "records": [', "more_body": True},
        {"type": "http.disconnect"},
    ]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        sent = call(app, _scope("POST", "/v1/suppressions", headers), body)
    assert not any(m.get("status") == 500 for m in sent)
    (entry,) = entries(caplog)
    assert entry["status"] == 499 and entry["level"] == "info" and entry["route"] == "/v1/suppressions"
    assert entry["exception"] == "ClientDisconnect"
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


def test_a_client_gone_before_the_answer_is_written_is_logged_499(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(service_settings(tmp_path))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        sent = call(app, _scope("GET", "/healthz", {}), [{"type": "http.request", "body": b"", "more_body": False}],
                    fail_send=True)
    assert sent == []
    (entry,) = entries(caplog)
    assert entry["status"] == 499 and entry["route"] == "/healthz" and entry["exception"] == "ClientDisconnected"
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


def test_a_client_that_stays_is_logged_with_the_status_it_got(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(service_settings(tmp_path))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        sent = call(app, _scope("GET", "/healthz", {}), [{"type": "http.request", "body": b"", "more_body": False}])
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    (entry,) = entries(caplog)
    assert entry["status"] == 200 and "exception" not in entry


# ---------------------------------------------------------------------- copies is a JSON integer


@pytest.mark.parametrize("copies", ["20", "2", 2.0, True])
def test_copies_that_is_not_a_json_integer_is_422(service: Running, copies: Any) -> None:
    for path in ("/v1/validate/juminhyo-setai", "/v1/render/juminhyo-setai"):
        r: httpx2.Response = service.client.post(path, json=sample(copies=copies),
                                                 headers=service.keys(TENANT_A, "render"))
        assert r.status_code == 422, (path, copies, r.text)
        assert r.headers["content-type"] == PROBLEM
        body = r.json()
        assert body["type"] == "urn:chohyo:problem:invalid-input", body
        assert body["field"] == "request.copies" or any(e["path"] == "request.copies" for e in body["errors"]), body


def test_an_integer_copies_is_still_accepted(service: Running) -> None:
    r = service.client.post("/v1/validate/juminhyo-setai", json=sample(copies=2),
                            headers=service.keys(TENANT_A, "render"))
    assert r.status_code == 200, r.text
    assert r.json()["copies"] == 2


def test_a_client_gone_while_its_pdf_was_made_is_logged_499_and_its_numbers_are_spoiled(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The render finished, its record is written, but nobody is there to take the PDF: a void record marks
    its 発行番号 spoiled (処分), and the request is logged 499, not 500."""
    from starlette.testclient import TestClient

    settings = service_settings(tmp_path, workers=1)
    keys = make_keys(settings)
    app = create_app(settings)
    body = json.dumps(sample()).encode("utf-8")
    headers = {**keys(TENANT_A, "render"), "content-type": "application/json", "content-length": str(len(body))}
    with TestClient(app, raise_server_exceptions=False), caplog.at_level(logging.INFO, logger=LOGGER):
        sent = call(app, _scope("POST", "/v1/render/juminhyo-setai", headers),
                    [{"type": "http.request", "body": body, "more_body": False}])   # then: http.disconnect
    assert not any(m.get("status") == 500 for m in sent)
    (entry,) = [e for e in entries(caplog) if e["route"] == "/v1/render/{layout_id}"]
    assert entry["status"] == 499 and entry["level"] == "info"
    log = app.state.service.renderer.issue_log
    records = [json.loads(r["body"]) for r in log.records()]
    assert [r["event"] for r in records] == ["reserve", "render", "void"]
    assert records[2]["reason"] == "client-gone" and records[2]["spoils"] is True
    assert records[2]["serials"] == records[1]["serials"]
    assert log.verify().ok

"""PostgreSQL stopped under a running service: renders and registry calls answer 503 ``database-unavailable`` with
Retry-After (not 500 ``internal``), the access log names the cause, and the service recovers when it is back.

In: a throwaway PostgreSQL server of this test's own (`tests/pgserver.py`; stopped and started here, so the
session's shared server is never touched), the session-independent app on it, the fictitious sample. Out: status,
problem type, headers and the log line of each request. Found by an operations review: with the database down,
/readyz said 503 but a render got 500 ``internal`` and a log line saying only ``internal failure
(OperationalError)``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_pg
from pgserver import PgServer, pg_bin
from starlette.testclient import TestClient
from svckit import TENANT_A, make_keys, sample, service_settings

from renderer.service import create_app
from renderer.service.logs import LOGGER, JsonFormatter
from renderer.state.db import close_database

PROBLEM = "application/problem+json"


@pytest.fixture
def own_server(pg_server: Any) -> Iterator[PgServer]:
    require_pg(pg_server)   # the same reason (skip locally, fail under CI) when no server can run here
    bindir = pg_bin()
    assert bindir is not None
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def _line(caplog: pytest.LogCaptureFixture, request_id: str) -> dict[str, Any]:
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == LOGGER]
    [line] = [x for x in lines if x.get("request_id") == request_id]
    found: dict[str, Any] = line
    return found


def test_a_database_down_during_requests_is_503_database_unavailable(
        tmp_path: Path, own_server: PgServer, caplog: pytest.LogCaptureFixture) -> None:
    url = own_server.url(own_server.create_database())
    base = service_settings(tmp_path, workers=1)
    settings = dataclasses.replace(base, renderer=dataclasses.replace(base.renderer, database_url=url))
    keys = make_keys(settings)
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            ok = client.post("/v1/render/juminhyo-setai", json=sample(), headers=keys(TENANT_A, "render"))
            assert ok.status_code == 200, ok.text

            own_server.stop("fast")
            calls = [("post", "/v1/render/juminhyo-setai", sample(), keys(TENANT_A, "render")),
                     ("get", "/v1/suppressions", None, keys(TENANT_A, "lift"))]
            for method, path, body, headers in calls:
                caplog.clear()
                with caplog.at_level(logging.INFO, logger=LOGGER):
                    r = client.request(method.upper(), path, json=body, headers=headers)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["content-type"] == PROBLEM and int(r.headers["retry-after"]) > 0
                problem = r.json()
                assert problem["type"] == "urn:chohyo:problem:database-unavailable", problem
                assert "OperationalError" not in r.text and str(own_server.root) not in r.text   # no internals
                line = _line(caplog, problem["request_id"])
                assert line["status"] == 503 and line["problem"] == "database-unavailable", line
                assert "CHOHYO_DATABASE_URL" in line["cause"] and "OperationalError" in line["cause"], line
            assert client.get("/readyz").status_code == 503

            own_server.resume()   # back: the next render is served (dead pooled connections are replaced)
            again = client.post("/v1/render/juminhyo-setai", json=sample(), headers=keys(TENANT_A, "render"))
            assert again.status_code == 200, again.text
    finally:
        close_database(url)

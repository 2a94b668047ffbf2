"""Several servers on one PostgreSQL database: two `chohyo serve` processes and one `chohyo batch` coordinator.

In: a fresh database on the session's throwaway PostgreSQL server (`tests/pgserver.py`), the sample
住民票 envelope (rendered over HTTP on both servers at once) and fictitious notices (the batch). Out:
assertions that every 発行番号 is unique per series and accounted for (no gap, one outcome each), that
`chohyo audit verify` is clean on every state directory, and that a suppression imported through one server
refuses the next render on the other; and that a batch whose PostgreSQL server is stopped mid-run fails,
then resumes (server started again) with every record printed exactly once. Each process has its own state
directory (API keys, head file); they share the database URL and the issue log's key, as the README tells
an operator to. Marked slow (about 30 s and 20 s here).
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from batchkit import LAYOUT, printed_numbers, write_jsonl
from dvkit import ROOT, SAMPLE, TENANT, upsert
from sqlalchemy import create_engine, text

from renderer.samples import sample_notices

pytestmark = pytest.mark.slow

CHOHYO = [sys.executable, "-m", "renderer"]
PER_SERVER = 80
BATCH_RECORDS = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    key: str
    proc: subprocess.Popen[bytes]
    state: Path

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.url + path, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def chohyo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHOHYO, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def shared_env(pg_database: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CHOHYO_DATABASE_URL=pg_database, CHOHYO_LOG_KEY=secrets.token_hex(32),
               CHOHYO_LAYOUTS_DIR=str(ROOT / "layouts"), CHOHYO_FONTS_DIR=str(ROOT / "fonts"))
    return env


def _start(env: dict[str, str], state: Path) -> Server:
    made = chohyo(env, "keys", "create", "--tenant", TENANT, "--role", "render", "--role", "sync",
                  "--label", "pg-test", "--state-dir", str(state))
    assert made.returncode == 0, made.stderr
    port = _free_port()
    proc = subprocess.Popen([*CHOHYO, "serve", "--state-dir", str(state), "--port", str(port), "--workers", "1",
                             "--queue", "64",
                             # not a rate-limit test: 160 renders from 8 threads must not meet the 10/s limit
                             "--rate", "1000", "--burst", "1000"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Server(f"http://127.0.0.1:{port}", made.stdout.strip(), proc, state)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(server.url + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{server.url} never became ready")


@pytest.fixture
def servers(shared_env: dict[str, str], tmp_path: Path) -> Iterator[list[Server]]:
    started = [_start(shared_env, tmp_path / name) for name in ("state-a", "state-b")]
    try:
        for s in started:
            _wait_ready(s)
        yield started
    finally:
        for s in started:
            s.proc.terminate()
        for s in started:
            try:
                s.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()


def _envelope() -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(SAMPLE)
    del env["request"]["issued_on"]   # a certificate is issued today by the servers' clock
    return env


def test_two_servers_and_a_batch_share_serials_the_registry_and_the_log(
        servers: list[Server], shared_env: dict[str, str], pg_database: str, tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "notices.jsonl", sample_notices(BATCH_RECORDS))
    out, batch_state = tmp_path / "out", tmp_path / "state-batch"
    batch = subprocess.Popen([*CHOHYO, "batch", LAYOUT, str(inp), "-o", str(out), "--workers", "1",
                              "--pages-per-file", "10", "--state-dir", str(batch_state)],
                             env=shared_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    jobs = [servers[i % 2] for i in range(2 * PER_SERVER)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda s: s.post("/v1/render/juminhyo-setai", _envelope()), jobs))
    _, batch_err = batch.communicate(timeout=900)
    assert batch.returncode == 0, batch_err

    assert [status for status, _, _ in answers] == [200] * len(jobs), {a[2][:300] for a in answers if a[0] != 200}
    http_numbers = [unquote(n) for _, headers, _ in answers for n in headers["x-chohyo-issue-numbers"].split(", ")]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    batch_numbers = [n for r in manifest["records"] for n in r["issue_numbers"]]
    assert len(http_numbers) == 2 * PER_SERVER and len(batch_numbers) == BATCH_RECORDS
    everything = http_numbers + batch_numbers
    assert len(set(everything)) == len(everything)   # unique across both servers and the coordinator

    # every number reserved once, closed once as rendered, and the counters have no gap
    engine = create_engine(pg_database)
    try:
        with engine.connect() as conn:
            issued = conn.execute(text("SELECT tenant, day, terminal, printer, serial FROM issued_numbers")).all()
            outcomes = conn.execute(text("SELECT outcome, COUNT(*) FROM number_outcomes GROUP BY outcome")).all()
            counters = {tuple(r[:4]): r[4] for r in conn.execute(
                text("SELECT tenant, day, terminal, printer, last FROM serials")).all()}
    finally:
        engine.dispose()
    assert len(issued) == len(everything) and dict(outcomes) == {"rendered": len(everything)}
    by_series: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for row in issued:
        by_series[tuple(row[:4])].append(row[4])
    for series, serials in by_series.items():
        assert sorted(serials) == list(range(1, counters[series] + 1)), series

    # the log verifies from every state directory (each holds its own head; the key is shared)
    for state in (servers[0].state, servers[1].state, batch_state):
        verify = chohyo(shared_env, "audit", "verify", "--json", "--state-dir", str(state))
        assert verify.returncode == 0, verify.stdout + verify.stderr

    # a suppression imported through server A refuses the next render on server B
    status, _, body = servers[0].post("/v1/suppressions", {"tenant": TENANT, "records": [upsert("100000002")]})
    assert status == 200, body
    status, _, body = servers[1].post("/v1/render/juminhyo-setai", _envelope())
    assert status == 423 and json.loads(body)["rule"] == "dv-block", body   # Locked: a DV block


RESTART_RECORDS = 1000


def _rendered(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT COUNT(*) FROM batch_records WHERE status = 'rendered'")).scalar_one())
    except Exception:   # the run has not created its tables yet
        return 0
    finally:
        engine.dispose()


def test_a_batch_survives_a_postgresql_restart_and_resumes_exactly_once(
        pg_server: Any, pg_database: str, shared_env: dict[str, str], tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "notices.jsonl", sample_notices(RESTART_RECORDS))
    out, state = tmp_path / "out", tmp_path / "state"
    args = [*CHOHYO, "batch", LAYOUT, str(inp), "-o", str(out), "--workers", "1", "--pages-per-file", "100",
            "--quiet", "--state-dir", str(state)]
    first = subprocess.Popen(args, env=shared_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while first.poll() is None and _rendered(pg_database) < 50:
        time.sleep(0.2)
    assert first.poll() is None, "the run finished before PostgreSQL was stopped"
    pg_server.stop("fast")   # every connection is cut; the run fails on its next statement
    try:
        _, err = first.communicate(timeout=600)
        assert first.returncode == 1, err   # an internal failure: nothing delivered beyond what is journaled
    finally:
        pg_server.resume()
    assert not (out / "manifest.json").exists()
    again = subprocess.run([*args, "--resume"], env=shared_env, capture_output=True, text=True, timeout=900,
                           check=False)
    assert again.returncode == 0, again.stderr

    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["totals"]["records"] == RESTART_RECORDS and m["totals"]["rendered"] == RESTART_RECORDS
    names = [f["name"] for f in m["files"]]
    assert printed_numbers(out, names) == {i: 1 for i in range(1, RESTART_RECORDS + 1)}   # none lost, none twice
    numbers = [n for r in m["records"] for n in r["issue_numbers"]]
    assert len(numbers) == len(set(numbers)) == RESTART_RECORDS
    engine = create_engine(pg_database)
    try:
        with engine.connect() as conn:
            issued = int(conn.execute(text("SELECT COUNT(*) FROM issued_numbers")).scalar_one())
            outcomes: dict[str, int] = dict(conn.execute(text(
                "SELECT outcome, COUNT(*) FROM number_outcomes GROUP BY outcome")).all())
    finally:
        engine.dispose()
    assert outcomes.get("rendered") == RESTART_RECORDS and issued == sum(outcomes.values())   # nothing left open
    verify = chohyo(shared_env, "audit", "verify", "--json", "--state-dir", str(state))
    assert verify.returncode == 0, verify.stdout + verify.stderr

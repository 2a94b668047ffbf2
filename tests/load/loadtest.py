"""Load test of the HTTP render service on loopback (run by hand or in a benchmark; not in the unit suite).

In: command-line options. By default it starts its own server (``python -m renderer serve`` on a free
127.0.0.1 port, a temporary state directory and an all-roles key for the sample tenant 122122), waits for
``/readyz``, warms each worker, then for each client count sends that many concurrent
``POST /v1/render/<layout>`` requests (keep-alive connections, one thread per client) for a fixed time.
With ``--url`` and ``--key`` it loads a running server instead (memory is then not measured).
Out: one line per client count — requests, requests/s, p50/p99 latency, errors by status, and the peak
resident memory of the server and its render workers together (sampled from /proc every 50 ms) — and,
with ``--json``, the same as JSON. Traffic goes only to the loopback address it was given; every loop is
bounded in time and the server it started is stopped at the end.

    python3 tests/load/loadtest.py --clients 1 8 32 --seconds 10 --workers 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
TENANT = "122122"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Level:
    clients: int
    seconds: float
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float | None = None


# ---------------------------------------------------------------------- memory of the server's process tree


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> int:
    todo, total, seen = [pid], 0, set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_kb(p)
        todo.extend(_children(p))
    return total


class MemorySampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------- clients


def _connect(host: str, port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(host, port, timeout=120)


def client_loop(host: str, port: int, path: str, body: bytes, key: str, deadline: float,
                latencies: list[float], statuses: Counter[str], lock: threading.Lock) -> None:
    conn = _connect(host, port)
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    mine: list[float] = []
    codes: Counter[str] = Counter()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            status = exc.__class__.__name__
            conn.close()
            conn = _connect(host, port)
        mine.append(time.perf_counter() - started)
        codes[status] += 1
    conn.close()
    with lock:
        latencies.extend(mine)
        statuses.update(codes)


def run_level(host: str, port: int, path: str, body: bytes, key: str, clients: int, seconds: float,
              server_pid: int | None) -> Level:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    threads = [threading.Thread(target=client_loop, args=(host, port, path, body, key, deadline, latencies,
                                                          statuses, lock)) for _ in range(clients)]
    sampler = MemorySampler(server_pid) if server_pid else None
    if sampler:
        sampler.__enter__()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if sampler:
            sampler.__exit__()
    elapsed = time.monotonic() - started
    # latency over every request (answers other than 200 are counted under errors as well)
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) >= 2 else [
        latencies[0] if latencies else 0.0] * 99
    return Level(clients=clients, seconds=round(elapsed, 2), requests=len(latencies),
                 rps=round(statuses.get("200", 0) / elapsed, 1), p50_ms=round(q[49] * 1000, 1),
                 p99_ms=round(q[98] * 1000, 1), errors={k: v for k, v in statuses.items() if k != "200"},
                 peak_rss_mb=round(sampler.peak_kb / 1024, 1) if sampler else None)


# ---------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(host: str, port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            conn = _connect(host, port)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def start_server(state: Path, port: int, workers: int, queue: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "renderer", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--queue", str(queue), "--rate", "100000", "--burst", "100000",
           "--state-dir", str(state), "--log-level", "warning"]
    log = (state / "server.log").open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def make_key(state: Path) -> str:
    from renderer.service.keys import KeyStore
    from renderer.service.settings import KEYS_FILE

    return KeyStore(state / KEYS_FILE).create(TENANT, ["render", "lift", "sync", "admin"], label="loadtest")[1]


def envelope(layout: str, path: Path | None) -> bytes:
    source = path or ROOT / "layouts" / "samples" / f"{layout}.json"
    env: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    env["tenant"] = TENANT
    env["request"]["issued_on"] = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    return json.dumps(env, ensure_ascii=False).encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2, help="render workers of the server it starts")
    ap.add_argument("--queue", type=int, default=64, help="queue bound of the server it starts")
    ap.add_argument("--layout", default="juminhyo-setai")
    ap.add_argument("--input", type=Path, help="envelope to send (default: the layout's sample)")
    ap.add_argument("--url", help="load a running server (loopback only) instead of starting one")
    ap.add_argument("--key", help="API key for --url")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.seconds > 600 or any(c < 1 or c > 256 for c in args.clients):
        ap.error("--seconds must be in (0, 600] and --clients in [1, 256]")
    body = envelope(args.layout, args.input)
    path = f"/v1/render/{args.layout}"
    proc: subprocess.Popen[bytes] | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if args.url:
        url = urllib.parse.urlsplit(args.url)
        if url.hostname not in LOOPBACK or not args.key:
            ap.error("--url must be a loopback address (127.0.0.1, localhost, ::1) and needs --key")
        host, port, key = url.hostname or "127.0.0.1", url.port or 80, args.key
    else:
        tmp = tempfile.TemporaryDirectory(prefix="chohyo-load-")
        state = Path(tmp.name)
        host, port, key = "127.0.0.1", free_port(), make_key(state)
        proc = start_server(state, port, args.workers, args.queue)
    try:
        wait_ready(host, port, proc)
        warm = run_level(host, port, path, body, key, max(2, args.workers) * 2, 2.0, None)
        if warm.errors:
            print(f"warm-up errors: {warm.errors}", file=sys.stderr)
        levels = [run_level(host, port, path, body, key, n, args.seconds, proc.pid if proc else None)
                  for n in args.clients]
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        print(json.dumps([asdict(level) for level in levels], indent=2))
    else:
        print(f"layout {args.layout}, {args.seconds:g} s per level, server workers {args.workers if proc else '?'}")
        print(f"{'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'peak MB':>8}  errors")
        for lv in levels:
            peak = f"{lv.peak_rss_mb:.0f}" if lv.peak_rss_mb is not None else "-"
            print(f"{lv.clients:>7} {lv.requests:>8} {lv.rps:>7.1f} {lv.p50_ms:>8.1f} {lv.p99_ms:>8.1f} {peak:>8}  "
                  f"{lv.errors or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

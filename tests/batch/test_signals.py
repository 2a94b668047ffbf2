"""A print run stopped by SIGTERM, SIGHUP or Ctrl-C (SIGINT) stops its workers, says how to resume, and resumes.

`chohyo batch` runs in its own session; once its first file is on disk the signal goes to the coordinator
alone (``kill -TERM PID``, ``kill -HUP``) or to the whole process group (Ctrl-C on a terminal, a service
manager's stop: the workers get it too). Checked: the exit code is 128 + the
signal's number (130 for Ctrl-C, as before), the message names ``--resume``, no process the run started (fork
server, workers, resource tracker) is alive afterwards, and ``--resume`` then prints every record exactly once
with the serials it was first given (`batchkit.check_exactly_once`). Found by an operations review: SIGTERM left
the fork server, both workers and the resource tracker running, reparented to PID 1, next to the resumed run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from batchkit import check_exactly_once, journal_rows, start, write_jsonl

from renderer.samples import sample_notices

RECORDS = 2000


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        found: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
        return found
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list[psutil.Process]) -> list[str]:
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "group"), [
    (signal.SIGTERM, False),   # kill -TERM PID
    (signal.SIGHUP, False),    # the terminal closed
    (signal.SIGINT, True),     # Ctrl-C on a terminal: the whole foreground group, workers too
    (signal.SIGTERM, True),    # a service manager's stop (systemd's KillMode=control-group)
], ids=["SIGTERM", "SIGHUP", "SIGINT-group", "SIGTERM-group"])
def test_a_signal_stops_the_workers_names_resume_and_the_run_resumes_exactly_once(
        tmp_path: Path, signum: signal.Signals, group: bool) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(RECORDS))
    out, state = tmp_path / "out", tmp_path / "state"
    proc = start(inp, out, state, resume=False)
    try:
        deadline = time.monotonic() + 120
        started: list[psutil.Process] = []
        # mid-run: a file complete on disk, the workers drawing the next ones
        while not list(out.glob("*.pdf")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1].decode()
            started = _descendants(proc.pid) or started
            time.sleep(0.02)
        started = _descendants(proc.pid) or started
        assert len(started) >= 3, "no fork server and workers seen"   # fork server, 2 workers (, resource tracker)
        if group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        proc.wait(timeout=60)   # not communicate(): a process left running would hold stderr open
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _alive(started)
    for p in started:   # never leave them running for the next test, whatever the assertion below says
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    assert proc.stderr is not None
    message = proc.stderr.read().decode()
    proc.stderr.close()
    assert not left, f"processes of the stopped run still alive: {left}"
    assert proc.returncode == 128 + signum, message
    assert "--resume" in message and f"interrupted ({signum.name}" in message, message
    assert "Traceback" not in message, message
    assert not (out / "manifest.json").exists(), "the run finished before the signal"
    snapshot = journal_rows(state)

    resumed = start(inp, out, state, resume=True)
    _, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr.decode()
    check_exactly_once(out, state, RECORDS, [snapshot])

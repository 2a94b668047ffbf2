"""Every 発行番号 accounted for, an authenticated and anchored chain head, owner-only state files.

The attacks of the trust issue, each reproduced on a real state directory: the truncate-and-rewrite-head
attack (with and without the key), the deleted-numbers-and-reset-counter attack, a rollback of both the
database and the head file behind the last anchor, and renders that fail after their serials were
reserved (void records with the reason). Then the files: 0600/0700 whatever the umask.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from dvkit import TENANT, Clock, make_renderer, raw_db, sample

from renderer.api import Renderer
from renderer.errors import ChohyoError
from renderer.state.db import DB_FILE, close_database
from renderer.state.issue_log import HEAD_FILE, KEY_FILE, LOCK_FILE, IssueLog, LogRecord, head_mac

DAY = dt.date(2026, 11, 27)


@pytest.fixture
def renderer(tmp_path: Path, database_url: str | None) -> Renderer:
    return make_renderer(tmp_path / "state", Clock(), database_url=database_url)



def render_n(renderer: Renderer, n: int, **request: Any) -> list[str]:
    numbers: list[str] = []
    for _ in range(n):
        numbers += renderer.render(sample(**request), layout_id="juminhyo-setai").issue_numbers
    return numbers


def events(renderer: Renderer) -> list[str]:
    return [str(r["event"]) for r in renderer.issue_log.records()]


def bodies(renderer: Renderer, event: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in renderer.issue_log.records() if r["event"] == event]


# --------------------------------------------------------------------------- reserve, render, void


def test_a_render_reserves_then_closes_its_numbers_and_verify_accounts_for_them(renderer: Renderer) -> None:
    render_n(renderer, 2, copies=2)
    assert events(renderer) == ["reserve", "render", "reserve", "render"]
    reserve, render = bodies(renderer, "reserve")[0], bodies(renderer, "render")[0]
    assert reserve["serials"] == [[TENANT, "2026-11-27", "honcho-1", "prn-001", [1, 2]]]
    assert render["serials"] == reserve["serials"]
    assert reserve["caller"]["kind"] == "library" and "@" in reserve["caller"]["id"]
    report = renderer.issue_log.verify()
    assert report.ok and report.accounting == () and report.open == ()


def test_a_render_that_fails_after_its_reservation_writes_a_void_record(renderer: Renderer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import renderer.api as api

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(api, "finish", broken)
    with pytest.raises(RuntimeError):
        renderer.render(sample(copies=3), layout_id="juminhyo-setai")
    assert events(renderer) == ["reserve", "void"]
    void = bodies(renderer, "void")[0]
    assert void["reason"] == "failed (RuntimeError)" and void["serials"][0][4] == [1, 2, 3]
    assert void["reserved"] == [1]
    monkeypatch.undo()
    assert renderer.render(sample(), layout_id="juminhyo-setai").issue_numbers[0].endswith("000004")
    assert renderer.issue_log.verify().ok


def test_a_killed_render_leaves_an_open_reservation_that_verify_reports_and_void_stale_closes(
        renderer: Renderer) -> None:
    log = renderer.issue_log
    clock = renderer.settings.clock
    assert isinstance(clock, Clock)
    # what a kill -9 between the reservation and the render record leaves behind
    log.reserve(LogRecord("reserve", clock(), {"tenant": TENANT, "layout": "juminhyo-setai"}, job="job-1"),
                TENANT, DAY, "honcho-1", "prn-001", 2)
    fresh = log.verify()
    assert fresh.ok and [(s, n) for s, n, _ in fresh.open] == [(1, 2)]   # in flight: not yet a problem
    clock.advance(minutes=90)
    stale = log.verify()
    assert not stale.ok and any("open for 90 minutes" in p for p in stale.accounting)
    assert log.void_open(LogRecord("void", clock(), {"reason": "worker-died"}), job="job-1") is not None
    assert log.void_open(LogRecord("void", clock(), {"reason": "again"}), job="job-1") is None   # nothing open
    report = log.verify()
    assert report.ok and report.open == ()


def test_a_spoiled_render_is_void_and_cannot_be_spoiled_twice(renderer: Renderer) -> None:
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    renderer.spoil(result.numbers, result.issue_numbers, layout="juminhyo-setai", tenant=TENANT,
                   caller=result_caller(), reason="client-gone")
    assert events(renderer)[-1] == "void" and bodies(renderer, "void")[0]["spoils"] is True
    assert renderer.issue_log.verify().ok
    with pytest.raises(ChohyoError):
        renderer.spoil(result.numbers, result.issue_numbers, layout="juminhyo-setai", tenant=TENANT,
                       caller=result_caller(), reason="again")


def result_caller() -> Any:
    from renderer.caller import Caller
    return Caller.local("cli")


def test_a_refusal_spends_no_number(renderer: Renderer) -> None:
    with pytest.raises(ChohyoError):
        renderer.render(sample(requester={"relation": "third_party", "purpose": "見本"}, include=["my_number"]),
                        layout_id="juminhyo-setai")
    with raw_db(renderer) as con:
        assert con.execute("SELECT COUNT(*) FROM serials").one()[0] == 0
    assert events(renderer) == ["refusal"]


# --------------------------------------------------------------------------- the attacks


def test_verify_detects_deleted_numbers_and_a_reset_counter(renderer: Renderer) -> None:
    first = render_n(renderer, 3)
    with raw_db(renderer) as con:   # the attacker deletes the numbers and resets the counter...
        con.execute("DELETE FROM issued_numbers")
        con.execute("DELETE FROM number_outcomes")
        con.execute("UPDATE serials SET last = 0")
    report = renderer.issue_log.verify()
    assert not report.ok and report.problem == "accounting"
    assert any("missing from issued_numbers" in p for p in report.accounting)
    assert any("behind its numbers" in p for p in report.accounting)
    again = render_n(renderer, 1)   # ...so that 000001 can be issued a second time
    assert again[0] == first[0]
    twice = renderer.issue_log.verify()
    assert not twice.ok and any("reserved twice" in p for p in twice.accounting)


def test_verify_detects_a_counter_moved_without_a_record(renderer: Renderer) -> None:
    render_n(renderer, 1)
    with raw_db(renderer) as con:
        con.execute("UPDATE serials SET last = 5")   # 000002–000005 spent with no record anywhere
    report = renderer.issue_log.verify()
    assert not report.ok and any("4 number(s) below the counter were never reserved" in p
                                 for p in report.accounting)


def test_a_logged_counter_move_is_accounted_for(renderer: Renderer) -> None:
    clock = renderer.settings.clock
    assert clock is not None
    renderer.issue_log.set_counter(LogRecord("counter", clock(), {"operator": "migration"}), TENANT, DAY,
                                   "honcho-1", "prn-001", 101)
    assert render_n(renderer, 1)[0].endswith("000101")
    assert renderer.issue_log.verify().ok
    with pytest.raises(ChohyoError, match="never moves backwards"):
        renderer.issue_log.set_counter(LogRecord("counter", clock(), {}), TENANT, DAY, "honcho-1", "prn-001", 5)


def test_truncate_and_rewrite_head_without_the_key_is_detected(renderer: Renderer) -> None:
    render_n(renderer, 3)
    head_path = renderer.settings.state_dir / HEAD_FILE
    with raw_db(renderer) as con:
        mac = con.execute("SELECT mac FROM issue_log WHERE seq = 4").one()[0]
        con.execute("DELETE FROM issue_log WHERE seq > 4")
    old = json.loads(head_path.read_text())
    forged = {**old, "count": 4, "seq": 4, "mac": mac}   # an earlier record's MAC, the old head MAC
    head_path.write_text(json.dumps(forged))
    report = renderer.issue_log.verify()
    assert not report.ok and "fails its MAC" in (report.problem or "")
    head_path.write_text(json.dumps({"seq": 4, "mac": mac}))   # the head format of before
    assert not renderer.issue_log.verify().ok


def test_truncate_and_rewrite_head_with_the_key_is_caught_by_the_anchor(tmp_path: Path) -> None:
    """An attacker holding the state directory (and so the key file) rolls back the database and the head
    together; only the anchor kept elsewhere shows it. (SQLite only: the rollback copies the database file.)"""
    renderer = make_renderer(tmp_path / "state", Clock())
    anchor = tmp_path / "elsewhere" / "anchors.jsonl"
    anchor.parent.mkdir()
    render_n(renderer, 2)
    state = renderer.settings.state_dir
    backup = tmp_path / "backup"
    shutil.copytree(state, backup)                 # the attacker's copy of an earlier state
    render_n(renderer, 2)
    renderer.issue_log.anchor(str(anchor))
    assert renderer.issue_log.verify(anchor=str(anchor)).ok
    close_database(renderer.db.url)   # the server stops (its pooled connections close), the files are replaced
    for name in (DB_FILE, DB_FILE + "-wal", HEAD_FILE):   # roll back the database (with its WAL) and the head
        if (backup / name).exists():
            shutil.copy(backup / name, state / name)
        else:
            (state / name).unlink(missing_ok=True)
    (state / (DB_FILE + "-shm")).unlink(missing_ok=True)
    renderer = make_renderer(tmp_path / "state", Clock())   # and `chohyo audit verify` runs as a new process
    assert renderer.issue_log.verify().ok          # consistent in itself...
    report = renderer.issue_log.verify(anchor=str(anchor))
    assert not report.ok and "rolled back" in (report.problem or "")   # ...but behind the anchor
    lines = anchor.read_text().splitlines()
    assert len(lines) == 1 and stat.S_IMODE(anchor.stat().st_mode) == 0o600
    assert set(json.loads(lines[0])) == {"count", "seq", "mac", "at", "head_mac", "anchored_at"}


def test_an_anchor_written_without_the_key_is_refused(renderer: Renderer, tmp_path: Path) -> None:
    anchor = tmp_path / "anchors.jsonl"
    render_n(renderer, 1)
    renderer.issue_log.anchor(str(anchor))
    line = json.loads(anchor.read_text())
    line.update(seq=1, mac="0" * 64, head_mac=head_mac(b"\x02" * 32, line))
    anchor.write_text(json.dumps(line) + "\n")
    report = renderer.issue_log.verify(anchor=str(anchor))
    assert not report.ok and "fails its MAC" in (report.problem or "")


class _Keeper(http.server.BaseHTTPRequestHandler):
    """An append-only HTTP anchor: POST appends a line, GET returns them all."""

    lines: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.lines.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        body = b"".join(self.lines)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def keeper() -> Iterator[str]:
    _Keeper.lines = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Keeper)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/anchors"
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_anchor(renderer: Renderer) -> None:
    with keeper() as url:
        render_n(renderer, 1)
        renderer.issue_log.anchor(url)
        render_n(renderer, 1)
        renderer.issue_log.anchor(url)
        report = renderer.issue_log.verify(anchor=url)
        assert report.ok and report.anchor is not None and report.anchor["anchors"] == 2
        assert report.anchor["seq"] == 4


# --------------------------------------------------------------------------- owner-only files


def test_state_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        renderer = make_renderer(tmp_path / "state", Clock())
        render_n(renderer, 1)
    finally:
        os.umask(old)
    state = renderer.settings.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm", KEY_FILE, HEAD_FILE, LOCK_FILE):
        path = state / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert (state / DB_FILE).exists() and (state / KEY_FILE).exists() and (state / HEAD_FILE).exists()


def test_an_existing_wide_state_directory_is_warned_about_not_changed(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "wide"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    renderer = make_renderer(state, Clock())
    render_n(renderer, 1)
    assert stat.S_IMODE(state.stat().st_mode) == 0o755       # not changed behind the operator's back
    assert any("0700 is expected" in r.getMessage() for r in caplog.records)
    assert stat.S_IMODE((state / DB_FILE).stat().st_mode) == 0o600   # its files are private anyway
    log = IssueLog(renderer.settings)
    assert log.verify().ok

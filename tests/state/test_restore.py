"""A restored (older) database against the chain head and the anchors: what an operations review found.

- A rollback is not laundered by the next anchor: `anchor` refuses while any earlier anchor line names a
  record the log no longer has, and `verify --anchor` checks every line, not only the last.
- Renders refuse on a database behind this server's chain head (a restored backup, a copy without its WAL)
  or behind the last line of a local ``CHOHYO_AUDIT_ANCHOR``: nothing is issued twice. A head *behind* the
  log is normal (another server on the same database appended).
- `acknowledge-restore` is the operator's explicit, logged way to carry on: one ``restore`` record naming
  what was lost and the series at risk, reported by every `verify` after.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from dvkit import NOW, Clock, make_renderer, raw_db, sample
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.cli import app
from renderer.service.problems import Scrubber, from_job_error
from renderer.service.work import JobError
from renderer.state import anchors
from renderer.state.db import DB_FILE, close_database
from renderer.state.issue_log import HEAD_FILE, IssueLogBehindError, LogRecord, head_mac


def render_n(renderer: Renderer, n: int) -> list[str]:
    return [x for _ in range(n) for x in renderer.render(sample(), layout_id="juminhyo-setai").issue_numbers]


def restore(state: Path, backup: Path, names: tuple[str, ...]) -> None:
    """Replace `names` in the stopped server's state directory by the backup's copies."""
    for name in names:
        if (backup / name).exists():
            shutil.copy(backup / name, state / name)
        else:
            (state / name).unlink(missing_ok=True)
    (state / (DB_FILE + "-shm")).unlink(missing_ok=True)


def rolled_back_state(tmp_path: Path, *, with_head: bool) -> tuple[Renderer, Path, list[str]]:
    """The review's repro (SQLite): render; anchor; back up the state dir; render twice; anchor; stop; restore
    the backup's database (and head, when `with_head`). Returns a new process's renderer, the anchor file and
    the numbers issued after the backup."""
    renderer = make_renderer(tmp_path / "state", Clock())
    anchor = tmp_path / "elsewhere" / "anchors.jsonl"
    anchor.parent.mkdir()
    render_n(renderer, 1)
    renderer.issue_log.anchor(str(anchor))
    state = renderer.settings.state_dir
    backup = tmp_path / "backup"
    shutil.copytree(state, backup)
    later = render_n(renderer, 2)
    renderer.issue_log.anchor(str(anchor))
    close_database(renderer.db.url)
    restore(state, backup, (DB_FILE, DB_FILE + "-wal", HEAD_FILE) if with_head else (DB_FILE, DB_FILE + "-wal"))
    return make_renderer(state, Clock()), anchor, later


# --------------------------------------------------------------------------- 1. anchors after a rollback


def test_the_next_anchor_does_not_launder_a_rollback(tmp_path: Path) -> None:
    renderer, anchor, _ = rolled_back_state(tmp_path, with_head=True)
    report = renderer.issue_log.verify(anchor=str(anchor))
    assert not report.ok and "rolled back" in (report.problem or "")
    with pytest.raises(IssueLogBehindError, match="names a head this log does not have") as info:
        renderer.issue_log.anchor(str(anchor))
    assert "a new anchor would hide it" in info.value.message and "record 6" in info.value.message
    assert len(anchor.read_text().splitlines()) == 2   # nothing appended
    # a line appended by an old release (or by hand) naming the restored head: the earlier line still counts
    head = json.loads((renderer.settings.state_dir / HEAD_FILE).read_text())
    with anchor.open("a") as fh:
        fh.write(json.dumps({**head, "anchored_at": "2026-11-27T02:00:00Z"}) + "\n")
    report = renderer.issue_log.verify(anchor=str(anchor))
    assert not report.ok and "anchor line 2" in (report.problem or "") and "rolled back" in (report.problem or "")


def test_verify_checks_every_anchor_line_for_a_rewrite(tmp_path: Path) -> None:
    """An earlier line whose record now has another MAC (a rewrite) fails, whatever the last line says."""
    renderer = make_renderer(tmp_path / "state", Clock())
    anchor = tmp_path / "anchors.jsonl"
    render_n(renderer, 1)
    renderer.issue_log.anchor(str(anchor))
    render_n(renderer, 1)
    renderer.issue_log.anchor(str(anchor))
    first = json.loads(anchor.read_text().splitlines()[0])
    with raw_db(renderer) as con:   # the first line re-signed with another record's MAC (a rewrite)
        mac = con.execute("SELECT mac FROM issue_log WHERE seq = 1").one()[0]
    key = renderer.issue_log.key(create=False)
    forged = {**first, "mac": mac}
    forged["head_mac"] = head_mac(key, forged)
    lines = anchor.read_text().splitlines()
    anchor.write_text(json.dumps(forged) + "\n" + lines[1] + "\n")
    report = renderer.issue_log.verify(anchor=str(anchor))
    assert not report.ok and "differs from anchor line 1" in (report.problem or "")


def test_renders_refuse_behind_the_last_line_of_a_local_audit_anchor(tmp_path: Path) -> None:
    """The database *and* the head rolled back together (by someone holding the key file): with
    CHOHYO_AUDIT_ANCHOR a local file, the append compares the log with its last line."""
    renderer, anchor, _ = rolled_back_state(tmp_path, with_head=True)
    renderer = Renderer(dataclasses.replace(renderer.settings, audit_anchor=str(anchor)))
    before = len(renderer.issue_log.records())
    with pytest.raises(IssueLogBehindError, match=r"behind the last anchor in CHOHYO_AUDIT_ANCHOR"):
        render_n(renderer, 1)
    assert len(renderer.issue_log.records()) == before   # no reservation, nothing issued


def test_the_last_anchor_is_read_from_the_end_of_a_long_file(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    path.write_text("".join(json.dumps({"seq": n, "pad": "x" * 200}) + "\n" for n in range(1, 60)))
    assert path.stat().st_size > anchors.TAIL_BYTES
    assert anchors.read_last_anchor(str(path)) == {"seq": 59, "pad": "x" * 200}
    assert anchors.read_last_anchor(str(tmp_path / "none.jsonl")) is None


# --------------------------------------------------------------------------- 2. the database behind the head


def test_a_database_restored_without_its_head_refuses_renders(tmp_path: Path) -> None:
    """The review's repro: an older database, the newer issue-log.head kept. Before: the render succeeded
    and issued 000002 again."""
    renderer, _, _ = rolled_back_state(tmp_path, with_head=False)
    assert "but the chain head names record 6" in (renderer.issue_log.verify().problem or "")
    with pytest.raises(IssueLogBehindError, match=r"the database is behind this server's chain head \(restored "
                                                  r"from an older backup\?\)") as info:
        render_n(renderer, 1)
    assert f"ends at record 2 but {renderer.settings.state_dir / HEAD_FILE} names record 6" in info.value.message
    assert len(renderer.issue_log.records()) == 2
    assert "chain head names record 6" in (renderer.issue_log.verify().problem or "")   # not made worse


def rolled_back_rows(renderer: Renderer, keep: int) -> None:
    """What a restore of an older dump does to the tables (both backends)."""
    with raw_db(renderer) as con:
        for table in ("issued_numbers", "number_outcomes", "reservations", "issue_log"):
            con.execute(f"DELETE FROM {table} WHERE seq > ?", (keep,))
        con.execute("UPDATE serials SET last = ?", (keep // 2,))


def shared(database_url: str | None, tmp_path: Path) -> str:
    return database_url or f"sqlite:///{tmp_path / 'shared.sqlite3'}"


def test_a_database_behind_the_head_refuses_on_both_backends(tmp_path: Path, database_url: str | None) -> None:
    renderer = make_renderer(tmp_path / "state", Clock(), database_url=database_url)
    render_n(renderer, 3)
    rolled_back_rows(renderer, 2)
    with pytest.raises(IssueLogBehindError, match="behind this server's chain head"):
        render_n(renderer, 1)
    assert len(renderer.issue_log.records()) == 2


def test_a_head_behind_the_log_is_normal_but_another_mac_is_refused(tmp_path: Path,
                                                                     database_url: str | None) -> None:
    """Two servers on one database, each with its own state dir: A's head falls behind as B appends (normal).
    After a rollback B carries on (it has no head yet); A's head then names a record with another MAC."""
    url = shared(database_url, tmp_path)
    clock_b = Clock()
    a, b = (Renderer(dataclasses.replace(make_renderer(tmp_path / name, clock, database_url=url).settings,
                                         log_key=bytes(range(32))))   # one key, as servers sharing a database need
            for name, clock in (("a", Clock()), ("b", clock_b)))
    render_n(a, 1)
    render_n(b, 2)
    assert a.issue_log.verify().ok   # A's head names record 2 of 6: behind, a note
    render_n(a, 1)                   # and A appends records 7, 8
    assert a.issue_log.verify().ok and b.issue_log.verify().ok
    rolled_back_rows(a, 6)
    (tmp_path / "b" / HEAD_FILE).unlink()     # B: a new server with no head yet
    clock_b.advance(minutes=5)
    render_n(b, 1)                            # records 7, 8 again, with other MACs
    with pytest.raises(IssueLogBehindError, match="record 8 of the issue log differs from this server's chain head "
                                                  r"\(.*issue-log.head\): the database was restored"):
        render_n(a, 1)


def test_the_service_answers_503() -> None:
    problem = from_job_error(JobError.of(IssueLogBehindError("behind")), Scrubber())
    assert problem.status == 503 and problem.headers and "Retry-After" in problem.headers


# --------------------------------------------------------------------------- 3. acknowledging a restore


def test_an_acknowledged_restore_is_logged_and_renders_continue(tmp_path: Path) -> None:
    renderer, anchor, _ = rolled_back_state(tmp_path, with_head=False)
    settings = dataclasses.replace(renderer.settings, audit_anchor=str(anchor))
    renderer = Renderer(settings)
    record = LogRecord("restore", NOW, {"caller": Caller.local("cli").record(), "reason": "INC-42",
                                        "operator": "ops01"})
    seq, stated = renderer.issue_log.acknowledge_restore(record, anchor=str(anchor))
    assert seq == 3 and stated["log_ended_at"]["seq"] == 2
    assert [(x["source"], x["seq"]) for x in stated["lost"]] == [("head", 6), ("anchor", 6)]
    assert [g[4] for g in stated["at_risk"]] == [1]   # the series' counter at the restore point
    body = json.loads(renderer.issue_log.records()[-1]["body"])
    assert body["event"] == "restore" and body["reason"] == "INC-42" and body["restore"] == stated
    head = json.loads((settings.state_dir / HEAD_FILE).read_text())
    assert head["seq"] == 3   # moved back, on purpose, to the restore record
    last = json.loads(anchor.read_text().splitlines()[-1])
    assert last["seq"] == 3 and last["acknowledges_restore"] == 3
    render_n(renderer, 1)   # renders continue (the anchor's last line now names the restore record)
    report = renderer.issue_log.verify(anchor=str(anchor))
    assert report.ok, report.problem
    notes = " ".join(report.notes)
    assert "record 3 acknowledges a restore" in notes and "INC-42" in notes and "after 000001" in notes
    renderer.issue_log.anchor(str(anchor))   # and anchoring again is accepted
    with pytest.raises(Exception, match="nothing to acknowledge"):
        renderer.issue_log.acknowledge_restore(record, anchor=str(anchor))


def test_the_cli_refuses_then_acknowledges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHOHYO_LOG_KEY", "CHOHYO_DATABASE_URL", "CHOHYO_LAYOUTS_DIR", "CHOHYO_FONTS_DIR",
                 "CHOHYO_AUDIT_ANCHOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("renderer.settings.system_clock", lambda: NOW)
    renderer, anchor, _ = rolled_back_state(tmp_path, with_head=True)
    state = str(renderer.settings.state_dir)
    close_database(renderer.db.url)
    runner = CliRunner()

    def run(*args: str, env: dict[str, Any] | None = None) -> Any:
        return runner.invoke(app, [*args, "--state-dir", state], env=env)

    result = run("audit", "anchor", "--to", str(anchor))
    assert result.exit_code == 1 and "names a head this log does not have" in result.stderr
    assert "Traceback" not in result.output
    envelope = tmp_path / "input.json"
    envelope.write_text(json.dumps(sample(), ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.pdf"
    result = run("render", "juminhyo-setai", str(envelope), "-o", str(out), env={"CHOHYO_AUDIT_ANCHOR": str(anchor)})
    assert result.exit_code == 1 and "behind the last anchor" in result.stderr and not out.exists()
    result = run("audit", "acknowledge-restore", "--reason", "INC-42", "--anchor", str(anchor))
    assert result.exit_code == 0, result.output
    assert "lost: anchor line 2 named record 6" in result.stdout and "serials after 000001" in result.stdout
    result = run("render", "juminhyo-setai", str(envelope), "-o", str(out), env={"CHOHYO_AUDIT_ANCHOR": str(anchor)})
    assert result.exit_code == 0, result.output
    result = run("audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 0 and "acknowledges a restore" in result.stderr
    result = run("audit", "acknowledge-restore", "--reason", "again")
    assert result.exit_code == 2 and "nothing to acknowledge" in result.stderr

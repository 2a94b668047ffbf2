"""`chohyo suppressions import|lift|list|revoke`, `chohyo audit verify` and the render's no-log-no-PDF rule,
run in-process with the state directory in tmp_path and the server clock fixed by monkeypatching."""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from dvkit import sample, upsert
from typer.testing import CliRunner, Result

from renderer.cli import app

NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)   # 10:00 in Tokyo on the sample's 交付年月日


class Env:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp_path
        self.state = tmp_path / "state"
        self.now = NOW
        monkeypatch.setenv("CHOHYO_STATE_DIR", str(self.state))
        monkeypatch.delenv("CHOHYO_DATABASE_URL", raising=False)
        monkeypatch.delenv("CHOHYO_LOG_KEY", raising=False)
        monkeypatch.setattr("renderer.settings.system_clock", lambda: self.now)
        self.runner = CliRunner()

    def run(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args))

    def jsonl(self, *records: dict[str, Any], raw: str | None = None) -> Path:
        path = self.tmp / "delta.jsonl"
        path.write_text(raw if raw is not None else "\n".join(json.dumps(r, ensure_ascii=False) for r in records),
                        encoding="utf-8")
        return path

    def render(self, env: dict[str, Any] | None = None, out: str = "out.pdf") -> tuple[Result, Path]:
        src = self.tmp / "input.json"
        src.write_text(json.dumps(env or sample(), ensure_ascii=False), encoding="utf-8")
        dest = self.tmp / out
        return self.run("render", "juminhyo-setai", str(src), "-o", str(dest), "--json"), dest


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(tmp_path, monkeypatch)


def test_import_lift_render_revoke_and_verify(cli: Env) -> None:
    r = cli.run("suppressions", "import", "--tenant", "122122", str(cli.jsonl(upsert("100000002"))), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["applied"] == 1

    r, out = cli.render()
    assert r.exit_code == 3 and not out.exists()
    problem = json.loads(r.stderr)
    assert problem["rule"] == "dv-block" and "100000002" in problem["detail"]

    r = cli.run("suppressions", "lift", "100000002", "--tenant", "122122", "--layout", "juminhyo-setai",
                "--minutes", "10", "--reason", "窓口で本人確認", "--json")
    assert r.exit_code == 0, r.output
    lift = json.loads(r.stdout)
    assert lift["reviewer"] == pwd.getpwuid(os.geteuid()).pw_name     # the OS user, not a typed name

    r, out = cli.render()
    assert r.exit_code == 0, r.output
    assert out.exists()

    r = cli.run("suppressions", "list", "--tenant", "122122", "--json")
    listing = json.loads(r.stdout)
    assert listing["suppressions"][0]["status"] == "active" and listing["lifts"][0]["active"] is True

    r = cli.run("suppressions", "revoke", str(lift["id"]), "--tenant", "122122")
    assert r.exit_code == 0, r.output
    r, out2 = cli.render(out="again.pdf")
    assert r.exit_code == 3 and not out2.exists()

    r = cli.run("audit", "verify", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["ok"] and report["records"] == 8 and report["accounting"] == []
    events = [json.loads(b)["event"] for (b,) in sqlite3.connect(cli.state / "chohyo.sqlite3").execute(
        "SELECT body FROM issue_log ORDER BY seq")]
    assert events == ["import", "refusal", "lift", "reserve", "render", "list", "revoke", "refusal"]


def test_lift_longer_than_the_tenant_maximum_is_invalid(cli: Env) -> None:
    cli.run("suppressions", "import", "--tenant", "122122", str(cli.jsonl(upsert("100000002"))))
    r = cli.run("suppressions", "lift", "100000002", "--tenant", "122122", "--layout", "juminhyo-setai",
                "--minutes", "31", "--reason", "r", "--json")
    assert r.exit_code == 2 and json.loads(r.stderr)["field"] == "--minutes"


def test_a_bad_line_rejects_the_file_with_its_line_number(cli: Env) -> None:
    good = json.dumps(upsert("100000002"))
    r = cli.run("suppressions", "import", "--tenant", "122122",
                str(cli.jsonl(raw=good + '\n{"op": "upsert", "person_id": "x"}\n')), "--json")
    assert r.exit_code == 2
    assert "line 2" in json.loads(r.stderr)["detail"]
    r, out = cli.render()
    assert r.exit_code == 0 and out.exists()      # the good first line was not applied either


def test_audit_verify_reports_the_first_bad_record(cli: Env) -> None:
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        assert cli.render(out=name)[0].exit_code == 0
    with sqlite3.connect(cli.state / "chohyo.sqlite3") as con:
        con.execute("UPDATE issue_log SET body = replace(body, 'clerk01', 'clerk02') WHERE seq = 2")
    r = cli.run("audit", "verify", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["first_bad"] == 2


def test_a_render_whose_log_record_cannot_be_written_writes_no_file(cli: Env) -> None:
    assert cli.render(out="first.pdf")[0].exit_code == 0
    (cli.state / "issue-log.key").chmod(0o640)
    r, out = cli.render(out="second.pdf")
    assert r.exit_code == 1 and not out.exists()
    assert json.loads(r.stderr)["type"] == "urn:chohyo:problem:issue-log"


def test_render_refuses_a_certificate_not_dated_today(cli: Env) -> None:
    cli.now = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC)
    r, out = cli.render()
    assert r.exit_code == 3 and json.loads(r.stderr)["rule"] == "issued-on-today" and not out.exists()

"""`chohyo verify`: a certificate rendered here is found in the issue log, an unknown one is not, a changed
file is noticed, a file that is not a PDF is exit 2; the PDF/A section lists the checked clauses.

In: the golden input of the 4-person 住民票 (fictitious 見本 data) rendered into a scratch state directory.
Out: exit codes and the JSON report of `chohyo verify --json`.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from reportlab.pdfgen import canvas
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.golden import DEFAULT_CLOCK, GOLDEN_DIR, default_settings
from renderer.state.issue_log import canonical
from renderer.verify import number_problems

CASE = GOLDEN_DIR / "juminhyo-setai" / "setai-4nin" / "input.json"


def rendered(tmp: Path, **request: Any) -> tuple[Path, Path, str]:
    """(state dir, PDF file, its 発行番号) of one render of the golden case."""
    state = tmp / "state"
    r = Renderer(dataclasses.replace(default_settings(), state_dir=state, clock=lambda: DEFAULT_CLOCK))
    raw = json.loads(CASE.read_text(encoding="utf-8"))
    raw["request"].update(request)
    result = r.render(raw, layout_id="juminhyo-setai")
    path = tmp / "certificate.pdf"
    path.write_bytes(result.pdf)
    return state, path, result.issue_numbers[0]


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["verify", *args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def test_a_certificate_rendered_here_is_found_in_the_log(tmp_path: Path) -> None:
    state, pdf, number = rendered(tmp_path, pdf_profile="pdfa-2b")
    code, report = run(str(pdf), "--state-dir", str(state))
    assert code == 0, report
    assert report["ok"] and report["problems"] == []
    [found] = report["issue_numbers"]
    assert found["printed"] == number and found["status"] == "rendered"
    assert found["record_mac_ok"] is True and found["file_matches_record"] is True
    assert report["pdfa"]["claim"] == "2U" and report["pdfa"]["ok"]
    assert {c["clause"] for c in report["pdfa"]["clauses"]} >= {"6.1.2", "6.2.3", "6.2.11.7.2", "6.6.3", "6.6.4"}
    assert report["pdfa"]["not_checked"]
    assert report["signatures"] == [] or isinstance(report["signatures"], str)


def test_an_unknown_number_is_not_found(tmp_path: Path) -> None:
    _, pdf, _ = rendered(tmp_path / "elsewhere")
    code, report = run(str(pdf), "--state-dir", str(tmp_path / "other-server"))
    assert code == 1
    assert [n["status"] for n in report["issue_numbers"]] == ["unknown"]
    assert report["pdfa"]["claim"] is None   # a plain print: no PDF/A claim, and none is demanded


def test_a_changed_file_is_noticed(tmp_path: Path) -> None:
    state, pdf, _ = rendered(tmp_path, pdf_profile="pdfa-2b")
    data = pdf.read_bytes()
    at = data.index(b"/ID \n[<") + 7   # one byte of the document ID: the same length, another file
    changed = data[:at] + (b"0" if data[at:at + 1] != b"0" else b"1") + data[at + 1:]
    pdf.write_bytes(changed)
    code, report = run(str(pdf), "--state-dir", str(state))
    assert code == 1
    assert report["issue_numbers"][0]["file_matches_record"] is False
    assert any("not the one its render record names" in p for p in report["problems"])


def test_a_render_record_edited_in_the_database_fails_its_mac(tmp_path: Path) -> None:
    """Someone with the database (not the key) repoints the render record at another file: the number is
    still "rendered", but its record fails its MAC, and the report says so (found by a hostile review: the
    service answered ok)."""
    state, pdf, _ = rendered(tmp_path)
    db = sqlite3.connect(state / "chohyo.sqlite3")
    with db:
        seq, body = db.execute("SELECT seq, body FROM issue_log WHERE event = 'render'").fetchone()
        record = json.loads(body)
        record["pdf_sha256"] = "0" * 64
        db.execute("UPDATE issue_log SET body = ? WHERE seq = ?", (canonical(record).decode(), seq))
    db.close()
    code, report = run(str(pdf), "--state-dir", str(state))
    assert code == 1 and not report["ok"]
    [found] = report["issue_numbers"]
    assert found["status"] == "rendered" and found["record_mac_ok"] is False
    assert any("its render record fails its MAC" in p for p in report["problems"]), report["problems"]


def test_a_pdf_without_a_number_is_not_vouched_for(tmp_path: Path) -> None:
    """A preview, a re-typed copy or a forgery prints no 発行番号: nothing ties it to this log (exit 1)."""
    c = canvas.Canvas(str(tmp_path / "forged.pdf"))
    c.drawString(72, 720, "CERTIFICATE")
    c.save()
    code, report = run(str(tmp_path / "forged.pdf"), "--state-dir", str(tmp_path / "state"))
    assert code == 1 and not report["ok"] and report["issue_numbers"] == []
    assert any(p.startswith("発行番号: none found") for p in report["problems"]), report["problems"]


@pytest.mark.parametrize(("number", "problem"), [
    ({"status": "rendered", "record_mac_ok": True, "file_matches_record": True}, None),
    ({"status": "rendered", "record_mac_ok": False, "file_matches_record": True}, "fails its MAC"),
    ({"status": "rendered", "record_mac_ok": True, "file_matches_record": False}, "not the one"),
    ({"status": "void", "record_mac_ok": None, "file_matches_record": None}, "void in this server's issue log"),
    ({"status": "unknown", "record_mac_ok": None, "file_matches_record": None}, "unknown in this server's"),
])
def test_the_problems_of_a_number(number: dict[str, Any], problem: str | None) -> None:
    """One function words the numbers' problems for the CLI and the service (which re-words them per tenant)."""
    found = number_problems([{"printed": "20261127 佐倉市 000001 1/1", "page": 1, **number}])
    assert (found == []) if problem is None else (len(found) == 1 and problem in found[0]), found


def test_a_file_that_is_not_a_pdf_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.pdf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a pdf")
    result = CliRunner().invoke(app, ["verify", str(bad), "--state-dir", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["field"] == "file"
    missing = CliRunner().invoke(app, ["verify", str(tmp_path / "none.pdf"), "--state-dir", str(tmp_path / "s")])
    assert missing.exit_code == 2

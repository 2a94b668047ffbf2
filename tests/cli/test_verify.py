"""`chohyo verify`: a certificate rendered here is found in the issue log, an unknown one is not, a changed
file is noticed, a file that is not a PDF is exit 2; the PDF/A section lists the checked clauses.

In: the golden input of the 4-person 住民票 (fictitious 見本 data) rendered into a scratch state directory.
Out: exit codes and the JSON report of `chohyo verify --json`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.golden import DEFAULT_CLOCK, GOLDEN_DIR, default_settings

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


def test_a_file_that_is_not_a_pdf_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.pdf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a pdf")
    result = CliRunner().invoke(app, ["verify", str(bad), "--state-dir", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["field"] == "file"
    missing = CliRunner().invoke(app, ["verify", str(tmp_path / "none.pdf"), "--state-dir", str(tmp_path / "s")])
    assert missing.exit_code == 2

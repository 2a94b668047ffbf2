"""`chohyo verify`: a certificate rendered here is found in the issue log, an unknown one is not, a changed
file is noticed, a file that is not a PDF is exit 2; the PDF/A section lists the checked clauses. Found by a
hostile review: a genuine certificate of the second of two tenants with the same 市区町村名 (the same 発行番号)
is found; a render record whose MAC cannot be checked here (no key, a key file refused) is a problem, never a
pass; a stream bomb is exit 2 naming the file; a signature field whose /V is not a dictionary is a problem.

In: the golden input of the 4-person 住民票 (fictitious 見本 data) rendered into a scratch state directory;
tenant files copied from the sample 122122 under two other codes (東京都府中市, 広島県府中市: the officials
are the sample's fictitious ones) and hand-built hostile PDFs (tests/verifykit.py).
Out: exit codes and the JSON report of `chohyo verify --json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from reportlab.pdfgen import canvas
from typer.testing import CliRunner
from verifykit import same_name_layouts, signature_v_integer, stream_bomb

from renderer.api import Renderer
from renderer.cli import app
from renderer.golden import DEFAULT_CLOCK, GOLDEN_DIR, default_settings
from renderer.state.issue_log import KEY_FILE, canonical
from renderer.verify import number_problems

CASE = GOLDEN_DIR / "juminhyo-setai" / "setai-4nin" / "input.json"


@pytest.fixture(autouse=True)
def _no_shared_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scratch state directory alone: no key or database from the environment."""
    for name in ("CHOHYO_LOG_KEY", "CHOHYO_DATABASE_URL", "CHOHYO_LAYOUTS_DIR"):
        monkeypatch.delenv(name, raising=False)


def rendered(tmp: Path, *, tenant: str | None = None, layouts: Path | None = None, name: str = "certificate",
             **request: Any) -> tuple[Path, Path, str]:
    """(state dir, PDF file, its 発行番号) of one render of the golden case (as `tenant`, from `layouts`)."""
    state = tmp / "state"
    settings = dataclasses.replace(default_settings(), state_dir=state, clock=lambda: DEFAULT_CLOCK)
    if layouts is not None:
        settings = dataclasses.replace(settings, layouts_dir=layouts)
    r = Renderer(settings)
    raw = json.loads(CASE.read_text(encoding="utf-8"))
    raw["request"].update(request)
    if tenant is not None:
        raw["tenant"] = tenant
    result = r.render(raw, layout_id="juminhyo-setai")
    path = tmp / f"{name}.pdf"
    path.write_bytes(result.pdf)
    return state, path, result.issue_numbers[0]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["verify", *args, "--json"], env=env)
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


def test_the_same_number_of_two_tenants_with_the_same_name(tmp_path: Path) -> None:
    """東京都府中市 and 広島県府中市 print the same 発行番号 (it names no prefecture): a genuine certificate of
    either is found, by the render record that names it (hostile review: only the first tenant's record was
    compared, so the second's genuine certificate read "the file differs from the one issued", exit 1)."""
    layouts = same_name_layouts(tmp_path)
    state, tokyo, number = rendered(tmp_path, tenant="132063", layouts=layouts, name="tokyo")
    _, hiroshima, same = rendered(tmp_path, tenant="342084", layouts=layouts, name="hiroshima")
    assert number == same and "府中市" in number   # the reviewer's premise: one 発行番号, two certificates
    assert tokyo.read_bytes() != hiroshima.read_bytes()
    env = {"CHOHYO_LAYOUTS_DIR": str(layouts)}
    for path, tenant in ((hiroshima, "342084"), (tokyo, "132063")):
        code, report = run(str(path), "--state-dir", str(state), env=env)
        assert code == 0, report["problems"]
        [found] = report["issue_numbers"]
        assert found["tenant"] == tenant and found["file_matches_record"] is True and found["record_mac_ok"]
    changed = hiroshima.read_bytes().replace(b"/ID \n[<", b"/ID \n[<0", 1)   # another file, the same number
    (tmp_path / "changed.pdf").write_bytes(changed)
    code, report = run(str(tmp_path / "changed.pdf"), "--state-dir", str(state), env=env)
    assert code == 1 and report["issue_numbers"][0]["file_matches_record"] is False


@pytest.mark.parametrize("key", ["refused", "missing"])
def test_a_mac_that_cannot_be_checked_is_a_problem(tmp_path: Path, key: str) -> None:
    """The log key is refused (a key file readable by others) or absent (a verifier without the key): the
    render record's MAC is not checked, and the record cannot vouch for the file — here a record repointed
    at a changed file, which read "this exact file was issued", exit 0 (hostile review)."""
    state, pdf, _ = rendered(tmp_path)
    forged = pdf.read_bytes().replace(b"/ID \n[<", b"/ID \n[<0", 1)
    pdf.write_bytes(forged)
    db = sqlite3.connect(state / "chohyo.sqlite3")
    with db:
        seq, body = db.execute("SELECT seq, body FROM issue_log WHERE event = 'render'").fetchone()
        record = json.loads(body)
        record["pdf_sha256"] = hashlib.sha256(forged).hexdigest()
        db.execute("UPDATE issue_log SET body = ? WHERE seq = ?", (canonical(record).decode(), seq))
    db.close()
    key_file = state / KEY_FILE
    if key == "refused":
        key_file.chmod(0o644)
    else:
        key_file.unlink()
    code, report = run(str(pdf), "--state-dir", str(state))
    assert code == 1 and not report["ok"], report
    [found] = report["issue_numbers"]
    assert found["record_mac_ok"] is None and found["file_matches_record"] is True
    why = {"refused": "readable by others", "missing": "is missing"}[key]
    assert found["record_mac_unchecked"] and why in found["record_mac_unchecked"]
    [problem] = report["problems"]
    assert "MAC cannot be checked" in problem and why in problem and KEY_FILE in problem, problem
    assert str(state) not in problem   # the server's paths stay out of the answer
    text = CliRunner().invoke(app, ["verify", str(pdf), "--state-dir", str(state)], env={})
    assert text.exit_code == 1 and "this exact file was issued" not in text.stdout, text.stdout


def test_a_stream_bomb_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    """A content stream that inflates past pypdf's limit: exit 2 naming the file (it was an internal failure,
    exit 1: LimitReachedError)."""
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(stream_bomb())
    result = CliRunner().invoke(app, ["verify", str(bomb), "--state-dir", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 2, result.stderr
    problem = json.loads(result.stderr)
    assert problem["field"] == "file" and str(bomb) in problem["detail"] and "LimitReachedError" in problem["detail"]
    assert "Traceback" not in result.stderr


def test_a_signature_that_cannot_be_parsed_is_a_problem(tmp_path: Path) -> None:
    """A /Sig field whose /V is an integer: a reported problem naming the field (it was an internal failure,
    exit 1: AttributeError) — not "no signatures"."""
    pdf = tmp_path / "sig.pdf"
    pdf.write_bytes(signature_v_integer())
    code, report = run(str(pdf), "--state-dir", str(tmp_path / "s"))
    assert code == 1 and not report["ok"]
    [sig] = report["signatures"]
    assert sig["field"] == "Sig1" and sig["readable"] is False and sig["integrity_ok"] is False
    assert any(p.startswith("signature Sig1: cannot be checked") and "/V" in p for p in report["problems"])

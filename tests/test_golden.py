"""Golden-file regression tests: every case under golden/<layout-id>/<case>/ must render byte-identically.

In: the committed golden cases (see golden/README.md). Out: one test per case (id ``<layout>/<case>``) that
fails with a short summary of what differs; with the update switch (tests/conftest.py) a case's expected
files are rewritten where they differ and the changes are printed. Also: a guard that no committed file
turns the update switch on, checks of the summary/update helpers on scratch copies, and a content check of
the two-sheet case's PDF.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from pypdf import PdfReader

from renderer import golden
from renderer.golden import CaseOutcome, GoldenCase
from renderer.settings import PROJECT_ROOT

CASES = golden.discover()
TESTS_DIR = Path(__file__).resolve().parent


def _visual_report(case: GoldenCase, outcome: CaseOutcome, problems: list[str]) -> str:
    """Write the case's visual diff into tests/.golden-store and say where it is (never fails the summary)."""
    try:
        report = golden.write_report(case, outcome, problems)
    except Exception as exc:   # the summary above is the verdict; the picture is an aid
        return f"(no visual diff report: {exc.__class__.__name__}: {exc})"
    pages = "".join(f"\n    {line}" for line in report.lines)
    where = report.path.relative_to(PROJECT_ROOT) if report.path.is_relative_to(PROJECT_ROOT) else report.path
    return (f"visual diff ({report.size / 1024:.0f} KB; open it in a browser, rendered files beside it):"
            f"{pages}\n  {where}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden_case(case: GoldenCase, update_golden: bool, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = golden.render_case(case.path)
    if update_golden:
        changes = golden.update(case.path, outcome)
        with capsys.disabled():
            print(f"\n[golden] {case.id}: {'; '.join(changes) if changes else 'unchanged'}")
    problems = golden.compare(case.path, outcome)
    if not problems:
        golden.clear_report(case)
        return
    advice = ("CI never updates golden files: update locally, review and commit"
              if golden.is_ci() else f"if the change is intended: {golden.update_command(case.id)}"
              f"  (or: chohyo golden update {case.id})")
    pytest.fail(f"golden case {case.id} differs:\n  " + "\n  ".join(problems)
                + f"\n{_visual_report(case, outcome, problems)}\n{advice}", pytrace=False)


def test_golden_cases_exist() -> None:
    ids = {c.id for c in CASES}
    assert "juminhyo-setai/setai-4nin" in ids, f"golden cases found: {sorted(ids)}"


# --------------------------------------------------------------------------- the update switch guard

_SWITCH_ON = re.compile(re.escape(golden.UPDATE_DEST) + r"""["']?\s*[=,:]\s*True""")
# `chohyo golden update` invoked from Python (CliRunner/subprocess argument lists): only on a scratch copy
_CLI_UPDATE = re.compile(r"""["']golden["']\s*,\s*["']update["'](?P<rest>[^\]]*)""")
_SHELL_UPDATE = re.compile(r"\bgolden\s+update\b")   # the shell form, in CI files


def _turns_update_on(text: str) -> bool:
    if golden.UPDATE_FLAG in text or _SWITCH_ON.search(text) is not None:
        return True
    return any("--golden-dir" not in m["rest"] for m in _CLI_UPDATE.finditer(text))


def test_guard_detects_the_switch() -> None:
    assert _turns_update_on(f"pytest.main(['{golden.UPDATE_FLAG}'])")
    assert _turns_update_on(f"run(cases, {golden.UPDATE_DEST}=True)")
    assert _turns_update_on(f"config.option.{golden.UPDATE_DEST} = True")
    assert _turns_update_on(f"setattr(config.option, '{golden.UPDATE_DEST}', True)")
    assert not _turns_update_on(f"def test_x({golden.UPDATE_DEST}: bool) -> None: ...")
    group = "golden"   # spelled apart so that this file does not trip its own guard
    assert _turns_update_on(f"runner.invoke(app, ['{group}', 'update', 'setai-4nin'])")
    assert _turns_update_on(f'subprocess.run(["chohyo", "{group}", "update"])')
    assert not _turns_update_on(f'runner.invoke(app, ["{group}", "update", "--golden-dir", str(scratch)])')
    assert _SHELL_UPDATE.search(f"chohyo {group} update --no-report")


def test_no_committed_file_turns_update_on() -> None:
    """Only conftest.py may name the update switch; no test, pytest config or CI file may switch it on, and
    tests run `chohyo golden update` only with --golden-dir (a scratch copy)."""
    offenders: list[str] = []
    for path in sorted(TESTS_DIR.rglob("*.py")):
        if path.name == "conftest.py" and path.parent == TESTS_DIR:
            continue
        if _turns_update_on(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(PROJECT_ROOT)))
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = pyproject.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("addopts", "")
    if golden.UPDATE_FLAG in str(addopts):
        offenders.append("pyproject.toml [tool.pytest.ini_options] addopts")
    ci_dir = PROJECT_ROOT / ".ci"
    for path in sorted(ci_dir.rglob("*")) if ci_dir.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        if _turns_update_on(text) or _SHELL_UPDATE.search(text):
            offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert not offenders, f"the golden update switch is turned on in: {', '.join(offenders)}"


# --------------------------------------------------------------------------- compare/update on scratch copies

SAMPLE_CASE = golden.GOLDEN_DIR / "juminhyo-setai" / "setai-4nin"


def _committed_outcome(case_dir: Path) -> CaseOutcome:
    pdf, display = case_dir / golden.EXPECTED_PDF, case_dir / golden.DISPLAY
    if not (pdf.exists() and display.exists()):
        case_id = f"{case_dir.parent.name}/{case_dir.name}"
        pytest.fail(f"{case_id} has no committed expected files: {golden.update_command(case_id)}")
    return CaseOutcome(pdf=pdf.read_bytes(), display=display.read_text(encoding="utf-8"), pages=1)


def _scratch_case(tmp_path: Path) -> Path:
    dest = tmp_path / "juminhyo-setai" / "setai-4nin"
    shutil.copytree(SAMPLE_CASE, dest)
    return dest


def test_compare_summarises_differences(tmp_path: Path) -> None:
    outcome = _committed_outcome(SAMPLE_CASE)
    case_dir = _scratch_case(tmp_path)
    assert golden.compare(case_dir, outcome) == []
    lines = (case_dir / golden.DISPLAY).read_text(encoding="utf-8").splitlines(keepends=True)
    title = next(i for i, line in enumerate(lines) if line.endswith("'住民票'\n"))
    lines[title] = lines[title].replace("住民票", "住民表")
    (case_dir / golden.DISPLAY).write_text("".join(lines), encoding="utf-8")
    (case_dir / golden.EXPECTED_PDF).write_bytes((outcome.pdf or b"")[:-10])
    summary = golden.compare(case_dir, outcome)
    text = "\n".join(summary)
    assert summary[0] == f"{golden.DISPLAY} differs:"
    assert "-  text" in text and "住民表" in text and "+  text" in text
    assert len(summary) <= golden.MAX_DIFF_LINES + 4
    assert f"{golden.EXPECTED_PDF} differs" in text and "(+10)" in text
    (case_dir / golden.EXPECTED_PDF).unlink()
    missing = "\n".join(golden.compare(case_dir, outcome))
    assert f"{golden.EXPECTED_PDF} is missing" in missing
    assert golden.update_command("juminhyo-setai/setai-4nin") in missing
    assert not (case_dir / golden.EXPECTED_PDF).exists()   # comparing never creates a file


def test_update_rewrites_only_what_differs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)   # a scratch copy, never the committed files
    outcome = _committed_outcome(SAMPLE_CASE)
    case_dir = _scratch_case(tmp_path)
    assert golden.update(case_dir, outcome) == []
    (case_dir / golden.DISPLAY).write_text("changed\n", encoding="utf-8")
    assert golden.update(case_dir, outcome) == [f"rewrote {golden.DISPLAY}"]
    assert golden.compare(case_dir, outcome) == []
    refused = CaseOutcome(error={"exit_code": 3, "type": "urn:chohyo:problem:refused", "rule": "r"}, detail="x")
    assert golden.update(case_dir, refused) == [f"removed {golden.EXPECTED_PDF}", f"removed {golden.DISPLAY}",
                                                f"created {golden.EXPECTED_ERROR}"]
    assert json.loads((case_dir / golden.EXPECTED_ERROR).read_text(encoding="utf-8"))["rule"] == "r"
    assert golden.compare(case_dir, refused) == []
    assert golden.update(case_dir, outcome) == [f"removed {golden.EXPECTED_ERROR}", f"created {golden.EXPECTED_PDF}",
                                                f"created {golden.DISPLAY}"]
    monkeypatch.setenv("CI", "true")
    with pytest.raises(golden.GoldenError, match="never updated in CI"):
        golden.update(case_dir, outcome)


def test_unknown_fixture_key_is_an_error(tmp_path: Path) -> None:
    case_dir = _scratch_case(tmp_path)
    (case_dir / golden.FIXTURES).write_text('{"serial_start": 11, "serial_end": 12}\n', encoding="utf-8")
    with pytest.raises(golden.GoldenError, match="unknown fixture key"):
        golden.load_fixtures(case_dir)


# --------------------------------------------------------------------------- the two-sheet case's content


def test_setai_6nin_2mai_sheets() -> None:
    pdf = golden.GOLDEN_DIR / "juminhyo-setai" / "setai-6nin-2mai" / golden.EXPECTED_PDF
    if not pdf.exists():
        pytest.fail(f"{pdf} is missing: {golden.update_command('juminhyo-setai/setai-6nin-2mai')}")
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) == 2
    first, second = (page.extract_text() for page in reader.pages)
    assert "1/2" in first and "2/2" not in first
    assert "2/2" in second and "1/2" not in second
    assert "この写しは" not in first
    assert "この写しは" in second


def test_golden_inputs_carry_no_issued_on() -> None:
    """The date of a case is its clock fixture's day, never the input's: the input renders on any day."""
    for case in CASES:
        request = json.loads((case.path / "input.json").read_text(encoding="utf-8"))["request"]
        assert "issued_on" not in request, case.id


@pytest.mark.parametrize("case", [c for c in CASES if not (c.path / "expected-error.json").exists()][:: 7],
                         ids=lambda c: c.id)
def test_golden_input_renders_with_the_cli_today(case: GoldenCase, tmp_path: Path) -> None:
    """As the README says: `chohyo render <layout> input.json -o x.pdf` takes a golden input as-is, dated today
    by the real clock (every seventh case; the whole set renders through the same call in test_golden_case)."""
    from typer.testing import CliRunner

    from renderer.cli import app

    fixtures = golden.load_fixtures(case.path)
    args = ["render", case.layout_id, str(case.path / "input.json"), "-o", str(tmp_path / "x.pdf"),
            "--state-dir", str(tmp_path / "state")]
    args += ["--identity-verified"] * fixtures.identity_verified + ["--mailing"] * fixtures.mailing
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert PdfReader(tmp_path / "x.pdf").pages

"""`chohyo golden diff` and `chohyo golden update`: exit codes 0/1/2, messages naming the argument, `--all`.

In: the `one_digit` pair and scratch copies of golden cases under tmp_path (the committed golden files are
never written: `update` runs only with ``--golden-dir`` pointing at a scratch copy, or under CI where it is
refused). Out: assertions on exit codes, console lines and the files written.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from goldendiff_support import OneDigit, make_one_digit
from typer.testing import CliRunner, Result

from renderer import golden
from renderer.cli import app

runner = CliRunner()


@pytest.fixture
def one_digit(tmp_path_factory: pytest.TempPathFactory) -> OneDigit:
    return make_one_digit(tmp_path_factory)


def _diff(*args: str | Path) -> Result:
    return runner.invoke(app, ["golden", "diff", *(str(a) for a in args)])


@pytest.fixture(autouse=True)
def _not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


# --------------------------------------------------------------------------- two PDFs


def test_changed_pair_exits_1_and_writes_the_report(one_digit: OneDigit, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "report.html"
    result = _diff(one_digit.old_pdf, one_digit.new_pdf, "-o", out)
    assert result.exit_code == 1, result.output
    assert "1 of 1 page(s) changed" in result.stdout
    assert re.search(r"page 1: changed, \d+ changed pixel\(s\) in box x \d+–\d+, y \d+–\d+ px", result.stdout)
    assert f"report: {out}" in result.stdout
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_identical_pair_exits_0(one_digit: OneDigit, tmp_path: Path) -> None:
    copy = tmp_path / "copy.pdf"
    shutil.copyfile(one_digit.old_pdf, copy)
    result = _diff(one_digit.old_pdf, copy, "-o", tmp_path / "same.html")
    assert result.exit_code == 0, result.output
    assert "identical" in result.stdout and (tmp_path / "same.html").exists()


@pytest.mark.parametrize(("which", "content", "message"), [
    ("OLD", None, "no such file"),
    ("NEW", None, "no such file"),
    ("NEW", "dir", "not a file"),
    ("OLD", b"just text, not a PDF\n", "not a PDF (no %PDF- header)"),
    ("NEW", b"%PDF-1.7\n1 0 obj garbage\n", "not a readable PDF"),    # passes the header check, PDFium refuses
])
def test_bad_input_exits_2_naming_the_argument(one_digit: OneDigit, tmp_path: Path, which: str,
                                               content: bytes | str | None, message: str) -> None:
    bad = tmp_path / "bad.pdf"
    if content == "dir":
        bad.mkdir()
    elif isinstance(content, bytes):
        bad.write_bytes(content)
    old, new = (bad, one_digit.new_pdf) if which == "OLD" else (one_digit.old_pdf, bad)
    out = tmp_path / "r.html"
    result = _diff(old, new, "-o", out)
    assert result.exit_code == 2, result.output
    assert f"{which} {bad}: {message}" in result.stderr
    assert not out.exists()


def test_usage_errors_exit_2(one_digit: OneDigit, tmp_path: Path) -> None:
    assert _diff(one_digit.old_pdf, "-o", tmp_path / "r.html").exit_code == 2          # NEW missing
    no_output = _diff(one_digit.old_pdf, one_digit.new_pdf)
    assert no_output.exit_code == 2 and "--output" in no_output.output
    both = _diff("--all", one_digit.old_pdf, one_digit.new_pdf, "-o", tmp_path / "d")
    assert both.exit_code == 2 and "--all" in both.stderr
    assert _diff(one_digit.old_pdf, one_digit.new_pdf, "-o", tmp_path).exit_code == 2  # -o is a directory
    empty = _diff("--all", "--golden-dir", tmp_path / "nothing", "-o", tmp_path / "d")
    assert empty.exit_code == 2 and "no golden cases" in empty.stderr


# --------------------------------------------------------------------------- --all


def test_all_lists_every_case(tmp_path: Path) -> None:
    """Against the real golden/ (read only): every discovered case is in the index, with its report."""
    cases = golden.discover()
    out = tmp_path / "all"
    result = _diff("--all", "-o", out)
    assert result.exit_code in (0, 1), result.output   # 1 while someone's layout change is not yet in golden/
    index = (out / "index.html").read_text(encoding="utf-8")
    listed = re.findall(r'data-case="([^"]+)"', index)
    assert listed == [c.id for c in cases]
    for case in cases:
        assert f"{case.id}:" in result.stdout
        assert (out / case.layout_id / case.name / "report.html").exists()


def _scratch_golden(tmp_path: Path, names: list[str]) -> Path:
    """Copies of some committed cases whose expected files are refreshed to the working tree's render."""
    root = tmp_path / "golden"
    for name in names:
        dest = root / "juminhyo-setai" / name
        shutil.copytree(golden.GOLDEN_DIR / "juminhyo-setai" / name, dest)
        golden.update(dest, golden.render_case(dest))
    return root


def test_all_exit_codes_and_index(tmp_path: Path) -> None:
    root = _scratch_golden(tmp_path, ["daisansha-mynumber-kyohi", "setai-4nin"])
    clean = _diff("--all", "--golden-dir", root, "-o", tmp_path / "clean")
    assert clean.exit_code == 0, clean.output
    assert "0 of 2 case(s) changed" in (tmp_path / "clean" / "index.html").read_text(encoding="utf-8")

    case_dir = root / "juminhyo-setai" / "setai-4nin"
    text = (case_dir / golden.INPUT).read_text(encoding="utf-8")
    (case_dir / golden.INPUT).write_text(text.replace('"block": "2番地3"', '"block": "2番地4"'), encoding="utf-8")
    changed = _diff("--all", "--golden-dir", root, "-o", tmp_path / "changed")
    assert changed.exit_code == 1, changed.output
    assert "juminhyo-setai/setai-4nin: CHANGED" in changed.stdout
    assert "juminhyo-setai/daisansha-mynumber-kyohi: unchanged" in changed.stdout
    index = (tmp_path / "changed" / "index.html").read_text(encoding="utf-8")
    assert "1 of 2 case(s) changed" in index
    assert re.search(r"p1 changed: \d+", index)
    assert 'href="juminhyo-setai/setai-4nin/report.html"' in index
    case_report = (tmp_path / "changed" / "juminhyo-setai" / "setai-4nin" / "report.html").read_text(encoding="utf-8")
    assert "<del>3</del>" in case_report and "<ins>4</ins>" in case_report   # display.txt and page text


# --------------------------------------------------------------------------- update


def test_update_rewrites_what_differs_and_reports_it(one_digit: OneDigit, tmp_path: Path) -> None:
    root = tmp_path / "golden"
    shutil.copytree(one_digit.case_dir, root / "juminhyo-setai" / "setai-4nin")
    reports = tmp_path / "store"
    args = ["golden", "update", "--golden-dir", str(root), "--report-dir", str(reports)]
    first = runner.invoke(app, [*args, "juminhyo-setai/setai-4nin"])
    assert first.exit_code == 0, first.output
    assert "juminhyo-setai/setai-4nin: rewrote expected.pdf; rewrote display.txt" in first.stdout
    report = reports / "juminhyo-setai" / "setai-4nin" / "report.html"
    assert f"look at the change before committing: {report}" in first.stdout and report.exists()
    assert "1 of 1 case(s) updated" in first.stderr
    assert (root / "juminhyo-setai" / "setai-4nin" / golden.EXPECTED_PDF).read_bytes() == one_digit.new_pdf.read_bytes()
    second = runner.invoke(app, [*args, "setai-4nin"])
    assert second.exit_code == 0 and "juminhyo-setai/setai-4nin: unchanged" in second.stdout
    unknown = runner.invoke(app, [*args, "no-such-case"])
    assert unknown.exit_code == 2 and "unknown golden case(s) no-such-case" in unknown.stderr


def test_update_is_refused_in_ci(one_digit: OneDigit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "golden"
    shutil.copytree(one_digit.case_dir, root / "juminhyo-setai" / "setai-4nin")
    before = {p.name: p.read_bytes() for p in (root / "juminhyo-setai" / "setai-4nin").iterdir()}
    monkeypatch.setenv("CI", "true")
    result = runner.invoke(app, ["golden", "update", "--golden-dir", str(root)])
    assert result.exit_code == 2 and "never updated in CI" in result.stderr
    after = {p.name: p.read_bytes() for p in (root / "juminhyo-setai" / "setai-4nin").iterdir()}
    assert after == before

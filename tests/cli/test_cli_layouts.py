"""Tests for `chohyo layouts` (list, --json) and `chohyo layouts validate` (every problem, with path and line)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from renderer.cli import app
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.spec.validate import load_layout

REPO = Path(__file__).resolve().parents[2]
LAYOUTS = REPO / "layouts"

# Two semantic problems in one otherwise valid file (structure is fine, so both are found together).
BROKEN_SEMANTIC = """\
schema_version: 1
id: broken-semantic
kind: certificate
title: 壊れた見本
standard: {business: 住民記録, form: 見本, reference: tests}
data_model: juminhyo
certification: この写しは、住民票の原本と相違ないことを証明する。
styles:
  body: {fonts: [IPAexMincho, NoSuchFont], size_pt: 9}
elements:
  - {type: text, at: [15, 6], width: 100, text: "発行番号　{{ issue_number }}"}
  - type: text
    at: [15, 20]
    width: 100
    style: heading
    text: 見本
"""
SEMANTIC_EXPECTED = {
    # path: (line, message substring)
    "styles.body.fonts[1]": (9, "unknown font 'NoSuchFont'"),
    "elements[1].style": (15, "unknown style 'heading'"),
}

# Two structural problems in one file (pydantic reports all of them at once).
BROKEN_STRUCTURE = """\
schema_version: 1
id: broken-structure
kind: certificate
title: 壊れた見本
standard: {business: 住民記録, form: 見本, reference: tests}
data_model: juminhyo
certification: この写しは、住民票の原本と相違ないことを証明する。
address: {omit_prefecture: true}
styles:
  body: {fonts: [IPAexMincho], size_pt: 9, colour: red}
elements:
  - {type: text, at: [15, 6], width: 100, text: "発行番号　{{ issue_number }}"}
"""
STRUCTURE_EXPECTED = {
    "address": (8, "unknown key"),
    "styles.body.colour": (10, "unknown key"),
}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("CHOHYO_LAYOUTS_DIR", raising=False)
    monkeypatch.delenv("CHOHYO_FONTS_DIR", raising=False)
    return CliRunner()


def _invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def _layouts_copy(tmp_path: Path) -> Path:
    """A copy of the repository's layouts and tenants, to break on purpose (tenants name the layouts whose
    parameters they set, so every layout comes along)."""
    target = tmp_path / "layouts"
    target.mkdir()
    for layout in sorted(LAYOUTS.glob("*.yaml")):
        shutil.copy2(layout, target / layout.name)
    shutil.copytree(LAYOUTS / "tenants", target / "tenants")
    shutil.copytree(LAYOUTS / "parts", target / "parts")
    return target


# --------------------------------------------------------------------------- chohyo layouts


def test_layouts_lists_juminhyo_setai(runner: CliRunner) -> None:
    result = _invoke(runner, "layouts")

    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "juminhyo-setai" in line]
    assert len(rows) == 1, result.stdout
    assert "certificate" in rows[0]
    assert "住民票の写し（世帯連記式）" in rows[0]


def test_layouts_json(runner: CliRunner) -> None:
    result = _invoke(runner, "layouts", "--json")

    assert result.exit_code == 0, result.output
    rows: Any = json.loads(result.stdout)
    assert isinstance(rows, list) and rows
    for row in rows:
        assert isinstance(row, dict)
        assert set(row) == {"id", "kind", "title"}
        assert all(isinstance(v, str) and v for v in row.values())
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert {"id": "juminhyo-setai", "kind": "certificate", "title": "住民票の写し（世帯連記式）"} in rows
    # one entry per layout file
    assert set(ids) == {p.stem for p in LAYOUTS.glob("*.yaml")}


def test_layouts_json_in_a_directory(runner: CliRunner, tmp_path: Path) -> None:
    layouts = _layouts_copy(tmp_path)

    result = _invoke(runner, "layouts", "--json", "--layouts-dir", str(layouts))

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [row["id"] for row in listed] == sorted(p.stem for p in layouts.glob("*.yaml"))
    assert {"id": "juminhyo-setai", "kind": "certificate", "title": "住民票の写し（世帯連記式）"} in listed


# --------------------------------------------------------------------------- chohyo layouts validate


def test_validate_the_repository(runner: CliRunner) -> None:
    result = _invoke(runner, "layouts", "validate")

    assert result.exit_code == 0, result.output
    assert "ok  juminhyo-setai" in result.stdout
    for tenant in ("122122", "131016", "281107"):
        assert f"ok  tenant {tenant}" in result.stdout


def test_validate_a_clean_copy(runner: CliRunner, tmp_path: Path) -> None:
    """Control for the tests below: the copy itself validates."""
    result = _invoke(runner, "layouts", "validate", "--layouts-dir", str(_layouts_copy(tmp_path)))
    assert result.exit_code == 0, result.output


def _line_of(report: str, path: str) -> str:
    hits = [line for line in report.splitlines() if f": {path}: " in line]
    assert len(hits) == 1, f"expected one line about {path} in:\n{report}"
    return hits[0]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("broken-semantic", BROKEN_SEMANTIC, SEMANTIC_EXPECTED),
        ("broken-structure", BROKEN_STRUCTURE, STRUCTURE_EXPECTED),
    ],
)
def test_validate_reports_every_problem_with_path_and_line(
    runner: CliRunner, tmp_path: Path, name: str, text: str, expected: dict[str, tuple[int, str]]
) -> None:
    layouts = _layouts_copy(tmp_path)
    broken = layouts / f"{name}.yaml"
    broken.write_text(text, encoding="utf-8")

    result = _invoke(runner, "layouts", "validate", "--layouts-dir", str(layouts))

    assert result.exit_code == 2, result.output
    assert "ok  juminhyo-setai" in result.stdout          # the good layout is still checked
    assert f"ok  {name}" not in result.stdout
    for path, (line, message) in expected.items():
        reported = _line_of(result.stdout, path)
        assert f"{name}.yaml:{line}: error: {path}: " in reported, reported
        assert message in reported
    assert re.search(rf"\b{len(expected)} problem\(s\)$", result.stdout.strip()), result.stdout


def test_validate_json_reports_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    layouts = _layouts_copy(tmp_path)
    (layouts / "broken-semantic.yaml").write_text(BROKEN_SEMANTIC, encoding="utf-8")
    (layouts / "broken-structure.yaml").write_text(BROKEN_STRUCTURE, encoding="utf-8")

    result = _invoke(runner, "layouts", "validate", "--json", "--layouts-dir", str(layouts))

    assert result.exit_code == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert len(problems) == 1, result.stderr
    obj = json.loads(problems[0])
    assert obj["exit_code"] == 2
    assert {"type", "title", "detail"} <= set(obj)
    got = {(e["path"], e["line"], Path(e["source"]).name) for e in obj["errors"]}
    want = {(p, line, "broken-semantic.yaml") for p, (line, _) in SEMANTIC_EXPECTED.items()}
    want |= {(p, line, "broken-structure.yaml") for p, (line, _) in STRUCTURE_EXPECTED.items()}
    assert got == want
    assert "4 problem(s)" in obj["detail"]


def test_validate_reports_a_broken_tenant(runner: CliRunner, tmp_path: Path) -> None:
    layouts = _layouts_copy(tmp_path)
    tenant = layouts / "tenants" / "122122.yaml"
    tenant.write_text(tenant.read_text(encoding="utf-8").replace("size_mm: 21", "size_mm: 26"), encoding="utf-8")

    result = _invoke(runner, "layouts", "validate", "--layouts-dir", str(layouts))

    assert result.exit_code == 2
    assert "ok  tenant 122122" not in result.stdout
    assert "ok  tenant 281107" in result.stdout
    assert re.search(r"122122\.yaml:\d+: error: seal\.size_mm: ", result.stdout), result.stdout


def test_layout_id_must_match_its_file_name(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    copy = tmp_path / "juminhyo-copy.yaml"
    shutil.copy(root / "layouts" / "juminhyo-setai.yaml", copy)
    with pytest.raises(LayoutError) as info:
        load_layout(copy, FontSet(root / "fonts"))
    assert info.value.diagnostics[0].path == "id"
    assert "juminhyo-copy" in info.value.diagnostics[0].message

"""Every file in tests/invalid_layouts/ is a small invalid layout carrying its expected diagnostics inline:

    # expect-error: <path>: <substring of the message>

The test validates each file and asserts that every expected diagnostic is reported (path equal, message
containing the substring) and that nothing else is: the number of diagnostics equals the number of expect
lines. Each diagnostic must also point at a line of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from renderer.diagnostics import Diagnostic
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.spec.load import load_yaml, load_yaml_text
from renderer.spec.validate import validate_loaded

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = Path(__file__).resolve().parent.parent / "invalid_layouts"
CASES = sorted(CASES_DIR.glob("*.yaml"))

EXPECT = re.compile(r"^#\s*expect-error:\s*(?P<path>\S+):\s(?P<message>.*\S)\s*$")

# What the folder must cover (file stem → what it proves). A missing file fails the suite.
REQUIRED = {
    "unknown_key": "extra='forbid' rejects unknown keys",
    "unknown_element_type": "element types are a closed list",
    "unknown_style": "styles are resolved",
    "unknown_font": "fonts come from fonts/manifest.toml only",
    "unknown_formatter": "formatters are a closed list",
    "item_outside_repeat": "item.* only inside a repeat",
    "template_syntax_error": "templates are compiled when validating",
    "undefined_template_name": "template names are checked",
    "overflow_without_terminal": "an overflow policy ends in a terminal",
    "grid_cell_outside": "grid cells stay inside their grid",
    "element_outside_sheet": "elements stay on the A4 sheet",
    "certificate_without_certification": "certificates have a 認証文",
    "certificate_without_issue_number": "certificates print the 発行番号 on every sheet",
    "seal_too_large": "a 公印 is at most 25 mm",
    "duplicate_keys": "duplicate YAML keys are errors",
    "address_shortening_top": "実装不可機能: no layout-level address shortening",
    "address_shortening_field": "実装不可機能: no field-level address shortening",
    "omission_unknown_item": "only the standard's optional items can be omitted",
    "omission_bad_path": "omission paths exist in the data model",
    "certificate_issued_on_window": "a certificate is dated today: no issued_on window",
    "issued_on_window_bounds": "the issued_on window is bounded and closed",
}

# The header every case shares; valid on its own (see test_the_shared_header_is_valid).
VALID_LAYOUT = """\
schema_version: 1
id: invalid-sample
kind: certificate
title: 見本
standard: {business: 住民記録, form: 見本, reference: tests}
data_model: juminhyo
certification: この写しは、住民票の原本と相違ないことを証明する。
styles:
  body: {fonts: [IPAexMincho], size_pt: 9}
elements:
  - {type: text, at: [15, 6], width: 100, text: "発行番号　{{ issue_number }}"}
"""


@dataclass(frozen=True)
class Expected:
    path: str
    message: str

    def matches(self, d: Diagnostic) -> bool:
        return d.path == self.path and self.message in d.message


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return FontSet(REPO / "fonts")


def expectations(path: Path) -> list[Expected]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "expect-error" in line:
            m = EXPECT.match(line)
            assert m, f"{path.name}: malformed expect line {line!r}"
            out.append(Expected(m["path"], m["message"]))
    return out


def diagnostics(path: Path, fonts: FontSet) -> list[Diagnostic]:
    """All diagnostics for a file; duplicate keys are found while loading, the rest while validating."""
    try:
        validate_loaded(load_yaml(path), fonts)
    except LayoutError as exc:
        assert exc.diagnostics, f"{path.name}: LayoutError without diagnostics: {exc}"
        return list(exc.diagnostics)
    return []


def _describe(diags: list[Diagnostic]) -> str:
    return "\n".join(f"  line {d.line}: {d.path}: {d.message}" for d in diags) or "  (none)"


# --------------------------------------------------------------------------- the harness itself


def test_the_folder_covers_every_required_case() -> None:
    stems = {p.stem for p in CASES}
    missing = sorted(set(REQUIRED) - stems)
    assert not missing, f"tests/invalid_layouts/ lacks: {missing}"


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_every_case_declares_what_it_expects(case: Path) -> None:
    assert expectations(case), f"{case.name} has no `# expect-error:` line"


def test_the_shared_header_is_valid(fonts: FontSet) -> None:
    """Control: the layout the cases are made from validates, so each case fails for its own defect."""
    spec = validate_loaded(load_yaml_text(VALID_LAYOUT, source="valid.yaml"), fonts)
    assert spec.kind == "certificate"


def test_expectations_are_parsed() -> None:
    sample = CASES_DIR / "address_shortening_field.yaml"
    assert expectations(sample) == [
        Expected("elements[1].omit_prefecture", "unknown key"),
        Expected("elements[1].address", "unknown key"),
    ]


# --------------------------------------------------------------------------- the cases


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_invalid_layout_reports_exactly_what_it_expects(case: Path, fonts: FontSet) -> None:
    expected = expectations(case)
    diags = diagnostics(case, fonts)

    for e in expected:
        assert any(e.matches(d) for d in diags), (
            f"{case.name}: expected {e.path}: …{e.message}… among:\n{_describe(diags)}")
    assert len(diags) == len(expected), (
        f"{case.name}: {len(expected)} expected, {len(diags)} reported:\n{_describe(diags)}")


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_every_diagnostic_points_at_a_line(case: Path, fonts: FontSet) -> None:
    lines = case.read_text(encoding="utf-8").splitlines()
    for d in diagnostics(case, fonts):
        assert d.source == str(case)
        assert d.line is not None, f"{case.name}: {d.path} has no line"
        assert 1 <= d.line <= len(lines)
        text = lines[d.line - 1]
        assert not text.lstrip().startswith("#"), f"{case.name}: {d.path} points at a comment"
        # the line holds the item's key (block or flow style), or the list item itself
        key = re.sub(r"(\[\d+\])+$", "", d.path).rsplit(".", 1)[-1]
        if any(f"{key}:" in line for line in lines if not line.lstrip().startswith("#")):
            on_item = d.path.endswith("]") and text.lstrip().startswith("- ")
            assert on_item or f"{key}:" in text, f"{case.name}:{d.line}: {d.path} points at {text!r}"


def test_duplicate_key_points_at_the_second_occurrence(fonts: FontSet) -> None:
    case = CASES_DIR / "duplicate_keys.yaml"
    lines = case.read_text(encoding="utf-8").splitlines()
    occurrences = [i for i, line in enumerate(lines, start=1) if line.strip().startswith("size_pt:")]
    assert len(occurrences) == 2
    (d,) = diagnostics(case, fonts)
    assert d.line == occurrences[1]


def test_diagnostics_never_echo_the_offending_value(fonts: FontSet) -> None:
    """Messages name paths and allowed values; an unknown key's value is not repeated back."""
    (d,) = diagnostics(CASES_DIR / "unknown_key.yaml", fonts)
    assert "red" not in d.message

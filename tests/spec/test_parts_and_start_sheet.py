"""Layout language: reusable parts (``{type: part, use: <id>}`` from layouts/parts/) and a repeat that starts on
a later sheet (``start_sheet``), with the errors a layout author gets when a part is misused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.settings import PROJECT_ROOT
from renderer.spec.model import RepeatElement
from renderer.spec.validate import load_layout

FONTS = FontSet(PROJECT_ROOT / "fonts")

LAYOUT = {
    "schema_version": 1, "id": "parts-sample", "kind": "notice", "title": "見本",
    "standard": {"business": "見本", "form": "見本", "reference": "tests"},
    "data_model": "nozei_notice",
    "styles": {"body": {"fonts": ["IPAexMincho"], "size_pt": 9}},
    "elements": [
        {"type": "text", "at": [15, 15], "width": 100, "text": "見本"},
        {"type": "repeat", "items": "data.installments", "start_sheet": 2, "per_sheet": 2, "origin": [15, 20],
         "step": [0, 100], "block": [{"type": "part", "use": "stub", "at": [0, 0]}]},
    ],
}
PART = {
    "part_version": 1, "id": "stub", "title": "見本の部品",
    "styles": {"stub_label": {"fonts": ["IPAexGothic"], "size_pt": 8}},
    "elements": [{"type": "box", "at": [0, 0], "size": [100, 40]},
                 {"type": "text", "at": [2, 2], "width": 60, "style": "stub_label", "text": "{{ item.period }}"}],
}


def write(tmp: Path, layout: dict[str, object] = LAYOUT, part: dict[str, object] | None = PART,
          name: str = "stub") -> Path:
    (tmp / "parts").mkdir(exist_ok=True)
    if part is not None:
        (tmp / "parts" / f"{name}.yaml").write_text(yaml.safe_dump(part, allow_unicode=True), encoding="utf-8")
    path = tmp / "parts-sample.yaml"
    path.write_text(yaml.safe_dump(layout, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(LayoutError) as info:
        load_layout(path, FONTS)
    return [f"{d.path}: {d.message}" for d in info.value.diagnostics] or [info.value.message]


def test_a_part_is_filled_from_its_file_and_its_styles_join_the_layout(tmp_path: Path) -> None:
    spec = load_layout(write(tmp_path), FONTS)
    repeat = spec.elements[1]
    assert isinstance(repeat, RepeatElement)
    part = repeat.block[0]
    assert part.type == "part" and [el.type for el in part.children()[0].elements] == ["box", "text"]
    assert "stub_label" in spec.styles


def test_start_sheet_counts_the_sheets_before_it() -> None:
    repeat = RepeatElement.model_validate({"type": "repeat", "items": "data.x", "start_sheet": 2, "per_sheet": 3,
                                           "origin": [0, 0], "step": [0, 99], "block": []})
    assert [repeat.sheets(n) for n in (0, 1, 3, 4, 7)] == [0, 2, 2, 3, 4]
    assert [repeat.first_index(s) for s in (1, 2, 3)] == [None, 0, 3]


@pytest.mark.parametrize(("change", "expected"), [
    ({"use": "nothing-here"}, "unknown part 'nothing-here'"),
    ({"use": "Bad Name"}, "`use` must name a part file"),
    ({"elements": [{"type": "box", "at": [0, 0], "size": [1, 1]}]}, "come from its part file"),
])
def test_a_misused_part_element_is_named(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    layout = yaml.safe_load(yaml.safe_dump(LAYOUT))
    layout["elements"][1]["block"][0].update(change)
    found = problems(write(tmp_path, layout))
    assert any(p.startswith("elements[1].block[0]") and expected in p for p in found), found


def test_a_part_cannot_use_a_part(tmp_path: Path) -> None:
    nested = {**PART, "elements": [{"type": "part", "use": "stub"}]}
    found = problems(write(tmp_path, part=nested))
    assert any("parts cannot be nested" in p for p in found), found


def test_a_style_clash_is_an_error_and_an_identical_style_is_not(tmp_path: Path) -> None:
    layout = yaml.safe_load(yaml.safe_dump(LAYOUT))
    layout["styles"]["stub_label"] = {"fonts": ["IPAexGothic"], "size_pt": 8}
    load_layout(write(tmp_path, layout), FONTS)   # identical: fine
    layout["styles"]["stub_label"] = {"fonts": ["IPAexGothic"], "size_pt": 9}
    found = problems(write(tmp_path, layout))
    assert any("declares style 'stub_label' differently" in p for p in found), found


@pytest.mark.parametrize(("change", "expected"), [
    ({"part_version": 2}, "part_version must be 1"),
    ({"id": "other"}, "must have id 'stub'"),
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"elements": []}, "non-empty list of elements"),
])
def test_a_bad_part_file_is_named(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    found = problems(write(tmp_path, part={**PART, **change}))
    assert any(expected in p for p in found), found


def test_part_elements_are_checked_where_they_are_placed(tmp_path: Path) -> None:
    """The part's box is 40 mm high: placed in the second slot at 20 + 100 mm it fits; pushed down it leaves
    the sheet, and the error names the element inside the part."""
    layout = yaml.safe_load(yaml.safe_dump(LAYOUT))
    layout["elements"][1]["origin"] = [15, 180]
    found = problems(write(tmp_path, layout))
    assert any(p.startswith("elements[1].block[0].elements[0]") for p in found), found


def test_the_shipped_parts_load_with_the_layouts_that_use_them(tmp_path: Path) -> None:
    layouts = tmp_path / "layouts"
    shutil.copytree(PROJECT_ROOT / "layouts", layouts)
    spec = load_layout(layouts / "tsuchisho-nozei.yaml", FONTS)
    assert {"slip_title", "slip_code"} <= set(spec.styles)
    (layouts / "parts" / "nofusho-3ren.yaml").unlink()
    found = problems(layouts / "tsuchisho-nozei.yaml")
    assert any("unknown part 'nofusho-3ren'" in p for p in found), found

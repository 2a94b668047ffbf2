"""Folded mailers (issue 20): a layout's `folding:` panels, folds and seal margins, and the validation that
refuses personal data outside the sealed area (renderer/spec/folding.py, renderer/spec/panels.py), the fold
marks and sheet count of composition (renderer/compose/panels.py), and the 督促状 圧着はがき that uses them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from renderer.compose.panels import fold_marks, folded_sheets
from renderer.datamodels.tokusoku import TOKUSOKU_ROWS
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.formats.registry import jinja_filters
from renderer.settings import PROJECT_ROOT
from renderer.spec.folding import Folding
from renderer.spec.model import LayoutSpec, Paper, RepeatElement
from renderer.spec.panels import sheets_shown, template_refs
from renderer.spec.validate import load_layout
from renderer.templating import Templates

FONTS = FontSet(PROJECT_ROOT / "fonts")

FOLDING: dict[str, Any] = {
    "kind": "V折り圧着はがき", "folded_size": [100, 148], "unsealed_data": ["data.addressee"],
    "panels": [
        {"name": "back", "sheet": 1, "at": [0, 0], "size": [100, 148], "sealed": False},
        {"name": "front", "sheet": 1, "at": [100, 0], "size": [100, 148], "sealed": False},
        {"name": "inner_left", "sheet": 2, "at": [0, 0], "size": [100, 148], "sealed": True,
         "seal_margin_mm": {"top": 5, "bottom": 5, "left": 5}},
        {"name": "inner_right", "sheet": 2, "at": [100, 0], "size": [100, 148], "sealed": True,
         "seal_margin_mm": 5},
    ],
    "folds": [{"x": 100, "sheets": [1, 2], "margin_mm": 3}],
}

#: the address block on the outside (front) panel, a literal on the back, the amounts inside
ADDRESS_BLOCK: list[dict[str, Any]] = [
    {"type": "field", "at": [110, 28], "width": 80, "height": 12, "value": "data.addressee.address",
     "format": "address"},
    {"type": "text", "at": [114, 45], "width": 76, "text": "{{ data.addressee.name }}　様"},
    {"type": "field", "at": [142, 12], "width": 50, "value": "data.addressee.address.postal_code",
     "format": "postcode"},
    {"type": "barcode", "symbology": "customer", "at": [112, 62], "size_pt": 8, "source": "data.addressee"},
]


def layout(outside: list[dict[str, Any]], inside: list[dict[str, Any]] | None = None,
           folding: dict[str, Any] | None = None, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "schema_version": 1, "id": "fold-sample", "kind": "notice", "title": "見本",
        "standard": {"business": "見本", "form": "見本", "reference": "tests"},
        "paper": {"size": "custom", "width_mm": 200, "height_mm": 148},
        "data_model": "tokusoku",
        "folding": folding or FOLDING,
        "styles": {"body": {"fonts": ["IPAexMincho"], "size_pt": 9}},
        "elements": [
            {"type": "group", "show_on": "first", "elements": [
                {"type": "text", "at": [10, 10], "width": 80, "text": "{{ tenant.municipality }}からのお知らせ"},
                *outside]},
            {"type": "group", "show_on": "last", "elements": [
                {"type": "field", "at": [10, 20], "width": 40, "value": "data.total", "format": "amount"},
                *(inside or [])]},
            *(extra or []),
        ],
    }


def write(tmp: Path, doc: dict[str, Any]) -> Path:
    path = tmp / "fold-sample.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problems(tmp: Path, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(LayoutError) as info:
        load_layout(write(tmp, doc), FONTS)
    return [f"{d.path}: {d.message}" for d in info.value.diagnostics] or [info.value.message]


# --------------------------------------------------------------------------- what may print outside


def test_the_address_block_on_the_outside_panel_is_accepted(tmp_path: Path) -> None:
    spec = load_layout(write(tmp_path, layout(ADDRESS_BLOCK)), FONTS)
    assert spec.folding is not None and spec.folding.sheets == 2
    assert spec.paper.size_mm() == (200.0, 148.0)


def test_a_name_on_the_outside_panel_is_refused(tmp_path: Path) -> None:
    """With only the address (not the name) declared as the address block, the name is personal data."""
    folding = {**FOLDING, "unsealed_data": ["data.addressee.address"]}
    found = problems(tmp_path, layout(ADDRESS_BLOCK, folding=folding))
    assert len(found) == 2, found   # the name and the barcode (which reads the whole addressee)
    assert found[0].startswith("elements[0].elements[2].at: prints personal data (data.addressee.name) on the "
                               "unsealed panel 'front'")


def test_an_amount_or_a_number_on_the_outside_is_refused(tmp_path: Path) -> None:
    outside = [{"type": "field", "at": [110, 100], "width": 40, "value": "data.total", "format": "amount"},
               {"type": "text", "at": [10, 100], "width": 80, "text": "通知書番号 {{ data.taxpayer_number }}"}]
    found = problems(tmp_path, layout(outside))
    assert [f.split(":")[0] for f in found] == ["elements[0].elements[1].at", "elements[0].elements[2].at"]
    assert "(data.total) on the unsealed panel 'front'" in found[0]
    assert "(data.taxpayer_number) on the unsealed panel 'back'" in found[1]


def test_a_condition_on_the_data_counts_as_printing_it(tmp_path: Path) -> None:
    """A literal shown only when the data says so tells what the data is (「延滞あり」 outside)."""
    outside = [{"type": "group", "when": "data.fee_total", "elements": [
        {"type": "text", "at": [110, 100], "width": 40, "text": "手数料あり"}]}]
    found = problems(tmp_path, layout(outside))
    assert found == ["elements[0].elements[1].elements[0].at: prints personal data (data.fee_total) on the "
                     "unsealed panel 'front' ((110.0, 100.0)–(150.0, 104.6) mm on sheet 1): it shows outside the "
                     "sealed piece"]


def test_personal_data_in_a_seal_margin_or_across_the_fold_is_refused(tmp_path: Path) -> None:
    inside = [{"type": "field", "at": [2, 60], "width": 40, "value": "data.document_number"},       # left margin
              {"type": "field", "at": [120, 142], "width": 40, "value": "data.document_number"},    # bottom margin
              {"type": "field", "at": [80, 60], "width": 40, "value": "data.document_number"},      # across the fold
              {"type": "field", "at": [60, 60], "width": 38.5, "value": "data.document_number"}]    # in the fold margin
    found = problems(tmp_path, layout([], inside))
    assert len(found) == 4, found
    assert "in the seal margin of panel 'inner_left'" in found[0]
    assert "in the seal margin of panel 'inner_right'" in found[1]
    assert "not inside one panel" in found[2]
    assert "within 3 mm of a fold" in found[3]


def test_literals_may_go_anywhere(tmp_path: Path) -> None:
    outside: list[dict[str, Any]] = [{"type": "line", "from": [0, 74], "to": [200, 74]},
               {"type": "text", "at": [95, 100], "width": 10, "text": "折"}]
    load_layout(write(tmp_path, layout(outside)), FONTS)


def test_a_repeat_counts_from_its_start_sheet(tmp_path: Path) -> None:
    """Rows of a repeat that starts on sheet 2 print inside only; shown from sheet 1 they would print outside."""
    rows = {"type": "repeat", "items": "data.rows", "start_sheet": 2, "per_sheet": 6, "origin": [10, 40],
            "step": [0, 7], "block": [{"type": "field", "at": [0, 0], "width": 40, "value": "item.period"}]}
    load_layout(write(tmp_path, layout([], extra=[rows])), FONTS)
    found = problems(tmp_path, layout([], extra=[{**rows, "start_sheet": 1}]))
    assert found and "(item.period) on the unsealed panel 'back'" in found[0]


def test_sheets_follow_show_on() -> None:
    every = frozenset({1, 2, 3})
    assert sheets_shown("first", every, 3) == {1}
    assert sheets_shown("last", every, 3) == {3}
    assert sheets_shown("not_first", every, 3) == {2, 3}
    assert sheets_shown("not_last", frozenset({2, 3}), 3) == {2}


def test_template_refs_read_attribute_chains() -> None:
    t = Templates(jinja_filters())
    assert template_refs(t, "{{ data.addressee.name }}　様") == ["data.addressee.name"]
    assert set(template_refs(t, "{% for r in data.rows %}{{ r.tax }}{% endfor %}{{ item['period'] }}")) == {
        "data.rows", "r.tax", "item.period"}
    assert template_refs(t, "params.x or tenant.municipality[-1]", expression=True) == [
        "params.x", "tenant.municipality"]
    assert template_refs(t, "{{ data | length }}") == ["data"]


# --------------------------------------------------------------------------- the models


def _folding(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FOLDING)
    doc.update(changes)
    return doc


@pytest.mark.parametrize(("doc", "message"), [
    (_folding(panels=[{**FOLDING["panels"][0], "size": [120, 148]}, *FOLDING["panels"][1:]]), "overlap on sheet 1"),
    (_folding(panels=[{**p, "sheet": 3} if p["sheet"] == 2 else p for p in FOLDING["panels"]]),
     "must be 1, 2, … without a gap"),
    (_folding(folds=[{"x": 100, "y": 74, "sheets": [1]}]), "exactly one of them"),
    (_folding(folds=[{"x": 100, "sheets": [3]}]), "sheet 3 has no panels"),
    (_folding(panels=[*FOLDING["panels"][:3], {**FOLDING["panels"][3], "seal_margin_mm": 50}]), "leave no room"),
    (_folding(panels=[*FOLDING["panels"][:3], {**FOLDING["panels"][2]}]), "is used twice"),
])
def test_a_bad_folding_is_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Folding.model_validate(doc)


def test_a_custom_paper_needs_its_size() -> None:
    with pytest.raises(ValidationError, match="width_mm and height_mm"):
        Paper.model_validate({"size": "custom", "width_mm": 200})
    with pytest.raises(ValidationError, match="custom only"):
        Paper.model_validate({"size": "A4", "width_mm": 200, "height_mm": 148})
    assert Paper.model_validate({"size": "custom", "width_mm": 200, "height_mm": 148,
                                 "orientation": "landscape"}).size_mm() == (148.0, 200.0)


def test_a_panel_outside_the_sheet_is_refused(tmp_path: Path) -> None:
    doc = layout(ADDRESS_BLOCK)
    doc["paper"] = {"size": "custom", "width_mm": 190, "height_mm": 148}
    found = problems(tmp_path, doc)
    assert "folding.panels[1].at: panel 'front' reaches outside the 190×148 mm sheet" in found


# --------------------------------------------------------------------------- composition


def test_fold_marks_tick_both_ends_of_each_fold_on_its_sheets() -> None:
    folding = Folding.model_validate(FOLDING)
    marks = fold_marks(folding, 2, 200, 148)
    assert len(marks) == 2 and {round(m.x1, 3) for m in marks} == {round(100 * 72 / 25.4, 3)}
    assert fold_marks(Folding.model_validate(_folding(fold_marks=None)), 1, 200, 148) == []
    horizontal = Folding.model_validate(_folding(folds=[{"y": 74, "sheets": [1]}]))
    assert [m.y1 == m.y2 for m in fold_marks(horizontal, 1, 200, 148)] == [True, True]
    assert fold_marks(horizontal, 2, 200, 148) == []


def test_a_folded_mailer_has_exactly_its_panels_sheets() -> None:
    folding = Folding.model_validate(FOLDING)
    assert folded_sheets(folding, 1) == 2
    with pytest.raises(LayoutError, match="has 2 sheets"):
        folded_sheets(folding, 3)


# --------------------------------------------------------------------------- the 督促状 圧着はがき


def test_the_tokusokujo_hagaki_layout_declares_its_panels_and_rows() -> None:
    spec = load_layout(PROJECT_ROOT / "layouts" / "tokusokujo-hagaki.yaml", FONTS)
    assert isinstance(spec, LayoutSpec) and spec.folding is not None
    assert [(p.name, p.sheet, p.sealed) for p in spec.folding.panels] == [
        ("back", 1, False), ("address", 1, False), ("inner_left", 2, True), ("inner_right", 2, True)]
    assert spec.folding.unsealed_data == ["data.addressee"]
    repeats = [el for el in spec.elements if isinstance(el, RepeatElement)]
    assert [(r.items, r.per_sheet, r.start_sheet) for r in repeats] == [("data.rows", TOKUSOKU_ROWS, 2)]

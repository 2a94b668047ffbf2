"""Elements know themselves: one list of element types gives the tags, the schema, extents and children,
and composition has a function for every type.

In: the element models of `renderer.spec.model`, small fictitious elements built from dicts, the bundled
layouts. Out: assertions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from renderer.api import font_set
from renderer.compose.elements import COMPOSERS
from renderer.schemas import layout_schema
from renderer.spec.model import ELEMENT_TAGS, ELEMENT_TYPES, Element, ElementModel, Style
from renderer.spec.validate import CONTEXT_NAMES, load_layout, walk
from renderer.units import TEXT_VPAD_MM, line_pitch_mm, one_line_height_mm, to_mm

ROOT = Path(__file__).resolve().parents[2]
STYLES = {"body": Style(fonts=["IPAexMincho"], size_pt=10, line_height=1.5)}
ELEMENT: TypeAdapter[Any] = TypeAdapter(Element)


def element(raw: dict[str, Any]) -> ElementModel:
    el = ELEMENT.validate_python(raw)
    assert isinstance(el, ElementModel)
    return el


def test_tags_come_from_the_union_and_match_the_schema() -> None:
    assert {t.tag() for t in ELEMENT_TYPES} == ELEMENT_TAGS
    assert len(ELEMENT_TAGS) == len(ELEMENT_TYPES)
    mapping = layout_schema()["properties"]["elements"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == ELEMENT_TAGS


def test_every_element_type_has_a_compose_function() -> None:
    assert set(COMPOSERS) == set(ELEMENT_TYPES)


@pytest.mark.parametrize(("raw", "extent"), [
    ({"type": "text", "at": [10, 20], "width": 30, "text": "見本"},
     (10, 20, 40, 20 + one_line_height_mm(STYLES["body"]))),
    ({"type": "field", "at": [10, 20], "width": 30, "height": 8, "value": "data.x"}, (10, 20, 40, 28)),
    ({"type": "text", "at": [0, 0], "width": 5, "text": "x", "style": "unknown"}, (0, 0, 5, 0)),
    ({"type": "line", "from": [50, 10], "to": [20, 30]}, (20, 10, 50, 30)),
    ({"type": "box", "at": [1, 2], "size": [3, 4]}, (1, 2, 4, 6)),
    ({"type": "grid", "at": [1, 2], "columns": [3, 4], "rows": {"count": 2, "size": 5}}, (1, 2, 8, 12)),
    ({"type": "image", "at": [1, 2], "size": [20, 20], "source": "tenant.seal"}, (1, 2, 21, 22)),
    ({"type": "qr", "at": [1, 2], "size": 20, "data": "x"}, (1, 2, 21, 22)),
    ({"type": "table", "items": "data.rows", "at": [10, 20], "height": 50,
      "columns": [{"key": "a", "header": "A", "width": 30, "value": "row.a"},
                  {"key": "b", "header": "B", "width": 12, "value": "row.b"}]}, (10, 20, 52, 70)),
    ({"type": "group", "at": [5, 5], "elements": []}, None),
    ({"type": "repeat", "items": "data.x", "per_sheet": 2, "origin": [0, 0], "step": [0, 10], "block": []}, None),
])
def test_extent(raw: dict[str, Any], extent: tuple[float, ...] | None) -> None:
    got = element(raw).extent(STYLES)
    if extent is None:
        assert got is None
    else:
        assert got == pytest.approx(extent)


def test_barcode_extents_include_the_quiet_zone() -> None:
    customer = element({"type": "barcode", "symbology": "customer", "at": [20, 30], "source": "data.a"})
    x0, y0, x1, y1 = customer.extent(STYLES) or (0, 0, 0, 0)
    assert x0 < 20 and y0 < 30 and x1 > 20 and y1 > 30
    gs1 = element({"type": "barcode", "symbology": "gs1_128", "at": [20, 30], "source": "data.a"})
    x0, y0, x1, y1 = gs1.extent(STYLES) or (0, 0, 0, 0)
    assert x0 < 20 and y0 == 30 and y1 == 40


def test_children_say_where_they_are_drawn() -> None:
    repeat = element({"type": "repeat", "items": "data.x", "per_sheet": 3, "origin": [5, 6], "step": [0, 10],
                      "block": [{"type": "box", "at": [0, 0], "size": [1, 1]}]})
    (block,) = repeat.children()
    assert (block.key, block.offset, block.slots, block.per_item) == ("block", (5, 6), ((0, 0), (0, 20)), True)
    group = element({"type": "group", "at": [1, 2], "elements": [repeat.model_dump(by_alias=True)]})
    (inner,) = group.children()
    assert (inner.key, inner.offset, inner.slots, inner.per_item) == ("elements", (1, 2), None, False)
    assert element({"type": "box", "at": [0, 0], "size": [1, 1]}).children() == ()


@pytest.mark.parametrize("layout_id", ["juminhyo-setai", "ichiran-idosha", "tsuchisho-nozei"])
def test_the_walk_meets_every_element_once(layout_id: str) -> None:
    spec = load_layout(ROOT / "layouts" / f"{layout_id}.yaml", font_set(ROOT / "fonts"))
    paths = [p.path for p in walk(spec.elements, "elements", CONTEXT_NAMES)]
    assert len(paths) == len(set(paths)) > len(spec.elements) - 1
    assert all(p.depth == p.path.count("[") - 1 for p in walk(spec.elements, "elements", CONTEXT_NAMES))


def test_line_geometry_is_one_formula() -> None:
    body = STYLES["body"]
    assert line_pitch_mm(body) == to_mm(10 * 1.5)
    assert one_line_height_mm(body) == line_pitch_mm(body) + 2 * TEXT_VPAD_MM

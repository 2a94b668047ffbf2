"""「以下余白」 in lists (一覧表): every one the plan places is drawn, in every copy.

In: the sample list envelopes of layouts/samples/ (fictitious rows) with request.copies = 2 or 3, and
generated fictitious 異動者 rows in tables of varied heights. Out: assertions on each copy's display list,
on the text extracted from the PDF split copy by copy, and on planned against drawn end marks.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from renderer.api import Renderer, parse_envelope
from renderer.bind import bind
from renderer.compose.compose import Composer
from renderer.display import Page, TextRun
from renderer.rules.policy import apply_rules
from renderer.samples import sample_idosha_rows
from renderer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
END_MARK = "以下余白"
LIST_LAYOUTS = ["ichiran-idosha", "ichiran-kyufu"]


def sample(layout_id: str, copies: int) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{layout_id}.json").read_text("utf-8"))
    env["request"] = {**env["request"], "issued_on": "2026-11-27", "copies": copies}
    return env


def make_renderer(state: Path) -> Renderer:
    return Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state))


RENDERER = make_renderer(Path("/nonexistent-state-never-written"))   # composing only: no state is written


def idosha_composer(rows: list[dict[str, Any]], height: float) -> Composer:
    """A composer of ichiran-idosha over `rows`, its table `height` mm tall."""
    renderer = RENDERER
    envelope = parse_envelope({"layout": "ichiran-idosha", "tenant": "281000",
                               "request": {**sample("ichiran-idosha", 1)["request"]},
                               "data": {"period": {"from": "2026-11-01", "to": "2026-11-30"}, "rows": rows}})
    layout = renderer.layout("ichiran-idosha")
    elements = [el.model_copy(update={"height": height}) if el.type == "table" else el for el in layout.elements]
    layout = layout.model_copy(update={"elements": elements})
    return Composer(apply_rules(bind(envelope, layout, renderer.tenant(envelope.tenant))), renderer.fonts)


def marks(pages: list[Page]) -> int:
    return sum(1 for page in pages for op in page.ops if isinstance(op, TextRun) and op.text == END_MARK)


@pytest.mark.parametrize("layout_id", LIST_LAYOUTS)
@pytest.mark.parametrize("copies", [2, 3])
def test_every_copy_of_a_list_ends_with_its_end_marks(layout_id: str, copies: int) -> None:
    renderer = RENDERER
    envelope = parse_envelope(sample(layout_id, copies))
    layout = renderer.layout(layout_id)
    doc = apply_rules(bind(envelope, layout, renderer.tenant(envelope.tenant)))
    composer = Composer(doc, renderer.fonts)
    pages = list(composer.stream(list(range(1, copies + 1))))
    sheets = composer.count_sheets()
    assert len(pages) == sheets * copies
    per_copy = [marks(pages[i * sheets:(i + 1) * sheets]) for i in range(copies)]
    assert per_copy[0] >= 1
    assert per_copy == [per_copy[0]] * copies, f"「{END_MARK}」 per copy: {per_copy}"
    # the copies differ only where they say which copy they are: the same ops, page by page
    first = pages[:sheets]
    for i in range(1, copies):
        assert [p.ops for p in pages[i * sheets:(i + 1) * sheets]] == [p.ops for p in first]


@pytest.mark.parametrize("layout_id", LIST_LAYOUTS)
def test_rendered_copies_carry_the_end_mark_in_the_pdf(layout_id: str, tmp_path: Path) -> None:
    result = make_renderer(tmp_path).render(sample(layout_id, 2), layout_id=layout_id)
    texts = [page.extract_text() for page in PdfReader(io.BytesIO(result.pdf)).pages]
    sheets = result.sheets_per_copy
    assert len(texts) == 2 * sheets
    first, second = ("".join(texts[:sheets]), "".join(texts[sheets:]))
    assert first.count(END_MARK) >= 1
    assert second.count(END_MARK) == first.count(END_MARK)


def test_an_end_mark_after_a_footer_pushed_onto_its_own_page_is_drawn() -> None:
    """Five rows fill the first page of a 43 mm table; the ward's footer and its 「以下余白」 go to page 2."""
    c = idosha_composer(sample_idosha_rows(5, seed=3, wards=1), 43.0)
    plan = c.table_plan()
    last = plan.pages[-1]
    assert last.start == last.end and list(last.group_footers) == [0] and last.end_marks == 1
    pages = list(c.stream([1]))
    assert marks(pages[-1:]) == 1
    texts = [op.text for op in pages[-1].ops if isinstance(op, TextRun)]
    assert texts.index(END_MARK) > next(i for i, t in enumerate(texts) if "計 5 件" in t)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(min_value=0, max_value=40), wards=st.integers(min_value=1, max_value=3),
       height=st.floats(min_value=40, max_value=178), copies=st.integers(min_value=1, max_value=2))
def test_every_planned_end_mark_is_drawn_in_every_copy(count: int, wards: int, height: float, copies: int) -> None:
    c = idosha_composer(sample_idosha_rows(count, seed=7, wards=wards), height)
    plan = c.table_plan()
    planned = sum(p.end_marks for p in plan.pages)   # 0 when a group ends with its page full
    pages = list(c.stream(list(range(1, copies + 1))))
    sheets = len(plan.pages)
    for i in range(copies):
        assert marks(pages[i * sheets:(i + 1) * sheets]) == planned

"""一覧表 pagination: totals add up, groups break pages with n/N, headers repeat, no row lost or doubled."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from renderer.api import Renderer, parse_envelope
from renderer.bind import bind
from renderer.compose.compose import Composer
from renderer.compose.table import REPEAT_MARK, table_bodies
from renderer.display import Rect, TextRun
from renderer.rules.policy import apply_rules
from renderer.samples import sample_idosha_rows, sample_kyufu_rows
from renderer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REQUEST = {"requester": {"relation": "public_office"}, "channel": "counter", "operator": "clerk01",
           "issued_on": "2026-11-27", "terminal": "honcho-1", "printer": "prn-001"}


def make_renderer(tmp: Path) -> Renderer:
    return Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp))


RENDERER = make_renderer(Path("/nonexistent-state-never-written"))


def kyufu(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"layout": "ichiran-kyufu", "tenant": "122122", "request": REQUEST,
            "data": {"program": "見本給付金", "rows": rows}}


def idosha(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"layout": "ichiran-idosha", "tenant": "281000", "request": REQUEST,
            "data": {"period": {"from": "2026-11-01", "to": "2026-11-30"}, "rows": rows}}


def composer(env: dict[str, Any], **layout_changes: Any) -> Composer:
    envelope = parse_envelope(env)
    layout = RENDERER.layout(envelope.layout)
    if layout_changes:
        table_index = next(i for i, e in enumerate(layout.elements) if e.type == "table")
        table = layout.elements[table_index].model_copy(update=layout_changes)
        elements = list(layout.elements)
        elements[table_index] = table
        layout = layout.model_copy(update={"elements": elements})
    doc = apply_rules(bind(envelope, layout, RENDERER.tenant(envelope.tenant)))
    return Composer(doc, RENDERER.fonts)


def page_texts(c: Composer) -> list[list[TextRun]]:
    return [[op for op in page.ops if isinstance(op, TextRun)] for page in c.stream([1])]


def band_value(runs: list[TextRun], label: str) -> int | None:
    """The amount printed on the same line as a band label (頁計, 累計, …)."""
    for r in runs:
        if r.text.startswith(label):
            same_line = [o for o in runs if abs(o.y - r.y) < 0.01 and re.fullmatch(r"[0-9,]+", o.text)]
            if same_line:
                return int(max(same_line, key=lambda o: o.x).text.replace(",", ""))
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amounts=st.lists(st.integers(min_value=0, max_value=999_999), min_size=0, max_size=90),
       height=st.floats(min_value=45, max_value=178))
def test_totals_add_up_on_every_page_and_across_pages(amounts: list[int], height: float) -> None:
    rows = sample_kyufu_rows(len(amounts), seed=5)
    for row, amount in zip(rows, amounts, strict=True):
        row["amount"] = amount
    c = composer(kyufu(rows), height=height)
    plan = c.table_plan()
    pages = page_texts(c)
    assert len(pages) == len(plan.pages)
    running = 0
    for i, (runs, page) in enumerate(zip(pages, plan.pages, strict=True)):
        on_page = [plan.rows[r].amount for r in range(page.start[0], page.end[0])]
        assert page.sums["amount"] == sum(on_page)
        assert band_value(runs, "頁計") == sum(on_page)
        if i > 0:
            assert band_value(runs, "前頁より繰越") == running
        running += sum(on_page)
        assert band_value(runs, "累計") == running
        if i < len(pages) - 1:
            assert band_value(runs, "次頁へ繰越") == running
    assert running == sum(amounts)
    assert band_value(pages[-1], "合計") == sum(amounts)
    assert any(r.text.endswith(f"件数 {len(amounts):,}") for r in pages[-1])


def test_no_row_lost_or_duplicated_and_header_on_every_page(tmp_path: Path) -> None:
    rows = sample_kyufu_rows(130, seed=11)
    result = make_renderer(tmp_path).render(kyufu(rows), layout_id="ichiran-kyufu")
    texts = [p.extract_text() for p in PdfReader(io.BytesIO(result.pdf)).pages]
    assert len(texts) >= 5
    seen = Counter(m for t in texts for m in re.findall(r"\b4000\d{5}\b", t))
    assert seen == Counter(str(r["person_id"]) for r in rows)
    for t in texts:
        assert t.count("宛名番号") == 1 and "支給額" in t


def test_groups_break_pages_and_number_them_per_group() -> None:
    rows = sample_idosha_rows(90, seed=3, wards=3)
    c = composer(idosha(rows))
    plan = c.table_plan()
    wards = Counter(str(r["ward"]) for r in rows)
    assert [g.value for g in plan.groups] == sorted(wards)
    assert [g.end - g.start for g in plan.groups] == [wards[w] for w in sorted(wards)]
    pages = page_texts(c)
    for runs, page in zip(pages, plan.pages, strict=True):
        group = plan.groups[page.group]
        rows_here = {plan.rows[r].ward for r in range(page.start[0], min(page.end[0], len(plan.rows)))}
        assert rows_here <= {group.value}                         # a page never mixes wards
        texts = "".join(r.text for r in runs)
        assert f"{group.value} {page.group_page} / {page.group_pages} 頁" in texts
        assert f"（全体 {plan.pages.index(page) + 1} / {len(plan.pages)} 頁）" in texts
    last_of_each = [p for p in plan.pages if p.group_page == p.group_pages]
    assert len(last_of_each) == len(wards)
    for p in last_of_each:
        assert p.group_footers == [p.group]


def test_repeated_values_print_a_ditto_mark_and_in_full_at_the_top_of_every_page() -> None:
    """同一値の省略: a repeated 決定日 prints 「〃」 (never a blank cell, which after a ruled line reads as a
    missing date); the first row of every page prints the date in full."""
    rows = sample_kyufu_rows(60, seed=2)
    for row in rows:
        row["decided_on"] = "2026-11-02"
    c = composer(kyufu(rows))
    plan = c.table_plan()
    pages = page_texts(c)
    assert len(pages) >= 2
    for runs, page in zip(pages, plan.pages, strict=True):
        on_page = page.end[0] - page.start[0]
        full = [r for r in runs if r.text == "令和8年11月2日"]
        marks = [r for r in runs if r.text == REPEAT_MARK]
        assert len(full) == 1 and len(marks) == on_page - 1
        assert full[0].y > max(m.y for m in marks)          # the full date is on the page's first row
        first_id = max((r for r in runs if re.fullmatch(r"4000\d{5}", r.text)), key=lambda r: r.y)
        assert abs(full[0].y - first_id.y) < 1.0


def test_a_different_value_is_never_replaced_by_the_mark() -> None:
    rows = sample_kyufu_rows(12, seed=3)
    for i, row in enumerate(rows):
        row["decided_on"] = f"2026-11-{2 + i // 3:02d}"
    runs = page_texts(composer(kyufu(rows)))[0]
    assert sum(1 for r in runs if r.text.startswith("令和8年11月")) == 4
    assert sum(1 for r in runs if r.text == REPEAT_MARK) == 8


def test_end_mark_follows_the_last_row() -> None:
    runs = page_texts(composer(kyufu(sample_kyufu_rows(3, seed=1))))[0]
    mark = next(r for r in runs if r.text == "以下余白")
    last_row = min((r for r in runs if re.fullmatch(r"4000\d{5}", r.text)), key=lambda r: r.y)
    assert mark.y < last_row.y


def test_a_row_taller_than_a_page_splits_and_is_reported() -> None:
    rows = sample_idosha_rows(2, seed=1, wards=1)
    rows[0]["reason"] = "転居"
    rows[0]["address_after"] = {"prefecture": "兵庫県", "municipality": "神戸市", "ward": str(rows[0]["ward"]),
                                "town": "見本町", "block": "1番1号",
                                "building": "見本" * 95}
    rows[0]["address_before"] = rows[0]["address_after"]
    c = composer(idosha(rows), height=30.0)
    plan = c.table_plan()
    assert plan.splits == [next(i for i, r in enumerate(plan.rows) if r.person_id == rows[0]["person_id"])]
    pages = page_texts(c)
    assert len(pages) >= 2
    assert any(e["step"] == "row_split" for e in c.overflow)
    drawn = "".join(r.text for p in pages for r in p)
    assert drawn.count("見本" * 3) >= 1


def test_the_sample_watermark_lies_above_every_fill_and_below_every_line_and_character() -> None:
    """Zebra rows and shaded headers are painted first, then 「見本」, then frames and text: no fill hides the
    watermark (it survived only in fragments on 一覧表), and the watermark greys no character."""
    from renderer.display import Line, Rect

    for page in composer(kyufu(sample_kyufu_rows(30, seed=7))).stream([1]):
        ops = list(page.flat_ops())   # what the page paints, in order (static layers in their place)
        mark = next(i for i, op in enumerate(ops) if isinstance(op, TextRun) and op.text == "見本"
                    and op.size >= 100)
        fills = [i for i, op in enumerate(ops) if isinstance(op, Rect) and op.fill_gray is not None]
        assert fills and max(fills) < mark
        assert all(op.stroke is None for op in ops if isinstance(op, Rect) and op.fill_gray is not None)
        drawn = [i for i, op in enumerate(ops) if isinstance(op, (Line, TextRun)) or
                 (isinstance(op, Rect) and op.fill_gray is None)]
        assert min(i for i in drawn if i != mark) > mark


# --------------------------------------------------------------------------- no empty strip above the bands


def _rules(ops: list[Any], x0: float) -> list[float]:
    """The y (pt) of every horizontal rule that starts at the table's left edge."""
    return sorted({round(op.y, 2) for op in ops if isinstance(op, Rect) and op.h == 0.0 and abs(op.x - x0) < 0.01})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(min_value=1, max_value=120), height=st.floats(min_value=45, max_value=178))
def test_no_empty_strip_above_the_footer_band(count: int, height: float) -> None:
    """A full page's last row ends where the 頁計 band starts: the room for rows is whole rows (the layout's
    178 mm left a half row above 頁計 on every full page), and the table is drawn that much shorter."""
    c = composer(kyufu(sample_kyufu_rows(count, seed=count)), height=height)
    plan = c.table_plan()
    el = next(e for e in c.layout.elements if e.type == "table")
    bodies = table_bodies(el)
    assert bodies.height <= height + 1e-6 and height - bodies.height < el.row_height
    band_y = 595.28 - (el.at[1] + bodies.height - 3 * el.row_height) * 72 / 25.4   # top of 頁計 (3 bands)
    for i, page in enumerate(c.stream([1])):
        if i < len(plan.pages) - 1:
            # the rule under the page's last row is the top edge of the 頁計 band: nothing between them
            assert any(abs(y - band_y) < 0.01 for y in _rules(list(page.ops), 10 * 72 / 25.4))


def test_a_continued_page_of_wrapped_rows_draws_its_last_row_down_to_the_bottom() -> None:
    rows = sample_idosha_rows(80, seed=4, wards=1)
    for i, row in enumerate(rows):
        after = row.get("address_after")
        if i % 3 == 0 and isinstance(after, dict):
            row["address_after"] = {**after, "building": "見本" * (8 + i % 20)}   # 2–3 lines
    c = composer(idosha(rows))
    plan = c.table_plan()
    el = next(e for e in c.layout.elements if e.type == "table")
    bottom = 595.28 - (el.at[1] + table_bodies(el).height) * 72 / 25.4
    assert len(plan.pages) >= 3
    for page in list(c.stream([1]))[:-1]:
        rules = _rules(list(page.ops), 10 * 72 / 25.4)
        assert abs(min(rules) - bottom) < 0.01      # the last row's rule is the table's bottom edge

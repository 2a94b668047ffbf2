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
from renderer.display import TextRun
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


def test_repeated_values_are_suppressed_within_a_page() -> None:
    rows = sample_kyufu_rows(20, seed=2)
    for row in rows:
        row["decided_on"] = "2026-11-02"
    runs = page_texts(composer(kyufu(rows)))[0]
    assert sum(1 for r in runs if r.text == "令和8年11月2日") == 1


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
        ops = list(page.ops)
        mark = next(i for i, op in enumerate(ops) if isinstance(op, TextRun) and op.text == "見本"
                    and op.size >= 100)
        fills = [i for i, op in enumerate(ops) if isinstance(op, Rect) and op.fill_gray is not None]
        assert fills and max(fills) < mark
        assert all(op.stroke is None for op in ops if isinstance(op, Rect) and op.fill_gray is not None)
        drawn = [i for i, op in enumerate(ops) if isinstance(op, (Line, TextRun)) or
                 (isinstance(op, Rect) and op.fill_gray is None)]
        assert min(i for i in drawn if i != mark) > mark

"""縦書き: columns right to left, vertical glyph forms, upright CJK, 縦中横 for 1–2 digits, 禁則 per column."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from renderer.compose.text import NO_LINE_START, Box, TextFitter
from renderer.display import DocumentInfo, Page, PagedDocument, TextRun
from renderer.draw import draw
from renderer.fonts import PUA_BASE, FontSet
from renderer.spec.model import Style

ROOT = Path(__file__).resolve().parents[2]
FONTS = FontSet(ROOT / "fonts")
STYLE = Style(fonts=["IPAmjMincho", "IPAexMincho"], size_pt=14)
INFO = DocumentInfo(title="t", subject="t", author="t", document_id="0" * 64,
                    created=dt.datetime(2026, 11, 27, tzinfo=dt.timezone(dt.timedelta(hours=9))))
ADDRESS = "千葉県佐倉市見本町一丁目2番地3\n見本ハイツ101号室\n「見本」太郎　様"


def vertical(text: str, box: Box, steps: list[str] | None = None) -> list[TextRun]:
    runs, _ = TextFitter(FONTS).fit(text, box, STYLE, align="left", valign="top",
                                    overflow=steps or ["wrap", "error"], field="宛名",  # type: ignore[arg-type]
                                    direction="vertical")
    return runs


@pytest.fixture(scope="module")
def runs() -> list[TextRun]:
    return vertical(ADDRESS, Box(left=100, top=700, width=80, height=300))


def columns(runs: list[TextRun]) -> list[list[TextRun]]:
    by_x: dict[float, list[TextRun]] = {}
    for r in runs:
        by_x.setdefault(round(r.x + r.size / 2, 0), []).append(r)
    return [by_x[x] for x in sorted(by_x, reverse=True)]


def test_columns_run_right_to_left_and_characters_top_to_bottom(runs: list[TextRun]) -> None:
    first = [r for r in runs if r.text in "千葉県"]
    assert [r.text for r in first] == ["千", "葉", "県"]
    assert first[0].y > first[1].y > first[2].y                     # down the column
    sama = next(r for r in runs if r.text == "様")
    assert sama.x < first[0].x                                      # third column is left of the first


def test_brackets_use_vertical_forms_and_copy_back_as_themselves(runs: list[TextRun]) -> None:
    bracket = next(r for r in runs if r.text == "「")
    assert bracket.draw and ord(bracket.draw) >= PUA_BASE           # the font's vert glyph, not 「
    pdf = draw(PagedDocument(INFO, (Page(595, 842, tuple(runs)),)), FONTS)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "「" in text and "」" in text


def test_two_digits_are_set_tate_chu_yoko_and_three_digits_upright(runs: list[TextRun]) -> None:
    single = [r for r in runs if r.text in ("2", "3")]
    assert all(r.h_scale == 1.0 for r in single)                    # one digit: one cell
    upright = [r.text for r in runs if r.text in ("1", "0")]
    assert upright == ["1", "0", "1"]                               # 101 is three digits: one per cell
    pair = vertical("第12号", Box(left=100, top=700, width=30, height=300))
    assert [r.text for r in pair] == ["第", "12", "号"]              # 縦中横: two digits in one em


def test_kinsoku_applies_per_column() -> None:
    # 5 cells per column; 「。」 would start column 2, so 「え。」 moves down together.
    cols = vertical("あいうえお。かきく", Box(left=100, top=700, width=60, height=14 * 5 + 1))
    texts = ["".join(r.text for r in c) for c in columns(cols)]
    assert all(t[0] not in NO_LINE_START for t in texts)
    assert texts[0] == "あいうえ"


def test_vertical_rejects_condense() -> None:
    from pydantic import ValidationError

    from renderer.spec.model import FieldElement

    with pytest.raises(ValidationError):
        FieldElement.model_validate({"type": "field", "at": [0, 0], "width": 10, "value": "data.x",
                                     "direction": "vertical", "overflow": [{"condense": 0.8}, "error"]})

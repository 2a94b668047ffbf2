"""IVS variants, per-glyph fallback and extraction, proven on rendered pixels and extracted text."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from renderer.compose.text import Box, TextFitter
from renderer.display import DocumentInfo, Page, PagedDocument, TextRun
from renderer.draw import draw
from renderer.errors import GlyphError
from renderer.fonts import PUA_BASE, CharEvent, FontSet
from renderer.spec.model import Style

ROOT = Path(__file__).resolve().parents[2]
FONTS = FontSet(ROOT / "fonts")
INFO = DocumentInfo(title="t", subject="t", author="t", document_id="0" * 64,
                    created=dt.datetime(2026, 11, 27, tzinfo=dt.timezone(dt.timedelta(hours=9))))
STYLE = Style(fonts=["IPAexMincho", "IPAmjMincho"], size_pt=40)
MJ = Style(fonts=["IPAmjMincho"], size_pt=40)


def render_text(text: str, style: Style = STYLE, *, vertical: bool = False) -> bytes:
    fitter = TextFitter(FONTS)
    box = Box(left=20, top=280, width=260 if not vertical else 60, height=60 if not vertical else 260)
    runs, _ = fitter.fit(text, box, style, align="left", valign="top", overflow=["error"], field="t",
                         direction="vertical" if vertical else "horizontal")
    return draw(PagedDocument(INFO, (Page(300, 300, tuple(runs)),)), FONTS)


def pixels(pdf: bytes) -> np.ndarray[Any, Any]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return np.asarray(doc[0].render(scale=2, grayscale=True).to_pil().convert("L"))
    finally:
        doc.close()


def extracted(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize(("base", "variant"), [
    ("辻\U000E0103", "辻\U000E0102"),        # 二点しんにょう (default) vs 一点しんにょう
    ("葛\U000E0103", "葛\U000E0104"),
    ("邊\U000E0108", "邊\U000E0109"),
])
def test_variant_glyph_is_drawn_and_differs_from_the_base(base: str, variant: str) -> None:
    a, b = pixels(render_text(base, MJ)), pixels(render_text(variant, MJ))
    changed = int((np.abs(a.astype(int) - b.astype(int)) > 64).sum())
    assert changed > 50, "the variant glyph must look different from the other sequence"
    plain = pixels(render_text(base[0], MJ))
    assert (np.abs(plain.astype(int) - a.astype(int)) > 64).sum() == 0 or base.endswith("\U000E0103")


def test_extraction_returns_the_exact_sequence() -> None:
    for text in ["辻\U000E0102", "葛\U000E0104邊\U000E0109", "﨑\U000E0103"]:
        assert extracted(render_text(text, MJ)).strip() == text


def test_non_bmp_characters_extract_as_themselves() -> None:
    # 𠮷 (U+20BB7) is outside the BMP: the ToUnicode map must use a surrogate pair.
    assert extracted(render_text("𠮷田")).strip() == "𠮷田"


def test_unregistered_sequence_falls_back_to_the_base_glyph_and_is_reported() -> None:
    events: list[CharEvent] = []
    clusters = FONTS.clusters("葛\U000E0100", ["IPAmjMincho"], field="f", sink=events.append)
    assert [c.code for c in clusters] == ["葛"]
    assert [(e.kind, e.sequence) for e in events] == [("ivs_fallback", "U+845B U+E0100")]
    assert np.array_equal(pixels(render_text("葛\U000E0100", MJ)), pixels(render_text("葛", MJ)))


def test_fallback_font_is_reported_and_used_per_character() -> None:
    events: list[CharEvent] = []
    runs = FONTS.runs("吉田𠮷", ["IPAexMincho", "IPAmjMincho"], field="f", sink=events.append)
    assert [r.family for r in runs] == ["IPAexMincho", "IPAmjMincho"]
    assert [(e.kind, e.sequence, e.family) for e in events] == [("fallback_font", "U+20BB7", "IPAmjMincho")]


def test_plane_16_character_without_glyph_is_an_error_or_a_reported_substitute() -> None:
    gaiji = "\U00100123"   # a 行政事務標準文字 addition lives in plane 16; our fonts do not have it
    with pytest.raises(GlyphError) as info:
        FONTS.clusters(f"見本{gaiji}", ["IPAexMincho", "IPAmjMincho"], field="data.x")
    assert "U+100123" in info.value.message and "data.x" in info.value.message
    events: list[CharEvent] = []
    clusters = FONTS.clusters(f"見本{gaiji}", ["IPAexMincho", "IPAmjMincho"], field="data.x",
                              substitute="〓", sink=events.append)
    assert clusters[-1].code == "〓"
    assert [(e.kind, e.sequence) for e in events] == [("substitute", "U+100123")]


def test_a_stray_variation_selector_is_an_error() -> None:
    with pytest.raises(GlyphError):
        FONTS.clusters("\U000E0102見本", ["IPAmjMincho"], field="f")


def _shown_codes(pdf: bytes) -> list[tuple[str, bytes]]:
    """(font resource, shown bytes) for every text-showing operator of every page."""
    reader = PdfReader(io.BytesIO(pdf))
    out: list[tuple[str, bytes]] = []
    for page in reader.pages:
        font = ""
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                font = str(operands[0])
            elif operator in (b"Tj", b"'", b'"'):
                out.append((font, bytes(operands[-1].original_bytes)))
            elif operator == b"TJ":
                out.extend((font, bytes(part.original_bytes)) for part in operands[0]
                           if hasattr(part, "original_bytes"))
    return out


def assert_no_notdef(pdf: bytes) -> None:
    for font, shown in _shown_codes(pdf):
        assert 0 not in shown, f"{font} shows code 0 (.notdef)"


def test_every_ivs_sequence_of_ipamj_renders_without_tofu() -> None:
    metrics = FONTS.metrics("IPAmjMincho")
    sequences = sorted(chr(b) + chr(s) for (b, s) in metrics.uvs)
    assert len(sequences) == 11474
    lines = []
    for i in range(0, len(sequences), 40):
        clusters = FONTS.clusters("".join(sequences[i:i + 40]), ["IPAmjMincho"], field="ivs")
        assert all(ord(c.code) >= PUA_BASE for c in clusters)   # each sequence has its own drawing code
        lines.append("".join(sequences[i:i + 40]))
    pages = []
    per_page = 50
    for p in range(0, len(lines), per_page):
        ops: list[TextRun] = []
        for j, line in enumerate(lines[p:p + per_page]):
            runs = FONTS.runs(line, ["IPAmjMincho"], field="ivs")
            ops.extend(TextRun(x=10, y=800 - j * 15, font=r.family, size=10, text=r.text, draw=r.draw)
                       for r in runs)
        pages.append(Page(595, 842, tuple(ops)))
    pdf = draw(PagedDocument(INFO, tuple(pages)), FONTS)
    assert_no_notdef(pdf)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    missing = [s for s in sequences if s not in text]
    assert missing == [], f"{len(missing)} sequences do not extract as themselves"


def golden_pdfs() -> list[Path]:
    return sorted((ROOT / "golden").rglob("expected.pdf"))


@pytest.mark.parametrize("path", golden_pdfs(), ids=lambda p: str(p.parent.relative_to(ROOT / "golden")))
def test_golden_pdfs_never_use_notdef(path: Path) -> None:
    assert_no_notdef(path.read_bytes())


_TEXT_OP = re.compile(r"^\s+text (\S+) (\S+) (\S+) (\S+)(?: [a-z]+=\S+)* (['\"].*['\"])$")


def kinsoku_violations(display: str) -> tuple[int, int]:
    """(wrapped line breaks seen, 禁則 violations) in a display.txt: lines of one left-aligned field
    share x, font and size and follow each other at the style's line pitch."""
    from ast import literal_eval

    from renderer.compose.text import NO_LINE_END, NO_LINE_START

    breaks = violations = 0
    page_ops: list[tuple[float, float, str, float, str]] = []
    for raw in [*display.splitlines(), "page end"]:
        if raw.startswith("page "):
            for x, y, font, size, text in page_ops:
                above = [t for (x2, y2, f2, s2, t) in page_ops
                         if (x2, f2, s2) == (x, font, size) and abs(y2 - (y + size * 1.25)) < 0.02]
                if above:
                    breaks += 1
                    violations += text[0] in NO_LINE_START
                    violations += above[0][-1] in NO_LINE_END
            page_ops = []
            continue
        m = _TEXT_OP.match(raw)
        if m:
            page_ops.append((float(m[1]), float(m[2]), m[3], float(m[4]), literal_eval(m[5])))
    return breaks, violations


def test_golden_cases_have_wrapped_text_and_no_kinsoku_violations() -> None:
    total_breaks = 0
    for display in sorted((ROOT / "golden").rglob("display.txt")):
        breaks, violations = kinsoku_violations(display.read_text(encoding="utf-8"))
        assert violations == 0, display
        total_breaks += breaks
    assert total_breaks >= 1, "some golden case must show wrapped text"


def test_kinsoku_counter_catches_a_violation() -> None:
    bad = ("page 1 595.28x841.89\n"
           "  text 10.00 100.00 IPAexMincho 8.00 'あいう'\n"
           "  text 10.00 90.00 IPAexMincho 8.00 '。えお'\n")
    assert kinsoku_violations(bad) == (1, 1)

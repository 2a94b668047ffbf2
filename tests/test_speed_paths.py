"""The shortcuts taken for speed keep their promises: the same output, the same reports."""

from __future__ import annotations

import io

from pypdf import PdfReader

from renderer.api import font_set
from renderer.compose.text import _FIT_CACHE, Box, TextFitter
from renderer.display import DocumentInfo, Image, Page, PagedDocument, TextRun
from renderer.draw import draw
from renderer.fonts import CharEvent
from renderer.settings import Settings
from renderer.spec.model import Condense, Style

FONTS = font_set(Settings.from_env().fonts_dir)
STYLE = Style(fonts=["IPAexMincho", "IPAmjMincho"], size_pt=9)


def test_a_cached_fit_gives_the_same_runs_and_replays_its_character_events() -> None:
    _FIT_CACHE.clear()
    box = Box(left=10, top=100, width=200, height=20)
    results = []
    for _ in range(2):
        events: list[CharEvent] = []
        runs, entry = TextFitter(FONTS).fit("辻\U000E0102 \U00020BB7田", box, STYLE, align="left", valign="middle",
                                            overflow=["error"], field="f", sink=events.append)
        results.append((runs, entry, events))
    assert len(_FIT_CACHE) == 1
    assert results[0] == results[1]
    assert {e.kind for e in results[0][2]} == {"ivs", "fallback_font"}


def test_a_cached_fit_reports_under_the_field_of_the_call_that_hit_it() -> None:
    """The cache is shared by every field that prints the same text in the same box (each member's 性別):
    a hit replays the character events and the overflow entry under its own field, never the first one's."""
    _FIT_CACHE.clear()
    box = Box(left=10, top=100, width=30, height=12)
    text = "辻\U000E0102田見本太郎"
    reports = []
    for field in ("data.household.members[0].name", "data.household.members[3].name"):
        events: list[CharEvent] = []
        runs, entry = TextFitter(FONTS).fit(text, box, STYLE, align="left", valign="middle",
                                            overflow=[Condense(condense=0.5), "error"],
                                            field=field, sink=events.append)
        reports.append((runs, entry, events))
    assert len(_FIT_CACHE) == 1
    (runs0, entry0, events0), (runs1, entry1, events1) = reports
    assert runs0 == runs1
    assert entry0 is not None and entry1 is not None and entry0.step == entry1.step == "condense"
    assert (entry0.field, entry1.field) == ("data.household.members[0].name", "data.household.members[3].name")
    assert [e.field for e in events0] == ["data.household.members[0].name"] * len(events0) and events0
    assert [e.field for e in events1] == ["data.household.members[3].name"] * len(events1)
    assert [(e.kind, e.sequence) for e in events0] == [(e.kind, e.sequence) for e in events1]


def test_the_seal_is_one_image_object_drawn_on_every_page() -> None:
    import datetime as dt

    from renderer.samples import make_sample_seal

    png = make_sample_seal("千葉県佐倉市長", Settings.from_env().fonts_dir)
    page = Page(595, 842, (TextRun(100, 700, "IPAexMincho", 10, "見本"), Image(400, 100, 60, 60, png)))
    info = DocumentInfo("t", "s", "a", dt.datetime(2026, 11, 27, tzinfo=dt.UTC), "00")
    pdf = draw(PagedDocument(info, (page, page, page)), FONTS)
    reader = PdfReader(io.BytesIO(pdf))
    names = [sorted(p["/Resources"]["/XObject"].keys()) for p in reader.pages]  # type: ignore[index]
    assert names[0] == names[1] == names[2] and len(names[0]) == 1
    assert pdf.count(b"/Subtype /Image") == 1   # the (opaque) seal, once
    contents = [p.get_contents() for p in reader.pages]
    assert all(c is not None for c in contents)
    data = [c.get_data() for c in contents if c is not None]
    assert data[0] == data[1] == data[2] and b"/FormXob." in data[0]


def test_the_qr_error_levels_are_qrcodes_own_constants() -> None:
    """`renderer.compose.elements` names qrcode's levels without importing qrcode (a cold render without a QR
    never loads it): the numbers must be qrcode's."""
    import qrcode.constants

    from renderer.compose.elements import _EC

    assert _EC == {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
                   "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}

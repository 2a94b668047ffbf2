"""コンビニ収納 GS1-128: the 44 digits and their check digit, field validation, size limits, equality with
ReportLab's Code128 (FNC1 as ``\\xf1``), and a round trip that decodes the rasterized symbol from its pixels
(bar and space widths measured in modules, Code 128 set C decoded with ReportLab's own pattern table).
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from reportlab.graphics.barcode.code128 import Code128, _patterns

from renderer.barcodes.common import BarcodeDataError, BarcodeGeometryError
from renderer.barcodes.gs1 import (
    DEFAULT_MODULE_MM,
    FNC1,
    MAX_TOTAL_WIDTH_MM,
    QUIET_MODULES,
    SYMBOL_MODULES,
    ConvenienceBarcode,
    check_digit,
    code128c_values,
    convenience_barcode,
    module_pattern,
    total_width_mm,
)
from renderer.display import DocumentInfo, Page, PagedDocument
from renderer.draw import draw
from renderer.fonts import FontSet
from renderer.units import mm

ROOT = Path(__file__).resolve().parents[2]
FONTS = FontSet(ROOT / "fonts")
INFO = DocumentInfo(title="gs1-128", subject="t", author="t", document_id="0" * 64,
                    created=dt.datetime(2026, 11, 27, tzinfo=dt.timezone(dt.timedelta(hours=9))))

GOOD: dict[str, Any] = {"issuer_code": "912345", "free_field": "012345678901234567890", "reissue": 1,
                        "due_date": dt.date(2001, 3, 31), "stamp_flag": 0, "amount": 123000}


def make(**changes: Any) -> ConvenienceBarcode:
    return convenience_barcode(**{**GOOD, **changes})


# --- the 44 digits and the check digit --------------------------------------------------------------------

# Two worked examples carried by a public municipal implementation (ALP Okinawa, KNJ… CvsBarcode), both
# "should be 3" — they fix the open question of whether AI 91 is inside the check (it is: without it both
# would give 1). Confidence [M].
PUBLISHED = [
    ("91" + "912345" + "012345678901234567890" + "1" + "010331" + "0" + "123000", "3"),
    ("91" + "942386" + "178953917853935692730" + "1" + "030731" + "1" + "031290", "3"),
]
# Constructed by hand: weight 3 on the rightmost of the 43 digits, then 1, 3, 1 … leftwards.
CONSTRUCTED = [
    ("0" * 43, "0"),
    ("0" * 42 + "1", "7"),              # 1 × 3 = 3 → 10 − 3
    ("0" * 41 + "10", "9"),             # 1 × 1 = 1 → 10 − 1
    ("91" + "0" * 41, "2"),             # 9 × 3 (43rd from the right: odd) + 1 × 1 = 28 → 2
    ("0" * 38 + "55555", "5"),          # 5×3 + 5×1 + 5×3 + 5×1 + 5×3 = 55 → 5
]


@pytest.mark.parametrize(("digits43", "expected"), PUBLISHED + CONSTRUCTED)
def test_check_digit(digits43: str, expected: str) -> None:
    assert len(digits43) == 43
    assert check_digit(digits43) == expected


def test_the_44_digits_are_laid_out_field_by_field() -> None:
    barcode = make()
    assert barcode.digits == PUBLISHED[0][0] + "3"
    d = barcode.digits
    assert len(d) == 44
    fields = (d[0:2], d[2:8], d[8:29], d[29], d[30:36], d[36], d[37:43], d[43])
    assert fields == ("91", "912345", "012345678901234567890", "1", "010331", "0", "123000", "3")
    assert barcode.human_readable == "(91)912345-012345678901234567890-1-010331-0-123000-3"


def test_the_second_published_example_from_its_fields() -> None:
    barcode = make(issuer_code="942386", free_field="178953917853935692730", reissue=1,
                   due_date=dt.date(2003, 7, 31), stamp_flag=1, amount=31290)
    assert barcode.digits == PUBLISHED[1][0] + "3"


def test_amount_limits() -> None:
    assert make(amount=999_999).digits[37:43] == "999999"
    assert make(amount=0).digits[37:43] == "000000"
    assert make(amount=7).digits[37:43] == "000007"


@pytest.mark.parametrize(("field", "value"), [
    ("issuer_code", "91234"), ("issuer_code", "9123456"), ("issuer_code", "９１２３４５"), ("issuer_code", 912345),
    ("free_field", "01234567890123456789"), ("free_field", "0123456789012345678901"), ("free_field", "A" * 21),
    ("reissue", 10), ("reissue", -1), ("reissue", "1"), ("reissue", True),
    ("due_date", "2026-12-31"), ("due_date", None),
    ("due_date", dt.date(1999, 12, 31)), ("due_date", dt.date(2100, 1, 1)),
    ("stamp_flag", 2), ("stamp_flag", "0"),
    ("amount", 1_000_000), ("amount", -1), ("amount", 1000.0), ("amount", True), ("amount", "1000"),
])
def test_bad_fields_are_refused_by_name(field: str, value: Any) -> None:
    with pytest.raises(BarcodeDataError) as err:
        make(**{field: value})
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and len(str(value)) > 2:
        assert str(value) not in str(err.value)


def test_amount_over_the_limit_says_so() -> None:
    with pytest.raises(BarcodeDataError, match="999,999 yen"):
        make(amount=1_000_000)


# --- the Code 128 symbol -----------------------------------------------------------------------------------

def test_symbol_starts_with_start_c_and_fnc1() -> None:
    values = make().values
    assert values[0] == 105 and values[1] == FNC1 == 102 and values[-1] == 106
    assert len(values) == 2 + 22 + 2
    assert len(make().modules) == SYMBOL_MODULES == 288


@pytest.mark.parametrize("changes", [{}, {"amount": 999_999, "stamp_flag": 1}, {"free_field": "9" * 21},
                                     {"issuer_code": "000000", "free_field": "0" * 21, "amount": 0}])
def test_same_values_and_bars_as_reportlab_code128_with_fnc1(changes: dict[str, Any]) -> None:
    barcode = make(**changes)
    rl = Code128("\xf1" + barcode.digits)
    rl.validate()
    rl.encode()
    rl.decompose()
    assert tuple(rl.encoded) == barcode.values
    rl_modules = "".join(("1" if c.isupper() else "0") * (ord(c.upper()) - 64) for c in rl.decomposed)
    assert rl_modules == barcode.modules


def test_code128c_needs_an_even_number_of_digits() -> None:
    with pytest.raises(BarcodeDataError):
        code128c_values("123")


# --- size -----------------------------------------------------------------------------------------------------

def test_default_width_fits_60_mm_with_quiet_zones() -> None:
    assert total_width_mm(DEFAULT_MODULE_MM) == pytest.approx(308 * 0.19) == pytest.approx(58.52)
    assert make().width_mm <= MAX_TOTAL_WIDTH_MM
    largest = MAX_TOTAL_WIDTH_MM / (SYMBOL_MODULES + 2 * QUIET_MODULES)
    assert make().layout(0, 0, module_mm=largest).quiet.w == pytest.approx(mm(60.0))


@pytest.mark.parametrize(("module_mm", "height_mm", "message"), [
    (0.195, 10.0, "60 mm"), (0.25, 12.0, "60 mm"), (0.19, 9.9, "at least 10 mm"), (0.0, 10.0, "positive"),
])
def test_geometry_limits(module_mm: float, height_mm: float, message: str) -> None:
    with pytest.raises(BarcodeGeometryError, match=message):
        make().layout(0, 0, module_mm=module_mm, height_mm=height_mm)


def test_layout_rects_cover_exactly_the_bars() -> None:
    placed = make().layout(mm(20), mm(30))
    bar_modules = sum(r.w for r in placed.rects) / mm(DEFAULT_MODULE_MM)
    assert bar_modules == pytest.approx(make().modules.count("1"))
    assert all(r.h == pytest.approx(mm(10.0)) and r.fill_gray == 0.0 and r.stroke is None for r in placed.rects)
    assert placed.quiet.x == pytest.approx(mm(20) - mm(10 * DEFAULT_MODULE_MM))


# --- round trip through pixels --------------------------------------------------------------------------------

DPI = 1200
PX_PER_MM = DPI / 25.4
RL_DECODE = {"".join(str(ord(c.upper()) - 64) for c in pattern): value for value, pattern in _patterns.items()}


def rasterize(pdf: bytes) -> np.ndarray[Any, Any]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return np.asarray(doc[0].render(scale=DPI / 72, grayscale=True).to_pil().convert("L"))
    finally:
        doc.close()


def runs(row: np.ndarray[Any, Any]) -> list[int]:
    """Run lengths in pixels from the first to the last ink pixel of a row (bar, space, bar, …)."""
    ink = row < 128
    idx = np.flatnonzero(ink)
    ink = ink[idx[0]:idx[-1] + 1]
    edges = np.flatnonzero(np.diff(ink.astype(np.int8))) + 1
    bounds = [0, *edges.tolist(), len(ink)]
    return [b - a for a, b in itertools.pairwise(bounds)]


def decode_code128(widths: list[int]) -> list[int]:
    """Symbol values from element widths in modules (6 per character, 7 for STOP), checksum verified."""
    assert len(widths) % 6 == 1
    values = [RL_DECODE["".join(map(str, widths[i:i + 6]))] for i in range(0, len(widths) - 7, 6)]
    values.append(RL_DECODE["".join(map(str, widths[-7:]))])
    *data, check, stop = values
    assert stop == 106
    assert (data[0] + sum(i * v for i, v in enumerate(data[1:], start=1))) % 103 == check
    return values


@pytest.mark.parametrize(("changes", "module_mm", "height_mm"), [
    ({}, DEFAULT_MODULE_MM, 10.0),
    ({"amount": 999_999, "stamp_flag": 1, "reissue": 9, "due_date": dt.date(2027, 2, 28)}, 0.1948, 12.0),
])
def test_round_trip_from_the_rendered_pixels(changes: dict[str, Any], module_mm: float, height_mm: float) -> None:
    barcode = make(**changes)
    placed = barcode.layout(mm(5), mm(5), module_mm=module_mm, height_mm=height_mm)
    pdf = draw(PagedDocument(INFO, (Page(mm(70), mm(height_mm + 10), placed.rects),)), FONTS)
    image = rasterize(pdf)

    row = image[image.shape[0] // 2]
    pixel_runs = runs(row)
    module_px = sum(pixel_runs) / SYMBOL_MODULES
    assert module_px / PX_PER_MM == pytest.approx(module_mm, rel=0.01)
    widths = [round(r / module_px) for r in pixel_runs]
    assert all(abs(r / module_px - w) < 0.3 for r, w in zip(pixel_runs, widths, strict=True))
    assert sum(widths) == SYMBOL_MODULES

    values = decode_code128(widths)
    assert values[0] == 105, "START C"
    assert values[1] == 102, "FNC1 right after the start character"
    digits = "".join(f"{v:02d}" for v in values[2:-2])
    assert digits == barcode.digits
    assert digits[:2] == "91"
    weights = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(digits[:43])))
    assert (weights + int(digits[43])) % 10 == 0

    # size from the pixels: quiet zones included ≤ 60 mm, bars ≥ 10 mm high, nothing inked in the quiet zone
    width_mm = (sum(pixel_runs) / PX_PER_MM) + 2 * QUIET_MODULES * module_mm
    assert width_mm <= MAX_TOTAL_WIDTH_MM + 0.05
    ink = image < 128
    column = ink[:, np.flatnonzero(ink.any(axis=0))[0]]
    assert np.flatnonzero(column).size / PX_PER_MM >= 10.0 - 0.05
    q = placed.quiet
    x0, x1 = int(q.x / 72 * DPI), int(q.right / 72 * DPI) + 1
    assert not (image[:, :x0] < 250).any() and not (image[:, x1:] < 250).any()


def test_module_pattern_of_start_c_and_fnc1() -> None:
    assert module_pattern([105, 102]) == "11010011100" + "11110101110"

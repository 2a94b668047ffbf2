"""コンビニ収納 GS1-128 (標準料金代理収納): the 44-digit data, its check digit, and the Code 128 bars.

In: the fields of one 納付書 slip — 請求書発行企業コード, 自由使用欄, 再発行区分, 支払期限, 印紙フラグ, 金額.
Out: `ConvenienceBarcode` with the 44 digits, the human-readable line (data for the caller to print with
its own font), the Code 128 symbol values and module pattern, and `layout()` → filled
`renderer.display.Rect` ops in PDF points with the symbol box and the quiet-zone box.

The 44 digits (domain reference §5.2; first fields [H], tail fields [M])
    ========  ===  ====================================================================  ==========
    digits    n    field                                                                 confidence
    ========  ===  ====================================================================  ==========
    1–2       2    AI ``91`` (the GS1 "company internal" AI the guideline uses)           [H]
    3–8       6    請求書発行企業コード (issuer code, given by GS1 Japan)                    [H]
    9–29      21   自由使用欄 (free field, the issuer's own numbering)                      [H]
    30        1    再発行区分 (how many times the slip was reissued, 0–9)                   [H]
    31–36     6    支払期限 YYMMDD                                                         [H]
    37        1    印紙フラグ (0 no revenue stamp needed, 1 needed)                        [M]
    38–43     6    金額 in yen, zero-padded (so at most 999,999 yen)                      [M]
    44        1    check digit                                                           [M]
    ========  ===  ====================================================================  ==========

Check digit: GS1 modulus 10 with weights 3 and 1 — over the 43 digits before it, **AI ``91`` included**,
weight 3 on the rightmost of them and alternating leftwards; check = (10 − sum mod 10) mod 10. The source
is medium confidence: the guideline itself (GS1 Japan 「GS1-128シンボルによる標準料金代理収納ガイドライン」)
was not readable; a public municipal implementation computes it this way over 43 digits and carries two
worked examples (issuer 912345 and 942386, both with check digit 3) that the tests reproduce. Leaving the
AI out would give 1 for both, so the examples decide it.

Symbol: GS1-128 = Code 128 with FNC1 right after the start character. 44 digits are an even count, so the
whole symbol is in code set C: START C (105), FNC1 (102), 22 digit pairs, the modulo-103 symbol check,
STOP — 288 modules. The module pattern is computed here rather than with ReportLab's ``Code128``
(which the issue names, with FNC1 as ``\\xf1``), because importing ``reportlab.graphics.barcode`` also
imports ``reportlab.pdfgen`` and only ``renderer.draw`` may do that; a test checks that ReportLab's
``Code128("\\xf1" + digits)`` gives exactly the same values and bars.

Size: the symbol plus its quiet zones (10 modules each side, the GS1-128 minimum) must be ≤ 60 mm long and
the bars ≥ 10 mm high (layout-geometry §4, citing the guideline [M]). 60 mm allows a module of at most
60/308 = 0.1948 mm; the default 0.19 mm gives 58.52 mm. A minimum module size was NOT FOUND, so none is
enforced beyond being positive.

Human-readable line: the guideline's exact format was NOT FOUND; we give ``(91)`` and the fields
separated by hyphens — ``(91)912345-012345678901234567890-1-010331-0-123000-3`` — as data, and the caller
prints it with its own font. Messages name the field and the rule, never the value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from renderer.barcodes.common import BarcodeDataError, BarcodeGeometryError, BarcodeLayout, Box, bar
from renderer.display import dark_runs
from renderer.units import mm

__all__ = [
    "DEFAULT_MODULE_MM",
    "MAX_AMOUNT_YEN",
    "MAX_TOTAL_WIDTH_MM",
    "MIN_HEIGHT_MM",
    "QUIET_MODULES",
    "SYMBOL_MODULES",
    "ConvenienceBarcode",
    "check_digit",
    "code128c_values",
    "convenience_barcode",
    "layout_modules",
    "module_pattern",
    "total_width_mm",
]

AI: Final = "91"
DIGITS: Final = 44
MAX_AMOUNT_YEN: Final = 999_999
MAX_TOTAL_WIDTH_MM: Final = 60.0
MIN_HEIGHT_MM: Final = 10.0
QUIET_MODULES: Final = 10
DEFAULT_MODULE_MM: Final = 0.19
DEFAULT_HEIGHT_MM: Final = 10.0

START_C: Final = 105
FNC1: Final = 102
STOP: Final = 106

# Code 128 element widths (bar, space, bar, space, bar, space[, bar]) for values 0–106 (ISO/IEC 15417).
_WIDTHS_TEXT: Final = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 122231
113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 322112 322211
212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 112133 112331 132131
113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111
314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 122411 142112 142211
241211 221114 413111 241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141
214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412 211214
211232 2331112
"""
_WIDTHS: Final[tuple[str, ...]] = tuple(_WIDTHS_TEXT.split())

SYMBOL_MODULES: Final = 11 * (2 + DIGITS // 2 + 1) + 13     # start, FNC1, 22 pairs, check, stop = 288


def _digits(value: object, field: str, length: int) -> str:
    if not isinstance(value, str) or len(value) != length or not value.isascii() or not value.isdigit():
        raise BarcodeDataError(field, f"expected exactly {length} ASCII digits")
    return value


def _small_int(value: object, field: str, allowed: range, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise BarcodeDataError(field, f"expected {what}")
    return value


def check_digit(digits43: str) -> str:
    """The GS1 modulus-10 (weights 3, 1) check digit of the first 43 digits, AI ``91`` included."""
    _digits(digits43, "digits", DIGITS - 1)
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(digits43)))
    return str((10 - total % 10) % 10)


def code128c_values(digits: str) -> tuple[int, ...]:
    """Code 128 symbol values for GS1-128 in code set C: START C, FNC1, digit pairs, check, STOP."""
    if not digits or len(digits) % 2 or not digits.isascii() or not digits.isdigit():
        raise BarcodeDataError("digits", "expected an even number of ASCII digits")
    values = [START_C, FNC1, *(int(digits[i:i + 2]) for i in range(0, len(digits), 2))]
    checksum = (values[0] + sum(pos * v for pos, v in enumerate(values[1:], start=1))) % 103
    return (*values, checksum, STOP)


def module_pattern(values: Sequence[int]) -> str:
    """The symbol as one character per module, ``"1"`` bar and ``"0"`` space (no quiet zones)."""
    out: list[str] = []
    for value in values:
        for i, width in enumerate(_WIDTHS[value]):
            out.append(("1" if i % 2 == 0 else "0") * int(width))
    return "".join(out)


def total_width_mm(module_mm: float, modules: int = SYMBOL_MODULES) -> float:
    """Length of the symbol including both quiet zones (10 modules each), in mm."""
    return (modules + 2 * QUIET_MODULES) * module_mm


def _check_geometry(module_mm: float, height_mm: float, modules: int) -> None:
    if not module_mm > 0:
        raise BarcodeGeometryError("GS1-128 module width must be positive")
    width = total_width_mm(module_mm, modules)
    if width > MAX_TOTAL_WIDTH_MM + 1e-9:
        largest = MAX_TOTAL_WIDTH_MM / (modules + 2 * QUIET_MODULES)
        raise BarcodeGeometryError(
            f"GS1-128 symbol is {width:.2f} mm long with its quiet zones at a module of {module_mm:g} mm; "
            f"the limit is {MAX_TOTAL_WIDTH_MM:g} mm (module ≤ {largest:.4f} mm)")
    if height_mm < MIN_HEIGHT_MM - 1e-9:
        raise BarcodeGeometryError(f"GS1-128 bars are {height_mm:g} mm high; at least {MIN_HEIGHT_MM:g} mm needed")


def layout_modules(pattern: str, x: float, y: float, *, module_mm: float = DEFAULT_MODULE_MM,
                   height_mm: float = DEFAULT_HEIGHT_MM) -> BarcodeLayout:
    """Bars of `pattern` with the first bar's bottom-left corner at (x, y) points; the quiet zone lies
    10 modules left and right of the symbol (and is given as a box of the symbol's height)."""
    _check_geometry(module_mm, height_mm, len(pattern))
    rects = [bar(start * module_mm, 0.0, width * module_mm, height_mm, x0=x, y0=y)
             for start, width in dark_runs(pattern)]
    symbol = Box(x, y, mm(len(pattern) * module_mm), mm(height_mm))
    quiet = mm(QUIET_MODULES * module_mm)
    return BarcodeLayout(rects=tuple(rects), symbol=symbol,
                         quiet=Box(symbol.x - quiet, symbol.y, symbol.w + 2 * quiet, symbol.h))


@dataclass(frozen=True)
class ConvenienceBarcode:
    """One コンビニ収納 barcode: the 44 digits, the printed line, the Code 128 values and modules."""

    digits: str                       # 44 digits, AI 91 first, check digit last
    human_readable: str               # (91)IIIIII-FFFFFFFFFFFFFFFFFFFFF-R-YYMMDD-S-AAAAAA-C
    values: tuple[int, ...]           # START C, FNC1, 22 pairs, check, STOP
    modules: str                      # 288 modules, "1" = bar

    @property
    def width_mm(self) -> float:
        """Length at the default module, quiet zones included."""
        return total_width_mm(DEFAULT_MODULE_MM, len(self.modules))

    def layout(self, x: float, y: float, *, module_mm: float = DEFAULT_MODULE_MM,
               height_mm: float = DEFAULT_HEIGHT_MM) -> BarcodeLayout:
        return layout_modules(self.modules, x, y, module_mm=module_mm, height_mm=height_mm)


def convenience_barcode(*, issuer_code: str, free_field: str, reissue: int, due_date: dt.date,
                        stamp_flag: int, amount: int) -> ConvenienceBarcode:
    """Validate the fields and build the barcode.

    `issuer_code`: 6 digits; `free_field`: exactly 21 digits (the issuer's numbering, padded by the caller
    as its contract with the collection agent says); `reissue`: 0–9; `due_date`: a date in 2000–2099
    (printed YYMMDD); `stamp_flag`: 0 or 1; `amount`: whole yen, 0–999,999.
    """
    issuer = _digits(issuer_code, "issuer_code", 6)
    free = _digits(free_field, "free_field", 21)
    re_issue = _small_int(reissue, "reissue", range(10), "a whole number 0–9 (times reissued)")
    if not isinstance(due_date, dt.date):
        raise BarcodeDataError("due_date", "expected a date")
    if not 2000 <= due_date.year <= 2099:
        raise BarcodeDataError("due_date", "expected a date in 2000–2099 (printed as YYMMDD)")
    stamp = _small_int(stamp_flag, "stamp_flag", range(2), "0 (no revenue stamp) or 1 (revenue stamp)")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise BarcodeDataError("amount", "expected whole yen as an integer")
    if amount < 0:
        raise BarcodeDataError("amount", "must not be negative")
    if amount > MAX_AMOUNT_YEN:
        raise BarcodeDataError("amount", f"exceeds {MAX_AMOUNT_YEN:,} yen, the most the 6-digit field can carry")
    due = due_date.strftime("%y%m%d")
    body = f"{AI}{issuer}{free}{re_issue}{due}{stamp}{amount:06d}"
    digits = body + check_digit(body)
    readable = f"({AI}){issuer}-{free}-{re_issue}-{due}-{stamp}-{amount:06d}-{digits[-1]}"
    values = code128c_values(digits)
    return ConvenienceBarcode(digits=digits, human_readable=readable, values=values, modules=module_pattern(values))

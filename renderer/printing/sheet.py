"""The calibration sheet of a printer's tray (``chohyo calibrate``): rulers, registration crosses, what is declared.

In: the tenant code, the printer (`PrinterDevice`), the tray's purpose and `Tray` (its paper and the calibration
currently declared) and the vendored fonts. Out: PDF bytes of one sheet of the tray's paper (portrait), drawn
through the project's display list and ReportLab drawer (`renderer.draw`: embedded font subsets, ``/Lang``,
checked by `renderer.finish`):

- millimetre rulers along the top and the left edge — a tick every 1 mm, longer every 5 mm, numbered every
  10 mm — whose numbers are distances from the sheet's left / top edge;
- registration crosses at known positions (the corners inset `INSET_MM`, the middle of each side inset as much,
  and the centre, larger and graduated), each with its nominal coordinates printed beside it,
  e.g. ``(20, 20) mm``;
- a header naming the printer (id and printed name), the tray (purpose, media-source, paper), the tenant and
  the calibration currently declared, and a short instruction in Japanese for the operator (measure where the
  centre cross landed; write dx_mm / dy_mm / scale into the tenant file's tray calibration).

Nothing else: no date or time (the PDF's creation date is the fixed `SHEET_DATE`, its document ID a hash of
what the sheet shows), no personal data — the same printer, tray and calibration give the same bytes. A
character the font lacks (a printer's printed name) is a `GlyphError` (exit 2), never a tofu box. The
drawing is the nominal one: `renderer.printing.calibrate` applies the tray's calibration to the print copy,
so the printed sheet shows where this tray puts marks with the calibration currently declared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from renderer.display import DocumentInfo, Line, Op, Page, PagedDocument, TextRun
from renderer.draw import draw
from renderer.finish import finish
from renderer.fonts import FontSet
from renderer.tenants import PrinterDevice, Tray
from renderer.units import PAPER_MM, mm

FONT = "IPAexGothic"
#: the PDF's creation date: fixed, so the sheet carries no time stamp and its bytes repeat
SHEET_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
#: where the corner and side crosses sit, from the sheet's edges (mm)
INSET_MM = 20.0
#: the rulers' base lines, from the top / left edge (mm); their ticks reach towards the edge
RULER_BASE_MM = 10.0
#: the rulers start past the corner where they would meet (mm)
RULER_START_MM = 12.0
#: tick lengths (mm): every 1 mm, every 5 mm, every 10 mm (numbered)
TICKS_MM = (1.5, 3.0, 5.0)
CROSS_ARM_MM = 4.0
CENTRE_ARM_MM = 12.0
HAIRLINE_PT = 0.3
#: characters that never start a line (they stay with what they close)
CLOSING = "。、，．）」』・：:,.)"
#: characters that never end a line (they stay with what they open)
OPENING = "（「『("


@dataclass(frozen=True)
class SheetFacts:
    """What the sheet shows about the printer and tray (and what its document ID is derived from)."""

    tenant: str
    printer_id: str
    printer_name: str
    purpose: str
    source: str
    paper: str
    dx_mm: float
    dy_mm: float
    scale: float

    @classmethod
    def of(cls, tenant: str, printer: PrinterDevice, purpose: str, tray: Tray) -> SheetFacts:
        cal = tray.calibration
        return cls(tenant=tenant, printer_id=printer.id, printer_name=printer.name, purpose=purpose,
                   source=tray.source, paper=tray.paper, dx_mm=cal.dx_mm, dy_mm=cal.dy_mm, scale=cal.scale)


def _n(value: float) -> str:
    """A millimetre value as printed: 20, 148.5, -1.25 (no trailing zeros)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class _Sheet:
    """Collects display ops in millimetres from the sheet's top-left corner (y down)."""

    def __init__(self, fonts: FontSet, width_mm: float, height_mm: float) -> None:
        self.fonts = fonts
        self.w = width_mm
        self.h = height_mm
        self.ops: list[Op] = []

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = HAIRLINE_PT) -> None:
        self.ops.append(Line(mm(x1), mm(self.h - y1), mm(x2), mm(self.h - y2), width))

    def measure(self, text: str, size: float, field: str) -> float:
        """The width of `text` at `size` points, in mm."""
        return self.fonts.width(self.fonts.runs(text, [FONT], field=field), size) / mm(1)

    def text(self, x: float, y: float, text: str, size: float, *, align: str = "left",
             max_width: float | None = None, field: str = "calibration sheet") -> None:
        """`text` with its baseline at `y` (mm), starting at / centred on / ending at `x`; shrunk to
        `max_width` (mm) when it is wider. A character the font lacks raises `GlyphError`."""
        runs = self.fonts.runs(text, [FONT], field=field)
        width = self.fonts.width(runs, size) / mm(1)
        if max_width is not None and width > max_width:
            size, width = size * max_width / width, max_width
        left = x - width / 2 if align == "center" else x - width if align == "right" else x
        at = mm(left)
        for run in runs:
            self.ops.append(TextRun(x=at, y=mm(self.h - y), font=run.family, size=size, text=run.text,
                                    draw=run.draw if run.draw != run.text else ""))
            at += self.fonts.width([run], size)


def _rulers(s: _Sheet) -> None:
    base = RULER_BASE_MM
    s.line(RULER_START_MM, base, s.w - 4, base)   # the top ruler: x from the left edge
    s.line(base, RULER_START_MM, base, s.h - 4)   # the left ruler: y from the top edge
    for x in range(int(RULER_START_MM), int(s.w - 4) + 1):
        length = TICKS_MM[2] if x % 10 == 0 else TICKS_MM[1] if x % 5 == 0 else TICKS_MM[0]
        s.line(x, base, x, base - length)
        if x % 10 == 0:
            s.text(x, base + 3.0, str(x), 6.0, align="center")
    for y in range(int(RULER_START_MM), int(s.h - 4) + 1):
        length = TICKS_MM[2] if y % 10 == 0 else TICKS_MM[1] if y % 5 == 0 else TICKS_MM[0]
        s.line(base, y, base - length, y)
        if y % 10 == 0:
            s.text(base + 1.2, y + 0.75, str(y), 6.0)
    s.text(base + 1.2, base + 3.0, "mm", 6.0)


def cross_positions(width_mm: float, height_mm: float) -> list[tuple[float, float]]:
    """The registration crosses (mm from the top-left corner): corners and side middles inset, then the centre."""
    i = INSET_MM
    xs = (i, width_mm / 2, width_mm - i)
    ys = (i, height_mm / 2, height_mm - i)
    return [(x, y) for y in ys for x in xs if (x, y) != (width_mm / 2, height_mm / 2)] + \
        [(width_mm / 2, height_mm / 2)]


def _cross(s: _Sheet, x: float, y: float, *, centre: bool) -> None:
    arm = CENTRE_ARM_MM if centre else CROSS_ARM_MM
    s.line(x - arm, y, x + arm, y)
    s.line(x, y - arm, x, y + arm)
    if centre:   # graduated arms: a tick every mm, longer every 5 mm
        for k in range(-int(arm), int(arm) + 1):
            if k == 0:
                continue
            t = 1.2 if k % 5 == 0 else 0.6
            s.line(x + k, y - t, x + k, y + t, 0.2)
            s.line(x - t, y + k, x + t, y + k, 0.2)
    label = f"({_n(x)}, {_n(y)}) mm"
    gap = 1.5 if centre else 1.2
    if x > s.w / 2 + 1:
        s.text(x - gap, y - gap, label, 6.5, align="right")
    else:
        s.text(x + gap, y - gap, label, 6.5)


def _tokens(text: str) -> list[str]:
    """Pieces a line may break between: an ASCII word with the space after it, or one other character;
    closing punctuation stays with what it closes (never starts a line), opening with what it opens."""
    out: list[str] = []
    for ch in text:
        if out and (ch in CLOSING or out[-1][-1] in OPENING or (ch.isascii() and ch != " " and out[-1][-1].isascii()
                                       and out[-1][-1] != " ") or (ch == " " and out[-1][-1].isascii())):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _wrap(s: _Sheet, text: str, size: float, width: float, indent: float, field: str) -> list[str]:
    """`text` broken into lines of at most `width` mm (continuation lines `indent` mm narrower)."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        room = width - (indent if lines else 0.0)
        if line and s.measure((line + token).rstrip(), size, field) > room:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _paragraph(s: _Sheet, x: float, y: float, text: str, size: float, width: float, *, indent: float = 0.0,
               pitch: float, field: str) -> float:
    """`text` wrapped to `width` mm (continuation lines indented by `indent`); returns the next baseline."""
    for i, line in enumerate(_wrap(s, text, size, width, indent, field)):
        shift = indent if i else 0.0
        s.text(x + shift, y, line, size, max_width=width - shift, field=field)
        y += pitch
    return y


def _header(s: _Sheet, f: SheetFacts) -> None:
    left, width = INSET_MM, s.w - 2 * INSET_MM
    top = INSET_MM + CROSS_ARM_MM + 8.0
    s.text(s.w / 2, top, "印刷位置調整シート", 14.0, align="center", max_width=width, field="calibration sheet title")
    lines = [
        (f"プリンタ: {f.printer_id}（{f.printer_name}）", "printers[].name"),
        (f"トレイ: {f.purpose}（media-source {f.source}、用紙 {f.paper}）", "trays"),
        (f"テナント: {f.tenant}", "tenant"),
        (f"現在の補正: dx_mm {_n(f.dx_mm)}　dy_mm {_n(f.dy_mm)}　scale {f.scale:.3f}", "calibration"),
    ]
    y = top + 8.0
    for text, field in lines:
        y = _paragraph(s, left, y, text, 9.0, width, indent=4.0, pitch=5.0, field=field)


def _instructions(s: _Sheet, f: SheetFacts) -> None:
    """The operator's instructions, between the centre cross and the bottom crosses (smaller type on small
    paper, so that they fit)."""
    cx, cy = s.w / 2, s.h / 2
    span = s.w - 2 * INSET_MM
    left, width = INSET_MM, s.w - 2 * INSET_MM
    items = [   # (text, continuation indent)
        ("このシートは現在の補正をかけて印刷されています。上端・左端の目盛りの数字は用紙の端からの距離（mm）、"
         "十字の横の座標は公称の位置です。", 0.0),
        (f"1. 中央の十字の交点が、用紙の左端・上端から何 mm の位置に印刷されたかを定規で測ります"
         f"（公称 {_n(cx)} mm・{_n(cy)} mm）。", 3.5),
        (f"2. 新しい dx_mm ＝ {_n(f.dx_mm)} ＋ {_n(cx)} − 左端からの測定値（＋は右へ動かします）", 3.5),
        (f"    新しい dy_mm ＝ {_n(f.dy_mm)} ＋ {_n(cy)} − 上端からの測定値（＋は下へ動かします）", 3.5),
        (f"3. 縮尺がずれているときは、左上と右上の十字の間隔（公称 {_n(span)} mm）を測り、新しい scale ＝ "
         f"{f.scale:.3f} × {_n(span)} ÷ 測定値 とします。scale を変えたら印刷し直して 1. から測ります。", 3.5),
        (f"4. テナントファイル {f.tenant}.yaml の printers（id: {f.printer_id}）の trays.{f.purpose}.calibration "
         f"に dx_mm・dy_mm・scale を書き、もう一度このシートを印刷して確かめます。", 3.5),
    ]
    top = cy + CENTRE_ARM_MM + 12.0
    bottom = s.h - INSET_MM - CROSS_ARM_MM - 3.0
    size = 8.0
    while size > 5.0:   # the largest type (in half points) whose lines fit above the bottom crosses
        pitch = size * 0.58
        count = sum(len(_wrap(s, text, size, width, indent, "instructions")) for text, indent in items)
        if top + 7.0 + count * pitch + len(items) * 1.2 <= bottom:
            break
        size -= 0.5
    y = top
    s.text(left, y, "使い方", size + 2.0, field="instructions")
    y += 7.0
    for text, indent in items:
        y = _paragraph(s, left, y, text, size, width, indent=indent, pitch=size * 0.58, field="instructions") + 1.2


def calibration_sheet(facts: SheetFacts, fonts: FontSet) -> bytes:
    """The sheet's PDF bytes (see the module docstring); the same facts give the same bytes."""
    width_mm, height_mm = PAPER_MM[facts.paper]
    s = _Sheet(fonts, width_mm, height_mm)
    _rulers(s)
    for x, y in cross_positions(width_mm, height_mm):
        _cross(s, x, y, centre=(x, y) == (width_mm / 2, height_mm / 2))
    _header(s, facts)
    _instructions(s, facts)
    s.text(width_mm / 2, height_mm - 8.0, f"chohyo calibrate {facts.printer_id} --tray {facts.purpose}", 6.5,
           align="center")
    seed = repr(facts).encode("utf-8")
    info = DocumentInfo(title=f"印刷位置調整シート {facts.printer_id} {facts.purpose}",
                        subject="calibration sheet", author="chohyo-renderer", created=SHEET_DATE,
                        document_id=hashlib.sha256(seed).hexdigest())
    page = Page(mm(width_mm), mm(height_mm), tuple(s.ops))
    return finish(draw(PagedDocument(info=info, pages=(page,)), fonts))


__all__ = ["INSET_MM", "SheetFacts", "calibration_sheet", "cross_positions"]

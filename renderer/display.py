"""The display list: a small, closed set of drawing operations between composition and drawing.

In: produced by `renderer.compose`. Out: consumed by `renderer.draw` (the only ReportLab user) and by
`dump()`, the deterministic text that golden cases keep as `display.txt` (one op per line, coordinates
in PDF points rounded to 0.01, origin bottom-left, fonts by family name).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TextRun:
    """One run of text in one font, left end of the baseline at (x, y)."""

    x: float
    y: float
    font: str
    size: float
    text: str                     # the source text (what copying gives back), variation selectors kept
    h_scale: float = 1.0          # 長体 (horizontal compression), 1.0 = none
    char_space: float = 0.0       # extra space after each character, in points
    gray: float = 0.0
    angle: float = 0.0            # degrees, counter-clockwise around (x, y)
    draw: str = ""                # drawing codes, one per cluster, when they differ from `text`
                                  # (IVS variants and vertical forms use the font's private-use codes)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    dash: tuple[float, float] | None = None
    gray: float = 0.0


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    stroke: float | None = 0.5    # line width, None = no stroke
    fill_gray: float | None = None


@dataclass(frozen=True)
class Image:
    x: float
    y: float
    w: float
    h: float
    data: bytes = field(repr=False)   # PNG bytes, already checked when loaded

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:16]


@dataclass(frozen=True)
class Barcode:
    """A 2-D or 1-D symbol as a module matrix (rows of '1'/'0'); drawn as filled rectangles."""

    kind: str
    x: float
    y: float
    module: float                  # module size in points
    matrix: tuple[str, ...] = field(repr=False)
    payload_digest: str = ""       # sha256 prefix of the payload, never the payload itself


Op = TextRun | Line | Rect | Image | Barcode


def dark_runs(row: str) -> Iterator[tuple[int, int]]:
    """(start, length) of every run of '1' in a row of modules: one filled rectangle per run."""
    col = 0
    while col < len(row):
        if row[col] == "1":
            start = col
            while col < len(row) and row[col] == "1":
                col += 1
            yield start, col - start
        else:
            col += 1


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class DocumentInfo:
    title: str
    subject: str
    author: str
    created: dt.datetime          # aware, Asia/Tokyo
    document_id: str              # hex digest, deterministic over layout + input
    lang: str = "ja-JP"


@dataclass(frozen=True)
class PagedDocument:
    """The document's info and its pages: a tuple, or an iterator that composes pages on demand."""

    info: DocumentInfo
    pages: Iterable[Page]


def _n(v: float) -> str:
    text = f"{v:.2f}"
    return "0.00" if text == "-0.00" else text


def dump_op(op: Op) -> str:
    if isinstance(op, TextRun):
        extra = ""
        if op.h_scale != 1.0:
            extra += f" hscale={op.h_scale:.3f}"
        if op.char_space:
            extra += f" cs={_n(op.char_space)}"
        if op.gray:
            extra += f" gray={op.gray:.2f}"
        if op.angle:
            extra += f" angle={op.angle:.1f}"
        if op.draw and op.draw != op.text:
            extra += " draw=" + "".join(f"<{ord(c):X}>" if ord(c) >= 0xF0000 else c for c in op.draw)
        return f"text {_n(op.x)} {_n(op.y)} {op.font} {_n(op.size)}{extra} {op.text!r}"
    if isinstance(op, Line):
        dash = f" dash={op.dash[0]:g},{op.dash[1]:g}" if op.dash else ""
        gray = f" gray={op.gray:.2f}" if op.gray else ""
        return f"line {_n(op.x1)} {_n(op.y1)} {_n(op.x2)} {_n(op.y2)} w={_n(op.width)}{dash}{gray}"
    if isinstance(op, Rect):
        stroke = f" stroke={_n(op.stroke)}" if op.stroke is not None else ""
        fill = f" fill={op.fill_gray:.2f}" if op.fill_gray is not None else ""
        return f"rect {_n(op.x)} {_n(op.y)} {_n(op.w)} {_n(op.h)}{stroke}{fill}"
    if isinstance(op, Image):
        return f"image {_n(op.x)} {_n(op.y)} {_n(op.w)} {_n(op.h)} sha256:{op.digest}"
    size = len(op.matrix)
    return (f"barcode {op.kind} {_n(op.x)} {_n(op.y)} module={_n(op.module)} {size}x{len(op.matrix[0])}"
            f" payload-sha256:{op.payload_digest}")


def dump_header(info: DocumentInfo, page_count: int) -> str:
    return (f"document title={info.title!r} lang={info.lang} created={info.created.isoformat()}\n"
            f"pages {page_count}\n")


def dump_page(number: int, page: Page) -> str:
    lines = [f"page {number} {_n(page.width)}x{_n(page.height)}"]
    lines.extend("  " + dump_op(op) for op in page.ops)
    return "\n".join(lines) + "\n"


def dump(doc: PagedDocument) -> str:
    """Deterministic text of the whole document, for golden files and reviewers' diffs."""
    pages = list(doc.pages)
    return dump_header(doc.info, len(pages)) + "".join(dump_page(n, p) for n, p in enumerate(pages, start=1))

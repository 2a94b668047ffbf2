"""The display list: a small, closed set of drawing operations between composition and drawing.

In: produced by `renderer.compose`. Out: consumed by `renderer.draw` (the only ReportLab user) and by
`dump()` / `DisplayDump`, the deterministic text that golden cases keep as `display.txt` (one op per line,
coordinates in PDF points rounded to 0.01, origin bottom-left, fonts by family name).

A `Form` is a static layer: the parts of a sheet that are the same for every record (labels, rules, grids,
fixed phrases, the sample watermark, the seal), composed once and placed on each page by reference; the
drawer writes it once per PDF file as a Form XObject. Its name is derived from its content. The dump lists
every form once, after the header, and a page shows ``form NAME`` where it places one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Iterator, Sequence
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


@dataclass(frozen=True, eq=False)
class Form:
    """A static layer placed on a page: `ops` drawn in order, as if they stood in the page at this point.

    Never nested. Compared by identity (the composer reuses one object per content); `name` is derived from
    the content (`form_name`), so equal content gets the same name in every process and run."""

    name: str
    ops: tuple[Op, ...] = field(repr=False)

    @functools.cached_property
    def fonts(self) -> frozenset[str]:
        """The font families its text runs use (the drawer registers them before defining the form)."""
        return frozenset(op.font for op in self.ops if isinstance(op, TextRun))

    @functools.cached_property
    def texts(self) -> tuple[str, ...]:
        """The source text of its text runs, in drawing order."""
        return tuple(op.text for op in self.ops if isinstance(op, TextRun))


Op = TextRun | Line | Rect | Image | Barcode | Form


def form_name(width: float, height: float, lines: Sequence[str]) -> str:
    """A form's name from its sheet size and the dump of its ops: the same content, the same name."""
    text = f"{_n(width)}x{_n(height)}\n" + "\n".join(lines)
    return "S" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
    #: when `ops` places static layers: the page's ops in the order an inline page draws them (static pieces
    #: as forms). The drawer reads their text in this order on a page that defines a form, so every character
    #: gets the font-subset code it gets inline (a run split across subsets at another place moves glyphs by a
    #: fraction of a pixel). Not part of the drawing or of the dump.
    inline: tuple[Op, ...] = field(default=(), repr=False, compare=False)

    def flat_ops(self) -> Iterator[Op]:
        """The page's ops with every form's ops in its place: what the page paints, in order."""
        for op in self.ops:
            if isinstance(op, Form):
                yield from op.ops
            else:
                yield op

    def flattened(self) -> Page:
        """The same page drawn inline (no forms)."""
        return Page(self.width, self.height, tuple(self.flat_ops()))


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
    if isinstance(op, Form):
        return f"form {op.name}"
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


def dump_form(form: Form) -> str:
    """A form's definition: its name and op count, then its ops, indented like a page's."""
    lines = [f"form {form.name} ops={len(form.ops)}"]
    lines.extend("  " + dump_op(op) for op in form.ops)
    return "\n".join(lines) + "\n"


def dump_page(number: int, page: Page) -> str:
    lines = [f"page {number} {_n(page.width)}x{_n(page.height)}"]
    lines.extend("  " + dump_op(op) for op in page.ops)
    return "\n".join(lines) + "\n"


class DisplayDump:
    """Builds the dump page by page as pages are drawn: the header, every form once (in order of first use),
    then the pages, which name the forms they place."""

    def __init__(self) -> None:
        self._pages: list[str] = []
        self._forms: dict[str, str] = {}

    def add(self, number: int, page: Page) -> None:
        for op in page.ops:
            if isinstance(op, Form) and op.name not in self._forms:
                self._forms[op.name] = dump_form(op)
        self._pages.append(dump_page(number, page))

    def text(self, info: DocumentInfo, page_count: int) -> str:
        return dump_header(info, page_count) + "".join(self._forms.values()) + "".join(self._pages)


def inline_dump(text: str) -> str:
    """A dump with every form's ops written in the pages that place it, in its place, and no form
    definitions: the page-by-page view of what each page paints (one op per line)."""
    forms: dict[str, list[str]] = {}
    out: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("form "):
            current = forms.setdefault(line.split()[1], [])
        elif line.startswith("page "):
            current = None
            out.append(line)
        elif current is not None:
            current.append(line)
        elif line.startswith("  form "):
            out.extend(forms[line.split()[1]])
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def dump(doc: PagedDocument) -> str:
    """Deterministic text of the whole document, for golden files and reviewers' diffs."""
    out = DisplayDump()
    count = 0
    for count, page in enumerate(doc.pages, start=1):
        out.add(count, page)
    return out.text(doc.info, count)

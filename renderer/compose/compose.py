"""Compose: a bound, rule-checked document → pages of drawing operations (the display list).

In: a `BoundDocument` after `apply_rules`, the fonts, and the serials allocated for its copies.
Out: a `PagedDocument` (pages × `TextRun | Line | Rect | Image | Barcode`, PDF points, origin
bottom-left), the overflow and character reports, and what the issue log records of the output (seal
printed, 個人番号 printed: see `renderer.compose.printed`). Pagination is a pure transform: the number of
sheets comes from the layout's repeat blocks (N items per sheet, the rest on further sheets) and its list
(`renderer.compose.table`); `show_on` places content on the first / last / every sheet; each copy gets its
own 発行番号 and counts its sheets as n/N. Each element is composed by its type's function in
`renderer.compose.elements`; this module holds what they share (context, text boxes, page geometry).
A sample tenant's sheets always carry the 「見本」 watermark; no layout or request can remove it.

What never changes is composed once (`renderer.compose.static`): the static parts of a layout (labels,
rules, grids, fixed phrases, the watermark, the seal) are composed on first use into pieces kept per
(layout, tenant, fonts, options, parameters, sheet size) for the whole process, and every page places them
as Form layers (`renderer.display.Form`) around the record's own ops, painting exactly what the inline ops
painted. What composing a piece reported (overflow steps, character events, text checked for 個人番号) is
repeated for every page that places it, with that page's sheet, copy and record. ``static_forms=False``
composes every op inline, as before (tests compare the two).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from renderer.bind import BoundDocument
from renderer.compose.context import BLANK, SheetPos, Site, format_value, resolve
from renderer.compose.elements import COMPOSERS
from renderer.compose.panels import fold_marks, folded_sheets
from renderer.compose.printed import my_numbers, shows_any
from renderer.compose.static import WATERMARK_GRAY, Piece, Replay, StaticScope, scope_for, split_under
from renderer.compose.table import TablePageComposer, TablePlan, check_rows, plan_table
from renderer.compose.text import Box, TextFitter
from renderer.display import DocumentInfo, Form, Op, Page, PagedDocument, Rect, TextRun
from renderer.errors import InputError, LayoutError
from renderer.fonts import CharEvent, FontSet
from renderer.formats.registry import jinja_filters
from renderer.spec.model import (
    Column,
    Element,
    OverflowStep,
    RepeatElement,
    TableElement,
    TextContent,
)
from renderer.templating import Templates
from renderer.units import TEXT_VPAD_MM, mm, one_line_height_mm
from renderer.values import Withheld

TOKYO = ZoneInfo("Asia/Tokyo")
WATERMARK = "見本"
DEFAULT_OVERFLOW: list[OverflowStep] = ["error"]


@dataclass(frozen=True)
class TenantView:
    """What layouts may read of a tenant (never its files or seal bytes)."""

    code: str
    prefecture: str
    municipality: str
    ward: str | None
    full_name: str
    local_name: str
    office_title: str
    sample: bool


@dataclass
class Composed:
    document: PagedDocument
    overflow: list[dict[str, object]]
    chars: list[dict[str, object]]
    issue_numbers: list[str]
    sheets_per_copy: int
    seal_printed: bool
    my_number_printed: bool


@functools.cache
def shared_templates() -> Templates:
    """One sandbox per process: compiled templates are reused by every document (compiling is the
    costly part; a template's output depends only on the context it is given)."""
    return Templates(jinja_filters())


#: the serial a copy is composed with when its layout prints no 発行番号 (nothing is reserved; series start at 1)
UNNUMBERED = 0


def issue_number(doc: BoundDocument, serial: int) -> str:
    """発行番号 without the page part: 発行年月日 市区町村名 端末 プリンタ 連番 (blank device parts dropped).
    The request names a terminal and a printer by id; the tenant file declares the names printed here."""
    r, t = doc.request, doc.tenant
    parts = [r.issued_on.strftime("%Y%m%d"), t.local_name, t.device_name("terminal", r.terminal),
             t.device_name("printer", r.printer), f"{serial:06d}"]
    return " ".join(p for p in parts if p)


class Composer:
    """Composes one document: its sheets, copy by copy, and the services its element functions share."""

    def __init__(self, doc: BoundDocument, fonts: FontSet, *, collect_chars: bool = False,
                 static_forms: bool = True) -> None:
        self.doc = doc
        self.layout = doc.layout
        self.fonts = fonts
        self.templates = shared_templates()
        self.fitter = TextFitter(fonts, collect=collect_chars)
        self.page_w_mm, self.page_h_mm = doc.layout.paper.size_mm()
        self.page_h = mm(self.page_h_mm)
        self.overflow: list[dict[str, object]] = []
        self._sheets: int | None = None
        self._plan: TablePlan | None = None
        self.chars: list[dict[str, object]] = []
        self.seal_printed = False
        #: a person's 個人番号 reached a page (decided from the pages' text: `renderer.compose.printed`)
        self.my_number_printed = False
        self._my_numbers = my_numbers(doc.data)
        #: where the static pieces of this layout and tenant are kept (None: every op inline)
        self.static: StaticScope | None = None
        if static_forms:
            self.static = scope_for((doc.layout, doc.tenant, fonts),
                                    (collect_chars, tuple(sorted(doc.options.items())),
                                     tuple(sorted(doc.params.items()))),
                                    mm(self.page_w_mm), self.page_h)
        self._recording: list[Replay] | None = None   # composing a static piece: its reports go here
        self._cuts: list[int] = [0]                    # where this page's units start (repeat slots)
        t = doc.tenant
        self.base: dict[str, Any] = {
            "layout": {"id": self.layout.id, "title": self.layout.title},
            "tenant": TenantView(t.code, t.file.prefecture, t.file.municipality, t.file.ward, t.full_name,
                                 t.local_name, t.office_title, t.sample),
            "request": doc.request,
            "signer": doc.signer,
            "data": doc.data,
            "options": dict(doc.options),
            "params": dict(doc.params),
        }
        # 認証文 is itself a template (its wording depends on the request, e.g. 世帯全員 or not)
        self.base["certification"] = self.templates.render(self.layout.certification or "", self.base,
                                                           path="certification")

    # ------------------------------------------------------------------ document

    def compose(self, serials: Sequence[int]) -> Composed:
        """Compose every page into memory (certificates and golden cases; lists use `stream`)."""
        numbers = [issue_number(self.doc, serial) for serial in serials]
        pages = tuple(self.stream(serials))
        paged = PagedDocument(info=self.info(), pages=pages)
        return Composed(paged, self.overflow, self.chars, numbers, self.count_sheets(), self.seal_printed,
                        self.my_number_printed)

    def info(self) -> DocumentInfo:
        issued = dt.datetime.combine(self.doc.request.issued_on, dt.time(0, 0), tzinfo=TOKYO)
        return DocumentInfo(title=self.layout.title, subject=self.layout.metadata_subject or self.layout.title,
                            author=self.doc.tenant.full_name, created=issued, document_id="")

    def stream(self, serials: Sequence[int]) -> Iterator[Page]:
        """Pages one at a time, composed only when the caller asks for them (memory stays flat). Each copy
        draws its list pages with a page composer of its own (running totals, 「以下余白」 still to print)."""
        sheets = self.count_sheets()
        for copy_index, serial in enumerate(serials, start=1):
            number = issue_number(self.doc, serial)
            table = self._table_composer()
            for n in range(1, sheets + 1):
                ctx = self._sheet_context(n, sheets, copy_index, len(serials), number, table)
                yield self._page(SheetPos(n, sheets), ctx)

    def _sheet_context(self, n: int, sheets: int, copy_index: int, copies: int, number: str,
                       table: TablePageComposer | None) -> dict[str, Any]:
        """The render context of sheet n of a copy: the document's, plus sheet, copy, 発行番号 and list group."""
        ctx = dict(self.base)
        ctx.update(sheet={"n": n, "total": sheets}, page={"n": n, "total": sheets},
                   copy={"n": copy_index, "total": copies}, issue_number=f"{number} {n}/{sheets}")
        if table is not None:
            tp = table.plan.pages[n - 1] if n - 1 < len(table.plan.pages) else None
            group = table.plan.groups[tp.group] if tp is not None else None
            ctx["group"] = {"value": group.value if group else "",
                            "page": {"n": tp.group_page if tp else 1, "total": tp.group_pages if tp else 1}}
            ctx["table_page"] = n - 1
            ctx["table"] = table
        return ctx

    def _page(self, pos: SheetPos, ctx: Mapping[str, Any]) -> Page:
        ops: list[Op] = []
        self._cuts = [0]
        for i, el in enumerate(self.layout.elements):
            self.element(el, f"elements[{i}]", (0.0, 0.0), ctx, pos, ops)
        if self.layout.folding is not None:   # a folded mailer's fold marks (issue 20)
            self.cut(ops)
            ops.extend(fold_marks(self.layout.folding, pos.n, self.page_w_mm, self.page_h_mm))
        if self._my_numbers and not self.my_number_printed:
            # the page's text in the order the inline page draws it (the watermark first on a sample)
            texts = _texts(ops)
            self.my_number_printed = shows_any(self._my_numbers, [WATERMARK, *texts] if self.doc.tenant.sample
                                               else texts)
        if self.static is not None:
            layered = self._layered(ops)
            # the inline page draws the fills first (no text), then the watermark, then the rest
            inline = (self._watermark_piece().form, *ops) if self.doc.tenant.sample else tuple(ops)
            return Page(mm(self.page_w_mm), self.page_h, tuple(layered), inline=inline)
        if self.doc.tenant.sample:
            ops = self._under_watermark(ops)
        return Page(mm(self.page_w_mm), self.page_h, tuple(ops))

    # ------------------------------------------------------------------ static layers

    def cut(self, ops: list[Op]) -> None:
        """A unit of the page starts here: an element that is not wholly static (a grid with values, a field,
        a group holding one), what follows it, a repeat's slot. Layers never span units, so a file holds one
        layer per variant of a unit rather than per combination of units, and text is extracted element by
        element (a run of static elements; a grid's labels, then its values)."""
        self._cuts.append(len(ops))

    def _layered(self, ops: list[Op]) -> list[Op]:
        """The page's ops with its static pieces gathered into layers, unit by unit; on a sample tenant's
        page the fills of every unit first, then the watermark, then the rest (as `_under_watermark`)."""
        scope = self.static
        assert scope is not None
        cuts = sorted({*self._cuts, len(ops)})
        layered = [op for a, b in itertools.pairwise(cuts) if a < b for op in scope.layer(ops[a:b])]
        if not self.doc.tenant.sample:
            return layered
        # layering only swaps ops of one ink, which stay swappable once the fills are taken out
        fills, rest = scope.split_under(layered)
        return [*fills, self._watermark_piece().form, *rest]

    def _watermark_piece(self) -> Piece:
        piece = self.static_piece(("watermark",), lambda out: out.append(self._watermark()))
        assert piece is not None
        return piece

    def static_piece(self, key: Hashable, build: Callable[[list[Op]], None]) -> Piece | None:
        """The piece `build` composes for `key` (an element's path and origin), composed on first use; its
        reports are recorded for replay (`place`), not made here. None: it draws nothing."""
        scope = self.static
        assert scope is not None
        if key in scope.pieces:
            return scope.pieces[key]
        ops: list[Op] = []
        replays: list[Replay] = []
        self.recording(replays, lambda: build(ops))
        piece = scope.pieces[key] = scope.piece(ops, replays)
        return piece

    def recording(self, into: list[Replay], run: Callable[[], None]) -> None:
        """Run `run` (composing static content) with its reports recorded into `into`."""
        saved = self._recording
        self._recording = into
        try:
            run()
        finally:
            self._recording = saved

    def place(self, piece: Piece | None, ctx: Mapping[str, Any], ops: list[Op]) -> None:
        """Place a static piece on this page and repeat what composing it reported, for this sheet and record."""
        if piece is None:
            return
        ops.append(piece.form)
        for r in piece.replays:
            if r.kind == "printed":
                assert isinstance(r.record, str)
                self.printed(r.record)
            else:
                assert isinstance(r.record, dict)
                report = self.overflow if r.kind == "overflow" else self.chars
                report.append(self._where(dict(r.record), ctx, r.path))

    def place_static(self, site: Site, build: Callable[[list[Op]], None]) -> None:
        """A static element at this site: its piece (composed on first use) placed on the page."""
        self.place(self.static_piece((site.path, site.origin), build), site.ctx, site.ops)

    def printed(self, text: str) -> None:
        """Note text that reaches the sheet other than as a text run (a QR code's payload)."""
        if self._recording is not None:
            self._recording.append(Replay("printed", text, ""))
            return
        if self._my_numbers and not self.my_number_printed:
            self.my_number_printed = shows_any(self._my_numbers, [text])

    def count_sheets(self) -> int:
        if self._sheets is not None:
            return self._sheets
        sheets = 1
        for i, el in enumerate(self.layout.elements):
            if isinstance(el, RepeatElement):
                items = self.items(el, f"elements[{i}].items", self.base)
                sheets = max(sheets, el.sheets(len(items)))
            elif isinstance(el, TableElement):
                sheets = max(sheets, len(self.table_plan().pages))
        if self.layout.folding is not None:   # a folded mailer: exactly its panels' sheets (issue 20)
            sheets = folded_sheets(self.layout.folding, sheets)
        self._sheets = sheets
        return sheets

    # ------------------------------------------------------------------ lists

    def _table_element(self) -> tuple[int, TableElement] | None:
        for i, el in enumerate(self.layout.elements):
            if isinstance(el, TableElement):
                return i, el
        return None

    def _row_value(self, row: Any, path: str) -> Any:
        return resolve(path, {"row": row}, where=path)

    def _row_text(self, column: Column, row: Any) -> str:
        value = self._row_value(row, column.value)
        if isinstance(value, Withheld):
            return value.text
        if value is None or value == "":
            return column.empty
        return format_value(value, column.format, row, field=column.value, where=column.value)

    def _group_label(self, value: Any) -> str:
        found = self._table_element()
        if isinstance(value, Withheld) or value is None:
            return found[1].group.neutral if found and found[1].group else ""
        return str(value)

    def table_plan(self) -> TablePlan:
        if self._plan is None:
            found = self._table_element()
            assert found is not None
            index, el = found
            rows = check_rows(resolve(el.items, self.base, where=f"elements[{index}].items"),
                              f"elements[{index}].items")
            self._plan = plan_table(el, rows, styles=self.layout.styles, fitter=self.fitter,
                                    value_of=self._row_value, text_of=self._row_text,
                                    group_label=self._group_label)
            for row in self._plan.splits:
                self.overflow.append({"field": f"{el.items}[{self._plan.input_index(row)}]", "step": "row_split",
                                      "chars_lost": 0, "element": f"elements[{index}]"})
        return self._plan

    def _table_composer(self) -> TablePageComposer | None:
        found = self._table_element()
        if found is None:
            return None
        index, el = found
        return TablePageComposer(
            el, self.table_plan(), styles=self.layout.styles, fitter=self.fitter, origin_mm=(0.0, 0.0),
            page_h_pt=self.page_h, value_of=self._row_value, text_of=self._row_text,
            render=lambda source, ctx, where: self.templates.render(source, ctx, path=where),
            report=self.overflow.append, path=f"elements[{index}]")

    def items(self, el: RepeatElement, path: str, ctx: Mapping[str, Any]) -> list[Any]:
        """The list a repeat block places (an error when the path names anything else)."""
        value = resolve(el.items, ctx, where=path)
        if not isinstance(value, list):
            raise LayoutError(f"{path}: {el.items} is not a list", field=path)
        return value

    def input_index(self, items: str, index: int) -> int:
        """The input's position of the item printed at `index` of the list `items` (rules may reorder)."""
        positions = self.doc.positions.get(items)
        return positions[index] if positions is not None and index < len(positions) else index

    # ------------------------------------------------------------------ elements

    def element(self, el: Element, path: str, origin: tuple[float, float], ctx: Mapping[str, Any],
                pos: SheetPos, ops: list[Op]) -> None:
        """One element on this sheet, if its `show_on` and `when` say so, through its type's compose function."""
        if not pos.shows(el.show_on):
            return
        if el.when is not None:
            shown = _name_truth(el.when, ctx)
            if shown is None:
                shown = self.templates.truth(el.when, ctx, path=f"{path}.when")
            if not shown:
                return
        if self.static is not None and not self.static.is_static(el, path):
            self.cut(ops)
            COMPOSERS[type(el)](self, el, Site(path, origin, ctx, pos, ops))
            self.cut(ops)
            return
        COMPOSERS[type(el)](self, el, Site(path, origin, ctx, pos, ops))

    # ------------------------------------------------------------------ text

    def text_box(self, content: TextContent, path: str, x: float, y: float, width: float,
                 height: float | None, ctx: Mapping[str, Any], ops: list[Op]) -> None:
        """Fit a text, field or cell's content into its box (x, y, width, height in mm; no height: one line
        of the style), reporting overflow steps and uncovered characters with where they happened."""
        text = self.content_text(content, path, ctx)
        if not text:
            return
        style = self.layout.styles.get(content.style)
        if style is None:
            raise LayoutError(f"{path}.style: unknown style {content.style!r}", field=f"{path}.style")
        if height is None:
            height = one_line_height_mm(style)
        pad, vpad = content.padding, TEXT_VPAD_MM
        box = Box(left=mm(x + pad), top=self.y(y + vpad), width=mm(width - 2 * pad),
                  height=mm(height - 2 * vpad))
        def sink(event: CharEvent) -> None:
            if self._recording is not None:
                self._recording.append(Replay("chars", event.as_dict(), path))
            else:
                self.chars.append(self._where(event.as_dict(), ctx, path))

        runs, entry = self.fitter.fit(text, box, style, align=content.align, valign=content.valign,
                                      overflow=content.overflow or DEFAULT_OVERFLOW,
                                      field=self._field_name(content, path, ctx),
                                      direction=content.direction, substitute=content.substitute, sink=sink)
        ops.extend(runs)
        if entry is not None:
            if self._recording is not None:
                self._recording.append(Replay("overflow", entry.as_dict(), path))
            else:
                self.overflow.append(self._where(entry.as_dict(), ctx, path))

    def _field_name(self, content: TextContent, path: str, ctx: Mapping[str, Any]) -> str:
        """The input a text is made of, as the caller names it: the data path of a value
        (``data.household.members[1].remarks[0]``); of a template, the one data path it reads, or the layout
        path followed by the data paths it reads (``elements[4] (data.period.start, data.period.end)``); else
        the layout path (a fixed phrase, a page number)."""
        item_path = ctx.get("item_path")
        if content.value is not None:
            return _input_path(content.value, item_path) or content.value
        if content.text is None:
            return path
        return _template_name(self.templates.reads(content.text), path, item_path)

    def _where(self, record: dict[str, object], ctx: Mapping[str, Any], element: str) -> dict[str, object]:
        """Add element, sheet, copy and record (index, person_id: never personal data) to a report entry."""
        record["element"] = element
        record["sheet"] = ctx["sheet"]["n"]
        record["copy"] = ctx["copy"]["n"]
        item = ctx.get("item")
        if item is not None and item is not BLANK:
            record["record"] = ctx.get("index")
            pid = getattr(item, "person_id", None)
            if pid is not None:
                record["person_id"] = pid
        return record

    def content_text(self, content: TextContent, path: str, ctx: Mapping[str, Any]) -> str:
        if content.text is not None:
            return self.templates.render(content.text, ctx, path=f"{path}.text")
        if content.value is None:
            return ""
        value = resolve(content.value, ctx, where=f"{path}.value")
        if isinstance(value, Withheld):
            # a part of a withheld object (the 郵便番号 of an address printed 「記載省略」) prints nothing: the
            # marker stands once, where the object itself prints
            parent = content.value.rpartition(".")[0]
            if "." in parent and resolve(parent, ctx, where=f"{path}.value") is value:
                return ""
            return value.text
        if ctx.get("blank"):
            return ""
        if value is None or value == "" or value == []:
            return content.empty if content.empty is not None else self.layout.empty_text
        try:
            return format_value(value, content.format, ctx.get("item"), field=content.value,
                                where=f"{path}: {content.value}")
        except InputError as exc:   # named by its data path (data.household.members[2].birth_date), not item.…
            exc.field = self._field_name(content, path, ctx)
            raise

    def _under_watermark(self, ops: list[Op]) -> list[Op]:
        """The page's background fills (cell shading, zebra rows: `static.is_background`), then the 「見本」
        watermark, then everything else: a fill never hides the watermark, and the watermark never greys a
        line, a character or a bar. A shaded and stroked rectangle splits into its fill (below) and its frame
        (above)."""
        fills: list[Op] = []
        rest: list[Op] = []
        for op in ops:
            if isinstance(op, Rect):
                fill, frame = split_under(op)
                fills.extend([fill] if fill is not None else [])
                rest.extend([frame] if frame is not None else [])
            else:
                rest.append(op)
        return [*fills, self._watermark(), *rest]

    def _watermark(self) -> TextRun:
        size = 150.0
        family = "IPAexGothic"
        width = self.fonts.width(self.fonts.runs(WATERMARK, [family], field="watermark"), size)
        angle = 40.0
        rad = math.radians(angle)
        lift = size * (self.fonts.metrics(family).ascent - 0.5)
        cx, cy = mm(self.page_w_mm) / 2, self.page_h / 2
        x = cx - (math.cos(rad) * width / 2 - math.sin(rad) * lift)
        y = cy - (math.sin(rad) * width / 2 + math.cos(rad) * lift)
        return TextRun(x=x, y=y, font=family, size=size, text=WATERMARK, gray=WATERMARK_GRAY, angle=angle)

    def y(self, y_mm: float) -> float:
        """Layout y (mm from the top) → PDF y (points from the bottom)."""
        return self.page_h - mm(y_mm)


_NAME_TEST = re.compile(r"(not\s+)?([a-z_][a-z0-9_]*)")


def _name_truth(expression: str, ctx: Mapping[str, Any]) -> bool | None:
    """The truth of `expression` when it is a bare context name (``blank``) or its negation (``not blank``):
    the answer Jinja gives, without building a sandbox context. None: anything else (the caller asks Jinja)."""
    match = _NAME_TEST.fullmatch(expression.strip())
    if match is None or match[2] not in ctx:
        return None
    return bool(ctx[match[2]]) != bool(match[1])


def _texts(ops: Iterable[Op]) -> list[str]:
    """The text of a page's text runs in drawing order, a form's in its place."""
    out: list[str] = []
    for op in ops:
        if isinstance(op, TextRun):
            out.append(op.text)
        elif isinstance(op, Form):
            out.extend(op.texts)
    return out


@functools.lru_cache(maxsize=4096)
def _input_path(dotted: str, item_path: str | None) -> str | None:
    """A dotted name a layout reads, as the path of the caller's input it comes from (``item.remarks.0`` in
    a repeat over ``data.household.members`` → ``data.household.members[1].remarks[0]``, indexes in brackets
    as input errors write them); None when it is not the caller's data (the tenant, the page, the signer).
    Kept per process: a layout names the same few paths on every page of a run."""
    head, _, rest = dotted.partition(".")
    if head == "item" and item_path is not None:
        base = item_path
    elif head == "data":
        base = "data"
    else:
        return None
    for part in rest.split(".") if rest else []:
        base += f"[{part}]" if part.isdigit() else f".{part}"
    return base


@functools.lru_cache(maxsize=4096)
def _template_name(reads: tuple[str, ...], path: str, item_path: str | None) -> str:
    """`Composer._field_name` of a template that reads `reads`."""
    read = [p for p in (_input_path(r, item_path) for r in reads) if p is not None]
    if len(read) == 1:
        return read[0]
    return f"{path} ({', '.join(read)})" if read else path

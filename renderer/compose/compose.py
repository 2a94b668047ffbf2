"""Compose: a bound, rule-checked document → pages of drawing operations (the display list).

In: a `BoundDocument` after `apply_rules`, the fonts, and the serials allocated for its copies.
Out: a `PagedDocument` (pages × `TextRun | Line | Rect | Image | Barcode`, PDF points, origin
bottom-left) and the overflow report. Pagination is a pure transform: the number of sheets comes from
the layout's repeat blocks (N items per sheet, the rest on further sheets); `show_on` places content on
the first / last / every sheet; each copy gets its own 発行番号 and counts its sheets as n/N.
A sample tenant's sheets always carry the 「見本」 watermark; no layout or request can remove it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import qrcode
import qrcode.constants

from renderer.barcodes.customer import address_after_town, customer_barcode, symbol_size_mm
from renderer.barcodes.gs1 import convenience_barcode
from renderer.bind import BoundDocument
from renderer.compose.table import TablePageComposer, TablePlan, check_rows, plan_table
from renderer.compose.text import Box, TextFitter
from renderer.display import Barcode, DocumentInfo, Image, Line, Op, Page, PagedDocument, Rect, TextRun
from renderer.errors import InputError, LayoutError
from renderer.fonts import CharEvent, FontSet
from renderer.formats.registry import FORMATTERS, FormatError, jinja_filters
from renderer.rules.policy import Withheld
from renderer.spec.model import (
    BarcodeElement,
    BoxElement,
    Column,
    Condense,
    Element,
    FieldElement,
    FormatCall,
    FormatSpec,
    GridElement,
    GroupElement,
    ImageElement,
    LineElement,
    OverflowStep,
    QrElement,
    RepeatElement,
    ShowOn,
    TableElement,
    TextContent,
    TextElement,
)
from renderer.templating import Templates
from renderer.units import mm, paper_size_mm, to_mm

TOKYO = ZoneInfo("Asia/Tokyo")
WATERMARK = "見本"
DEFAULT_OVERFLOW: list[OverflowStep] = ["error"]
VERTICAL_PADDING_MM = 0.3
_EC = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
       "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


class _Blank:
    """The item of an unused slot in a repeat block: every attribute is absent."""

    def __getattr__(self, name: str) -> None:
        if name.startswith("_"):
            raise AttributeError(name)
        return None

    def __bool__(self) -> bool:
        return False


BLANK = _Blank()


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


@dataclass(frozen=True)
class SheetPos:
    n: int
    total: int

    def shows(self, show_on: ShowOn) -> bool:
        first, last = self.n == 1, self.n == self.total
        return {"every": True, "first": first, "last": last, "not_last": not last,
                "not_first": not first}[show_on]


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


def issue_number(doc: BoundDocument, serial: int) -> str:
    """発行番号 without the page part: 発行年月日 市区町村名 端末 プリンタ 連番 (blank device parts dropped).
    The request names a terminal and a printer by id; the tenant file declares the names printed here."""
    r, t = doc.request, doc.tenant
    parts = [r.issued_on.strftime("%Y%m%d"), t.local_name, t.device_name("terminal", r.terminal),
             t.device_name("printer", r.printer), f"{serial:06d}"]
    return " ".join(p for p in parts if p)


class Composer:
    def __init__(self, doc: BoundDocument, fonts: FontSet, *, collect_chars: bool = False) -> None:
        self.doc = doc
        self.layout = doc.layout
        self.fonts = fonts
        self.templates = shared_templates()
        self.fitter = TextFitter(fonts, collect=collect_chars)
        self.page_w_mm, self.page_h_mm = paper_size_mm(doc.layout.paper.size, doc.layout.paper.orientation)
        self.page_h = mm(self.page_h_mm)
        self.overflow: list[dict[str, object]] = []
        self._sheets: int | None = None
        self._plan: TablePlan | None = None
        self.chars: list[dict[str, object]] = []
        self.seal_printed = False
        self.my_number_printed = False
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
        """Pages one at a time, composed only when the caller asks for them (memory stays flat)."""
        sheets = self.count_sheets()
        copies = len(serials)
        for copy_index, serial in enumerate(serials, start=1):
            number = issue_number(self.doc, serial)
            table = self._table_composer()
            for n in range(1, sheets + 1):
                pos = SheetPos(n, sheets)
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
                ops: list[Op] = []
                if self.doc.tenant.sample:
                    ops.append(self._watermark())
                for i, el in enumerate(self.layout.elements):
                    self.element(el, f"elements[{i}]", (0.0, 0.0), ctx, pos, ops)
                yield Page(mm(self.page_w_mm), self.page_h, tuple(ops))

    def count_sheets(self) -> int:
        if self._sheets is not None:
            return self._sheets
        sheets = 1
        for i, el in enumerate(self.layout.elements):
            if isinstance(el, RepeatElement):
                items = self._items(el, f"elements[{i}].items", self.base)
                sheets = max(sheets, math.ceil(len(items) / el.per_sheet))
            elif isinstance(el, TableElement):
                sheets = max(sheets, len(self.table_plan().pages))
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
                self.overflow.append({"field": f"{el.items}[{row}]", "step": "row_split", "chars_lost": 0,
                                      "element": f"elements[{index}]"})
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

    def _items(self, el: RepeatElement, path: str, ctx: Mapping[str, Any]) -> list[Any]:
        value = resolve(el.items, ctx, where=path)
        if not isinstance(value, list):
            raise LayoutError(f"{path}: {el.items} is not a list", field=path)
        return value

    # ------------------------------------------------------------------ elements

    def element(self, el: Element, path: str, origin: tuple[float, float], ctx: Mapping[str, Any],
                pos: SheetPos, ops: list[Op]) -> None:
        if not pos.shows(el.show_on):
            return
        if el.when is not None and not self.templates.truth(el.when, ctx, path=f"{path}.when"):
            return
        ox, oy = origin
        if isinstance(el, TextElement | FieldElement):
            x, y = ox + el.at[0], oy + el.at[1]
            height = el.height if el.height is not None else None
            self.text_box(el, path, x, y, el.width, height, ctx, ops)
        elif isinstance(el, LineElement):
            ops.append(Line(mm(ox + el.start[0]), self.y(oy + el.start[1]), mm(ox + el.end[0]),
                            self.y(oy + el.end[1]), el.width_pt, el.dash))
        elif isinstance(el, BoxElement):
            x, y = ox + el.at[0], oy + el.at[1]
            ops.append(Rect(mm(x), self.y(y + el.size[1]), mm(el.size[0]), mm(el.size[1]),
                            el.stroke_pt if el.stroke_pt else None, el.fill_gray))
        elif isinstance(el, GridElement):
            self.grid(el, path, (ox + el.at[0], oy + el.at[1]), ctx, ops)
        elif isinstance(el, ImageElement):
            self.image(el, (ox + el.at[0], oy + el.at[1]), ops)
        elif isinstance(el, QrElement):
            self.qr(el, path, (ox + el.at[0], oy + el.at[1]), ctx, ops)
        elif isinstance(el, BarcodeElement):
            self.barcode(el, path, (ox + el.at[0], oy + el.at[1]), ctx, ops)
        elif isinstance(el, GroupElement):
            for i, child in enumerate(el.elements):
                self.element(child, f"{path}.elements[{i}]", (ox + el.at[0], oy + el.at[1]), ctx, pos, ops)
        elif isinstance(el, RepeatElement):
            self.repeat(el, path, origin, ctx, pos, ops)
        elif isinstance(el, TableElement):
            table = ctx.get("table")
            index = int(ctx["table_page"])
            if isinstance(table, TablePageComposer) and index < len(table.plan.pages):
                ops.extend(table.ops(index, ctx))

    def repeat(self, el: RepeatElement, path: str, origin: tuple[float, float], ctx: Mapping[str, Any],
               pos: SheetPos, ops: list[Op]) -> None:
        items = self._items(el, f"{path}.items", ctx)
        first = (pos.n - 1) * el.per_sheet
        for slot in range(el.per_sheet):
            index = first + slot
            item = items[index] if index < len(items) else BLANK
            if item is BLANK and el.blank_slots == "skip":
                continue
            child_ctx = dict(ctx)
            child_ctx.update(item=item, slot=slot + 1, index=index + 1 if item is not BLANK else None,
                             blank=item is BLANK, first_blank=item is BLANK and index == len(items),
                             item_path=f"{el.items}[{self._input_index(el.items, index)}]")
            at = (origin[0] + el.origin[0] + el.step[0] * slot, origin[1] + el.origin[1] + el.step[1] * slot)
            for i, child in enumerate(el.block):
                self.element(child, f"{path}.block[{i}]", at, child_ctx, pos, ops)

    def _input_index(self, items: str, index: int) -> int:
        positions = self.doc.positions.get(items)
        return positions[index] if positions is not None and index < len(positions) else index

    def grid(self, el: GridElement, path: str, at: tuple[float, float], ctx: Mapping[str, Any],
             ops: list[Op]) -> None:
        widths, heights = el.column_widths(), el.row_heights()
        xs = [at[0]]
        for w in widths:
            xs.append(xs[-1] + w)
        ys = [at[1]]
        for h in heights:
            ys.append(ys[-1] + h)
        # cells share a few conditions (item.foreign, not item.foreign): the context is the same for every
        # cell of this grid and expressions cannot change it, so each distinct condition is evaluated once
        decided: dict[str, bool] = {}
        for i, cell in enumerate(el.cells):
            cpath = f"{path}.cells[{i}]"
            if cell.when is not None:
                shown = decided.get(cell.when)
                if shown is None:
                    shown = decided[cell.when] = self.templates.truth(cell.when, ctx, path=f"{cpath}.when")
                if not shown:
                    continue
            x0, x1 = xs[cell.col - 1], xs[cell.col - 1 + cell.cols]
            y0, y1 = ys[cell.row - 1], ys[cell.row - 1 + cell.rows]
            if cell.fill_gray is not None or (cell.border and el.rule_pt):
                ops.append(Rect(mm(x0), self.y(y1), mm(x1 - x0), mm(y1 - y0),
                                el.rule_pt if cell.border and el.rule_pt else None, cell.fill_gray))
            self.text_box(cell, cpath, x0, y0, x1 - x0, y1 - y0, ctx, ops)
        if el.frame_pt:
            ops.append(Rect(mm(xs[0]), self.y(ys[-1]), mm(xs[-1] - xs[0]), mm(ys[-1] - ys[0]), el.frame_pt))

    def image(self, el: ImageElement, at: tuple[float, float], ops: list[Op]) -> None:
        if el.source == "tenant.seal":
            if not self.doc.request.seal:
                return   # 公印 off for this certificate: the layout's 「公印省略」 option may say so
            size = min(el.size[0], el.size[1], self.doc.tenant.file.seal.size_mm)
            # centred in the declared box, at the tenant's declared size (never above 25 mm)
            x = at[0] + (el.size[0] - size) / 2
            y = at[1] + (el.size[1] - size) / 2
            ops.append(Image(mm(x), self.y(y + size), mm(size), mm(size), self.doc.tenant.seal_png))
            self.seal_printed = True

    def qr(self, el: QrElement, path: str, at: tuple[float, float], ctx: Mapping[str, Any],
           ops: list[Op]) -> None:
        payload = self.templates.render(el.data, ctx, path=f"{path}.data")
        code = qrcode.QRCode(error_correction=_EC[el.error_correction], border=0)
        code.add_data(payload.encode("utf-8"))
        code.make(fit=True)
        matrix = tuple("".join("1" if v else "0" for v in row) for row in code.get_matrix())
        module = mm(el.size) / len(matrix)
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
        ops.append(Barcode("qr", mm(at[0]), self.y(at[1] + el.size), module, matrix, digest))

    def barcode(self, el: BarcodeElement, path: str, at: tuple[float, float], ctx: Mapping[str, Any],
                ops: list[Op]) -> None:
        """Bars from the data object `el.source` names; nothing when its address is withheld (DV)."""
        source = resolve(el.source, ctx, where=f"{path}.source")
        if source is None or isinstance(source, Withheld):
            return
        if el.symbology == "customer":
            address = getattr(source, "address", None)
            if address is None or isinstance(address, Withheld) or isinstance(
                    getattr(address, "postal_code", None), Withheld):
                return   # a protected address: neither its postcode nor its barcode is printed
            code = customer_barcode(
                address.postal_code,
                address_after_town(address.town, address.block, address.building,
                                   postal_town=getattr(source, "postal_town", None)),
                generic_postcode=bool(getattr(source, "generic_postcode", False)))
            if code is None:
                return   # 「以下に掲載がない場合」の郵便番号: Japan Post says print no barcode
            _w, h = symbol_size_mm(el.size_pt)
            layout = code.layout(mm(at[0]), self.y(at[1] + h), el.size_pt)
            ops.extend(layout.rects)
            return
        slip = getattr(source, "slip", None)
        if slip is None:
            raise LayoutError(f"{path}.source: a gs1_128 barcode needs an installment with a slip",
                              field=f"{path}.source")
        symbol = convenience_barcode(issuer_code=slip.issuer_code, free_field=slip.free_field,
                                     reissue=slip.reissue, due_date=source.due_on, stamp_flag=slip.stamp_flag,
                                     amount=source.amount)
        placed = symbol.layout(mm(at[0]), self.y(at[1] + el.height_mm), module_mm=el.module_mm,
                               height_mm=el.height_mm)
        ops.extend(placed.rects)
        if el.human_readable is not None:
            width = to_mm(placed.symbol.w)
            style = self.layout.styles[el.human_readable]
            box = Box(left=mm(at[0]), top=self.y(at[1] + el.height_mm + 0.5), width=mm(width),
                      height=style.size_pt * style.line_height)
            runs, _entry = self.fitter.fit(symbol.human_readable, box, style, align="center", valign="top",
                                           overflow=[Condense(condense=0.6), "error"], field=f"{path}.source")
            ops.extend(runs)

    # ------------------------------------------------------------------ text

    def text_box(self, content: TextContent, path: str, x: float, y: float, width: float,
                 height: float | None, ctx: Mapping[str, Any], ops: list[Op]) -> None:
        text = self.content_text(content, path, ctx)
        if not text:
            return
        style = self.layout.styles.get(content.style)
        if style is None:
            raise LayoutError(f"{path}.style: unknown style {content.style!r}", field=f"{path}.style")
        if height is None:
            height = to_mm(style.size_pt * style.line_height) + 2 * VERTICAL_PADDING_MM
        pad, vpad = content.padding, VERTICAL_PADDING_MM
        box = Box(left=mm(x + pad), top=self.y(y + vpad), width=mm(width - 2 * pad),
                  height=mm(height - 2 * vpad))
        def sink(event: CharEvent) -> None:
            self.chars.append(self._where(event.as_dict(), ctx, path))

        runs, entry = self.fitter.fit(text, box, style, align=content.align, valign=content.valign,
                                      overflow=content.overflow or DEFAULT_OVERFLOW,
                                      field=self._field_name(content, path, ctx),
                                      direction=content.direction, substitute=content.substitute, sink=sink)
        ops.extend(runs)
        if entry is not None:
            self.overflow.append(self._where(entry.as_dict(), ctx, path))

    @staticmethod
    def _field_name(content: TextContent, path: str, ctx: Mapping[str, Any]) -> str:
        """The data path a value comes from (data.household.members[1].name), else the layout path."""
        value = content.value
        if value is None:
            return path
        if value.startswith("item.") and "item_path" in ctx:
            return str(ctx["item_path"]) + value[4:]
        return value

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
            return value.text
        if ctx.get("blank"):
            return ""
        if value is None or value == "" or value == []:
            return content.empty if content.empty is not None else self.layout.empty_text
        if content.value.endswith(".my_number"):
            self.my_number_printed = True
        return format_value(value, content.format, ctx.get("item"), field=content.value,
                            where=f"{path}: {content.value}")

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
        return TextRun(x=x, y=y, font=family, size=size, text=WATERMARK, gray=0.86, angle=angle)

    def y(self, y_mm: float) -> float:
        """Layout y (mm from the top) → PDF y (points from the bottom)."""
        return self.page_h - mm(y_mm)


def format_value(value: Any, fmt: FormatSpec | None, subject: Any, *, field: str, where: str) -> str:
    """Apply a layout's declared formatter; a value of the wrong kind is invalid input naming the field."""
    name, args = (fmt.name, fmt.args) if isinstance(fmt, FormatCall) else (fmt or "text", {})
    try:
        return str(FORMATTERS[name](value, args, subject))
    except (FormatError, ValueError) as exc:
        raise InputError(f"{where}: {exc}", field=field) from None


def resolve(path: str, ctx: Mapping[str, Any], *, where: str) -> Any:
    """Look up a dotted data path (``item.name``, ``data.household.address``, ``item.remarks.0``)."""
    head, *rest = path.split(".")
    if head not in ctx:
        raise LayoutError(f"{where}: unknown name {head!r} in {path!r}", field=where)
    node = ctx[head]
    for part in rest:
        if node is None or isinstance(node, Withheld):
            return node
        if isinstance(node, _Blank):
            return None
        if part.isdigit():
            idx = int(part)
            node = node[idx] if isinstance(node, list | tuple) and idx < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        elif hasattr(node, part) and not part.startswith("_"):
            node = getattr(node, part)
        else:
            raise LayoutError(f"{where}: {path!r} has no item {part!r}", field=where)
    return node

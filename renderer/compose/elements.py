"""One compose function per element type, and the table the composer dispatches through.

In: the `Composer` of a document (its fonts, templates, page geometry and reports), an element model and
the `Site` it is composed at (layout path, origin in mm, render context, sheet). Out: drawing operations
appended to the site's list (`TextRun | Line | Rect | Image | Barcode`, PDF points, origin bottom-left).
`show_on` and `when` are decided by the composer before it calls in here.

When the composer keeps static layers (`Composer.static`), an element whose content is static
(`renderer.compose.static.element_static`) is placed as a piece composed once per layout and tenant; a grid
places its static cells (rules, frame, literal labels) as pieces of a plan kept per placement and per values
of its cells' conditions, and composes only the cells that read the record. Gates that depend on the record
(the request's seal switch, a cell's `when`) are still decided here for every sheet.

A new element type is its model in `renderer.spec.model` plus one function here, entered in `COMPOSERS`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from renderer.barcodes.customer import address_after_town, customer_barcode, symbol_size_mm
from renderer.barcodes.gs1 import convenience_barcode
from renderer.compose.context import BLANK, Site, resolve
from renderer.compose.static import DynamicCell, GridPlan, Piece, Replay, content_static
from renderer.compose.table import TablePageComposer
from renderer.compose.text import Box
from renderer.compose.true_size import compose_true_size_image
from renderer.display import Barcode, Image, Line, Op, Rect
from renderer.errors import LayoutError
from renderer.spec.model import (
    HUMAN_READABLE_GAP_MM,
    HUMAN_READABLE_LINES,
    BarcodeElement,
    BoxElement,
    Cell,
    ElementModel,
    FieldElement,
    GridElement,
    GroupElement,
    ImageElement,
    LineElement,
    PartElement,
    QrElement,
    RepeatElement,
    TableElement,
    TextElement,
    TrueSizeImageElement,
)
from renderer.units import line_pitch_pt, mm, to_mm
from renderer.values import Withheld

if TYPE_CHECKING:
    from renderer.compose.compose import Composer

_EC = {"L": 1, "M": 0, "Q": 3, "H": 2}   # qrcode.constants.ERROR_CORRECT_* (qrcode is imported when a QR is drawn)


def _static(c: Composer, el: ElementModel, site: Site) -> bool:
    """Is this element placed as a static piece (the composer keeps layers and its content is static)?"""
    return c.static is not None and c.static.is_static(el, site.path)


def compose_text(c: Composer, el: TextElement | FieldElement, site: Site) -> None:
    x, y = site.at(el.at)
    if _static(c, el, site):
        c.place_static(site, lambda ops: c.text_box(el, site.path, x, y, el.width, el.height, site.ctx, ops))
        return
    c.text_box(el, site.path, x, y, el.width, el.height, site.ctx, site.ops)


def compose_line(c: Composer, el: LineElement, site: Site) -> None:
    (x1, y1), (x2, y2) = site.at(el.start), site.at(el.end)
    line = Line(mm(x1), c.y(y1), mm(x2), c.y(y2), el.width_pt, el.dash)
    if _static(c, el, site):
        c.place_static(site, lambda ops: ops.append(line))
    else:
        site.ops.append(line)


def compose_box(c: Composer, el: BoxElement, site: Site) -> None:
    x, y = site.at(el.at)
    box = Rect(mm(x), c.y(y + el.size[1]), mm(el.size[0]), mm(el.size[1]),
               el.stroke_pt if el.stroke_pt else None, el.fill_gray)
    if _static(c, el, site):
        c.place_static(site, lambda ops: ops.append(box))
    else:
        site.ops.append(box)


def _grid_lines(el: GridElement, at: tuple[float, float]) -> tuple[list[float], list[float]]:
    """The grid's column and row boundaries in mm from the sheet's corner."""
    xs = [at[0]]
    for w in el.column_widths():
        xs.append(xs[-1] + w)
    ys = [at[1]]
    for h in el.row_heights():
        ys.append(ys[-1] + h)
    return xs, ys


def compose_grid(c: Composer, el: GridElement, site: Site) -> None:
    """A ruled grid: each shown cell's rule (and fill), then its text; the outer frame last."""
    if c.static is not None:
        _grid_by_plan(c, el, site)
        return
    at, ctx, ops = site.at(el.at), site.ctx, site.ops
    xs, ys = _grid_lines(el, at)
    # cells share a few conditions (item.foreign, not item.foreign): the context is the same for every
    # cell of this grid and expressions cannot change it, so each distinct condition is evaluated once
    decided: dict[str, bool] = {}
    for i, cell in enumerate(el.cells):
        cpath = f"{site.path}.cells[{i}]"
        if cell.when is not None:
            shown = decided.get(cell.when)
            if shown is None:
                shown = decided[cell.when] = c.templates.truth(cell.when, ctx, path=f"{cpath}.when")
            if not shown:
                continue
        x0, x1 = xs[cell.col - 1], xs[cell.col - 1 + cell.cols]
        y0, y1 = ys[cell.row - 1], ys[cell.row - 1 + cell.rows]
        if cell.fill_gray is not None or (cell.border and el.rule_pt):
            ops.append(Rect(mm(x0), c.y(y1), mm(x1 - x0), mm(y1 - y0),
                            el.rule_pt if cell.border and el.rule_pt else None, cell.fill_gray))
        c.text_box(cell, cpath, x0, y0, x1 - x0, y1 - y0, ctx, ops)
    if el.frame_pt:
        ops.append(Rect(mm(xs[0]), c.y(ys[-1]), mm(xs[-1] - xs[0]), mm(ys[-1] - ys[0]), el.frame_pt))


def _grid_conditions(el: GridElement) -> tuple[tuple[str, int], ...]:
    """The grid's distinct cell conditions, each with the first cell that has it (where an error points)."""
    first: dict[str, int] = {}
    for i, cell in enumerate(el.cells):
        if cell.when is not None and cell.when not in first:
            first[cell.when] = i
    return tuple(first.items())


def _decide(c: Composer, conditions: tuple[tuple[str, int], ...], path: str, ctx: Mapping[str, Any]
            ) -> tuple[bool, ...]:
    """The truth of each of a grid's distinct cell conditions, in order. All are evaluated as one expression
    (a tuple: one context for the sandbox instead of one per condition); if that fails in any way, each is
    evaluated alone in order, as the inline grid does, so the error names the first failing cell."""
    assert c.static is not None
    if not conditions:
        return ()
    combined = c.static.memo(("combined", path), lambda: _combined(c, conditions))
    if combined is not None:
        try:
            return tuple(bool(v) for v in combined(**ctx))
        except Exception:   # any failure: the one-by-one path below raises it as a LayoutError
            pass
    return tuple(c.templates.truth(when, ctx, path=f"{path}.cells[{i}].when") for when, i in conditions)


def _combined(c: Composer, conditions: tuple[tuple[str, int], ...]) -> Callable[..., Any] | None:
    """The conditions as one tuple expression, or None unless each compiles alone (so that the tuple never
    accepts what one condition alone would not: the one-by-one path then reports the faulty one)."""
    try:
        for when, _i in conditions:
            c.templates.check_expression(when, path="")
        source = "(" + "".join(f"({when}),\n" for when, _i in conditions) + ")"
        combined: Callable[..., Any] = c.templates.env.compile_expression(source, undefined_to_none=False)
    except Exception:   # a condition that does not compile: the one-by-one path reports it
        return None
    return combined


def _grid_by_plan(c: Composer, el: GridElement, site: Site) -> None:
    """The grid through its plan for this placement and these condition values (`_grid_plan`): its static
    runs placed as pieces, the cells that read the record composed in between. Each distinct condition is
    decided once per placement, as the inline grid does (`_decide`)."""
    assert c.static is not None
    conditions = c.static.memo(("conditions", site.path), lambda: _grid_conditions(el))
    values = _decide(c, conditions, site.path, site.ctx)
    key = (site.path, site.origin, values)
    plan = c.static.grids.get(key)
    if plan is None:
        decided = {when: value for (when, _i), value in zip(conditions, values, strict=True)}
        plan = c.static.grids[key] = _grid_plan(c, el, site, decided)
    for item in plan:
        if isinstance(item, Piece):
            c.place(item, site.ctx, site.ops)
        else:
            i, x, y, w, h = item
            c.text_box(el.cells[i], f"{site.path}.cells[{i}]", x, y, w, h, site.ctx, site.ops)


def _grid_plan(c: Composer, el: GridElement, site: Site, decided: dict[str, bool]) -> GridPlan:
    """The grid's ops in the inline order, as runs of static ops (pieces) and the cells composed per record
    (index and box in mm), for one placement and one set of condition values."""
    assert c.static is not None
    scope = c.static
    xs, ys = _grid_lines(el, site.at(el.at))
    plan: list[Piece | DynamicCell] = []
    run: list[Op] = []
    replays: list[Replay] = []

    def close() -> None:
        piece = scope.piece(run, replays)
        if piece is not None:
            plan.append(piece)
        run.clear()
        replays.clear()

    for i, cell in enumerate(el.cells):
        if cell.when is not None and not decided[cell.when]:
            continue
        x0, x1 = xs[cell.col - 1], xs[cell.col - 1 + cell.cols]
        y0, y1 = ys[cell.row - 1], ys[cell.row - 1 + cell.rows]
        if cell.fill_gray is not None or (cell.border and el.rule_pt):
            run.append(Rect(mm(x0), c.y(y1), mm(x1 - x0), mm(y1 - y0),
                            el.rule_pt if cell.border and el.rule_pt else None, cell.fill_gray))
        cpath = f"{site.path}.cells[{i}]"
        if _cell_static(c, cell, cpath):
            c.recording(replays, functools.partial(c.text_box, cell, cpath, x0, y0, x1 - x0, y1 - y0,
                                                   site.ctx, run))
        else:
            close()
            plan.append((i, x0, y0, x1 - x0, y1 - y0))
    if el.frame_pt:
        run.append(Rect(mm(xs[0]), c.y(ys[-1]), mm(xs[-1] - xs[0]), mm(ys[-1] - ys[0]), el.frame_pt))
    close()
    return tuple(plan)


def _cell_static(c: Composer, cell: Cell, path: str) -> bool:
    assert c.static is not None
    return c.static.memo(("cell", path), lambda: content_static(cell))


def compose_image(c: Composer, el: ImageElement, site: Site) -> None:
    """The 公印, centred in the declared box at the tenant's declared size (never above 25 mm); nothing
    when the request turns the seal off (the layout's 「公印省略」 option may say so)."""
    if el.source != "tenant.seal" or not c.doc.request.seal:
        return
    at = site.at(el.at)
    size = min(el.size[0], el.size[1], c.doc.tenant.file.seal.size_mm)
    x = at[0] + (el.size[0] - size) / 2
    y = at[1] + (el.size[1] - size) / 2
    image = Image(mm(x), c.y(y + size), mm(size), mm(size), c.doc.tenant.seal_png)
    if _static(c, el, site):
        c.place_static(site, lambda ops: ops.append(image))
    else:
        site.ops.append(image)
    c.seal_printed = True


def compose_qr(c: Composer, el: QrElement, site: Site) -> None:
    if _static(c, el, site):
        c.place_static(site, lambda ops: _qr(c, el, site._replace(ops=ops)))
    else:
        _qr(c, el, site)


def _qr(c: Composer, el: QrElement, site: Site) -> None:
    at = site.at(el.at)
    payload = c.templates.render(el.data, site.ctx, path=f"{site.path}.data")
    c.printed(payload)
    import qrcode

    code = qrcode.QRCode(error_correction=_EC[el.error_correction], border=0)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    matrix = tuple("".join("1" if v else "0" for v in row) for row in code.get_matrix())
    module = mm(el.size) / len(matrix)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
    site.ops.append(Barcode("qr", mm(at[0]), c.y(at[1] + el.size), module, matrix, digest))


def compose_barcode(c: Composer, el: BarcodeElement, site: Site) -> None:
    """Bars from the data object `el.source` names; nothing when its address is withheld (DV)."""
    source = resolve(el.source, site.ctx, where=f"{site.path}.source")
    if source is None or isinstance(source, Withheld):
        return
    if el.symbology == "customer":
        _customer_barcode(c, el, site, source)
    else:
        _gs1_barcode(c, el, site, source)


def _customer_barcode(c: Composer, el: BarcodeElement, site: Site, source: Any) -> None:
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
    at = site.at(el.at)
    _w, h = symbol_size_mm(el.size_pt)
    site.ops.extend(code.layout(mm(at[0]), c.y(at[1] + h), el.size_pt).rects)


def _gs1_barcode(c: Composer, el: BarcodeElement, site: Site, source: Any) -> None:
    slip = getattr(source, "slip", None)
    if slip is None:
        raise LayoutError(f"{site.path}.source: a gs1_128 barcode needs an installment with a slip",
                          field=f"{site.path}.source")
    symbol = convenience_barcode(issuer_code=slip.issuer_code, free_field=slip.free_field, reissue=slip.reissue,
                                 due_date=source.due_on, stamp_flag=slip.stamp_flag, amount=source.amount)
    at = site.at(el.at)
    placed = symbol.layout(mm(at[0]), c.y(at[1] + el.height_mm), module_mm=el.module_mm, height_mm=el.height_mm)
    site.ops.extend(placed.rects)
    if el.human_readable is not None:
        style = c.layout.styles[el.human_readable]
        field = f"{site.path}.source"
        lines = human_readable_lines(
            symbol.human_readable, placed.symbol.w,
            lambda text: c.fonts.width(c.fonts.runs(text, list(style.fonts), field=field), style.size_pt))
        if len(lines) > HUMAN_READABLE_LINES:
            raise LayoutError(f"{site.path}.human_readable: the digits need {len(lines)} lines at "
                              f"{style.size_pt:g} pt under a {to_mm(placed.symbol.w):.1f} mm symbol (at most "
                              f"{HUMAN_READABLE_LINES}; never condensed)", field=f"{site.path}.human_readable")
        box = Box(left=mm(at[0]), top=c.y(at[1] + el.height_mm + HUMAN_READABLE_GAP_MM),
                  width=placed.symbol.w, height=line_pitch_pt(style) * len(lines))
        runs, _entry = c.fitter.fit("\n".join(lines), box, style, align="center", valign="top",
                                    overflow=["wrap", "error"], field=field)
        site.ops.extend(runs)


def human_readable_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """The digits under a GS1-128 broken at their hyphens into lines no wider than the symbol (`width`, in
    the unit `measure` returns), the hyphen ending its line: the manual-entry fallback is never condensed."""
    lines: list[str] = []
    current = ""
    for group in re.findall(r"[^-]+-?", text):
        if current and measure(current + group) > width:
            lines.append(current)
            current = group
        else:
            current += group
    lines.append(current)
    return lines


def compose_group(c: Composer, el: GroupElement | PartElement, site: Site) -> None:
    origin = site.at(el.at)
    for i, child in enumerate(el.elements):
        c.element(child, f"{site.path}.elements[{i}]", origin, site.ctx, site.pos, site.ops)


def compose_repeat(c: Composer, el: RepeatElement, site: Site) -> None:
    """The block once per slot of this sheet: the sheet's share of the items, then blank slots."""
    first = el.first_index(site.pos.n)
    if first is None:
        return   # a sheet before the block's start_sheet
    items = c.items(el, f"{site.path}.items", site.ctx)
    origin = site.at(el.origin)
    for slot in range(el.per_sheet):
        index = first + slot
        item = items[index] if index < len(items) else BLANK
        if item is BLANK and (el.blank_slots == "skip" or (el.blank_slots == "first" and index > len(items))):
            continue
        c.cut(site.ops)   # each slot is a unit of its own (static layers)
        child_ctx = dict(site.ctx)
        child_ctx.update(item=item, slot=slot + 1, index=index + 1 if item is not BLANK else None,
                         blank=item is BLANK, first_blank=item is BLANK and index == len(items),
                         item_path=f"{el.items}[{c.input_index(el.items, index)}]")
        step = el.slot_offset(slot)
        at = (origin[0] + step[0], origin[1] + step[1])
        for i, child in enumerate(el.block):
            c.element(child, f"{site.path}.block[{i}]", at, child_ctx, site.pos, site.ops)
    c.cut(site.ops)


def compose_table(c: Composer, el: TableElement, site: Site) -> None:
    """This sheet's page of the list (the composer plans the list once and puts its page in the context)."""
    table = site.ctx.get("table")
    index = int(site.ctx["table_page"])
    if isinstance(table, TablePageComposer) and index < len(table.plan.pages):
        site.ops.extend(table.ops(index, site.ctx))


ComposeFn = Callable[["Composer", Any, Site], None]
#: element type → its compose function (a test checks every type of `renderer.spec.model` has one)
COMPOSERS: dict[type[ElementModel], ComposeFn] = {
    TextElement: compose_text,
    FieldElement: compose_text,
    LineElement: compose_line,
    BoxElement: compose_box,
    GridElement: compose_grid,
    ImageElement: compose_image,
    QrElement: compose_qr,
    BarcodeElement: compose_barcode,
    GroupElement: compose_group,
    PartElement: compose_group,
    RepeatElement: compose_repeat,
    TableElement: compose_table,
    TrueSizeImageElement: compose_true_size_image,   # renderer/compose/true_size.py
}

"""Validate a folded mailer's elements against its panels: nothing personal outside the sealed area.

In: a `LayoutSpec` that declares `folding:` (`renderer.spec.folding`), the template sandbox (to read which
names a template uses) and the diagnostic factory of `renderer.spec.validate`. Out: diagnostics, one per
offending element, with its layout path.

What counts as printing data: a field's `value`, a template (`text`, a QR's `data`, a `when`, a grid
cell's content or condition), a barcode's or true-size image's `source`, a table's rows — any name of the
data (``data``, a repeat's ``item``, a list's ``row``/``group``) or the requester (``request.requester``).
A `when` on a container counts for everything inside it (what prints then depends on the data). The paths
under `folding.unsealed_data` (the address block: 宛名, 郵便番号, カスタマバーコード) are the only data that
may print on an unsealed panel; any other data must lie wholly inside a sealed panel, clear of its seal
margin. Every data-bound element lies inside one panel of each sheet it is drawn on and clear of the folds'
margins. The sheets an element is drawn on follow from its own and its containers' `show_on` and a
repeat's `start_sheet` (sheet 1 = the outside, the last sheet = the inside of a V-fold).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from jinja2 import nodes

from renderer.diagnostics import Diagnostic
from renderer.spec.folding import Folding, Panel, Rect, inside, overlaps
from renderer.spec.model import (
    BarcodeElement,
    Element,
    ElementModel,
    FieldElement,
    GridElement,
    LayoutSpec,
    QrElement,
    RepeatElement,
    ShowOn,
    TableElement,
    TextContent,
    TextElement,
    TrueSizeImageElement,
)
from renderer.templating import Templates

#: context names whose values are a person's data (the render context of `renderer.compose`)
PERSONAL_ROOTS = frozenset({"data", "item", "row", "group"})
#: paths under these prefixes are the requester's (personal) too
PERSONAL_PREFIXES = ("request.requester",)


class Diag(Protocol):
    def __call__(self, path: str, message: str, hint: str | None = None) -> Diagnostic: ...


def panel_problems(spec: LayoutSpec, templates: Templates, diag: Diag) -> Iterator[Diagnostic]:
    """Panels and folds on the sheet, then every element against the panels of the sheets it is drawn on."""
    folding = spec.folding
    if folding is None:
        return
    width, height = spec.paper.size_mm()
    sheet_rect = (0.0, 0.0, width, height)
    for i, panel in enumerate(folding.panels):
        if not inside(panel.rect(), sheet_rect):
            yield diag(f"folding.panels[{i}].at", f"panel {panel.name!r} reaches outside the {width:g}×{height:g} mm "
                       "sheet")
    for i, fold in enumerate(folding.folds):
        at, limit = (fold.x, width) if fold.x is not None else (fold.y, height)
        if at is not None and not 0 < at < limit:
            yield diag(f"folding.folds[{i}]", f"the fold at {at:g} mm is not inside the {width:g}×{height:g} mm sheet")
    every = frozenset(range(1, folding.sheets + 1))
    yield from _elements(spec, folding, templates, diag, spec.elements, "elements", (0.0, 0.0), ((0.0, 0.0),),
                         every, frozenset())


def sheets_shown(show_on: ShowOn, sheets: frozenset[int], total: int) -> frozenset[int]:
    """The sheets of `sheets` an element with this `show_on` is drawn on, of a document of `total` sheets."""
    def keep(n: int) -> bool:
        first, last = n == 1, n == total
        return {"every": True, "first": first, "last": last, "not_last": not last, "not_first": not first}[show_on]
    return frozenset(n for n in sheets if keep(n))


def _elements(spec: LayoutSpec, folding: Folding, templates: Templates, diag: Diag, elements: Sequence[Element],
              prefix: str, origin: tuple[float, float], reach: tuple[tuple[float, float], ...],
              sheets: frozenset[int], inherited: frozenset[str]) -> Iterator[Diagnostic]:
    for i, el in enumerate(elements):
        path = f"{prefix}[{i}]"
        shown = sheets_shown(el.show_on, sheets, folding.sheets)
        if isinstance(el, RepeatElement):
            shown = frozenset(n for n in shown if n >= el.start_sheet)
        refs = inherited | frozenset(_when_refs(el, templates))
        box = el.extent(spec.styles)
        if box is not None and shown:
            found = _element_problem(spec, folding, el, path, box, origin, reach, shown,
                                     refs | frozenset(_refs_of(el, templates)))
            if found is not None:
                yield diag(*found)
        for group in el.children():
            yield from _elements(spec, folding, templates, diag, group.elements, f"{path}.{group.key}",
                                 (origin[0] + group.offset[0], origin[1] + group.offset[1]),
                                 group.slots if group.slots is not None else reach, shown, refs)


def _element_problem(spec: LayoutSpec, folding: Folding, el: ElementModel, path: str,
                     box: tuple[float, float, float, float], origin: tuple[float, float],
                     reach: tuple[tuple[float, float], ...], sheets: frozenset[int],
                     refs: frozenset[str]) -> tuple[str, str, str] | None:
    """(path, message, hint) of the first problem of a data-bound element; None when it is placed well."""
    personal = sorted(r for r in refs if _personal(r) and not _unsealed_ok(r, folding))
    address = sorted(r for r in refs if _personal(r) and _unsealed_ok(r, folding))
    if not personal and not address:
        return None
    where = f"{path}.at" if hasattr(el, "at") else path
    width, height = spec.paper.size_mm()
    for sheet in sorted(sheets):
        for dx, dy in reach:
            rect: Rect = (origin[0] + box[0] + dx, origin[1] + box[1] + dy,
                          origin[0] + box[2] + dx, origin[1] + box[3] + dy)
            shown = f"({rect[0]:.1f}, {rect[1]:.1f})–({rect[2]:.1f}, {rect[3]:.1f}) mm on sheet {sheet}"
            panel = _panel_holding(folding.panels_on(sheet), rect)
            if panel is None:
                return (where, f"prints data ({(personal or address)[0]}) at {shown}, not inside one panel",
                        "data-bound content lies wholly inside one panel (folding.panels), never across a fold")
            for fold in folding.folds_on(sheet):
                if overlaps(rect, fold.band(width, height)):
                    return (where, f"prints data ({(personal or address)[0]}) at {shown}, within "
                            f"{fold.margin_mm:g} mm of a fold", "keep data clear of the folds' margin_mm")
            if personal and not panel.sealed:
                return (where, f"prints personal data ({personal[0]}) on the unsealed panel {panel.name!r} "
                        f"({shown}): it shows outside the sealed piece",
                        "only the address block (folding.unsealed_data: "
                        f"{', '.join(folding.unsealed_data) or 'none declared'}) may print outside the sealed area; "
                        "move it onto a sealed panel")
            if personal and not inside(rect, panel.safe_rect()):
                s = panel.safe_rect()
                return (where, f"prints personal data ({personal[0]}) at {shown}, in the seal margin of panel "
                        f"{panel.name!r} (safe area ({s[0]:g}, {s[1]:g})–({s[2]:g}, {s[3]:g}) mm)",
                        "the glue band may tear the print when the piece is peeled open")
    return None


def _panel_holding(panels: Sequence[Panel], rect: Rect) -> Panel | None:
    for panel in panels:
        if inside(rect, panel.rect()):
            return panel
    return None


def _personal(ref: str) -> bool:
    root = ref.split(".")[0]
    return root in PERSONAL_ROOTS or any(ref == p or ref.startswith(p + ".") for p in PERSONAL_PREFIXES) \
        or ref == "request"


def _unsealed_ok(ref: str, folding: Folding) -> bool:
    return any(ref == p or ref.startswith(p + ".") for p in folding.unsealed_data)


# --------------------------------------------------------------------------- what an element reads


def _when_refs(el: ElementModel, templates: Templates) -> Iterator[str]:
    if el.when is not None:
        yield from template_refs(templates, el.when, expression=True)


def _refs_of(el: ElementModel, templates: Templates) -> Iterator[str]:
    """The context paths an element prints (its own `when` is read by the caller)."""
    if isinstance(el, TextElement | FieldElement):
        yield from _content_refs(el, templates)
    elif isinstance(el, GridElement):
        for cell in el.cells:
            yield from _content_refs(cell, templates)
            if cell.when is not None:
                yield from template_refs(templates, cell.when, expression=True)
    elif isinstance(el, QrElement):
        yield from template_refs(templates, el.data)
    elif isinstance(el, BarcodeElement | TrueSizeImageElement):
        yield el.source
    elif isinstance(el, TableElement):
        yield el.items
        yield from (c.value for c in el.columns)


def _content_refs(content: TextContent, templates: Templates) -> Iterator[str]:
    if content.value is not None:
        yield content.value
    if content.text is not None:
        yield from template_refs(templates, content.text)


def template_refs(templates: Templates, source: str, *, expression: bool = False) -> list[str]:
    """The dotted context paths a template reads (``data.addressee.name``; a bare name: ``data``). A template
    that does not parse reads nothing here (validation reports it elsewhere)."""
    try:
        ast = templates.env.parse("{{ " + source + " }}" if expression else source)
    except Exception:
        return []
    out: list[str] = []
    _collect(ast, out)
    return out


def _collect(node: nodes.Node, out: list[str]) -> None:
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        chain: list[str] = []
        current: Any = node
        while isinstance(current, nodes.Getattr | nodes.Getitem):
            if isinstance(current, nodes.Getattr):
                chain.append(current.attr)
            elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
                chain.append(current.arg.value)
            else:
                _collect(current.arg, out)   # a computed index: read what it reads, keep the chain
            current = current.node
        if isinstance(current, nodes.Name):
            out.append(".".join([current.name, *reversed(chain)]))
        else:
            _collect(current, out)
        return
    if isinstance(node, nodes.Name):
        if node.ctx == "load":
            out.append(node.name)
        return
    for child in node.iter_child_nodes():
        _collect(child, out)


__all__ = ["panel_problems", "sheets_shown", "template_refs"]

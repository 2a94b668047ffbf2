"""What never changes is drawn once: which parts of a layout are static, and the static layers of a page.

In: layout elements (`renderer.spec.model`), and, while a page is composed, its drawing operations with
the static pieces the composer placed among them. Out: whether an element's content is static
(`element_static`, `content_static`), the pieces and grid plans a `StaticScope` keeps for one (layout,
tenant, fonts, options, parameters, sheet size), and `StaticScope.layer`, which turns a page's run of ops
into Form XObject layers (`renderer.display.Form`) and the record's own ops, painting exactly as before.

Static means: the drawing operations depend only on the layout, the tenant and things fixed for an output
file — never on the record. It is derived from the model, never listed by hand, and conservative:
- a `field` (it binds a data path), a `barcode` (its source is data), a `repeat`'s items and a `table` are
  dynamic; a `qr` is static only when its payload template is;
- literal text is static; a template is static only when every name it reads is one of `STATIC_NAMES`
  (`layout`, `tenant`, `options`, `params`) — anything else it reads (data, request, signer, item, sheet,
  issue_number …, any global such as ``lipsum``) or a template that does not parse makes it dynamic;
- lines, boxes, the tenant's seal image and the sample watermark are static;
- a grid splits: its rules, frame and literal labels are static, a cell whose content reads the record is
  not.
`show_on` and `when` are gates, decided on every sheet exactly as before: they choose *whether* a static
piece is placed, never what it contains, so a gate reading data (``when: not item.foreign``) selects between
static pieces. A grid's cached plan is keyed by the values of its cells' conditions.

Layers keep the painting order. A page's ops paint one over another; a static piece may be moved back
past the record's ops only where the two commute: both paint with one and the same opaque gray (`ink`) —
compositing two shapes of one colour gives the same pixels in either order. An image, a shape that paints
with two grays (a filled and stroked rectangle), or an op of another gray stops the move and starts a new
layer. Layers are formed per unit — a run of static elements, an element that is not wholly static (a grid
with values), a slot of a repeat — so a file holds one form per variant of a unit instead of one per
combination of units, and text extraction reads the page in element order (a grid: its labels, then its
values).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import Environment, TemplateSyntaxError, meta

from renderer.display import Barcode, Form, Image, Line, Op, Rect, TextRun, dump_op, form_name
from renderer.spec.model import (
    BarcodeElement,
    BoxElement,
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
    TextContent,
    TextElement,
)

#: the render-context names that are fixed for an output file: the layout, the tenant (a `TenantView`), the
#: options and parameters in force (the layout's declarations with the tenant's settings)
STATIC_NAMES = frozenset({"layout", "tenant", "options", "params"})
#: pieces and plans one scope keeps before it starts again (a layout has a few hundred)
SCOPE_LIMIT = 20_000
#: scopes the process keeps (layouts × tenants in use)
SCOPES_LIMIT = 32

_PARSER = Environment()   # parsing only: nothing is rendered with it
_PARSER.globals.clear()   # so a global (range, lipsum …) counts as a name read like any other
T = TypeVar("T")


@functools.lru_cache(maxsize=4096)
def template_names(source: str) -> frozenset[str] | None:
    """The names a template reads from its context (None when it does not parse: the composer reports it)."""
    try:
        return frozenset(meta.find_undeclared_variables(_PARSER.parse(source)))
    except TemplateSyntaxError:
        return None


def static_template(source: str) -> bool:
    """Text whose output depends on static names only (literal text always: it is printed as written)."""
    if "{" not in source:
        return True
    names = template_names(source)
    return names is not None and names <= STATIC_NAMES


def content_static(content: TextContent) -> bool:
    """A text, field or cell whose text is the same for every record: no data path, a static template."""
    return content.value is None and (content.text is None or static_template(content.text))


def element_static(el: ElementModel) -> bool:
    """Whether an element's drawing, once its `show_on` and `when` gates let it through, is the same for
    every record (see the module doc). Containers are static when everything inside them is."""
    if isinstance(el, TextElement):
        return content_static(el)
    if isinstance(el, LineElement | BoxElement):
        return True
    if isinstance(el, GridElement):
        return all(content_static(cell) for cell in el.cells)
    if isinstance(el, ImageElement):
        return el.source == "tenant.seal"   # the tenant's seal; the request's seal switch is a gate
    if isinstance(el, QrElement):
        return static_template(el.data)
    if isinstance(el, GroupElement | PartElement):
        return all(element_static(child) for child in el.elements)
    if isinstance(el, FieldElement | BarcodeElement | RepeatElement | TableElement):
        return False
    return False   # a type this module does not know: dynamic


# --------------------------------------------------------------------------- ink: what may commute

#: the gray an op paints with when it paints with one opaque gray only; None: an image, two grays, nothing
Ink = float | None


def ink(op: Op) -> Ink:
    if isinstance(op, TextRun | Line):
        return op.gray
    if isinstance(op, Rect):
        if op.fill_gray is None:
            return 0.0 if op.stroke is not None else None   # frames are stroked black
        if op.stroke is None or op.fill_gray == 0.0:
            return op.fill_gray
        return None
    if isinstance(op, Barcode):
        return 0.0
    if isinstance(op, Form):
        inks = {ink(o) for o in op.ops}
        return inks.pop() if len(inks) == 1 else None
    assert isinstance(op, Image)
    return None


#: the gray of the sample tenant's 「見本」 watermark (opaque: what is drawn under it is hidden where it lies)
WATERMARK_GRAY = 0.86


def is_background(op: Op) -> bool:
    """A fill lighter than the watermark (cell shading, zebra rows): drawn under it, so it never hides the
    watermark. A darker fill is ink — a カスタマバーコード's bars, a rule drawn as a filled bar — and is drawn
    over it, like text and lines: the watermark never hides or greys what is printed."""
    return isinstance(op, Rect) and op.fill_gray is not None and op.fill_gray > WATERMARK_GRAY


def split_under(op: Rect) -> tuple[Rect | None, Rect | None]:
    """A rectangle as (its fill, its frame): what goes under the sample watermark and what over it."""
    if not is_background(op):
        return None, op
    fill = dataclasses.replace(op, stroke=None)
    return fill, (dataclasses.replace(op, fill_gray=None) if op.stroke is not None else None)


# --------------------------------------------------------------------------- pieces and plans


@dataclass(frozen=True)
class Replay:
    """Something composing a static piece reported, repeated each time the piece is placed: an overflow
    entry or a character event (with the element path they belong to), or text checked for 個人番号."""

    kind: str            # "overflow", "chars" or "printed"
    record: dict[str, object] | str
    path: str


@dataclass(frozen=True, eq=False)
class Piece:
    """A run of static ops of one element (or of consecutive cells of a grid) and what composing it reported."""

    form: Form
    replays: tuple[Replay, ...] = ()


#: a cell composed per record: its index and its box (x, y, width, height in mm from the sheet's corner)
DynamicCell = tuple[int, float, float, float, float]
#: a grid's plan for one placement and one set of cell-condition values: its static runs (pieces) and the
#: cells whose content is composed per record, in drawing order
GridPlan = tuple["Piece | DynamicCell", ...]


@dataclass
class _FormInfo:
    form: Form                     # kept: ids of live objects only
    ink: Ink
    piece: bool                    # a piece (may join a layer) or a layer already
    under: tuple[Form | None, Form | None] | None = None   # (fills, the rest) for a sample tenant's page


class StaticScope:
    """The static pieces, grid plans and layers of one (layout, tenant, fonts, options, parameters, sheet
    size): composed once, reused by every record. Entries are only added; when full, it starts again."""

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height
        self.classified: dict[str, bool] = {}
        self.memos: dict[Hashable, Any] = {}
        self.pieces: dict[Hashable, Piece | None] = {}
        self.grids: dict[Hashable, GridPlan] = {}
        self._info: dict[int, _FormInfo] = {}
        self._layers: dict[tuple[int, ...], tuple[tuple[Form, ...], Form]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ classification and pieces

    def is_static(self, el: ElementModel, path: str) -> bool:
        found = self.classified.get(path)
        if found is None:
            found = self.classified[path] = element_static(el)
        return found

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """A value derived from the layout alone (a grid's conditions, a cell's staticness), made once."""
        if key in self.memos:
            found: T = self.memos[key]
            return found
        value = self.memos[key] = make()
        return value

    def full(self) -> bool:
        return len(self.pieces) + len(self.grids) + len(self._layers) > SCOPE_LIMIT

    def clear(self) -> None:
        with self._lock:
            self.pieces.clear()
            self.grids.clear()
            self._info.clear()
            self._layers.clear()

    def form(self, ops: Sequence[Op], *, piece: bool = True) -> Form:
        """A form of these ops, registered with its ink (a piece may join layers; a layer may not)."""
        lines = [dump_op(op) for op in ops]
        form = Form(form_name(self.width, self.height, lines), tuple(ops))
        with self._lock:
            self._info[id(form)] = _FormInfo(form, ink(form), piece)
        return form

    def piece(self, ops: Sequence[Op], replays: Sequence[Replay]) -> Piece | None:
        return Piece(self.form(ops), tuple(replays)) if ops else None

    # ------------------------------------------------------------------ layers

    def _under(self, form: Form) -> tuple[Form | None, Form | None]:
        """A form as (its fills, the rest), for a sample tenant's page (see `Composer._under_watermark`)."""
        info = self._info[id(form)]
        if info.under is None and not any(is_background(op) for op in form.ops):
            info.under = (None, form)
        if info.under is None:
            fills: list[Op] = []
            rest: list[Op] = []
            for op in form.ops:
                if isinstance(op, Rect):
                    fill, frame = split_under(op)
                    if fill is not None:
                        fills.append(fill)
                    if frame is not None:
                        rest.append(frame)
                else:
                    rest.append(op)
            info.under = (self.form(fills, piece=info.piece) if fills else None,
                          self.form(rest, piece=info.piece) if rest else None)
        return info.under

    def split_under(self, items: Sequence[Op]) -> tuple[list[Op], list[Op]]:
        """A page's ops as (what goes under the sample watermark, what goes over it), in order."""
        fills: list[Op] = []
        rest: list[Op] = []
        for item in items:
            if isinstance(item, Form) and id(item) in self._info:
                under, over = self._under(item)
                if under is not None:
                    fills.append(under)
                if over is not None:
                    rest.append(over)
            elif isinstance(item, Rect):
                fill, frame = split_under(item)
                if fill is not None:
                    fills.append(fill)
                if frame is not None:
                    rest.append(frame)
            else:
                rest.append(item)
        return fills, rest

    def layer(self, items: Sequence[Op]) -> list[Op]:
        """One unit of a page: its static pieces gathered into as few layers as the painting order allows,
        each placed where its first piece stood; the record's ops stay in their order (module doc)."""
        out: list[Op] = []
        group: list[Form] = []
        at = 0
        moved: Ink | str = "clean"    # the ink of every record op since the layer's place, or "blocked"
        for item in items:
            info = self._info.get(id(item)) if isinstance(item, Form) else None
            if info is not None and info.piece and info.form is item:
                assert isinstance(item, Form)
                if group and (moved == "clean" or (info.ink is not None and moved == info.ink)):
                    group.append(item)
                    continue
                if group:
                    out[at] = self._layer_form(group)
                group = [item]
                at = len(out)
                out.append(item)   # placeholder, replaced when the layer closes
                moved = "clean"
                continue
            out.append(item)
            if group:
                k = ink(item)
                if moved == "clean":
                    moved = k if k is not None else "blocked"
                elif moved != k:
                    moved = "blocked"
        if group:
            out[at] = self._layer_form(group)
        return out

    def _layer_form(self, group: list[Form]) -> Form:
        if len(group) == 1:
            return group[0]
        key = tuple(id(f) for f in group)
        found = self._layers.get(key)
        if found is not None:
            return found[1]
        ops = [op for f in group for op in f.ops]
        form = self.form(ops, piece=False)
        with self._lock:
            self._layers[key] = (tuple(group), form)   # the group keeps its ids valid
        return form


@dataclass
class _ScopeEntry:
    refs: tuple[object, ...]    # the objects whose ids are in the key: kept, and checked on every hit
    scope: StaticScope


_SCOPES: dict[tuple[Any, ...], _ScopeEntry] = {}
_SCOPES_LOCK = threading.Lock()


def scope_for(refs: tuple[object, ...], values: Hashable, width: float, height: float) -> StaticScope:
    """The process's scope for these objects (layout, tenant, fonts: by identity) and values (options,
    parameters, reporting mode), created on first use."""
    key = (tuple(id(r) for r in refs), values, width, height)
    with _SCOPES_LOCK:
        entry = _SCOPES.get(key)
        if entry is not None and all(a is b for a, b in zip(entry.refs, refs, strict=True)):
            if entry.scope.full():
                entry.scope.clear()
            return entry.scope
        if len(_SCOPES) >= SCOPES_LIMIT:
            _SCOPES.clear()
        scope = StaticScope(width, height)
        _SCOPES[key] = _ScopeEntry(refs, scope)
        return scope


def clear_scopes() -> None:
    """Forget every scope (tests)."""
    with _SCOPES_LOCK:
        _SCOPES.clear()


"""The layout language: frozen pydantic models for `layouts/<id>.yaml`.

In: the dict that `spec.load` read from YAML. Out: a `LayoutSpec` (or a pydantic ValidationError that
`spec.validate` turns into diagnostics). Every model forbids unknown keys. Units are millimetres, origin
at the top-left corner of the sheet, y growing downwards; composition converts to PDF points. Each element
type knows its own tag, the box it covers and its children (`ElementModel`); `AnyElement` is the one list
of element types, from which the tags and the JSON Schema follow.

What the language deliberately cannot say: anything that would let a layout, tenant or request shorten
an address (the address formatter always prints 都道府県 and 市区町村), print a withheld item, or skip the
rules stage. Those are 実装不可機能 of the standard, so there is no key for them.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from renderer.barcodes.customer import QUIET_ZONE_MM as CUSTOMER_QUIET_MM
from renderer.barcodes.customer import symbol_size_mm
from renderer.barcodes.gs1 import QUIET_MODULES as GS1_QUIET_MODULES
from renderer.barcodes.gs1 import total_width_mm
from renderer.spec.folding import Folding
from renderer.units import cell_lines_height_mm, one_line_height_mm, paper_size_mm

SCHEMA_VERSION = 1

Mm = Annotated[float, Field(ge=-1000, le=1000, description="millimetres")]
Point = tuple[Mm, Mm]
ShowOn = Literal["every", "first", "last", "not_last", "not_first"]
Align = Literal["left", "center", "right", "distribute"]
VAlign = Literal["top", "middle", "bottom"]
Terminal = Literal["error", "fit_as_much", "blank"]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
DataPath = Annotated[
    str,
    Field(
        pattern=r"^[a-z_][a-z0-9_]*(\.([a-z_][a-z0-9_]*|[0-9]+)|\[\])*$",
        max_length=200,
        description="dotted path into the render context, e.g. item.name or data.household.address",
    ),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --------------------------------------------------------------------------- styles and policies


class Style(Model):
    fonts: list[str] = Field(min_length=1, description="font chain, first font that has a glyph draws it")
    size_pt: float = Field(ge=3, le=96)
    letter_spacing_em: float = Field(default=0.0, ge=-0.2, le=2.0)
    line_height: float = Field(default=1.25, ge=0.8, le=3.0, description="multiple of size_pt")
    gray: float = Field(default=0.0, ge=0.0, le=1.0, description="0 = black, 1 = white")


class Condense(Model):
    condense: float = Field(ge=0.3, le=1.0, description="長体: narrowest horizontal scale allowed")


class Shrink(Model):
    shrink_to_pt: float = Field(ge=3, le=96, description="smallest font size allowed")


OverflowStep = Literal["wrap"] | Condense | Shrink | Terminal


def _check_overflow(steps: list[OverflowStep] | None) -> list[OverflowStep] | None:
    if steps is None:
        return None
    if not steps or not isinstance(steps[-1], str) or steps[-1] == "wrap":
        raise ValueError("an overflow policy must end with one of: error, fit_as_much, blank")
    for step in steps[:-1]:
        if isinstance(step, str) and step != "wrap":
            raise ValueError(f"`{step}` must be the last step of an overflow policy")
    return steps


class FormatCall(Model):
    name: Identifier
    args: dict[str, str | int | bool] = Field(default_factory=dict)


FormatSpec = Identifier | FormatCall


# --------------------------------------------------------------------------- content shared by elements


class TextContent(Model):
    """Either a literal/template `text` or a data-bound `value` (never both)."""

    text: str | None = Field(default=None, max_length=2000, description="literal text; may use {{ jinja }}")
    value: DataPath | None = None
    format: FormatSpec | None = None
    empty: str | None = Field(default=None, max_length=40,
                              description="printed when the value is empty (default: the layout's empty_text)")
    style: Identifier = "body"
    align: Align = "left"
    valign: VAlign = "middle"
    overflow: list[OverflowStep] | None = None
    padding: Mm = Field(default=1.0, ge=0, le=20, description="left and right inset in mm")
    direction: Literal["horizontal", "vertical"] = Field(
        default="horizontal", description="vertical = 縦書き (columns right to left, vertical glyph forms)")
    substitute: Annotated[str, Field(min_length=1, max_length=1)] | None = Field(
        default=None, description="printed (and reported) for a character no font has; default: an error")

    @field_validator("overflow")
    @classmethod
    def _overflow(cls, v: list[OverflowStep] | None) -> list[OverflowStep] | None:
        return _check_overflow(v)

    @model_validator(mode="after")
    def _vertical_policy(self) -> TextContent:
        if self.direction == "vertical" and any(isinstance(s, Condense) for s in self.overflow or []):
            raise ValueError("長体 (condense) does not apply to vertical text; use wrap or shrink_to_pt")
        return self

    @model_validator(mode="after")
    def _one_source(self) -> TextContent:
        if self.text is not None and self.value is not None:
            raise ValueError("give either `text` or `value`, not both")
        if self.format is not None and self.value is None:
            raise ValueError("`format` applies to a `value`")
        return self


class Placement(Model):
    show_on: ShowOn = "every"
    when: str | None = Field(default=None, max_length=300,
                             description="jinja expression; the element is drawn only when it is true")
    in_window: bool = Field(default=False, description="must stay inside the envelope window (validated)")


# --------------------------------------------------------------------------- elements

Offset = tuple[float, float]
#: the box an element covers, (x0, y0, x1, y1) in mm relative to the origin it is placed at
Extent = tuple[float, float, float, float]


class Children(NamedTuple):
    """One list of child elements of a container, and where its elements are drawn."""

    key: str                          # the layout key that holds the list: elements, block
    elements: Sequence[Element]
    offset: Offset                    # the children's origin, relative to the container's origin
    slots: tuple[Offset, ...] | None  # offsets the children are also drawn at (a repeat's first and last
                                      # slot); None: the container's own
    per_item: bool                    # drawn once per item of a list (item, slot, index … are defined)


class ElementModel(Placement):
    """What every element type says about itself: its tag, the box it covers and its children.

    Validation walks the layout with `children()` and checks sheet and window bounds with `extent()`;
    composition dispatches on the type (`renderer.compose.elements`). A new element type is a subclass
    here, a member of `AnyElement` below, and one compose function."""

    @classmethod
    def tag(cls) -> str:
        """The element's `type:` value."""
        tag: str = get_args(cls.model_fields["type"].annotation)[0]
        return tag

    def extent(self, styles: Mapping[str, Style]) -> Extent | None:
        """The box the element covers, relative to its origin; None for containers."""
        return None

    def children(self) -> tuple[Children, ...]:
        """The element lists inside this element (none for a leaf)."""
        return ()


def _box(at: Point, width: float, height: float) -> Extent:
    return (at[0], at[1], at[0] + width, at[1] + height)


class TextElement(TextContent, ElementModel):
    type: Literal["text"]
    at: Point
    width: Mm = Field(gt=0)
    height: Mm | None = Field(default=None, gt=0, description="default: one line of the style")

    @model_validator(mode="after")
    def _literal(self) -> TextElement:
        if self.text is None:
            raise ValueError("a text element needs `text` (use type: field for data)")
        return self

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.width, _text_height(self, self.height, styles))


class FieldElement(TextContent, ElementModel):
    type: Literal["field"]
    at: Point
    width: Mm = Field(gt=0)
    height: Mm | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _bound(self) -> FieldElement:
        if self.value is None:
            raise ValueError("a field element needs `value` (a data path)")
        return self

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.width, _text_height(self, self.height, styles))


def _text_height(content: TextContent, height: float | None, styles: Mapping[str, Style]) -> float:
    """A declared height, else one line of the style (0 when the style is unknown: reported elsewhere)."""
    if height is not None:
        return height
    style = styles.get(content.style)
    return one_line_height_mm(style) if style is not None else 0.0


class LineElement(ElementModel):
    type: Literal["line"]
    start: Point = Field(alias="from")
    end: Point = Field(alias="to")
    width_pt: float = Field(default=0.5, gt=0, le=10)
    dash: tuple[float, float] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return (min(self.start[0], self.end[0]), min(self.start[1], self.end[1]),
                max(self.start[0], self.end[0]), max(self.start[1], self.end[1]))


class BoxElement(ElementModel):
    type: Literal["box"]
    at: Point
    size: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]]
    stroke_pt: float | None = Field(default=0.5, ge=0, le=10)
    fill_gray: float | None = Field(default=None, ge=0, le=1)

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.size[0], self.size[1])


class Cell(TextContent):
    """A cell of a ruled grid: 1-based column/row with spans; content like a text or field element."""

    col: int = Field(ge=1)
    row: int = Field(ge=1)
    cols: int = Field(default=1, ge=1)
    rows: int = Field(default=1, ge=1)
    border: bool = True
    fill_gray: float | None = Field(default=None, ge=0, le=1)
    when: str | None = Field(default=None, max_length=300)


class Track(Model):
    count: int = Field(ge=1, le=400)
    size: Mm = Field(gt=0)


class GridElement(ElementModel):
    """A ruled grid: column widths and row heights (list, or count × size) and cells with spans."""

    type: Literal["grid"]
    at: Point
    columns: Track | list[Annotated[float, Field(gt=0)]]
    rows: Track | list[Annotated[float, Field(gt=0)]]
    rule_pt: float = Field(default=0.4, ge=0, le=5)
    frame_pt: float | None = Field(default=0.8, ge=0, le=5, description="outer frame width")
    cells: list[Cell] = Field(default_factory=list)

    def column_widths(self) -> list[float]:
        return _track(self.columns)

    def row_heights(self) -> list[float]:
        return _track(self.rows)

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, sum(self.column_widths()), sum(self.row_heights()))


def _track(t: Track | list[float]) -> list[float]:
    return [t.size] * t.count if isinstance(t, Track) else list(t)


class ImageElement(ElementModel):
    """An image from a named source. `tenant.seal` is the 公印, checked when the tenant is loaded."""

    type: Literal["image"]
    at: Point
    size: tuple[Annotated[float, Field(gt=0, le=300)], Annotated[float, Field(gt=0, le=300)]]
    source: Literal["tenant.seal"]

    @field_validator("size")
    @classmethod
    def _seal_size(cls, v: tuple[float, float]) -> tuple[float, float]:
        if max(v) > 25.0:   # the only image source is the 公印
            raise ValueError("a 公印 is at most 25 mm square (domain reference §1.7)")
        return v

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.size[0], self.size[1])


#: `max_mm`/`min_mm` of a true-size image: a number of mm, or a declared integer parameter (a tenant's value)
SizeLimit = float | Annotated[str, Field(pattern=r"^params\.[a-z][a-z0-9_]*$")]


class TrueSizeImageElement(ElementModel):
    """An image from the data printed at the physical size the data declares, never scaled to fit: a registered
    印影 (印鑑登録証明書), a 公印's impression on a 公印証明, a specimen signature, a photograph of a set size.
    `source` names a data object with ``png`` (image bytes checked when the data was read), ``width_mm`` and
    ``height_mm``; it is centred in the box `size`, the largest it may ever print. Data larger than the box
    (or than `max_mm`) is refused (rule ``true-size-too-large``), data that fits inside a `min_mm` square is
    refused (``true-size-too-small``), both before a number is spent (`renderer.compose.true_size`). An absent
    or withheld value draws nothing."""

    type: Literal["true_size_image"]
    at: Point
    size: tuple[Annotated[float, Field(gt=0, le=300)], Annotated[float, Field(gt=0, le=300)]]
    source: DataPath
    max_mm: SizeLimit | None = Field(default=None, description="a tighter square limit than the box (mm or params.x)")
    min_mm: SizeLimit | None = Field(default=None, description="refused when it fits in this square (mm or params.x)")

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.size[0], self.size[1])


class QrElement(ElementModel):
    """A QR code drawn as vector modules; `data` is a template over the render context."""

    type: Literal["qr"]
    at: Point
    size: Mm = Field(gt=5, le=100)
    data: str = Field(min_length=1, max_length=1000)
    error_correction: Literal["L", "M", "Q", "H"] = "M"

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.size, self.size)


#: the digits under a GS1-128 (a 納付書's manual-entry fallback): smallest size, most lines, gap to the bars
HUMAN_READABLE_MIN_PT = 8.0
HUMAN_READABLE_LINES = 3
HUMAN_READABLE_GAP_MM = 0.5


class BarcodeElement(ElementModel):
    """A barcode drawn as bars: 日本郵便 カスタマバーコード from an addressee (郵便番号 + 住所表示番号), or
    the コンビニ収納 GS1-128 of a 納付書 installment (AI 91, 44 digits). `source` names the data object."""

    type: Literal["barcode"]
    symbology: Literal["customer", "gs1_128"]
    at: Point
    source: DataPath
    size_pt: float = Field(default=10.0, ge=8.0, le=11.5, description="カスタマバーコード size (8–11.5 pt)")
    module_mm: float = Field(default=0.19, gt=0.1, le=0.3, description="GS1-128 module width")
    height_mm: float = Field(default=10.0, ge=10.0, le=30.0, description="GS1-128 bar height (≥ 10 mm)")
    human_readable: Identifier | None = Field(
        default=None, description="style for the digits under a GS1-128: the manual-entry fallback, at least "
                                  f"{HUMAN_READABLE_MIN_PT:g} pt, never condensed, wrapped at its hyphens onto at most "
                                  f"{HUMAN_READABLE_LINES} lines the symbol's width")

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        """The symbol with its quiet zone, which must stay blank and so belongs to the element."""
        x, y = self.at
        if self.symbology == "customer":
            w, h = symbol_size_mm(self.size_pt)
            quiet = CUSTOMER_QUIET_MM
            return (x - quiet, y - quiet, x + w + quiet, y + h + quiet)
        width = total_width_mm(self.module_mm)
        quiet = GS1_QUIET_MODULES * self.module_mm
        below = 0.0
        if self.human_readable is not None and self.human_readable in styles:
            below = HUMAN_READABLE_GAP_MM + cell_lines_height_mm(styles[self.human_readable], HUMAN_READABLE_LINES)
        return (x - quiet, y, x - quiet + width, y + self.height_mm + below)


class GroupElement(ElementModel):
    """Elements placed relative to `at`, sharing one show_on / when."""

    type: Literal["group"]
    at: Point = (0.0, 0.0)
    elements: list[Element]

    def children(self) -> tuple[Children, ...]:
        return (Children("elements", self.elements, self.at, None, False),)


PartId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,63}$", description="a part file layouts/parts/<id>.yaml")]


class PartElement(ElementModel):
    """A reusable layout part (``layouts/parts/<use>.yaml``: its styles and elements) placed at `at`, like a
    group. The loader fills `elements` from the part file (a layout never writes them) and merges the part's
    styles into the layout's; a part cannot contain a part."""

    type: Literal["part"]
    use: PartId
    at: Point = (0.0, 0.0)
    elements: list[Element] = Field(
        default_factory=list, description="filled from the part file when the layout is loaded; never written")

    def children(self) -> tuple[Children, ...]:
        return (Children("elements", self.elements, self.at, None, False),)


class RepeatElement(ElementModel):
    """A block placed `per_sheet` times per sheet for the items of a list; more items → more sheets."""

    type: Literal["repeat"]
    items: DataPath
    per_sheet: int = Field(ge=1, le=100)
    origin: Point
    step: Point
    blank_slots: Literal["draw", "skip", "first"] = Field(
        default="draw", description="draw: unused slots show their frames and labels with no values; skip: "
                                    "nothing; first: only the first unused slot (to close the list, e.g. with "
                                    "「以下余白」 under `when: first_blank`), the rest nothing")
    start_sheet: int = Field(
        default=1, ge=1, le=20,
        description="the sheet the first item is placed on; earlier sheets carry none of the block (a notice "
                    "sheet before its 納付書)")
    block: list[Element]

    def sheets(self, items: int) -> int:
        """The sheets the block needs for `items` items, counting the sheets before `start_sheet` (0 when
        there are no items: the block then adds no sheet)."""
        return self.start_sheet - 1 + math.ceil(items / self.per_sheet) if items else 0

    def first_index(self, sheet: int) -> int | None:
        """The index of the first item placed on sheet `sheet` (1-based); None before `start_sheet`."""
        if sheet < self.start_sheet:
            return None
        return (sheet - self.start_sheet) * self.per_sheet

    def slot_offset(self, slot: int) -> Offset:
        """Where slot `slot` (0-based) of the block is drawn, relative to the block's origin."""
        return (self.step[0] * slot, self.step[1] * slot)

    def children(self) -> tuple[Children, ...]:
        last = self.slot_offset(self.per_sheet - 1)
        return (Children("block", self.block, self.origin, ((0.0, 0.0), last), True),)


class Column(Model):
    """One column of a list: header, width, the row value, its format, alignment and overflow policy."""

    key: Identifier = Field(description="the column's name (used by sums and suppression)")
    header: str = Field(max_length=40)
    width: Mm = Field(gt=0)
    value: DataPath = Field(description="a path starting with row., e.g. row.name")
    format: FormatSpec | None = None
    align: Align = "left"
    style: Identifier | None = Field(default=None, description="default: the table's body style")
    overflow: list[OverflowStep] | None = Field(
        default=None, description="wrap makes the row taller; default: the table's overflow")
    empty: str = Field(default="", max_length=20)
    suppress_repeats: bool = Field(
        default=False, description="同一値: 〃 when equal to the row above on the same page; in full on the "
                                   "first row of a page or group")
    sum: bool = Field(default=False, description="add this (integer) column into 頁計, 累計, 繰越 and totals")

    @field_validator("overflow")
    @classmethod
    def _overflow(cls, v: list[OverflowStep] | None) -> list[OverflowStep] | None:
        return _check_overflow(v)


class SortKey(Model):
    by: DataPath
    descending: bool = False


class GroupSpec(Model):
    """Key breaks: rows with the same key form a group; a group may start a new page (改頁)."""

    key: DataPath = Field(description="the group key, e.g. row.ward")
    page_break: bool = Field(default=True, description="each group starts on a new page; n/N per group")
    header: str | None = Field(default=None, max_length=200, description="template; group.value, group.continued")
    footer: str | None = Field(default=None, max_length=200,
                               description="template; group.value, group.count, group.sums.<key>")
    neutral: str = Field(default="（区分表示なし）", max_length=40,
                         description="the group a row joins when its key is withheld (DV 支援措置)")


class TotalsSpec(Model):
    """The list's running figures; every label is optional (null = not printed)."""

    page: str | None = Field(default="頁計", max_length=20)
    running: str | None = Field(default="累計", max_length=20)
    carry_forward: str | None = Field(default="前頁より繰越", max_length=20)
    carry_over: str | None = Field(default="次頁へ繰越", max_length=20)
    grand: str | None = Field(default="合計", max_length=20)
    count_label: str = Field(default="件数", max_length=20)


def _default_table_overflow() -> list[OverflowStep]:
    return [Condense(condense=0.7), "error"]


class TableElement(ElementModel):
    """A list (一覧表): rows from a data array, paginated with a repeated header, key breaks, totals."""

    type: Literal["table"]
    items: DataPath
    at: Point
    height: Mm = Field(gt=10, description="the table's height on every page (header, rows, totals)")
    columns: list[Column] = Field(min_length=1, max_length=40)
    header_height: Mm = Field(default=7.0, gt=2)
    row_height: Mm = Field(default=6.0, gt=2, description="height of a one-line row")
    header_style: Identifier = "label"
    body_style: Identifier = "body"
    total_style: Identifier = "body"
    overflow: list[OverflowStep] = Field(default_factory=lambda: _default_table_overflow())
    rule_pt: float = Field(default=0.3, ge=0, le=5)
    frame_pt: float = Field(default=0.8, ge=0, le=5)
    header_fill_gray: float | None = Field(default=0.9, ge=0, le=1)
    zebra_gray: float | None = Field(default=None, ge=0, le=1, description="fill of every second row")
    sort: list[SortKey] = Field(default_factory=list)
    group: GroupSpec | None = None
    totals: TotalsSpec | None = None
    end_mark: str | None = Field(default="以下余白", max_length=20,
                                 description="printed after the last row of a group or of the list")

    @field_validator("overflow")
    @classmethod
    def _table_overflow(cls, v: list[OverflowStep]) -> list[OverflowStep]:
        checked = _check_overflow(v)
        assert checked is not None
        return checked

    def width(self) -> float:
        return sum(c.width for c in self.columns)

    def extent(self, styles: Mapping[str, Style]) -> Extent:
        return _box(self.at, self.width(), self.height)


#: every element type: the one list to extend with a new type (tags and the JSON Schema follow from it)
AnyElement = (TextElement | FieldElement | LineElement | BoxElement | GridElement | ImageElement | QrElement
              | BarcodeElement | GroupElement | PartElement | RepeatElement | TableElement | TrueSizeImageElement)
Element = Annotated[AnyElement, Field(discriminator="type")]

def strings_in(value: object) -> Iterator[str]:
    """Every string held in a validated model tree: field values and dict keys, depth first.

    What a JSON dump of the model would hold as strings (field names aside), without building its serializer:
    a render from the layout cache asks `LayoutSpec.prints_issue_number` and should not pay for that."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, BaseModel):
        fields = value.__dict__
        for name in type(value).model_fields:   # fields only: cached properties live in __dict__ too
            yield from strings_in(fields[name])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings_in(item)


# The recursive element models (group, part, repeat) need no model_rebuild() here: with defer_build their
# validators are built on first use (a layout validated), when every forward reference resolves. A render
# from the layout cache never validates a layout, so it never pays for building them.

ELEMENT_TYPES: tuple[type[ElementModel], ...] = get_args(AnyElement)
ELEMENT_TAGS: frozenset[str] = frozenset(t.tag() for t in ELEMENT_TYPES)



# --------------------------------------------------------------------------- consistency checks

#: a path into the data, relative to it as in omissions and sort_keys (name[] for every item of a list), or
#: params.<name> for a declared parameter
CheckPath = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$", max_length=200)]
#: an operand: a path, or a number written in the layout (0.01 turns a percentage into a factor)
Operand = Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True, allow_inf_nan=False)] | CheckPath
ROUNDING_MODES = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "half_up": ROUND_HALF_UP}


class Rounding(Model):
    """Round to a multiple of `unit`: {unit: 100, mode: floor} = 100円未満切捨て."""

    unit: int = Field(ge=1, le=1_000_000_000, description="round to a multiple of this (1000 = 千円未満)")
    mode: Literal["floor", "ceil", "half_up"] = Field(default="floor",
                                                      description="floor = 切捨て, ceil = 切上げ, half_up = 四捨五入")

    def apply(self, value: Decimal) -> Decimal:
        unit = Decimal(self.unit)
        return (value / unit).quantize(Decimal(1), rounding=ROUNDING_MODES[self.mode]) * unit


class CheckFailure(NamedTuple):
    """A broken consistency check: the field that disagrees and what was computed against what was given."""

    field: str
    message: str


class ConsistencyCheck(Model):
    """Figures on a document that must agree, checked when the data is bound (before anything is drawn).

    Exactly one of `sum` (every value at a list path), `product`, `add` or `subtract` (operands: paths or
    numbers; `subtract` is the first minus the others) is computed exactly (decimal), raised to `at_least`
    when declared (課税標準 = max(0, 所得 − 控除)), then rounded when `rounding` says so, and must equal the
    number at `equals`. A null value counts as 0 (an absent amount; a nullable parameter such as X = null)."""

    name: str = Field(min_length=1, max_length=40, description="named in the refusal, e.g. 期別合計")
    sum: CheckPath | None = Field(default=None, description="a list path, e.g. installments[].amount")
    product: list[Operand] | None = Field(default=None, min_length=2, max_length=6)
    add: list[Operand] | None = Field(default=None, min_length=2, max_length=24)
    subtract: list[Operand] | None = Field(default=None, min_length=2, max_length=24,
                                           description="the first operand minus the others")
    at_least: int | None = Field(default=None, description="a result below this is raised to it (0: max(0, …)), "
                                                           "before rounding")
    rounding: Rounding | None = None
    equals: CheckPath = Field(description="the field the result must equal, e.g. annual_tax")

    @field_validator("product", "add", "subtract", mode="before")
    @classmethod
    def _no_booleans(cls, v: Any) -> Any:
        if isinstance(v, list) and any(isinstance(x, bool) for x in v):
            raise ValueError("an operand is a path or a number, not true/false")
        return v

    @model_validator(mode="after")
    def _one_operation(self) -> ConsistencyCheck:
        given = [k for k in ("sum", "product", "add", "subtract") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of sum, product, add, subtract (given: {', '.join(given) or 'none'})")
        return self

    def operation(self) -> tuple[str, list[int | float | str]]:
        """The operation's key and its operands (a sum has one: its list path)."""
        if self.sum is not None:
            return "sum", [self.sum]
        if self.product is not None:
            return "product", list(self.product)
        if self.subtract is not None:
            return "subtract", list(self.subtract)
        assert self.add is not None
        return "add", list(self.add)

    def failure(self, data: Any, params: Mapping[str, object]) -> CheckFailure | None:
        """How `data`, with the layout's parameter values, breaks this check; None when it holds. A parameter
        that is not a number raises ValueError (the layout and the tenant's values are checked beforehand)."""
        op, operands = self.operation()
        if op == "subtract":
            first, *rest = ([_number(v) for v in _values(o, data, params)] for o in operands)
            result = sum(first, Decimal(0)) - sum((v for vs in rest for v in vs), Decimal(0))
        else:
            values = [_number(v) for o in operands for v in _values(o, data, params)]
            if op == "product":
                result = Decimal(1)
                for v in values:
                    result *= v
            else:
                result = sum(values, Decimal(0))
        floored = max(result, Decimal(self.at_least)) if self.at_least is not None else result
        rounded = self.rounding.apply(floored) if self.rounding is not None else floored
        given = sum((_number(v) for v in _values(self.equals, data, params)), Decimal(0))
        if rounded == given:
            return None
        joiner = {"product": " × ", "subtract": " − "}.get(op, " + ")
        expression = joiner.join(_label(o) for o in operands)
        computed = f"the sum of {expression}" if op == "sum" else expression
        computed += f" is {_show(result)}"
        if self.at_least is not None and floored != result:
            computed += f" (at least {self.at_least:,}: {_show(floored)})"
        if self.rounding is not None:
            computed += f" ({self.rounding.mode} to a multiple of {self.rounding.unit:,}: {_show(rounded)})"
        return CheckFailure(_label(self.equals),
                            f"check {self.name!r}: {computed}, but {_label(self.equals)} is {_show(given)}")


def _label(operand: int | float | str) -> str:
    """How an operand is named in a message: data.<path>, params.<name>, or the number itself."""
    if isinstance(operand, str):
        return operand if operand.startswith("params.") else f"data.{operand}"
    return _show(Decimal(str(operand)))


def _values(operand: int | float | str, data: Any, params: Mapping[str, object]) -> list[object]:
    if not isinstance(operand, str):
        return [operand]
    if operand.startswith("params."):
        return [params.get(operand.removeprefix("params."))]
    from renderer.paths import walk  # here: renderer.paths reads renderer.values, which reads this module
    return [found.value for found in walk(data, operand)]


def _number(value: object) -> Decimal:
    """A value as an exact decimal: null counts as 0; a numeric string (a rate parameter "1.4") is read."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        raise ValueError("true/false is not a number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str) and re.fullmatch(NUMBER_PATTERN, value):
        return Decimal(value)
    raise ValueError(f"a {type(value).__name__} that is not a number")


#: a string parameter a check reads as a number (a rate such as 1.4) matches this
NUMBER_PATTERN = r"-?[0-9]+(\.[0-9]+)?"


def _show(value: Decimal) -> str:
    """12,345 or 12,345.678: grouped, no exponent, no trailing zeros after the point."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- the layout


class Standard(Model):
    business: str
    form: str
    reference: str


class Paper(Model):
    size: Literal["A3", "A4", "A5", "B4", "B5", "custom"] = "A4"
    orientation: Literal["portrait", "landscape"] = "portrait"
    # issue 20 (folded mailers): stock that is no standard size, e.g. a V-fold 圧着はがき unfolded 200 × 148 mm
    width_mm: float | None = Field(default=None, ge=50, le=1000, description="size: custom — the sheet's width")
    height_mm: float | None = Field(default=None, ge=50, le=1000, description="size: custom — the sheet's height")

    @model_validator(mode="after")
    def _custom_size(self) -> Paper:
        if self.size != "custom" and (self.width_mm is not None or self.height_mm is not None):
            raise ValueError("width_mm and height_mm are for size: custom only")
        if self.size == "custom" and (self.width_mm is None or self.height_mm is None):
            raise ValueError("size: custom needs width_mm and height_mm")
        return self

    def size_mm(self) -> tuple[float, float]:
        """The sheet's width and height in mm (landscape swaps them)."""
        if self.size == "custom":
            assert self.width_mm is not None and self.height_mm is not None
            w, h = self.width_mm, self.height_mm
            return (h, w) if self.orientation == "landscape" else (w, h)
        return paper_size_mm(self.size, self.orientation)


# --- What a layout needs from a printer (issue 17; checked by renderer/printing before anything is spent) ---
class PrintNeeds(Model):
    """The tray purpose (a key of a printer's `trays` in the tenant file, holding `paper`) and the sides a
    printed copy needs. Absent on a layout: the ``plain`` tray, one-sided."""

    tray: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = Field(
        default="plain", description="tray purpose, e.g. security_paper (偽造防止用紙), plain, envelope")
    sides: Literal["one-sided", "two-sided-long-edge", "two-sided-short-edge"] = Field(
        default="one-sided", description="IPP sides; two-sided needs a printer declared duplex: true")


# --- Pre-printed stock (issue 17): the form printed by the press, shown under previews only ---
class Background(Model):
    """The pre-printed form a layout of ``print_mode: overlay`` is printed onto: one page of a PDF beside the
    layouts, drawn under every preview page (`renderer.preview`) and nowhere else — render output, batch files
    and print jobs carry the layout's own drawing only. The file is checked whenever the layout is loaded
    (`renderer.spec.background`: inside the layouts directory, a PDF of at most 5 MB, the page's size the
    layout's paper size within 0.5 mm)."""

    file: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+\.pdf$", max_length=200)] = Field(
        description="path relative to the layouts directory, e.g. backgrounds/nozei.pdf")
    page: int = Field(default=1, ge=1, le=1000, description="the page of that PDF (1-based)")

    @field_validator("file")
    @classmethod
    def _inside(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"{v!r} leads outside the layouts directory; the background must stay inside it "
                             f"(a path relative to it, e.g. backgrounds/form.pdf)")
        return v


class OptionSpec(Model):
    """A standard option (標準オプション): an on/off function a tenant may switch."""

    default: bool
    label: str = Field(max_length=200)


OmissionItem = Literal[
    "head_and_relationship",  # 世帯主・続柄
    "honseki",                # 本籍・筆頭者
    "my_number",              # 個人番号
    "resident_code",          # 住民票コード
    "foreign_items",          # 国籍・地域, 法30条の45区分, 在留資格, 在留期間等, 満了日, 在留カード等番号
]


class ParameterSpec(Model):
    """A declared parameter a tenant may set (the seed's example: 給付額 = 50,000 円 + X)."""

    type: Literal["integer", "string", "boolean"]
    label: str = Field(max_length=200)
    digits: int | None = Field(default=None, ge=1, le=12, description="integer: at most this many digits")
    max_length: int | None = Field(default=None, ge=1, le=400, description="string: at most this many chars")
    pattern: str | None = Field(default=None, max_length=200,
                                description="string: the whole value must match this regular expression")
    nullable: bool = False
    default: int | str | bool | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _default_fits(self) -> ParameterSpec:
        problem = self.problem(self.default)
        if problem:
            raise ValueError(f"default: {problem}")
        return self

    def problem(self, value: object) -> str | None:
        """Why `value` is not acceptable for this parameter (None when it is)."""
        if value is None:
            return None if self.nullable else "may not be null"
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return "must be an integer"
            if value < 0 or (self.digits is not None and len(str(value)) > self.digits):
                return f"must be a non-negative integer of at most {self.digits} digits"
        elif self.type == "string":
            if not isinstance(value, str):
                return "must be a string"
            if self.max_length is not None and len(value) > self.max_length:
                return f"must be at most {self.max_length} characters"
            if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
                return f"must match {self.pattern}"
        elif not isinstance(value, bool):
            return "must be true or false"
        return None


class WindowSpec(Model):
    """The envelope window, for notices mailed in window envelopes (窓あき封筒).

    `at`/`size` place the window over the sheet as it sits in the envelope; the insert may move by
    `shift_mm` in any direction, and what must show (elements with ``in_window: true``) keeps `margin_mm`
    from the window's edge whatever the shift (Japan Post guideline: 郵便番号 and address stay visible).
    """

    envelope: str = Field(max_length=20, description="e.g. 長形3号")
    at: Point
    size: tuple[Annotated[float, Field(gt=20)], Annotated[float, Field(gt=10)]]
    shift_mm: float = Field(default=3.0, ge=0, le=20)
    margin_mm: float = Field(default=2.0, ge=0, le=10)


class SignatureFieldSpec(Model):
    """A visible electronic signature (PAdES) on a signed PDF: a box on the first or last sheet, in mm from the
    sheet's top-left. Drawn by the signature (its appearance: 「電子署名」, the signer, the time), never by the
    layout; an unsigned PDF shows nothing there. Absent: a signed PDF carries an invisible signature."""

    at: Point
    size: tuple[Annotated[float, Field(ge=20, le=200)], Annotated[float, Field(ge=10, le=100)]]
    sheet: Literal["first", "last"] = "last"


class OmissionSpec(Model):
    """Which data paths an optional item (domain reference §1.6) covers and what prints when omitted."""

    paths: list[DataPath] = Field(min_length=1)
    omitted_text: str = Field(default="", max_length=20)


class IssuedOnWindow(Model):
    """The dates a notice or list may carry as `request.issued_on`, relative to the server's today.

    A notice may be dated ahead for a scheduled mailing or back for a reprint; anything outside
    [today − days_back, today + days_ahead] is refused (rule ``issued-on-window``). Certificates are
    always dated today and cannot declare a window.
    """

    days_back: int = Field(default=60, ge=0, le=3660, description="days before today still accepted")
    days_ahead: int = Field(default=180, ge=0, le=3660, description="days after today still accepted")


DvPolicy = Literal["block", "redact_address"]
AddressKind = Literal["current", "previous"]
#: a requester's relation to the person a document is about (the envelope's request.requester.relation)
Relation = Literal["self", "same_household", "third_party", "agent", "public_office"]
Channel = Literal["counter", "mail", "wide_area", "convenience_store"]


class RequesterPolicy(Model):
    """Who may be issued a form (a layout's ``requesters:``): the requester relations it is issued to and
    the person it is about. A request from any other relation is refused (exit 3, rule
    ``requester-relation``, the message citing `reason`); with `subject` (the data path of that person's
    person_id), a ``self`` requester must name that person and an ``agent`` must act for them (rule
    ``requester-subject``) — before anything is drawn or a number spent. With `channels`, a request through
    any other channel is refused too (rule ``requester-channel``: a notice is never a コンビニ交付 or a
    広域交付, a staff list is handed over at the office). Absent: every relation and channel, as the envelope
    allows (the 住民票's own rules apply)."""

    relations: list[Relation] = Field(min_length=1, max_length=5, description="the relations the form is issued to")
    subject: DataPath | None = Field(
        default=None, description="the person_id of the person the form is about (no lists), e.g. taxpayer.person_id")
    channels: list[Channel] | None = Field(
        default=None, min_length=1, max_length=4, description="the channels it is issued through (absent: every one)")
    reason: str = Field(min_length=1, max_length=200, description="why others are refused, cited in the refusal")

    @field_validator("relations", "channels")
    @classmethod
    def _once(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a {str(info.field_name).removesuffix('s')} is listed twice")
        return v


class Requirement(Model):
    """Data a form cannot be issued without (a layout's ``requires:``): when the data as given holds no value at
    `path` (absent, null, or an empty list or text), the render is refused (exit 3, rule `rule`, naming
    ``data.<path>`` and citing `reason`) before anything is drawn or a number spent. E.g. a 転出証明書 without
    a 転出届 (住基法施行令23条)."""

    path: DataPath = Field(description="the data path that must hold a value, e.g. tenshutsu")
    rule: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,63}$")] = Field(
        description="the rule named in the refusal, e.g. tenshutsu-needs-notification")
    reason: str = Field(min_length=1, max_length=200, description="why the form needs it, cited in the refusal")


class LayoutSpec(Model):
    schema_version: Literal[1]
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,63}$")]
    kind: Literal["certificate", "notice", "list"]
    title: str = Field(max_length=100)
    standard: Standard
    paper: Paper = Paper.model_construct()   # the default A4 portrait, made without building Paper's validator
    data_model: Literal["juminhyo", "idosha_list", "kyufu_list", "kyufu_kettei_notice", "nozei_notice",
                        "inkan", "juminhyo_kisaijiko", "shotoku_kazei", "tenshutsu", "tokusoku"]
    empty_text: str = Field(default="【空欄】", max_length=20)
    certification: str | None = Field(default=None, max_length=300,
                                      description="認証文; certificates must declare it")
    options: dict[Identifier, OptionSpec] = Field(default_factory=dict)
    parameters: dict[Identifier, ParameterSpec] = Field(
        default_factory=dict, description="declared parameters a tenant may set (templates read params.<name>)")
    window: WindowSpec | None = None
    omissions: dict[OmissionItem, OmissionSpec] = Field(default_factory=dict)
    styles: dict[Identifier, Style]
    elements: list[Element] = Field(min_length=1)
    metadata_subject: str | None = Field(default=None, max_length=200)
    # DV 支援措置 (seed document; domain reference §0, §2). block: a document that includes a protected
    # person is refused unless a 一時解除 covers each one (certificates); redact_address: protected addresses
    # print as 「記載省略」 unless the requester is the 申出者 or a 併せて支援を求める者 of the same case.
    # Absent: block for a certificate, redact_address otherwise.
    dv_policy: DvPolicy | None = None
    # The data paths that hold protected addresses (and anything derived from them: 郵便番号, 方書,
    # a barcode, a group key), by which address of the person they are: current (現住所, 転出先) or
    # previous (前住所・転入前住所). A path inside ``members[]`` belongs to that member; any other path is
    # the household's shared address and belongs to every member. Absent: every address of the data
    # model counts as both. When declared, every address of the data model must be listed.
    dv_protected: dict[AddressKind, list[DataPath]] | None = None
    # Keys a batch print run may be sorted by (`chohyo batch --sort NAME`), e.g. the addressee's 郵便番号 for
    # bulk-mail discounts: name → path relative to the data model (no lists). Records without the value sort
    # last; the sort is stable (input order among equal keys).
    sort_keys: dict[Identifier, DataPath] = Field(default_factory=dict)
    # Printed in place of each item of a 転出届 on a certificate issued before the 転出予定日.
    moving_out_omitted_text: str = Field(default="", max_length=20)
    # The window `request.issued_on` must fall in (notices and lists only; a certificate is dated today).
    # Absent on a notice or list: the defaults (60 days back, 180 days ahead).
    issued_on_window: IssuedOnWindow | None = Field(
        default=None, description="notices and lists: the dates request.issued_on may be (default 60 days back, "
                                  "180 ahead); a certificate is always dated today")
    # Local bodies that do not issue this form: ``special_ward`` (Tokyo's 特別区, where e.g. 固定資産税 is
    # levied by 東京都, 地方税法734条1項), ``ward_office`` (a 政令市の区). A render for such a tenant is a
    # usage error (exit 2) naming the reason, before anything is spent.
    not_issued_by: dict[Literal["special_ward", "ward_office"], Annotated[str, Field(min_length=1, max_length=200)]] = \
        Field(default_factory=dict, description="kind of local body → why it does not issue this form")
    # Figures that must agree (期別合計 = 年税額; 課税標準額 × 税率, rounded as declared, = 税額): checked when
    # the data is bound; input that breaks one is refused (exit 2) before anything is drawn or any number spent.
    checks: list[ConsistencyCheck] = Field(
        default_factory=list, description="figures that must agree; input breaking one is refused (exit 2)")
    signature_field: SignatureFieldSpec | None = Field(
        default=None, description="where a signed PDF shows its signature (absent: an invisible signature)")
    printing: PrintNeeds | None = Field(
        default=None, description="what `chohyo print`/`--print-to` needs of a printer (absent: plain tray, one-sided)")
    # issue 17: full — the layout draws everything on plain or security paper; overlay — it is printed onto
    # pre-printed stock, whose form (`background`) previews show under the drawing
    print_mode: Literal["full", "overlay"] = Field(
        default="full", description="full: the layout draws the whole form; overlay: it prints onto pre-printed "
                                    "stock (a background page may then be declared for previews)")
    background: Background | None = Field(
        default=None, description="print_mode: overlay only — the pre-printed form, shown under previews only")

    @field_validator("background")
    @classmethod
    def _background_needs_overlay(cls, v: Background | None, info: ValidationInfo) -> Background | None:
        if v is not None and info.data.get("print_mode", "overlay") != "overlay":   # absent: print_mode invalid
            raise ValueError("only a layout of print_mode: overlay has a pre-printed form to show under previews; "
                             "a full-print layout draws everything itself (set print_mode: overlay or remove "
                             "background)")
        return v
    # issue 20: a folded mailer (圧着はがき): panels, folds, seal margins; data outside the sealed area is refused
    folding: Folding | None = Field(
        default=None, description="a folded mailer: its panels (sealed or not), folds and what may print outside "
                                  "the sealed area (renderer/spec/folding.py)")
    requesters: RequesterPolicy | None = Field(
        default=None, description="who may be issued this form (absent: every relation the envelope allows)")
    requires: list[Requirement] = Field(
        default_factory=list, max_length=20,
        description="data the form cannot be issued without; data lacking one is refused (exit 3)")

    @functools.cached_property
    def prints_issue_number(self) -> bool:
        """Does the layout print the 発行番号 anywhere (a template or value naming ``issue_number``)? A render
        spends serials only when it does: a number that never reaches the paper is not issued (a certificate
        must print it on every sheet, which validation checks)."""
        word = re.compile(r"\bissue_number\b")
        return any(word.search(text) for text in strings_in(self))

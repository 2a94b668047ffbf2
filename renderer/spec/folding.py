"""Folded mailers in the layout language: panels, folds and seal margins (`folding:` of a layout).

In: the `folding:` mapping of a layout (via `renderer.spec.model.LayoutSpec`). Out: frozen models that say
how one sheet of stock is printed on both sides and folded — the panels each side is divided into (their
rectangle in mm on the sheet that prints them, whether they are sealed inside the folded piece, their seal
(glue) margins), the fold lines with the margin kept clear around them, the fold marks the renderer draws,
and the data paths that may print on an unsealed panel (the address block). Geometry only: no import of
the element models, so `renderer.spec.model` can import this module; validation of the elements against
the panels is `renderer.spec.panels`, the fold marks are drawn by `renderer.compose.panels`.

A folded mailer's sheets are the sides of the stock: sheet 1 the outside, sheet 2 the inside (a V-fold or
Z-fold 圧着はがき, a self-mailer). Personal data printed on an unsealed panel, in a seal margin or across a
fold is refused when the layout is validated (`renderer.spec.panels`), so a layout can only show the
address block outside the sealed area.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Mm = Annotated[float, Field(ge=0, le=1000, description="millimetres")]
Rect = tuple[float, float, float, float]   # x0, y0, x1, y1 in mm from the sheet's top-left


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)   # built when a layout is validated


class Margins(_Model):
    """A band inside a panel's edges, per side (mm)."""

    top: Mm = 0.0
    right: Mm = 0.0
    bottom: Mm = 0.0
    left: Mm = 0.0


class Panel(_Model):
    """One panel of one side of the stock: its rectangle on the sheet that prints it (mm from that sheet's
    top-left), whether the folded piece seals it inside (圧着: only the addressee sees it, after peeling),
    and its seal margin — the glue band along its edges where print may be torn when the piece is peeled
    open, so personal data never goes there."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
    label: str = Field(default="", max_length=60, description="what the panel is, e.g. 宛名面（表）")
    sheet: int = Field(ge=1, le=4, description="1 = the outside of the stock, 2 = the inside")
    at: tuple[Mm, Mm]
    size: tuple[Annotated[float, Field(gt=10, le=1000)], Annotated[float, Field(gt=10, le=1000)]]
    sealed: bool = Field(description="true: inside the sealed (glued) piece; false: shows on the outside")
    seal_margin_mm: Margins | Mm = Field(default=0.0, description="glue band inside the panel's edges: one "
                                         "number for every side, or {top, right, bottom, left}")

    def rect(self) -> Rect:
        return (self.at[0], self.at[1], self.at[0] + self.size[0], self.at[1] + self.size[1])

    def margins(self) -> Margins:
        m = self.seal_margin_mm
        return m if isinstance(m, Margins) else Margins(top=m, right=m, bottom=m, left=m)

    def safe_rect(self) -> Rect:
        """The panel less its seal margin: where personal data may print (on a sealed panel)."""
        x0, y0, x1, y1 = self.rect()
        m = self.margins()
        return (x0 + m.left, y0 + m.top, x1 - m.right, y1 - m.bottom)

    @model_validator(mode="after")
    def _margins_fit(self) -> Panel:
        m = self.margins()
        if m.left + m.right >= self.size[0] or m.top + m.bottom >= self.size[1]:
            raise ValueError(f"panel {self.name!r}: its seal margins leave no room inside the panel")
        return self


class Fold(_Model):
    """A straight fold across the whole sheet: vertical at `x` or horizontal at `y` (mm), on the sheets
    listed (a fold crosses both sides of the stock; each side names it in its own coordinates). Nothing
    data-bound prints within `margin_mm` of it."""

    x: Mm | None = None
    y: Mm | None = None
    sheets: list[Annotated[int, Field(ge=1, le=4)]] = Field(min_length=1, description="the sheets it crosses")
    margin_mm: Mm = Field(default=3.0, le=20, description="kept clear of data on each side of the fold")
    label: str = Field(default="", max_length=60, description="e.g. 谷折り (V)")

    @model_validator(mode="after")
    def _one_axis(self) -> Fold:
        if (self.x is None) == (self.y is None):
            raise ValueError("a fold is vertical (x) or horizontal (y): give exactly one of them")
        return self

    def band(self, sheet_w: float, sheet_h: float) -> Rect:
        """The fold's clear band on its sheet."""
        if self.x is not None:
            return (self.x - self.margin_mm, 0.0, self.x + self.margin_mm, sheet_h)
        assert self.y is not None
        return (0.0, self.y - self.margin_mm, sheet_w, self.y + self.margin_mm)


class FoldMarks(_Model):
    """Short ticks the renderer draws at both ends of every fold, from the sheet's edge inwards."""

    length_mm: float = Field(default=4.0, gt=0, le=15)
    width_pt: float = Field(default=0.3, gt=0, le=2)


DataPrefix = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$", max_length=200)]


class Folding(_Model):
    """How the stock is folded (`folding:` of a layout): its panels, folds and fold marks, and what may print
    outside the sealed area. The layout then has exactly as many sheets as its panels cover (sheet 1 = the
    outside, sheet 2 = the inside), composed in that order into one PDF."""

    kind: str = Field(max_length=40, description="e.g. V折り圧着はがき, Z折り圧着はがき (documentation)")
    folded_size: tuple[Annotated[float, Field(gt=10, le=1000)], Annotated[float, Field(gt=10, le=1000)]] = Field(
        description="the folded piece, width × height in mm (documentation; a はがき is 100 × 148)")
    panels: list[Panel] = Field(min_length=2, max_length=12)
    folds: list[Fold] = Field(min_length=1, max_length=8)
    fold_marks: FoldMarks | None = Field(default_factory=FoldMarks,
                                         description="ticks at both ends of each fold; null: none drawn")
    unsealed_data: list[DataPrefix] = Field(
        default_factory=list,
        description="data paths (and what is under them) that may print on an unsealed panel: the address "
                    "block — 宛名, 郵便番号, カスタマバーコード (e.g. data.addressee)")

    @field_validator("panels")
    @classmethod
    def _unique(cls, v: list[Panel]) -> list[Panel]:
        names = [p.name for p in v]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"panel name {name!r} is used twice")
        return v

    @model_validator(mode="after")
    def _sheets(self) -> Folding:
        used = sorted({p.sheet for p in self.panels})
        if used != list(range(1, len(used) + 1)):
            raise ValueError(f"panels cover sheets {used}: they must be 1, 2, … without a gap")
        for i, fold in enumerate(self.folds):
            for s in fold.sheets:
                if s not in used:
                    raise ValueError(f"folds[{i}]: sheet {s} has no panels")
        by_sheet: dict[int, list[Panel]] = {}
        for p in self.panels:
            by_sheet.setdefault(p.sheet, []).append(p)
        for s, panels in by_sheet.items():
            for a_i, a in enumerate(panels):
                for b in panels[a_i + 1:]:
                    if overlaps(a.rect(), b.rect()):
                        raise ValueError(f"panels {a.name!r} and {b.name!r} overlap on sheet {s}")
        return self

    @property
    def sheets(self) -> int:
        """The sheets of the folded mailer (the highest sheet a panel is on)."""
        return max(p.sheet for p in self.panels)

    def panels_on(self, sheet: int) -> list[Panel]:
        return [p for p in self.panels if p.sheet == sheet]

    def folds_on(self, sheet: int) -> list[Fold]:
        return [f for f in self.folds if sheet in f.sheets]


def overlaps(a: Rect, b: Rect, eps: float = 1e-6) -> bool:
    """Do two rectangles share some area (touching edges do not count)?"""
    return a[0] < b[2] - eps and b[0] < a[2] - eps and a[1] < b[3] - eps and b[1] < a[3] - eps


def inside(inner: Rect, outer: Rect, eps: float = 1e-6) -> bool:
    return (inner[0] >= outer[0] - eps and inner[1] >= outer[1] - eps and inner[2] <= outer[2] + eps
            and inner[3] <= outer[3] + eps)

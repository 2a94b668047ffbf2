"""What both barcode modules share: boxes in points, the placed symbol, and the two error kinds.

In: millimetres from the symbologies' rules. Out: `Box` (PDF points, origin bottom-left, like the display
list), `BarcodeLayout` (filled `renderer.display.Rect` ops plus the symbol's box and its quiet-zone box), and
the errors: `BarcodeDataError` (the data cannot be encoded: exit 2, names the field, never echoes the value)
and `BarcodeGeometryError` (a declared size breaks the symbology's limits: a layout problem, exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.display import Rect
from renderer.errors import InputError, LayoutError
from renderer.units import mm

__all__ = ["BarcodeDataError", "BarcodeGeometryError", "BarcodeLayout", "Box", "bar"]


class BarcodeDataError(InputError):
    """Data that cannot become a barcode; `field` names the input, the message never repeats its value."""

    problem = "invalid-barcode-data"
    title = "Invalid barcode data"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class BarcodeGeometryError(LayoutError):
    """A declared barcode size or placement outside what the symbology allows."""

    problem = "invalid-barcode-geometry"
    title = "Barcode size outside the symbology's limits"


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in PDF points, (x, y) its bottom-left corner."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def top(self) -> float:
        return self.y + self.h

    def grow(self, by: float) -> Box:
        """The box enlarged by `by` points on every side."""
        return Box(self.x - by, self.y - by, self.w + 2 * by, self.h + 2 * by)

    def contains(self, other: Box, margin: float = 0.0) -> bool:
        """True when `other` lies inside this box with at least `margin` points to spare on every side."""
        eps = 1e-6
        return (other.x - self.x >= margin - eps and self.right - other.right >= margin - eps
                and other.y - self.y >= margin - eps and self.top - other.top >= margin - eps)


@dataclass(frozen=True)
class BarcodeLayout:
    """A placed symbol: its bars as filled rectangles, the symbol's own box and the box of its quiet zone.

    A layout checks ``window.contains(layout.quiet)``: the quiet zone must stay blank, so it has to lie inside
    whatever area the layout reserves for the symbol (for a window envelope: inside the window, with the
    envelope's own shift margin on top).
    """

    rects: tuple[Rect, ...]
    symbol: Box
    quiet: Box


def bar(x_mm: float, y_mm: float, w_mm: float, h_mm: float, *, x0: float, y0: float) -> Rect:
    """A filled black bar at (x_mm, y_mm) millimetres from the point (x0, y0), in points, no outline."""
    return Rect(x=x0 + mm(x_mm), y=y0 + mm(y_mm), w=mm(w_mm), h=mm(h_mm), stroke=None, fill_gray=0.0)

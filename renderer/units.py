"""The one place for layout geometry: millimetres to PDF points, paper sizes, and the height of a line of text.

In: millimetres (layouts are written in mm), paper names, and a style's font size and line height. Out:
points (1 pt = 1/72 in) for the display list; millimetres for the pitch of a line, the default height of
a one-line text box and the insets of a list cell, used alike by layout validation (does it fit the
sheet?), composition (where does it go?) and list pagination (how tall is a row?).
"""

from __future__ import annotations

from typing import Protocol

MM_PER_INCH = 25.4
PT_PER_INCH = 72.0

PAPER_MM: dict[str, tuple[float, float]] = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "B4": (257.0, 364.0),
    "B5": (182.0, 257.0),
}

#: space above and below the text of a text box, a field or a grid cell
TEXT_VPAD_MM = 0.3
#: space above and below the text of a list (table) cell, and left and right of it
CELL_VPAD_MM = 0.6
CELL_HPAD_MM = 1.0


class LineStyle(Protocol):
    """What line geometry reads of a style (`renderer.spec.model.Style`)."""

    @property
    def size_pt(self) -> float: ...

    @property
    def line_height(self) -> float: ...


def mm(value: float) -> float:
    """Millimetres to points."""
    return value * PT_PER_INCH / MM_PER_INCH


def to_mm(points: float) -> float:
    """Points to millimetres."""
    return points * MM_PER_INCH / PT_PER_INCH


def paper_size_mm(size: str, orientation: str) -> tuple[float, float]:
    w, h = PAPER_MM[size]
    return (h, w) if orientation == "landscape" else (w, h)


def line_pitch_pt(style: LineStyle, size_pt: float | None = None) -> float:
    """Baseline to baseline, in points: the style's line height times its size (or `size_pt`, a shrunk
    size the overflow policy chose)."""
    return (style.size_pt if size_pt is None else size_pt) * style.line_height


def line_pitch_mm(style: LineStyle) -> float:
    """Baseline to baseline at the style's own size, in millimetres."""
    return to_mm(line_pitch_pt(style))


def one_line_height_mm(style: LineStyle) -> float:
    """The height of a text box or field that declares none: one line of its style plus the padding."""
    return line_pitch_mm(style) + 2 * TEXT_VPAD_MM


def cell_lines_height_mm(style: LineStyle, lines: int) -> float:
    """The height `lines` lines of a list cell need (a wrapped or split row of a table)."""
    return lines * line_pitch_mm(style) + 2 * CELL_VPAD_MM

"""The one place where millimetres become PDF points.

In: millimetres (layouts are written in mm). Out: points (1 pt = 1/72 in), used by the display list.
"""

from __future__ import annotations

MM_PER_INCH = 25.4
PT_PER_INCH = 72.0

PAPER_MM: dict[str, tuple[float, float]] = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "B4": (257.0, 364.0),
    "B5": (182.0, 257.0),
}


def mm(value: float) -> float:
    """Millimetres to points."""
    return value * PT_PER_INCH / MM_PER_INCH


def to_mm(points: float) -> float:
    """Points to millimetres."""
    return points * MM_PER_INCH / PT_PER_INCH


def paper_size_mm(size: str, orientation: str) -> tuple[float, float]:
    w, h = PAPER_MM[size]
    return (h, w) if orientation == "landscape" else (w, h)

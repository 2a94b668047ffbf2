"""Calibration for pre-printed stock: the print copy of a PDF moved and scaled as the tray declares.

In: an archived PDF and a tray's `Calibration` (dx_mm right, dy_mm down, scale about the sheet's top-left
corner). Out: a print copy whose every page carries one transformation matrix in front of its content (pypdf:
the page's drawing is wrapped, never re-drawn), written next to the print journal. The archived PDF is never
touched: the calibration belongs to one printer's tray, the archive to the document.
"""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader, PdfWriter, Transformation

from renderer.files import write_atomic
from renderer.tenants import Calibration

PT_PER_MM = 72 / 25.4


def matrix(cal: Calibration, page_height_pt: float) -> tuple[float, float, float, float, float, float]:
    """PDF user space (origin bottom-left, y up) matrix for: scale about the top-left corner, then move
    dx right and dy down."""
    s = cal.scale
    return (s, 0.0, 0.0, s, cal.dx_mm * PT_PER_MM, page_height_pt * (1 - s) - cal.dy_mm * PT_PER_MM)


def calibrated_copy(pdf: Path, cal: Calibration, out: Path) -> Path:
    writer = PdfWriter(clone_from=PdfReader(pdf))
    for page in writer.pages:
        page.add_transformation(Transformation(matrix(cal, float(page.mediabox.height))))
    writer.add_metadata({"/Producer": "chohyo print copy (calibrated)"})
    buf = io.BytesIO()
    writer.write(buf)
    write_atomic(out, buf.getvalue())
    return out


__all__ = ["PT_PER_MM", "calibrated_copy", "matrix"]

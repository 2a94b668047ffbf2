"""Compose what a folded mailer adds to its sheets: the fold marks, and its fixed number of sheets.

In: a layout's `folding:` (`renderer.spec.folding.Folding`), the sheet being composed and its size in mm.
Out: `Line` ops (PDF points, origin bottom-left) — a tick at both ends of every fold that crosses the sheet,
from the sheet's edge inwards, as declared in `folding.fold_marks` — and the sheet count check: a folded
mailer has exactly the sheets its panels cover (sheet 1 the outside, sheet 2 the inside), so data that
would need another sheet (a repeat spilling over) is an error, never a third side that cannot be printed.
"""

from __future__ import annotations

from renderer.display import Line
from renderer.errors import LayoutError
from renderer.spec.folding import Folding
from renderer.units import mm


def fold_marks(folding: Folding, sheet: int, width_mm: float, height_mm: float) -> list[Line]:
    """The fold marks of sheet `sheet` (1-based): two ticks per fold, none when `fold_marks` is null."""
    marks = folding.fold_marks
    if marks is None:
        return []
    length = marks.length_mm
    page_h = mm(height_mm)
    out: list[Line] = []
    for fold in folding.folds_on(sheet):
        if fold.x is not None:
            x = mm(fold.x)
            out.append(Line(x, page_h, x, page_h - mm(length), marks.width_pt))
            out.append(Line(x, 0.0, x, mm(length), marks.width_pt))
        elif fold.y is not None:
            y = page_h - mm(fold.y)
            out.append(Line(0.0, y, mm(length), y, marks.width_pt))
            out.append(Line(mm(width_mm), y, mm(width_mm - length), y, marks.width_pt))
    return out


def folded_sheets(folding: Folding, needed: int) -> int:
    """The sheets of a folded mailer: exactly the sheets its panels cover; `needed` (what the repeats and
    lists of the layout need for this data) beyond that is an error naming both counts."""
    if needed > folding.sheets:
        raise LayoutError(f"folding: a {folding.kind} has {folding.sheets} sheets (its panels), but the data "
                          f"needs {needed}: cap the list in the data model at what one sheet holds",
                          field="folding")
    return folding.sheets

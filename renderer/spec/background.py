"""The background page of an overlay layout: the pre-printed form, checked and read for previews.

In: a validated `LayoutSpec` whose ``background`` names ``{file, page}`` (``print_mode: overlay``), the
layouts directory it is relative to (and, when checking a layout file, that file's text for line numbers).
Out: `check_background` raises `LayoutError` with one diagnostic naming ``background.file`` or
``background.page`` and the reason — the file resolves (symlinks followed) outside the layouts directory, is
missing or unreadable, is over `MAX_BACKGROUND_BYTES`, is not a PDF pypdf can read, is encrypted, has no
such page, the page is rotated, or its size (the crop box, what a viewer shows) differs from the layout's
paper size by more than `SIZE_TOLERANCE_MM` in either direction — and `load_background` returns the checked
page (pypdf) for `renderer.preview` to draw under each preview page.

The file is checked every time the layout is loaded, not kept in the layout cache: the PDF may change while
the layout file does not. Only previews ever read it; render output, batch files and print jobs never do.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from renderer.diagnostics import Diagnostic
from renderer.errors import LayoutError
from renderer.spec.model import LayoutSpec

if TYPE_CHECKING:
    from pypdf import PageObject

#: the largest background PDF accepted (bytes): a scanned or exported form is far smaller
MAX_BACKGROUND_BYTES = 5_000_000
#: how far the page's width and height may differ from the layout's paper size (mm)
SIZE_TOLERANCE_MM = 0.5
PT_PER_MM = 72 / 25.4

HINT = ("the pre-printed form as a one-sheet PDF of the layout's paper size, under the layouts directory "
        "(e.g. backgrounds/<layout>.pdf)")


class _Problem(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _read(spec: LayoutSpec, layouts_dir: Path) -> PageObject:
    """The background page, checked (see the module docstring); `_Problem` names the key and the reason."""
    bg = spec.background
    assert bg is not None
    base = layouts_dir.resolve()
    path = (base / bg.file).resolve()
    if base not in path.parents:
        raise _Problem("background.file", f"{bg.file!r} resolves outside the layouts directory; the background "
                                          f"must stay inside it")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise _Problem("background.file", f"{bg.file!r} is not a file")
        if size > MAX_BACKGROUND_BYTES:
            raise _Problem("background.file", f"{bg.file!r} is {size:,} bytes, over the "
                                              f"{MAX_BACKGROUND_BYTES:,} byte limit")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _Problem("background.file", f"{bg.file!r} does not exist") from None
    except OSError as exc:
        raise _Problem("background.file", f"{bg.file!r} cannot be read ({exc.__class__.__name__})") from None
    if not raw.startswith(b"%PDF-"):
        raise _Problem("background.file", f"{bg.file!r} is not a PDF (it does not start with %PDF-)")
    from pypdf import PdfReader  # only for layouts with a background

    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted:
            raise _Problem("background.file", f"{bg.file!r} is encrypted; save it without a password")
        count = len(reader.pages)
        if bg.page > count:
            raise _Problem("background.page", f"{bg.file!r} has {count} page(s), there is no page {bg.page}")
        page = reader.pages[bg.page - 1]
        rotation = int(page.rotation) % 360
        box = page.cropbox
        width_mm, height_mm = float(box.width) / PT_PER_MM, float(box.height) / PT_PER_MM
    except _Problem:
        raise
    except Exception as exc:   # pypdf's many ways of failing on a damaged file
        raise _Problem("background.file", f"{bg.file!r} is not a readable PDF ({exc.__class__.__name__})") from None
    if rotation:
        raise _Problem("background.page", f"page {bg.page} of {bg.file!r} is rotated ({rotation}°); save it "
                                          f"upright, as the sheet is printed")
    want_w, want_h = spec.paper.size_mm()
    if abs(width_mm - want_w) > SIZE_TOLERANCE_MM or abs(height_mm - want_h) > SIZE_TOLERANCE_MM:
        raise _Problem("background.page", f"page {bg.page} of {bg.file!r} is {width_mm:.1f} × {height_mm:.1f} mm; "
                                          f"the layout's paper is {want_w:g} × {want_h:g} mm (within "
                                          f"{SIZE_TOLERANCE_MM:g} mm)")
    return page


def check_background(spec: LayoutSpec, layout_path: Path, text: str | None = None) -> None:
    """`LayoutError` (exit 2) naming the key and the reason when the layout's background is not usable."""
    if spec.background is None:
        return
    try:
        _read(spec, layout_path.parent)
    except _Problem as problem:
        raise _error(problem, layout_path, text) from None


def load_background(spec: LayoutSpec, layouts_dir: Path) -> PageObject | None:
    """The layout's background page, checked again (the file may have changed since the layout was loaded);
    None when the layout declares none."""
    if spec.background is None:
        return None
    try:
        return _read(spec, layouts_dir)
    except _Problem as problem:
        raise _error(problem, layouts_dir / f"{spec.id}.yaml", None) from None


def _error(problem: _Problem, layout_path: Path, text: str | None) -> LayoutError:
    line = None
    if text is not None:
        from renderer.spec.load import load_yaml_text

        try:
            lines = load_yaml_text(text, source=str(layout_path)).lines
        except LayoutError:
            lines = {}
        line = lines.get(problem.key) or lines.get("background")
    diag = Diagnostic(path=problem.key, message=problem.message, line=line, source=str(layout_path), hint=HINT)
    return LayoutError(f"{layout_path}: {problem.key}: {problem.message}", diagnostics=[diag], field=problem.key)


__all__ = ["MAX_BACKGROUND_BYTES", "SIZE_TOLERANCE_MM", "check_background", "load_background"]

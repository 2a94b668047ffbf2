"""The benchmark's floor: the same display list drawn with plain ReportLab calls, nothing else (the one module
outside `renderer.draw` that imports ReportLab's canvas: it is what the pipeline is measured against).

In: pages of the display list (already composed) and the fonts. Out: PDF bytes drawn into one canvas with
``setFont``/``drawString`` per text run (no composition, no rules, no 長体 or letter spacing, no
ActualText), lines, rectangles, barcode modules as rectangles and each image read once. `chohyo bench
pipeline` compares the full pipeline with this: it is what any ReportLab program printing the same
strings with the same fonts at the same positions would have to spend at least. Never used for output.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from renderer.display import Barcode, Image, Line, Page, Rect, TextRun, dark_runs
from renderer.draw.fonts import register_fonts
from renderer.fonts import FontSet

INITIAL_FONT = "IPAexMincho"


def draw_floor(pages: Iterable[Page], fonts: FontSet) -> bytes:
    buf = io.BytesIO()
    c: Canvas | None = None
    images: dict[bytes, ImageReader] = {}
    registered: set[str] = set()
    for page in pages:
        families = {op.font for op in page.ops if isinstance(op, TextRun)} | {INITIAL_FONT}
        if families - registered:
            register_fonts(fonts, families - registered)
            registered |= families
        if c is None:
            c = Canvas(buf, pagesize=(page.width, page.height), invariant=1, pageCompression=1,
                       initialFontName=INITIAL_FONT, initialFontSize=10)
        c.setPageSize((page.width, page.height))
        for op in page.ops:
            if isinstance(op, TextRun):
                c.setFillGray(op.gray)
                c.setFont(op.font, op.size)
                if op.angle:
                    c.saveState()
                    c.translate(op.x, op.y)
                    c.rotate(op.angle)
                    c.drawString(0, 0, op.draw or op.text)
                    c.restoreState()
                else:
                    c.drawString(op.x, op.y, op.draw or op.text)
            elif isinstance(op, Line):
                c.setStrokeGray(op.gray)
                c.setLineWidth(op.width)
                c.line(op.x1, op.y1, op.x2, op.y2)
            elif isinstance(op, Rect):
                c.setFillGray(op.fill_gray if op.fill_gray is not None else 0)
                c.setLineWidth(op.stroke or 0)
                c.rect(op.x, op.y, op.w, op.h, stroke=1 if op.stroke is not None else 0,
                       fill=1 if op.fill_gray is not None else 0)
            elif isinstance(op, Image):
                reader = images.get(op.data)
                if reader is None:
                    reader = images[op.data] = ImageReader(io.BytesIO(op.data))
                c.drawImage(reader, op.x, op.y, op.w, op.h, mask="auto")
            elif isinstance(op, Barcode):
                c.setFillGray(0)
                path = c.beginPath()
                rows = len(op.matrix)
                for r, row in enumerate(op.matrix):
                    for start, width in dark_runs(row):
                        path.rect(op.x + start * op.module, op.y + (rows - 1 - r) * op.module,
                                  width * op.module, op.module)
                c.drawPath(path, stroke=0, fill=1)
        c.showPage()
    if c is None:
        raise ValueError("no pages")
    c.save()
    return buf.getvalue()

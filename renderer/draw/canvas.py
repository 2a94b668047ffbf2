"""Draw a `PagedDocument` with ReportLab; the only module importing `reportlab.pdfgen`.

In: the display list (points, origin bottom-left) and the fonts directory. Out: PDF bytes with every
font embedded as a subset (never a non-embedded CID font, never Helvetica: ``initialFontName`` is set),
``/Lang (ja-JP)``, title/author/subject/producer, and a deterministic creation date (the request's
交付年月日 at 00:00 Asia/Tokyo, set on this canvas only, not ReportLab's process-wide ``invariant``) and
document ID (derived from the display list), so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import reportlab
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from renderer.display import Barcode, Image, Line, PagedDocument, Rect, TextRun, dump
from renderer.draw.fonts import register_fonts
from renderer.fonts import FontSet

PRODUCER = f"chohyo-renderer (ReportLab {reportlab.Version})"
INITIAL_FONT = "IPAexMincho"


class _FixedStamp:
    """Stands in for ReportLab's TimeStamp: a fixed, zone-aware creation date for one canvas."""

    def __init__(self, when: dt.datetime) -> None:
        offset = when.utcoffset() or dt.timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        self.t = when.timestamp()
        self.lt = when.timetuple()
        self.YMDhms = tuple(self.lt)[:6]
        self.dhh, self.dmm = divmod(minutes, 60)
        self.tzname = when.tzname() or "UTC"


def draw(doc: PagedDocument, fonts: FontSet) -> bytes:
    families = {op.font for page in doc.pages for op in page.ops if isinstance(op, TextRun)}
    register_fonts(fonts, families | {INITIAL_FONT})
    first = doc.pages[0]
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(first.width, first.height), invariant=1, pageCompression=1,
               initialFontName=INITIAL_FONT, initialFontSize=10, lang=doc.info.lang)
    pdf_doc = c._doc
    pdf_doc._timeStamp = _FixedStamp(doc.info.created)
    seed = doc.info.document_id or hashlib.sha256(dump(doc).encode("utf-8")).hexdigest()
    pdf_doc.signature = hashlib.md5(seed.encode("ascii"), usedforsecurity=False)
    c.setTitle(doc.info.title)
    c.setAuthor(doc.info.author)
    c.setSubject(doc.info.subject)
    c.setCreator("chohyo-renderer")
    c.setProducer(PRODUCER)
    c.setKeywords("")
    for page in doc.pages:
        c.setPageSize((page.width, page.height))
        for op in page.ops:
            if isinstance(op, TextRun):
                _text(c, op)
            elif isinstance(op, Line):
                c.setStrokeGray(op.gray)
                c.setLineWidth(op.width)
                c.setDash(list(op.dash) if op.dash else [])
                c.line(op.x1, op.y1, op.x2, op.y2)
                c.setDash([])
            elif isinstance(op, Rect):
                _rect(c, op)
            elif isinstance(op, Image):
                c.drawImage(ImageReader(io.BytesIO(op.data)), op.x, op.y, op.w, op.h, mask="auto")
            elif isinstance(op, Barcode):
                _barcode(c, op)
        c.showPage()
    c.save()
    return buf.getvalue()


def _text(c: Canvas, op: TextRun) -> None:
    c.saveState()
    c.setFillGray(op.gray)
    c.translate(op.x, op.y)
    if op.angle:
        c.rotate(op.angle)
    t = c.beginText(0, 0)
    t.setFont(op.font, op.size)
    if op.h_scale != 1.0:
        t.setHorizScale(op.h_scale * 100)
    if op.char_space:
        t.setCharSpace(op.char_space)
    t.textOut(op.draw or op.text)
    if op.draw:
        # Variant or vertical glyphs: copying gives back the source sequence (ActualText, PDF 14.9.4).
        c._code.append(f"/Span <</ActualText <FEFF{op.text.encode('utf-16-be').hex().upper()}>>> BDC")
        c.drawText(t)
        c._code.append("EMC")
    else:
        c.drawText(t)
    c.restoreState()


def _rect(c: Canvas, op: Rect) -> None:
    c.saveState()
    if op.fill_gray is not None:
        c.setFillGray(op.fill_gray)
    if op.stroke is not None:
        c.setLineWidth(op.stroke)
        c.setStrokeGray(0)
    c.rect(op.x, op.y, op.w, op.h, stroke=1 if op.stroke is not None else 0,
           fill=1 if op.fill_gray is not None else 0)
    c.restoreState()


def _barcode(c: Canvas, op: Barcode) -> None:
    c.saveState()
    c.setFillGray(0)
    path = c.beginPath()
    rows = len(op.matrix)
    for r, row in enumerate(op.matrix):
        y = op.y + (rows - 1 - r) * op.module
        col = 0
        while col < len(row):
            if row[col] == "1":
                start = col
                while col < len(row) and row[col] == "1":
                    col += 1
                path.rect(op.x + start * op.module, y, (col - start) * op.module, op.module)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()

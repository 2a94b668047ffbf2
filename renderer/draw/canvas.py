"""Draw a `PagedDocument` with ReportLab; the only module importing `reportlab.pdfgen`.

In: the display list (points, origin bottom-left) and the fonts directory. Out: PDF bytes with every
font embedded as a subset (never a non-embedded CID font, never Helvetica: ``initialFontName`` is set),
``/Lang (ja-JP)``, title/author/subject/producer, and a deterministic creation date (the request's
交付年月日 at 00:00 Asia/Tokyo, set on this canvas only, not ReportLab's process-wide ``invariant``) and
document ID (given by the caller, derived from the input; else from the display list), so the same
input gives the same bytes. Pages are drawn as they arrive, so a long list streams through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable

import reportlab
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfdoc import PDFArray, PDFBase85Encode, PDFName, PDFStream, PDFZCompress
from reportlab.pdfgen.canvas import Canvas

from renderer.display import Barcode, Image, Line, Page, PagedDocument, Rect, TextRun, dark_runs, dump_op
from renderer.draw.fonts import register_fonts
from renderer.errors import ChohyoError
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


def draw(doc: PagedDocument, fonts: FontSet, *, on_page: Callable[[int, Page], None] | None = None) -> bytes:
    """Draw the pages in order as they come (they may be a generator: nothing is kept once drawn).

    `on_page(number, page)` is called after each page is drawn (display-list dumps, page counts).
    """
    buf = io.BytesIO()
    c: Canvas | None = None
    registered: set[str] = set()
    digest = None if doc.info.document_id else hashlib.sha256(doc.info.title.encode("utf-8"))
    number = 0
    for number, page in enumerate(doc.pages, start=1):
        families = {op.font for op in page.ops if isinstance(op, TextRun)} - registered
        if families or c is None:
            register_fonts(fonts, families | {INITIAL_FONT})
            registered |= families | {INITIAL_FONT}
        if c is None:
            c = _canvas(buf, page, doc)
        c.setPageSize((page.width, page.height))
        for op in page.ops:
            if digest is not None:
                digest.update(dump_op(op).encode("utf-8"))
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
        _seal_page_stream(c)
        if on_page is not None:
            on_page(number, page)
    if c is None:
        raise ChohyoError("the document has no pages; nothing was delivered")
    seed = doc.info.document_id or (digest.hexdigest() if digest is not None else "")
    c._doc.signature = hashlib.md5(seed.encode("ascii"), usedforsecurity=False)
    c.save()
    return buf.getvalue()


def _seal_page_stream(c: Canvas) -> None:
    """Compress the page just finished now, not at save(): ReportLab would otherwise hold every page's
    uncompressed content until the end, and a 100,000-row list would keep ~25 KB per page in memory.
    The stream object is the one ReportLab itself would write at save() (same filter, same bytes)."""
    pdf_page = c._doc.Pages.pages[-1]
    stream = getattr(pdf_page, "stream", None)
    if not stream or pdf_page.Contents or not pdf_page.compression:
        return
    filters = [PDFBase85Encode, PDFZCompress] if rl_config.useA85 else [PDFZCompress]
    encoded = stream
    for f in reversed(filters):           # as PDFStream.format does: the last listed filter first
        encoded = f.encode(encoded)
    contents = PDFStream(content=encoded)
    contents.__Comment__ = "page stream"
    names = [PDFName(f.pdfname) for f in filters]
    contents.dictionary.dict["Filter"] = names[0] if len(names) == 1 else PDFArray(names)
    pdf_page.Contents = contents
    pdf_page.stream = None


def _canvas(buf: io.BytesIO, first: Page, doc: PagedDocument) -> Canvas:
    c = Canvas(buf, pagesize=(first.width, first.height), invariant=1, pageCompression=1,
               initialFontName=INITIAL_FONT, initialFontSize=10, lang=doc.info.lang)
    c._doc._timeStamp = _FixedStamp(doc.info.created)
    c.setTitle(doc.info.title)
    c.setAuthor(doc.info.author)
    c.setSubject(doc.info.subject)
    c.setCreator("chohyo-renderer")
    c.setProducer(PRODUCER)
    c.setKeywords("")
    return c


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
        for start, width in dark_runs(row):
            path.rect(op.x + start * op.module, y, width * op.module, op.module)
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()

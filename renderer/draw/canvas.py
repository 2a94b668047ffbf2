"""Draw a `PagedDocument` with ReportLab; the only module importing `reportlab.pdfgen`.

In: the display list (points, origin bottom-left) and the fonts directory. Out: PDF bytes with every
font embedded as a subset (never a non-embedded CID font, never Helvetica: ``initialFontName`` is set),
``/Lang (ja-JP)``, title/author/subject/producer, and a deterministic creation date (the request's
交付年月日 at 00:00 Asia/Tokyo, set on this canvas only, not ReportLab's process-wide ``invariant``) and
document ID (given by the caller, derived from the input; else from the display list), so the same
input gives the same bytes. Pages are drawn as they arrive, so a long list streams through.

A `Form` op (a static layer: labels, rules, the watermark, the seal) is written once per file as a Form
XObject, the first time a page places it (``beginForm``/``endForm``, named by its content), and placed with
``doForm`` on every page: its text uses the same embedded font subsets and ToUnicode maps as the pages'.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import io
from collections.abc import Callable

import reportlab
from reportlab import rl_config
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFBase85Encode,
    PDFImageXObject,
    PDFName,
    PDFObjectReference,
    PDFStream,
    PDFZCompress,
)
from reportlab.pdfgen.canvas import PATH_OPS, Canvas, _digester

from renderer.display import (
    Barcode,
    Form,
    Image,
    Line,
    Op,
    Page,
    PagedDocument,
    Rect,
    TextRun,
    dark_runs,
    dump_op,
)
from renderer.draw import pdfa
from renderer.draw.fonts import register_fonts
from renderer.errors import ChohyoError
from renderer.fonts import FontSet

PRODUCER = f"chohyo-renderer (ReportLab {reportlab.Version})"
INITIAL_FONT = "IPAexMincho"
DUMP_CACHE_LIMIT = 10_000


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


def draw(doc: PagedDocument, fonts: FontSet, *, on_page: Callable[[int, Page], None] | None = None,
         pdfa_2: bool = False) -> bytes:
    """Draw the pages in order as they come (they may be a generator: nothing is kept once drawn).
    `pdfa_2`: write PDF/A-2 (`renderer.draw.pdfa`: PDF 1.7, XMP, sRGB OutputIntent).

    `on_page(number, page)` is called after each page is drawn (display-list dumps, page counts).
    """
    buf = io.BytesIO()
    c: Canvas | None = None
    registered: set[str] = set()
    images: dict[bytes, tuple[str, str]] = {}   # PNG bytes → (ReportLab's image name, XObject name)
    dumps: dict[Op, bytes] = {}   # the ops of a form repeat on every page: dump each distinct one once
    digest = None if doc.info.document_id else hashlib.sha256(doc.info.title.encode("utf-8"))
    forms: set[str] = set()   # the forms this file defines (by name)
    number = 0
    for number, page in enumerate(doc.pages, start=1):
        families = _families(page) - registered
        if families or c is None:
            register_fonts(fonts, families | {INITIAL_FONT})
            registered |= families | {INITIAL_FONT}
        if c is None:
            c = _canvas(buf, page, doc)
            if pdfa_2:
                pdfa.prepare(c, doc.info)
        c.setPageSize((page.width, page.height))
        if page.inline and any(isinstance(op, Form) and op.name not in forms for op in page.ops):
            _assign_codes(c, page.inline)
        for op in page.ops:
            if digest is not None:
                dumped = dumps.get(op)
                if dumped is None:
                    if len(dumps) >= DUMP_CACHE_LIMIT:
                        dumps.clear()
                    dumped = dumps[op] = dump_op(op).encode("utf-8")
                digest.update(dumped)
            if isinstance(op, Form):
                if op.name not in forms:
                    _define_form(c, op, page, images)
                    forms.add(op.name)
                c.doForm(op.name)
            else:
                _draw_op(c, op, images)
        c.showPage()
        _seal_page_stream(c)
        if on_page is not None:
            on_page(number, page)
    if c is None:
        raise ChohyoError("the document has no pages; nothing was delivered")
    seed = doc.info.document_id or (digest.hexdigest() if digest is not None else "")
    c._doc.signature = hashlib.md5(seed.encode("ascii"), usedforsecurity=False)
    c.save()
    return pdfa.finalize(buf.getvalue()) if pdfa_2 else buf.getvalue()


def _families(page: Page) -> set[str]:
    """The font families the page's text runs and forms use."""
    families: set[str] = set()
    for op in page.ops:
        if isinstance(op, TextRun):
            families.add(op.font)
        elif isinstance(op, Form):
            families |= op.fonts
    return families


def _assign_codes(c: Canvas, inline: tuple[Op, ...]) -> None:
    """Give the characters of a page that defines a form their font-subset codes in the order the inline page
    meets them (ReportLab assigns a code, and so a subset, on first use): a form defined at its layer's place
    would otherwise take codes earlier, and a later run split across subsets at another character is drawn
    a fraction of a pixel off. Characters already known keep their codes; nothing is drawn."""
    doc = c._doc
    for op in inline:
        runs = op.ops if isinstance(op, Form) else (op,)
        for run in runs:
            if isinstance(run, TextRun):
                pdfmetrics.getFont(run.font).splitString(run.draw or run.text, doc)


def _draw_op(c: Canvas, op: Op, images: dict[bytes, tuple[str, str]]) -> None:
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
        _image(c, op, images)
    elif isinstance(op, Barcode):
        _barcode(c, op)


def _define_form(c: Canvas, form: Form, page: Page, images: dict[bytes, tuple[str, str]]) -> None:
    """Write a form's ops as a Form XObject of this file (bounding box: the sheet), in the middle of the
    page that first places it (ReportLab keeps the page's operators aside meanwhile)."""
    c.beginForm(form.name, 0, 0, page.width, page.height)
    for op in form.ops:
        _draw_op(c, op, images)
    c.endForm()


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
    """One text run, as ``q g cm BT Tm [Tz] [Tc] Tf Tj ET Q``.

    The operators are the ones ReportLab's saveState / setFillGray / translate / beginText / setFont /
    textOut / drawText / restoreState sequence writes (same order, same number formatting: `fp_str`), but
    written here directly: that sequence copies the canvas state twice and measures the string, about a
    third of the drawing time of a text-heavy page, for nothing that reaches the file. A rotated run
    (the watermark) still goes through those calls, since a rotation merges into the ``cm`` operator.
    """
    if op.angle:
        _text_rotated(c, op)
        return
    inner = ["BT", "1 0 0 1 0 0 Tm"]
    if op.h_scale != 1.0:
        inner.append(f"{fp_str(op.h_scale * 100)} Tz")
    if op.char_space:
        inner.append(f"{fp_str(op.char_space)} Tc")
    inner.append(_show_text(c, op.font, op.size, op.draw or op.text))
    inner.append("ET")
    code = c._code
    code.append("q")
    code.append(f"{fp_str(op.gray)} g")
    code.append(f"{fp_str(1, 0, 0, 1, op.x, op.y)} cm")
    if op.draw:
        # Variant or vertical glyphs: copying gives back the source sequence (ActualText, PDF 14.9.4).
        code.append(f"/Span <</ActualText <FEFF{op.text.encode('utf-16-be').hex().upper()}>>> BDC")
        code.append(" ".join(inner))
        code.append("EMC")
    else:
        code.append(" ".join(inner))
    code.append("Q")


def _show_text(c: Canvas, family: str, size: float, text: str) -> str:
    """``Tf``/``Tj`` for `text` in an embedded TrueType font, subset by subset (ReportLab's
    `PDFTextObject._formatText` for an unshaped string)."""
    font = pdfmetrics.getFont(family)
    doc = c._doc
    tf = f"{fp_str(size)} Tf {fp_str(size * 1.2)} TL"
    parts = []
    current = -1
    for subset, chunk in font.splitString(text, doc):
        if subset != current:
            parts.append(f"{font.getSubsetInternalName(subset, doc)} {tf}")
            current = subset
        parts.append(f"({c._escape(chunk)}) Tj")
    return " ".join(parts)


def _text_rotated(c: Canvas, op: TextRun) -> None:
    c.saveState()
    c.setFillGray(op.gray)
    c.translate(op.x, op.y)
    c.rotate(op.angle)
    t = c.beginText(0, 0)
    t.setFont(op.font, op.size)
    if op.h_scale != 1.0:
        t.setHorizScale(op.h_scale * 100)
    if op.char_space:
        t.setCharSpace(op.char_space)
    t.textOut(op.draw or op.text)
    if op.draw:
        c._code.append(f"/Span <</ActualText <FEFF{op.text.encode('utf-16-be').hex().upper()}>>> BDC")
        c.drawText(t)
        c._code.append("EMC")
    else:
        c.drawText(t)
    c.restoreState()


def _image(c: Canvas, op: Image, images: dict[bytes, tuple[str, str]]) -> None:
    """Place an image with exactly the operators and objects `Canvas.drawImage(..., mask="auto")` writes.

    ReportLab would decode the PNG, hash its pixels and compress them again for every document and, in one
    document, check them again on every page. Here the decoded image objects are kept per process
    (`_image_objects`: the seal of every certificate a server issues is one image) and copied into each
    document the first time it uses them; later pages draw the same XObject."""
    known = images.get(op.data)
    if known is None:
        known = images[op.data] = _register_image(c, op.data)
    name, xobject = known
    c._currentPageHasImages = 1
    c.saveState()
    c.translate(op.x, op.y)
    c.scale(op.w, op.h)
    c._code.append(f"/{xobject} Do")
    c.restoreState()
    c._formsinuse.append(name)


def _register_image(c: Canvas, data: bytes) -> tuple[str, str]:
    """Register the image in `c`'s document as `drawImage` does; (ReportLab's image name, XObject name)."""
    name, template = _image_objects(data)
    doc = c._doc
    reg_name = doc.getXObjectName(name)
    if doc.idToObject.get(reg_name) is None:
        image = copy.copy(template)
        smask = getattr(template, "_smask", None)
        c._setXObjects(image)
        doc.Reference(image, reg_name)
        doc.addForm(name, image)
        if smask is not None:
            smask = copy.copy(smask)
            mask_name = doc.getXObjectName(smask.name)
            if doc.idToObject.get(mask_name) is None:
                c._setXObjects(smask)
                image.smask = doc.Reference(smask, mask_name)
            else:
                image.smask = PDFObjectReference(mask_name)
            del image._smask
    return name, reg_name


@functools.lru_cache(maxsize=32)
def _image_objects(data: bytes) -> tuple[str, PDFImageXObject]:
    """ReportLab's name (a digest of the pixels and the soft mask) and decoded image object, with its soft
    mask, for PNG `data`: the objects `drawImage` builds, before they are registered in a document."""
    reader = ImageReader(io.BytesIO(data))
    raw = reader.getRGBData()
    alpha = reader._dataA
    name = _digester(raw + (alpha.getRGBData() if alpha else b"auto"))
    image = PDFImageXObject(name, reader, mask="auto")
    image.name = name
    return name, image


def _rect(c: Canvas, op: Rect) -> None:
    """``q [g] [w G] n re S|f|B Q``: the operators of saveState / setFillGray / setLineWidth /
    setStrokeGray / rect / restoreState, written directly (see `_text`)."""
    stroke = 1 if op.stroke is not None else 0
    fill = 1 if op.fill_gray is not None else 0
    code = c._code
    code.append("q")
    if op.fill_gray is not None:
        code.append(f"{fp_str(op.fill_gray)} g")
    if op.stroke is not None:
        code.append(f"{fp_str(op.stroke)} w")
        code.append(f"{fp_str(0)} G")
    code.append(f"n {fp_str(op.x, op.y, op.w, op.h)} re " + PATH_OPS[stroke, fill, c._fillMode])
    code.append("Q")


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

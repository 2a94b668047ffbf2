"""Previews that issue nothing: a layout drawn with real data, under every rule a print obeys, spending nothing.

In: a `Renderer`, an envelope (as parsed from JSON), the layout id the entry point names, the caller, and
whether to outline the elements (for layout authors). Out: a `Preview` — the PDF (PDF/A when the request's
profile says so, as a print would be), its sheet count, the overflow report, DV warnings and the seq of
the ``preview`` record — and `to_png` for one page as PNG (pypdfium2).

What a preview is, whatever the request says:
- the same pipeline as a print up to composition (`Renderer.prepare`, mode ``preview``): the envelope and
  data checks, the 交付年月日 rule, the standard's omissions, 相手方 refusal, DV 支援措置 (a protected address
  reads 「記載省略」 for a third party, a certificate with a protected person is refused unless lifted) — a
  preview never shows what a print would not; a refusal is logged as a print's is (``refusal``, with
  ``output: preview``), so a preview is no unlogged probe of who is protected;
- no 発行番号: nothing is reserved, no counter moves, the 発行番号 slot of every sheet reads
  「プレビュー n/N」, and a large 「プレビュー」 runs across every sheet under the content (no option turns
  either off); one copy is drawn whatever ``copies`` says;
- no ``render`` record: one ``preview`` record (caller, operator, tenant, layout, channel, output,
  relation, pages, sheets, the PDF's sha256, provenance hashes) — no person_id, name, address or number;
- ``outline``: every element's box as a thin rectangle labelled with its type, layout path and (for a
  field) data path, drawn over the page;
- a layout of ``print_mode: overlay`` with a ``background`` (the pre-printed form it is printed onto):
  that page under every preview page (`under_background`) — only here: render output, batch files and
  print jobs are the drawing alone, which is what goes onto the pre-printed stock.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from renderer.api import Mode, Plan, Renderer, refusal_record
from renderer.bind import BoundDocument
from renderer.caller import Caller
from renderer.compose.compose import UNNUMBERED, Composer
from renderer.compose.context import SheetPos
from renderer.compose.table import TablePageComposer
from renderer.display import Op, Page, PagedDocument, Rect, TextRun
from renderer.draw import draw
from renderer.envelope import Envelope
from renderer.errors import RefusedError, UsageError
from renderer.finish import finish
from renderer.fonts import FontSet
from renderer.spec.background import load_background
from renderer.spec.model import Element, FieldElement, LayoutSpec
from renderer.state.issue_log import LogRecord
from renderer.units import mm

if TYPE_CHECKING:
    from pypdf import PageObject

PREVIEW_TEXT = "プレビュー"
MARK_FONT = "IPAexGothic"
OUTLINE_FONT = "IPAexGothic"
OUTLINE_SIZE = 4.0
#: PNG resolution of `to_png` (dots per inch)
PNG_DPI = 100


@dataclass(frozen=True)
class Preview:
    pdf: bytes
    pages: int
    sheets_per_copy: int
    overflow: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log_seq: int = 0
    pdf_sha256: str = ""


class PreviewComposer(Composer):
    """A `Composer` whose sheets print 「プレビュー n/N」 in the 発行番号's place, carry the preview mark across
    the sheet, and (``outline``) every element's box."""

    def __init__(self, doc: BoundDocument, fonts: FontSet, *, outline: bool = False) -> None:
        super().__init__(doc, fonts)
        self.outline = outline
        self._outlines: list[Op] = []

    def _sheet_context(self, n: int, sheets: int, copy_index: int, copies: int, number: str,
                       table: TablePageComposer | None) -> dict[str, Any]:
        ctx = super()._sheet_context(n, sheets, copy_index, copies, number, table)
        ctx["issue_number"] = f"{PREVIEW_TEXT} {n}/{sheets}"
        return ctx

    def element(self, el: Element, path: str, origin: tuple[float, float], ctx: Mapping[str, Any],
                pos: SheetPos, ops: list[Op]) -> None:
        before = len(ops)
        super().element(el, path, origin, ctx, pos, ops)
        if not self.outline or (len(ops) == before and not _shown(self, el, pos, ctx, path)):
            return
        extent = el.extent(self.layout.styles)
        if extent is None:
            return
        x0, y0, x1, y1 = extent
        left, top = origin[0] + x0, origin[1] + y0
        label = f"{el.tag()} {path}" + (f" {el.value}" if isinstance(el, FieldElement) and el.value else "")
        self._outlines.append(Rect(x=mm(left), y=self.y(origin[1] + y1), w=mm(x1 - x0), h=mm(y1 - y0), stroke=0.2))
        self._outlines.append(TextRun(x=mm(left) + 0.5, y=self.y(top) - OUTLINE_SIZE, font=OUTLINE_FONT,
                                      size=OUTLINE_SIZE, text=label, gray=0.35))

    def _page(self, pos: SheetPos, ctx: Mapping[str, Any]) -> Page:
        self._outlines = []
        page = super()._page(pos, ctx)
        return dataclasses.replace(page, ops=(self._mark(page), *page.ops, *self._outlines))

    def _mark(self, page: Page) -> TextRun:
        """「プレビュー」 along the sheet's falling diagonal (the sample tenants' 「見本」 rises), centred, light
        grey, under the content."""
        angle = -math.degrees(math.atan2(page.height, page.width))
        unit = self.fonts.width(self.fonts.runs(PREVIEW_TEXT, [MARK_FONT], field="preview"), 1.0)
        size = min(110.0, 0.6 * math.hypot(page.width, page.height) / unit)
        width = unit * size
        rad = math.radians(angle)
        lift = size * (self.fonts.metrics(MARK_FONT).ascent - 0.5)
        cx, cy = page.width / 2, page.height / 2
        x = cx - (math.cos(rad) * width / 2 - math.sin(rad) * lift)
        y = cy - (math.sin(rad) * width / 2 + math.cos(rad) * lift)
        return TextRun(x=x, y=y, font=MARK_FONT, size=size, text=PREVIEW_TEXT, gray=0.8, angle=angle)


def _shown(composer: Composer, el: Element, pos: SheetPos, ctx: Mapping[str, Any], path: str) -> bool:
    """Whether an element that drew nothing (an empty field) is on this sheet: its box is still outlined."""
    if not pos.shows(el.show_on):
        return False
    return el.when is None or composer.templates.truth(el.when, ctx, path=f"{path}.when")


def preview(renderer: Renderer, raw: Any, *, layout_id: str | None, caller: Caller | None = None,
            outline: bool = False) -> Preview:
    """Preview one envelope (see the module docstring). Raises what a render raises before it spends a
    serial (`InputError`, `UsageError`, `LayoutError`: exit 2; `RefusedError`: exit 3, logged)."""
    who = caller or Caller.local()
    now = renderer.settings.now()

    def log_refusal(envelope: Envelope, spec: LayoutSpec, exc: RefusedError) -> None:
        renderer.issue_log.append(refusal_record(envelope, spec, exc, now, who, extra={"output": "preview"}))

    plan = renderer.prepare(raw, layout_id=layout_id, caller=who, now=now, mode=Mode.PREVIEW,
                            on_refusal=log_refusal)
    doc = plan.doc
    background = load_background(doc.layout, renderer.settings.layouts_dir)   # print_mode: overlay
    composer = PreviewComposer(doc, renderer.fonts, outline=outline)
    pages = 0

    def on_page(n: int, page: Page) -> None:
        nonlocal pages
        pages = n

    pdfa_2 = doc.request.pdfa
    pdf = finish(draw(PagedDocument(info=composer.info(), pages=composer.stream([UNNUMBERED])), renderer.fonts,
                      on_page=on_page, pdfa_2=pdfa_2), pdfa_2=pdfa_2)
    if background is not None:
        pdf = under_background(pdf, background)
    sha = hashlib.sha256(pdf).hexdigest()
    seq = renderer.issue_log.append(preview_record(plan, now, pages=pages, pdf_sha256=sha))
    return Preview(pdf=pdf, pages=pages, sheets_per_copy=plan.sheets, overflow=composer.overflow,
                   warnings=plan.dv.warnings, log_seq=seq, pdf_sha256=sha)


def under_background(pdf: bytes, background: PageObject) -> bytes:
    """`pdf` with `background` (the pre-printed form of an overlay layout) drawn under every page, its crop box
    on the sheet (pypdf: the page's own drawing is kept as it is, over it). The same inputs give the same bytes.
    The PDF/A claim (XMP metadata, OutputIntent) is dropped: the background PDF's conformance is unchecked."""
    from pypdf import PdfReader, PdfWriter, Transformation
    from pypdf.generic import NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    box = background.cropbox
    shift = Transformation().translate(-float(box.left), -float(box.bottom))
    for page in writer.pages:
        page.merge_transformed_page(background, shift, over=False)
    root = writer.root_object
    for key in ("/Metadata", "/OutputIntents"):
        if key in root:
            del root[NameObject(key)]
    writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)   # the dropped XMP too
    writer.pdf_header = reader_header(pdf)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def reader_header(pdf: bytes) -> str:
    """The ``%PDF-x.y`` header of `pdf` (pypdf would write 1.3)."""
    return pdf[:8].decode("ascii")


def preview_record(plan: Plan, now: Any, *, pages: int, pdf_sha256: str) -> LogRecord:
    """The issue log's record of a preview: who previewed which layout for which tenant, no personal data
    (no person_id of the requester, the person acted for or anyone printed)."""
    doc, request = plan.doc, plan.doc.request
    body = {"operator": request.operator, "caller": plan.caller.record(), "tenant": doc.tenant.code,
            "layout": doc.layout.id, "kind": doc.layout.kind, "channel": request.channel, "output": "preview",
            "relation": request.requester.relation, "pages": pages, "sheets": plan.sheets,
            "pdf_sha256": pdf_sha256, **plan.provenance}
    return LogRecord("preview", now, body)


def to_png(pdf: bytes, page: int = 1, *, dpi: int = PNG_DPI) -> bytes:
    """Page `page` (1-based) of `pdf` as PNG. `UsageError` when there is no such page."""
    import pypdfium2 as pdfium  # only when a picture is asked for (PDFium: one thread at a time)

    document = pdfium.PdfDocument(pdf)
    try:
        if not 1 <= page <= len(document):
            raise UsageError(f"--page {page}: the preview has {len(document)} page(s)", field="page")
        bitmap = document[page - 1].render(scale=dpi / 72)
        out = io.BytesIO()
        bitmap.to_pil().save(out, format="PNG", optimize=False)
        return out.getvalue()
    finally:
        document.close()

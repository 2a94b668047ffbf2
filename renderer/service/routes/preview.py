"""Route ``POST /v1/preview/{layout_id}``: an envelope drawn as a preview that issues nothing (`renderer.preview`).

In: the CLI's envelope as JSON, a key with the role ``render`` (of the envelope's tenant), and the query
``format`` (``pdf`` default, or ``png``), ``page`` (the page a PNG shows, 1-based) and ``outline``. Out: the PDF
or PNG with count headers; no 発行番号 is spent and the issue log gets one ``preview`` record without personal
data. Every rule a print obeys applies (422 invalid, 403/423 refused — and the refusal is logged). Runs in
the worker pool like a render (PDFium and ReportLab stay out of the server's threads).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from renderer.service.deps import ServiceDep
from renderer.service.logs import context_of
from renderer.service.openapi import problem_responses
from renderer.service.routes.render import ENVELOPE_BODY, EnvelopeDep
from renderer.service.work import Job, PreviewOutput

router = APIRouter(tags=["preview"])

PREVIEW_HEADERS = {
    "X-Chohyo-Pages": "pages in the preview", "X-Chohyo-Sheets": "sheets per copy",
    "X-Chohyo-Overflow": "fields that needed their overflow policy",
    "X-Chohyo-Issue-Log-Seq": "the issue log's preview record (no 発行番号 was spent)",
}


@router.post(
    "/v1/preview/{layout_id}", operation_id="preview", openapi_extra=ENVELOPE_BODY,
    summary="Preview an envelope: every rule of a print, no 発行番号, 「プレビュー」 on every sheet",
    responses={200: {"description": "the preview as PDF (format=pdf) or one page as PNG (format=png)",
                     "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                                 "image/png": {"schema": {"type": "string", "format": "binary"}}},
                     "headers": {k: {"description": v, "schema": {"type": "string"}}
                                 for k, v in PREVIEW_HEADERS.items()}},
               **problem_responses(400, 401, 403, 404, 413, 422, 423, 429, 500, 503)})
async def preview(
    call: EnvelopeDep, request: Request, service: ServiceDep,
    format: Annotated[Literal["pdf", "png"], Query(description="pdf (every page) or png (one page)")] = "pdf",
    page: Annotated[int, Query(ge=1, le=10_000, description="the page a PNG shows (1-based)")] = 1,
    outline: Annotated[bool, Query(description="draw each element's box with its type and layout path")] = False,
) -> Response:
    job = Job("preview", call.body.raw, call.spec.id, call.caller,
              options={"format": format, "page": page, "outline": outline})
    out = await service.run_job(job, call.principal, call.scrub)
    assert isinstance(out, PreviewOutput)
    context_of(request.scope).add(pages=out.pages, sheets=out.sheets_per_copy, issue_log_seq=out.log_seq)
    return Response(out.data, media_type=out.media_type, headers={
        "X-Chohyo-Pages": str(out.pages), "X-Chohyo-Sheets": str(out.sheets_per_copy),
        "X-Chohyo-Overflow": str(out.overflow.fields), "X-Chohyo-Issue-Log-Seq": str(out.log_seq),
        "Content-Disposition": f'inline; filename="{call.spec.id}-preview.{format}"', "Cache-Control": "no-store"})

"""Routes ``POST /v1/render/{layout_id}`` (envelope → PDF) and ``POST /v1/validate/{layout_id}`` (envelope →
the checks, nothing rendered or recorded).

In: the CLI's envelope {layout, tenant, request, data} as JSON and a key with the role ``render``. Out: the
PDF with its count headers (its issue-log record already written), or a `ValidateResult`; any failure as
problem+json. The envelope's ``request.sign: {level: B-B|B-T|B-LT}`` (or the tenant's ``signing`` policy, e.g.
every ``output: file``) signs the PDF with the tenant's key (`renderer.signing`): the answer then carries the
signed file's sha256 and the signer's fingerprint; a signing service that does not answer is 503 and nothing
is delivered (the 発行番号 are voided). Both run in the worker pool (`Service.run_job`); a render gets our own
job id (a client cannot pick it), so the numbers of a worker killed mid-render can be voided in its place. A
render whose client went away before the PDF was sent has its numbers spoiled (処分) and is answered (logged) 499.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renderer.caller import Caller
from renderer.service.deps import JsonBody, LayoutId, ServiceDep, read_body, require
from renderer.service.keys import Principal
from renderer.service.logs import context_of
from renderer.service.models import OverflowCounts, ValidateResult
from renderer.service.openapi import json_body, problem_responses
from renderer.service.problems import ProblemError, Scrubber
from renderer.service.work import Job, RenderOutput, ValidateOutput
from renderer.spec.model import LayoutSpec

VALIDATE_CHECKS = ["envelope", "data model", "tenant and signer in office", "issued_on is today (certificates)",
                   "rules of the standard", "text fits the layout"]
RENDER_HEADERS = {
    "X-Chohyo-Issue-Numbers": "the 発行番号 of each copy, percent-encoded UTF-8, comma-separated",
    "X-Chohyo-Copies": "copies", "X-Chohyo-Sheets": "sheets per copy (n/N counts these)",
    "X-Chohyo-Pages": "pages in the PDF", "X-Chohyo-Overflow": "fields that needed their overflow policy",
    "X-Chohyo-Overflow-Steps": "step=count, comma-separated (counts only, never text)",
    "X-Chohyo-Chars-Lost": "characters cut by a terminal overflow step",
    "X-Chohyo-Chars-Altered": "characters printed other than given, kind=count (ivs_fallback: a 異体字 the fonts "
                              "lack printed as its base character; substitute: the field's declared substitute); "
                              "absent when none",
    "X-Chohyo-Issue-Log-Seq": "the issue-log record of this render",
    "X-Chohyo-Signed-Sha256": "a signed PDF (request.sign or the tenant's policy): sha256 of the delivered file; "
                              "absent when unsigned",
    "X-Chohyo-Signer-Fingerprint": "a signed PDF: sha256 of the signer's certificate (DER); absent when unsigned",
}
ENVELOPE_BODY = json_body("Envelope", "the envelope {layout, tenant, request, data}, as for the CLI")

router = APIRouter(tags=["render"])


class PdfResponse(Response):
    media_type = "application/pdf"


@dataclass(frozen=True)
class EnvelopeCall:
    """A render or validate request that passed the preamble: its layout, key, body and caller."""

    spec: LayoutSpec
    principal: Principal
    body: JsonBody
    caller: Caller

    @property
    def scrub(self) -> Scrubber:
        return self.body.scrubber()


async def envelope_call(layout_id: LayoutId, request: Request, service: ServiceDep,
                        principal: Annotated[Principal, Depends(require("render"))]) -> EnvelopeCall:
    """Key (role render), layout id, the layout (503 not loaded, 404 unknown), body, tenant, limits (413)."""
    spec = service.layout(layout_id)
    context_of(request.scope).add(layout=spec.id)
    body = await read_body(request, principal, service.settings.max_body_bytes)
    service.check_limits(body.raw)
    return EnvelopeCall(spec, principal, body, Caller.api_key(principal.key_id, principal.roles))


EnvelopeDep = Annotated[EnvelopeCall, Depends(envelope_call)]


@router.post(
    "/v1/render/{layout_id}", operation_id="render", response_class=PdfResponse, openapi_extra=ENVELOPE_BODY,
    summary="Render an envelope to a PDF",
    responses={200: {"description": "the PDF; its issue-log record is already written",
                     "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                     "headers": {k: {"description": v, "schema": {"type": "string"}}
                                 for k, v in RENDER_HEADERS.items()}},
               **problem_responses(400, 401, 403, 404, 413, 422, 423, 429, 500, 503)})
async def render(call: EnvelopeDep, request: Request, service: ServiceDep) -> Response:
    spec, principal, caller = call.spec, call.principal, call.caller
    job = Job("render", call.body.raw, spec.id, caller, uuid.uuid4().hex)   # our own id: a client cannot pick it
    out = await service.run_job(job, principal, call.scrub)
    assert isinstance(out, RenderOutput)
    if await request.is_disconnected():   # made, never delivered: its numbers are spoiled (処分)
        await run_in_threadpool(service.renderer.spoil, out.numbers, out.issue_numbers, layout=spec.id,
                                tenant=principal.tenant, caller=caller, reason="client-gone")
        raise ProblemError(499, "client-closed-request", "Client Closed Request",
                           "the client went away before the PDF was sent; it was voided (with its 発行番号, if any)")
    service.metrics.pages.labels(principal.tenant, spec.id).inc(out.pages)
    context_of(request.scope).add(pages=out.pages, copies=out.copies, sheets=out.sheets_per_copy,
                                  issue_log_seq=out.log_seq)
    return PdfResponse(out.pdf, headers=render_headers(out, spec.id))


def render_headers(out: RenderOutput, layout_id: str) -> dict[str, str]:
    """The count headers of a PDF answer (numbers and counts only, never text of the document)."""
    signed = {"X-Chohyo-Signed-Sha256": out.signed_sha256, "X-Chohyo-Signer-Fingerprint": out.signer_fingerprint} \
        if out.signed_sha256 else {}
    return {
        **signed,
        "X-Chohyo-Issue-Numbers": ", ".join(quote(n, safe="") for n in out.issue_numbers),
        "X-Chohyo-Copies": str(out.copies),
        "X-Chohyo-Sheets": str(out.sheets_per_copy),
        "X-Chohyo-Pages": str(out.pages),
        "X-Chohyo-Overflow": str(out.overflow.fields),
        "X-Chohyo-Overflow-Steps": ", ".join(f"{k}={v}" for k, v in out.overflow.steps.items()),
        "X-Chohyo-Chars-Lost": str(out.overflow.chars_lost),
        "X-Chohyo-Issue-Log-Seq": str(out.log_seq),
        **({"X-Chohyo-Chars-Altered": ", ".join(f"{k}={v}" for k, v in out.altered_chars.items())}
           if out.altered_chars else {}),
        "Content-Disposition": f'attachment; filename="{layout_id}.pdf"',
        "Cache-Control": "no-store",
    }


@router.post("/v1/validate/{layout_id}", operation_id="validate", openapi_extra=ENVELOPE_BODY,
             summary="Check an envelope without rendering (no 発行番号, no issue log, no DV registry)",
             responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 500, 503))
async def validate(call: EnvelopeDep, service: ServiceDep) -> ValidateResult:
    out = await service.run_job(Job("validate", call.body.raw, call.spec.id, call.caller), call.principal,
                                call.scrub)
    assert isinstance(out, ValidateOutput)
    o = out.overflow
    return ValidateResult(valid=True, layout=call.spec.id, tenant=call.principal.tenant, copies=out.copies,
                          sheets_per_copy=out.sheets_per_copy,
                          overflow=OverflowCounts(fields=o.fields, steps=o.steps, chars_lost=o.chars_lost),
                          checked=VALIDATE_CHECKS)

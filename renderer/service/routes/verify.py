"""Route ``POST /v1/verify``: check an uploaded PDF (`renderer.verify`) — signatures, PDF/A claim and checked
clauses, and whether each 発行番号 printed on it is in this server's issue log.

In: the PDF as the raw body (``application/pdf``, at most `renderer.verify.MAX_BYTES`: 413 beyond) and a key
with the role ``render``. Out: `VerifyResult` as JSON. A key sees the issue log of its own tenant only: the
発行番号 are looked up in its tenant's series alone (another tenant with the same 市区町村名 prints the same
number), and a 発行番号 of another tenant is reported ``unknown``, as one never issued. A body that is not a
PDF, or a PDF whose structure or streams cannot be read, is 422 (problem+json, field ``file``). Runs in the
worker pool.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from renderer.caller import Caller
from renderer.service.deps import ServiceDep, require
from renderer.service.keys import Principal
from renderer.service.openapi import problem_responses
from renderer.service.problems import ProblemError, Scrubber, too_large
from renderer.service.work import Job, VerifyOutput
from renderer.verify import MAX_BYTES, NUMBER_PROBLEM, number_problems, unknown_number

router = APIRouter(tags=["verify"])


class VerifyResult(BaseModel):
    """What `chohyo verify --json` prints (see `renderer.verify`)."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    problems: list[str]
    file: dict[str, Any]
    signatures: list[dict[str, Any]] | str = Field(description="each signature, or why none were inspected")
    pdfa: dict[str, Any] = Field(description="the PDF/A claim, every checked clause, what is not checked")
    issue_numbers: list[dict[str, Any]] = Field(description="each 発行番号 on the pages and what the log says")


async def read_pdf(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BYTES:
        raise too_large(f"the PDF is larger than {MAX_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise too_large(f"the PDF is larger than {MAX_BYTES} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.startswith(b"%PDF-"):
        raise ProblemError(422, "invalid-input", "Invalid input", "the body is not a PDF (it must start with %PDF-)",
                           field="file", exit_code=2)
    return body


@router.post(
    "/v1/verify", operation_id="verify", summary="Check a PDF handed back: signatures, PDF/A, 発行番号 in the log",
    openapi_extra={"requestBody": {"required": True, "description": f"the PDF (at most {MAX_BYTES} bytes)",
                                   "content": {"application/pdf": {"schema": {"type": "string",
                                                                              "format": "binary"}}}}},
    responses=problem_responses(401, 403, 413, 422, 429, 500, 503))
async def verify(request: Request, service: ServiceDep,
                 principal: Annotated[Principal, Depends(require("render"))]) -> VerifyResult:
    pdf = await read_pdf(request)
    job = Job("verify", pdf, "", Caller.api_key(principal.key_id, principal.roles),
              options={"tenant": principal.tenant})
    out = await service.run_job(job, principal, Scrubber())
    assert isinstance(out, VerifyOutput)
    report = dict(out.report)
    numbers = []
    for n in report.get("issue_numbers", []):
        if n.get("tenant") not in (None, principal.tenant):   # another tenant's log is not this key's to read
            n = unknown_number(n["printed"], n["page"])       # (the lookup was already this tenant's alone)
        numbers.append(n)
    report["issue_numbers"] = numbers
    # the numbers' problems again, as this key sees them (the same words as the CLI's), then the file's own
    problems = number_problems(numbers) + [p for p in report.get("problems", []) if not p.startswith(NUMBER_PROBLEM)]
    report.update(problems=problems, ok=not problems)
    return VerifyResult.model_validate(report)


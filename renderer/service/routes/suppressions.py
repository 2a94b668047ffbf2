"""Routes of the DV 支援措置 registry: ``POST /v1/suppressions`` (sync deltas from 住民記録, all or nothing),
``GET /v1/suppressions`` (the key's tenant's registry and lifts) and ``POST
/v1/suppressions/{person_id}/lifts`` (a 一時解除; the reviewer is the key).

In: `SyncRequest` (role ``sync``), `LiftRequest` (role ``lift``), JSON parsed strictly; registry reads and
writes always use the key's tenant. Out: `SyncResult`, `SuppressionList`, `LiftResult` (201); each event is
written to the issue log with the operator ``key:<id>`` (as the CLI does with the OS user) and counted in
the metrics. Never logged or answered: person_ids of the body, the lift's reason.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from renderer.errors import ChohyoError, UsageError
from renderer.service.core import Service
from renderer.service.deps import JsonBody, ServiceDep, body_for, read_body, require, same_tenant
from renderer.service.keys import Principal
from renderer.service.logs import context_of
from renderer.service.models import (
    LIFT_REQUEST,
    SYNC_REQUEST,
    LiftRequest,
    LiftResult,
    PersonIdPath,
    SuppressionList,
    SyncResult,
)
from renderer.service.openapi import json_body, problem_responses
from renderer.service.problems import ProblemError, ProblemItem, Scrubber, from_job_error, internal, invalid
from renderer.service.work import JobError

T = TypeVar("T")

router = APIRouter(tags=["suppressions"])
PersonId = Annotated[str, Path(pattern=PersonIdPath, description="宛名番号 of the protected person")]
SyncBody = Annotated[JsonBody, Depends(body_for("sync", lambda s: s.max_sync_body_bytes))]


@router.post("/v1/suppressions", operation_id="syncSuppressions",
             openapi_extra=json_body("SyncRequest", "deltas"),
             summary="Sync the DV 支援措置 registry from 住民記録 (one transaction; a bad record rejects all)",
             responses=problem_responses(400, 401, 403, 413, 422, 429, 500))
async def sync(request: Request, principal: Annotated[Principal, Depends(require("sync"))], body: SyncBody,
               service: ServiceDep) -> SyncResult:
    scrub = body.scrubber()
    try:
        req = SYNC_REQUEST.validate_json(body.data, strict=True)   # strict: no 0 → 1970-01-01
    except ValidationError as exc:
        raise invalid(exc, scrub) from None

    def apply() -> SyncResult:
        now = service.renderer.settings.now()
        report = service.renderer.registry.import_records(principal.tenant, req.records, now)
        service.log_event("import", {"operator": f"key:{principal.key_id}", "tenant": principal.tenant,
                                     "import": report.as_dict(), "file_sha256": hashlib.sha256(body.data).hexdigest()})
        return SyncResult(tenant=principal.tenant, **report.as_dict())

    result = await registry_call(service, apply, principal, "import", scrub)
    context_of(request.scope).add(records=result.lines)
    return result


@router.get("/v1/suppressions", operation_id="listSuppressions", summary="The key's tenant's registry and active lifts",
            responses=problem_responses(401, 403, 422, 429, 500))
async def suppressions(
    principal: Annotated[Principal, Depends(require("lift"))],
    service: ServiceDep,
    tenant: Annotated[str | None, Query(pattern=r"^[0-9]{6}$", description="must be the key's tenant")] = None,
) -> SuppressionList:
    same_tenant(principal, tenant, "tenant")

    def listing() -> SuppressionList:
        now = service.renderer.settings.now()
        found = service.renderer.registry.list(principal.tenant, now)
        service.log_event("list", {"operator": f"key:{principal.key_id}", "tenant": principal.tenant,
                                   "records": len(found["suppressions"])})
        return SuppressionList(**found)

    return await registry_call(service, listing, principal, "list", Scrubber())


@dataclass(frozen=True)
class LiftCall:
    """A lift request that passed the preamble: the person, the key, the parsed lift and its scrubber."""

    person_id: str
    principal: Principal
    req: LiftRequest
    scrub: Scrubber


async def lift_call(person_id: PersonId, request: Request, service: ServiceDep,
                    principal: Annotated[Principal, Depends(require("lift"))]) -> LiftCall:
    """Key (role lift), person_id (422), body (413, 400, 403 tenant), the lift itself (422)."""
    body = await read_body(request, principal, service.settings.max_body_bytes)
    scrub = Scrubber([person_id, *body.scrubber().values])
    try:
        req = LIFT_REQUEST.validate_json(body.data, strict=True)
    except ValidationError as exc:
        raise invalid(exc, scrub) from None
    return LiftCall(person_id, principal, req, scrub)


@router.post("/v1/suppressions/{person_id}/lifts", operation_id="grantLift", status_code=201,
             openapi_extra=json_body("LiftRequest", "the lift"),
             summary="Grant a 一時解除 for one protected person and layout (it expires by itself)",
             responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 500))
async def lift(call: Annotated[LiftCall, Depends(lift_call)], request: Request, service: ServiceDep) -> LiftResult:
    req, principal = call.req, call.principal
    if req.layout not in service.layouts:
        raise ProblemError(422, "invalid-input", "Invalid input", "no layout with this id", field="layout",
                           errors=[ProblemItem(path="layout", message="not a layout of this service")])
    most = service.renderer.tenant(principal.tenant).file.dv.lift_max_minutes
    if req.minutes > most:
        raise ProblemError(422, "invalid-input", "Invalid input", "minutes exceeds the tenant's maximum",
                           field="minutes", errors=[ProblemItem(path="minutes",
                                                                message=f"at most {most} for this tenant")])
    reviewer = f"key:{principal.key_id}"

    def grant() -> LiftResult:
        now = service.renderer.settings.now()
        try:
            made = service.renderer.registry.lift(principal.tenant, call.person_id, req.layout, minutes=req.minutes,
                                                  max_minutes=most, reason=req.reason, reviewer=reviewer, now=now)
        except UsageError as exc:
            if exc.field == "PERSON_ID":
                raise ProblemError(404, "not-found", "Not Found",
                                   "no active suppression of this person in the key's tenant") from None
            raise
        service.log_event("lift", {"operator": reviewer, "tenant": principal.tenant, "layout": req.layout,
                                   "person_ids": [call.person_id], "lift": {"id": made.id, "minutes": made.minutes,
                                                                            "expires_at": made.expires_at}})
        return LiftResult(id=made.id, tenant=made.tenant, person_id=made.person_id, layout=made.layout,
                          created_at=made.created_at, expires_at=made.expires_at, minutes=made.minutes,
                          reviewer=made.reviewer)

    result = await registry_call(service, grant, principal, "lift", call.scrub)
    context_of(request.scope).add(layout=req.layout, lift_id=result.id)
    return result


async def registry_call(service: Service, fn: Callable[[], T], principal: Principal, event: str,
                        scrub: Scrubber) -> T:
    """Run a registry read or write off the event loop, counting it (ok, refused, error) in the metrics;
    a `ChohyoError` becomes its problem (422 for invalid input, 503 for a database that cannot be reached, else 500
    without its message)."""
    try:
        value = await run_in_threadpool(fn)
    except ProblemError:
        service.metrics.registry_events.labels(principal.tenant, event, "refused").inc()
        raise
    except ChohyoError as exc:
        service.metrics.registry_events.labels(principal.tenant, event, "error").inc()
        if exc.exit_code == 2 or exc.problem == "database-unavailable":   # 422, or 503 with Retry-After
            raise from_job_error(JobError.of(exc), scrub) from None
        raise internal(exc.exit_code) from None
    service.metrics.registry_events.labels(principal.tenant, event, "ok").inc()
    return value

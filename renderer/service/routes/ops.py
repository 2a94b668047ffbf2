"""Routes for operations: ``GET /healthz`` (liveness, no key), ``GET /readyz`` (workers up, layouts loaded,
state directory and database writable; no key) and ``GET /metrics`` (Prometheus text, role ``admin``: the
untagged series and the key's own tenant's).

In: the app's `Service`. Out: `Health`, `Ready` or 503 problem+json with ``Retry-After``, the metrics text.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from renderer.service.deps import ServiceDep, require
from renderer.service.keys import Principal
from renderer.service.logs import context_of
from renderer.service.models import Health, Ready
from renderer.service.openapi import problem_responses
from renderer.service.problems import ProblemError, not_ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="health", summary="Liveness (no key)")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", operation_id="ready",
            summary="Readiness: workers up, fonts registered, layouts loaded, state directory and database writable",
            responses=problem_responses(503))
async def readyz(request: Request, service: ServiceDep) -> Ready:
    if not service.ready:
        raise not_ready()
    blocked = await service.state_probe.check()
    if blocked is not None:
        context_of(request.scope).add(not_ready=blocked.code)
        raise ProblemError(503, "not-ready", "Service Unavailable", blocked.detail, headers={"Retry-After": "5"})
    return Ready(status="ready", workers=service.pool.size, workers_ready=service.pool.ready_workers(),
                 layouts=len(service.layouts))


@router.get("/metrics", operation_id="metrics",
            summary="Prometheus metrics (role admin; own tenant's series)", response_class=Response,
            responses={200: {"description": "Prometheus text format",
                             "content": {"text/plain": {"schema": {"type": "string"}}}},
                       **problem_responses(401, 403, 429)})
async def metrics(principal: Annotated[Principal, Depends(require("admin"))], service: ServiceDep) -> Response:
    return Response(service.metrics.exposition(principal.tenant), media_type="text/plain; version=0.0.4; charset=utf-8")

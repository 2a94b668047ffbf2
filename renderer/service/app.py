"""The HTTP render service: `create_app(settings)` builds a FastAPI app with no module-level state.

In: `ServiceSettings`; then HTTP requests with an API key (``X-API-Key``). Out: PDFs (render), JSON
(validate, layouts, suppressions), Prometheus text (metrics) and RFC 9457 problem+json for every non-2xx.

    POST /v1/render/{layout_id}                role render  envelope → application/pdf (+ count headers)
    POST /v1/validate/{layout_id}              role render  envelope → checks without rendering
    GET  /v1/layouts, /v1/layouts/{layout_id}  any role     list; one with its input JSON Schema
    POST /v1/suppressions                      role sync    deltas from 住民記録 (all or nothing)
    GET  /v1/suppressions                      role lift    the key's tenant's registry
    POST /v1/suppressions/{person_id}/lifts    role lift    a 一時解除 (reviewer = the key)
    GET  /healthz, /readyz                     no key       liveness; readiness (workers, fonts, layouts, state)
    GET  /metrics                              role admin   Prometheus (untagged + own tenant's series)
    GET  /openapi.json, /docs                  no key

A key acts only for its own tenant: an envelope or body naming another is 403, and registry reads and
writes use the key's tenant. Renders run in the worker pool (`renderer.service.pool`); each writes its
issue-log record (`Renderer.render`) before its PDF is returned. Registry events (sync, lift, list) are
written to the issue log here, as the CLI does, with the operator ``key:<id>``.
"""


import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.diagnostics import from_pydantic
from renderer.errors import ChohyoError, UsageError
from renderer.schemas import envelope_schema
from renderer.service.keys import KeyStore, Principal, Role
from renderer.service.logs import LOGGER, RequestMiddleware, context_of
from renderer.service.metrics import Metrics
from renderer.service.models import (
    LIFT_REQUEST,
    SYNC_REQUEST,
    Health,
    LayoutDetail,
    LayoutSummary,
    LiftResult,
    OverflowCounts,
    PersonIdPath,
    Ready,
    SuppressionList,
    SyncResult,
    ValidateResult,
)
from renderer.service.openapi import ServiceApp, json_body, problem_responses
from renderer.service.pool import JobTimeout, NotReady, PoolError, QueueFull, RenderPool, WorkerDied
from renderer.service.problems import (
    Problem,
    ProblemError,
    ProblemItem,
    Scrubber,
    from_job_error,
    internal,
    problem_response,
    validation_items,
)
from renderer.service.ratelimit import RateLimiter
from renderer.service.readiness import StateProbe
from renderer.service.settings import ServiceSettings
from renderer.service.work import Job, JobError, OverflowSummary, RenderOutput, ValidateOutput
from renderer.spec.model import LayoutSpec
from renderer.state.issue_log import IssueLogError, LogRecord

T = TypeVar("T")
API_KEY_HEADER = "X-API-Key"
CHALLENGE = f'ApiKey realm="chohyo", header="{API_KEY_HEADER}"'
VALIDATE_CHECKS = ["envelope", "data model", "tenant and signer in office", "issued_on is today (certificates)",
                   "rules of the standard", "text fits the layout"]


class PdfResponse(Response):
    media_type = "application/pdf"


class Service:
    """Everything one app holds: the main-process renderer (layouts, tenants, registry, issue log), the
    render pool, the key store, the rate limiter, metrics and the logger."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.renderer = Renderer(settings.renderer)
        self.pool = RenderPool(settings.renderer, workers=settings.workers, queue_size=settings.queue_size,
                               job_timeout=settings.render_timeout_s, queue_timeout=settings.queue_timeout_s,
                               start_timeout=settings.worker_start_timeout_s)
        self.keys = KeyStore(settings.keys_path)
        self.limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
        self.metrics = Metrics(self.pool.stats)
        self.logger = logging.getLogger(LOGGER)
        self.layouts: dict[str, LayoutSpec] = {}
        self._schemas: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._users = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Load layouts and start the pool; a nested lifespan (a test client inside another) only counts."""
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            try:
                for layout_id in self.renderer.layout_ids():
                    self.layouts[layout_id] = self.renderer.layout(layout_id)
                self.pool.start()
            except BaseException:
                self._users -= 1
                raise
        self.logger.info("started", extra={"fields": {"workers": self.pool.size, "layouts": len(self.layouts),
                                                      "worker_pids": self.pool.worker_pids()}})

    def stop(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            self.pool.close()
        self.logger.info("stopped")

    @property
    def ready(self) -> bool:
        return bool(self.layouts) and self.pool.ready

    # ------------------------------------------------------------------ helpers

    def layout(self, layout_id: str) -> LayoutSpec:
        if not self.layouts:
            raise not_ready()
        spec = self.layouts.get(layout_id)
        if spec is None:
            raise ProblemError(404, "not-found", "Not Found", "no layout with this id (GET /v1/layouts lists them)",
                               field="layout_id")
        return spec

    def input_schema(self, spec: LayoutSpec) -> dict[str, Any]:
        schema = self._schemas.get(spec.id)
        if schema is None:
            schema = self._schemas[spec.id] = envelope_schema(spec.id, spec.data_model)
        return schema

    def check_limits(self, raw: Any) -> None:
        """Copies, persons and rows per document (413), before the envelope reaches a worker."""
        s = self.settings
        if not isinstance(raw, dict):
            return
        request = raw.get("request")
        copies = request.get("copies") if isinstance(request, dict) else None
        if isinstance(copies, int) and not isinstance(copies, bool) and copies > s.max_copies:
            raise too_large(f"at most {s.max_copies} copies per request", "request.copies")
        persons = rows = 0
        stack: list[Any] = [raw.get("data")]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                persons += "person_id" in node
                stack.extend(node.values())
            elif isinstance(node, list):
                rows += len(node)
                stack.extend(node)
        if persons > s.max_persons:
            raise too_large(f"at most {s.max_persons} persons per document", "data")
        if rows > s.max_rows:
            raise too_large(f"at most {s.max_rows} list items (rows, members) per document", "data")

    async def run_job(self, job: Job, principal: Principal, scrub: Scrubber) -> RenderOutput | ValidateOutput:
        labels = (principal.tenant, job.layout_id, job.op)
        started = time.perf_counter()
        try:
            result = await run_in_threadpool(self.pool.run, job)
        except PoolError as exc:
            outcome, problem = pool_problem(exc)
            self.metrics.renders.labels(*labels, outcome).inc()
            if job.op == "render" and job.job_id is not None and isinstance(exc, WorkerDied | JobTimeout):
                # the worker was killed or died: numbers it reserved are voided here, in its place
                await run_in_threadpool(self.void_job, job, principal.tenant, outcome)
            raise problem from None
        finally:
            if job.op == "render":
                self.metrics.render_seconds.labels(job.layout_id).observe(time.perf_counter() - started)
        if isinstance(result, JobError):
            outcome = {"input": "invalid", "refused": "refused", "blocked": "dv_blocked"}.get(result.kind, "error")
            self.metrics.renders.labels(*labels, outcome).inc()
            raise from_job_error(result, scrub)
        self.metrics.renders.labels(*labels, "ok").inc()
        return result

    def void_job(self, job: Job, tenant: str, reason: str) -> None:
        """Void the numbers a killed or dead worker reserved for `job` (best effort: verify reports what
        stays open)."""
        body = {"tenant": tenant, "layout": job.layout_id, "caller": job.caller.record(),
                "reason": f"worker-{reason}"}
        with contextlib.suppress(IssueLogError):
            self.renderer.issue_log.void_open(LogRecord("void", self.renderer.settings.now(), body), job=job.job_id)

    def log_event(self, event: str, body: dict[str, Any]) -> None:
        self.renderer.issue_log.append(LogRecord(event, self.renderer.settings.now(), body))


# ---------------------------------------------------------------------- problems used by several routes

def not_ready() -> ProblemError:
    return ProblemError(503, "not-ready", "Service Unavailable", "the render workers are not ready",
                        headers={"Retry-After": "5"})


def too_large(detail: str, field: str | None = None) -> ProblemError:
    return ProblemError(413, "too-large", "Content Too Large", detail, field=field)


def pool_problem(exc: PoolError) -> tuple[str, ProblemError]:
    if isinstance(exc, QueueFull):
        return "busy", ProblemError(503, "queue-full", "Service Unavailable", "the render queue is full",
                                    headers={"Retry-After": "1"})
    if isinstance(exc, JobTimeout):
        return "timeout", ProblemError(503, "render-timeout", "Service Unavailable",
                                       "the render took too long and was stopped; nothing was delivered",
                                       headers={"Retry-After": "5"})
    if isinstance(exc, NotReady):
        return "busy", not_ready()
    return "error", internal()


def overflow_counts(o: OverflowSummary) -> OverflowCounts:
    return OverflowCounts(fields=o.fields, steps=o.steps, chars_lost=o.chars_lost)


async def read_json(request: Request, limit: int) -> tuple[Any, bytes]:
    """The body as JSON, at most `limit` bytes (413), parsable (400)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(body, parse_constant=no_constants), body
    except (ValueError, RecursionError):
        raise ProblemError(400, "unparsable-body", "Bad Request", "the body is not a JSON document (UTF-8)") from None


def same_tenant(principal: Principal, tenant: Any, field: str) -> None:
    if isinstance(tenant, str) and tenant != principal.tenant:
        raise ProblemError(403, "forbidden-tenant", "Forbidden",
                           "this API key acts only for its own tenant", field=field)


def invalid(exc: ValidationError, scrub: Scrubber) -> ProblemError:
    items = [ProblemItem(path=scrub(d.path) or "", message=scrub(d.message) or "", hint=d.hint)
             for d in from_pydantic(exc)]
    return ProblemError(422, "invalid-input", "Invalid input", f"{len(items)} problem(s)", exit_code=2,
                        errors=items, field=items[0].path if items else None)


# ---------------------------------------------------------------------- the app

def create_app(settings: ServiceSettings) -> FastAPI:
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = ServiceApp(
        title="chohyo 標準帳票 render service",
        version="1",
        description="Renders the standard forms of Japanese municipal systems (住民票の写し, 一覧表, …) from the "
                    "same JSON envelope as the `chohyo` CLI. Every non-2xx answer is RFC 9457 problem+json "
                    "without input values.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    app.add_middleware(RequestMiddleware, metrics=service.metrics, logger=service.logger)
    api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
                           description="`chohyo keys create --tenant T --role …` prints one (once)")

    # ------------------------------------------------------------------ error handlers

    def rid(request: Request) -> str:
        return context_of(request.scope).request_id

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        ctx = context_of(request.scope)
        ctx.add(problem=exc.type.rsplit(":", 1)[-1], rule=exc.rule)
        return problem_response(exc.problem(ctx.request_id), exc.headers)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kinds = {404: "not-found", 405: "method-not-allowed"}
        problem = Problem(type="urn:chohyo:problem:" + kinds.get(exc.status_code, "http"),
                          title=_reason(exc.status_code), status=exc.status_code, request_id=rid(request),
                          instance=f"urn:chohyo:request:{rid(request)}")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:   # every method of the path, not only those of the first route matched
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return problem_response(problem, headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        scrub = Scrubber([*(str(v) for v in request.path_params.values()),
                          *(v for _, v in request.query_params.multi_items())])
        items = validation_items(exc.errors(), scrub)
        err = ProblemError(422, "invalid-input", "Invalid input", f"{len(items)} problem(s)", errors=items,
                           field=items[0].path if items else None, exit_code=2)
        return await on_problem(request, err)

    async def on_error(request: Request, exc: Exception) -> Response:
        context_of(request.scope).add(exception=exc.__class__.__name__)
        return await on_problem(request, internal())

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ChohyoError, on_error)

    # ------------------------------------------------------------------ auth

    def require(role: Role | None) -> Callable[..., Awaitable[Principal]]:
        async def dependency(request: Request, key: Annotated[str | None, Security(api_key)] = None) -> Principal:
            principal = service.keys.verify(key)
            if principal is None:
                service.metrics.auth_failures.labels("missing" if not key else "invalid").inc()
                raise ProblemError(401, "unauthorized", "Unauthorized",
                                   f"a valid API key is required in the {API_KEY_HEADER} header",
                                   headers={"WWW-Authenticate": CHALLENGE})
            context_of(request.scope).add(key_id=principal.key_id, tenant=principal.tenant)
            wait = service.limiter.take(principal.key_id)
            if wait is not None:
                service.metrics.rate_limited.labels(principal.tenant).inc()
                raise ProblemError(429, "rate-limited", "Too Many Requests", "this API key's rate limit is exhausted",
                                   headers={"Retry-After": RateLimiter.retry_after(wait)})
            if role is not None and not principal.has(role):
                service.metrics.auth_failures.labels("role").inc()
                raise ProblemError(403, "forbidden-role", "Forbidden", f"this API key lacks the role {role!r}")
            return principal

        return dependency

    known = service.renderer.layout_ids()   # documented as an enum: clients and the fuzzer see the real ids
    LayoutId = Annotated[str, Path(description="a layout id (GET /v1/layouts)", max_length=64,
                                   json_schema_extra={"enum": known} if known else None)]
    envelope_body = json_body("Envelope", "the envelope {layout, tenant, request, data}, as for the CLI")

    # ------------------------------------------------------------------ render and validate

    render_headers = {
        "X-Chohyo-Issue-Numbers": "the 発行番号 of each copy, percent-encoded UTF-8, comma-separated",
        "X-Chohyo-Copies": "copies", "X-Chohyo-Sheets": "sheets per copy (n/N counts these)",
        "X-Chohyo-Pages": "pages in the PDF", "X-Chohyo-Overflow": "fields that needed their overflow policy",
        "X-Chohyo-Overflow-Steps": "step=count, comma-separated (counts only, never text)",
        "X-Chohyo-Chars-Lost": "characters cut by a terminal overflow step",
        "X-Chohyo-Issue-Log-Seq": "the issue-log record of this render",
    }

    @app.post(
        "/v1/render/{layout_id}", tags=["render"], response_class=PdfResponse, openapi_extra=envelope_body,
        summary="Render an envelope to a PDF",
        responses={200: {"description": "the PDF; its issue-log record is already written",
                         "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                         "headers": {k: {"description": v, "schema": {"type": "string"}}
                                     for k, v in render_headers.items()}},
                   **problem_responses(400, 401, 403, 404, 413, 422, 423, 429, 500, 503)})
    async def render(layout_id: LayoutId, request: Request,
                     principal: Annotated[Principal, Depends(require("render"))]) -> Response:
        spec = service.layout(layout_id)
        ctx = context_of(request.scope)
        ctx.add(layout=spec.id)
        raw, _ = await read_json(request, settings.max_body_bytes)
        same_tenant(principal, raw.get("tenant") if isinstance(raw, dict) else None, "tenant")
        service.check_limits(raw)
        caller = Caller.api_key(principal.key_id, principal.roles)
        job = Job("render", raw, spec.id, caller, uuid.uuid4().hex)   # our own id: a client cannot pick it
        out = await service.run_job(job, principal, Scrubber.of(raw))
        assert isinstance(out, RenderOutput)
        if await request.is_disconnected():   # made, never delivered: its numbers are spoiled (処分)
            await run_in_threadpool(service.renderer.spoil, out.numbers, out.issue_numbers, layout=spec.id,
                                    tenant=principal.tenant, caller=caller, reason="client-gone")
            raise ProblemError(499, "client-closed-request", "Client Closed Request",
                               "the client went away before the PDF was sent; its 発行番号 were voided")
        service.metrics.pages.labels(principal.tenant, spec.id).inc(out.pages)
        ctx.add(pages=out.pages, copies=out.copies, sheets=out.sheets_per_copy, issue_log_seq=out.log_seq)
        headers = {
            "X-Chohyo-Issue-Numbers": ", ".join(quote(n, safe="") for n in out.issue_numbers),
            "X-Chohyo-Copies": str(out.copies),
            "X-Chohyo-Sheets": str(out.sheets_per_copy),
            "X-Chohyo-Pages": str(out.pages),
            "X-Chohyo-Overflow": str(out.overflow.fields),
            "X-Chohyo-Overflow-Steps": ", ".join(f"{k}={v}" for k, v in out.overflow.steps.items()),
            "X-Chohyo-Chars-Lost": str(out.overflow.chars_lost),
            "X-Chohyo-Issue-Log-Seq": str(out.log_seq),
            "Content-Disposition": f'attachment; filename="{spec.id}.pdf"',
            "Cache-Control": "no-store",
        }
        return PdfResponse(out.pdf, headers=headers)

    @app.post("/v1/validate/{layout_id}", tags=["render"], openapi_extra=envelope_body,
              summary="Check an envelope without rendering (no 発行番号, no issue log, no DV registry)",
              responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 500, 503))
    async def validate(layout_id: LayoutId, request: Request,
                       principal: Annotated[Principal, Depends(require("render"))]) -> ValidateResult:
        spec = service.layout(layout_id)
        context_of(request.scope).add(layout=spec.id)
        raw, _ = await read_json(request, settings.max_body_bytes)
        same_tenant(principal, raw.get("tenant") if isinstance(raw, dict) else None, "tenant")
        service.check_limits(raw)
        caller = Caller.api_key(principal.key_id, principal.roles)
        out = await service.run_job(Job("validate", raw, spec.id, caller), principal, Scrubber.of(raw))
        assert isinstance(out, ValidateOutput)
        return ValidateResult(valid=True, layout=spec.id, tenant=principal.tenant, copies=out.copies,
                              sheets_per_copy=out.sheets_per_copy, overflow=overflow_counts(out.overflow),
                              checked=VALIDATE_CHECKS)

    # ------------------------------------------------------------------ layouts

    @app.get("/v1/layouts", tags=["layouts"], summary="The layouts (id, kind, title)",
             responses=problem_responses(401, 429, 500, 503))
    async def layouts(_: Annotated[Principal, Depends(require(None))]) -> list[LayoutSummary]:
        if not service.layouts:
            raise not_ready()
        return [LayoutSummary(id=s.id, kind=s.kind, title=s.title, data_model=s.data_model)
                for s in service.layouts.values()]

    @app.get("/v1/layouts/{layout_id}", tags=["layouts"], summary="One layout with its input JSON Schema",
             responses=problem_responses(401, 404, 422, 429, 500, 503))
    async def layout(layout_id: LayoutId, _: Annotated[Principal, Depends(require(None))]) -> LayoutDetail:
        spec = service.layout(layout_id)
        return LayoutDetail(id=spec.id, kind=spec.kind, title=spec.title, data_model=spec.data_model,
                            options=sorted(spec.options), omissions=sorted(spec.omissions),
                            input_schema=service.input_schema(spec))

    # ------------------------------------------------------------------ the DV suppression registry

    @app.post("/v1/suppressions", tags=["suppressions"], openapi_extra=json_body("SyncRequest", "deltas"),
              summary="Sync the DV 支援措置 registry from 住民記録 (one transaction; a bad record rejects all)",
              responses=problem_responses(400, 401, 403, 413, 422, 429, 500))
    async def sync(request: Request, principal: Annotated[Principal, Depends(require("sync"))]) -> SyncResult:
        raw, body = await read_json(request, settings.max_sync_body_bytes)
        same_tenant(principal, raw.get("tenant") if isinstance(raw, dict) else None, "tenant")
        scrub = Scrubber.of(raw)
        try:
            req = SYNC_REQUEST.validate_json(body, strict=True)   # strict: no 0 → 1970-01-01
        except ValidationError as exc:
            raise invalid(exc, scrub) from None

        def apply() -> SyncResult:
            now = service.renderer.settings.now()
            report = service.renderer.registry.import_records(principal.tenant, req.records, now)
            service.log_event("import", {"operator": f"key:{principal.key_id}", "tenant": principal.tenant,
                                         "import": report.as_dict(), "file_sha256": hashlib.sha256(body).hexdigest()})
            return SyncResult(tenant=principal.tenant, **report.as_dict())

        result = await registry_call(apply, principal, "import", scrub)
        context_of(request.scope).add(records=result.lines)
        return result

    @app.get("/v1/suppressions", tags=["suppressions"], summary="The key's tenant's registry and active lifts",
             responses=problem_responses(401, 403, 422, 429, 500))
    async def suppressions(
        principal: Annotated[Principal, Depends(require("lift"))],
        tenant: Annotated[str | None, Query(pattern=r"^[0-9]{6}$", description="must be the key's tenant")] = None,
    ) -> SuppressionList:
        same_tenant(principal, tenant, "tenant")

        def listing() -> SuppressionList:
            now = service.renderer.settings.now()
            found = service.renderer.registry.list(principal.tenant, now)
            service.log_event("list", {"operator": f"key:{principal.key_id}", "tenant": principal.tenant,
                                       "records": len(found["suppressions"])})
            return SuppressionList(**found)

        return await registry_call(listing, principal, "list", Scrubber())

    @app.post("/v1/suppressions/{person_id}/lifts", tags=["suppressions"], status_code=201,
              openapi_extra=json_body("LiftRequest", "the lift"),
              summary="Grant a 一時解除 for one protected person and layout (it expires by itself)",
              responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 500))
    async def lift(
        person_id: Annotated[str, Path(pattern=PersonIdPath, description="宛名番号 of the protected person")],
        request: Request,
        principal: Annotated[Principal, Depends(require("lift"))],
    ) -> LiftResult:
        raw, body = await read_json(request, settings.max_body_bytes)
        same_tenant(principal, raw.get("tenant") if isinstance(raw, dict) else None, "tenant")
        scrub = Scrubber([person_id, *Scrubber.of(raw).values])
        try:
            req = LIFT_REQUEST.validate_json(body, strict=True)
        except ValidationError as exc:
            raise invalid(exc, scrub) from None
        if req.layout not in service.layouts:
            raise ProblemError(422, "invalid-input", "Invalid input", "no layout with this id", field="layout",
                               errors=[ProblemItem(path="layout", message="not a layout of this service")])
        tenant = service.renderer.tenant(principal.tenant)
        most = tenant.file.dv.lift_max_minutes
        if req.minutes > most:
            raise ProblemError(422, "invalid-input", "Invalid input", "minutes exceeds the tenant's maximum",
                               field="minutes", errors=[ProblemItem(path="minutes",
                                                                    message=f"at most {most} for this tenant")])
        reviewer = f"key:{principal.key_id}"

        def grant() -> LiftResult:
            now = service.renderer.settings.now()
            try:
                made = service.renderer.registry.lift(principal.tenant, person_id, req.layout, minutes=req.minutes,
                                                      max_minutes=most, reason=req.reason, reviewer=reviewer,
                                                      now=now)
            except UsageError as exc:
                if exc.field == "PERSON_ID":
                    raise ProblemError(404, "not-found", "Not Found",
                                       "no active suppression of this person in the key's tenant") from None
                raise
            service.log_event("lift", {"operator": reviewer, "tenant": principal.tenant, "layout": req.layout,
                                       "person_ids": [person_id], "lift": {"id": made.id, "minutes": made.minutes,
                                                                           "expires_at": made.expires_at}})
            return LiftResult(id=made.id, tenant=made.tenant, person_id=made.person_id, layout=made.layout,
                              created_at=made.created_at, expires_at=made.expires_at, minutes=made.minutes,
                              reviewer=made.reviewer)

        result = await registry_call(grant, principal, "lift", scrub)
        context_of(request.scope).add(layout=req.layout, lift_id=result.id)
        return result

    async def registry_call(fn: Callable[[], T], principal: Principal, event: str, scrub: Scrubber) -> T:
        try:
            value = await run_in_threadpool(fn)
        except ProblemError:
            service.metrics.registry_events.labels(principal.tenant, event, "refused").inc()
            raise
        except ChohyoError as exc:
            service.metrics.registry_events.labels(principal.tenant, event, "error").inc()
            if exc.exit_code == 2:
                raise from_job_error(JobError.of(exc), scrub) from None
            raise internal(exc.exit_code) from None
        service.metrics.registry_events.labels(principal.tenant, event, "ok").inc()
        return value

    # ------------------------------------------------------------------ operations

    @app.get("/healthz", tags=["operations"], summary="Liveness (no key)")
    async def healthz() -> Health:
        return Health(status="ok")

    state_probe = StateProbe(service.renderer)

    @app.get("/readyz", tags=["operations"],
             summary="Readiness: workers up, fonts registered, layouts loaded, state directory and database writable",
             responses=problem_responses(503))
    async def readyz(request: Request) -> Ready:
        if not service.ready:
            raise not_ready()
        blocked = await state_probe.check()
        if blocked is not None:
            context_of(request.scope).add(not_ready=blocked.code)
            raise ProblemError(503, "not-ready", "Service Unavailable", blocked.detail, headers={"Retry-After": "5"})
        return Ready(status="ready", workers=service.pool.size, workers_ready=service.pool.ready_workers(),
                     layouts=len(service.layouts))

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (role admin; own tenant's series)",
             response_class=Response,
             responses={200: {"description": "Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                        **problem_responses(401, 403, 429)})
    async def metrics(principal: Annotated[Principal, Depends(require("admin"))]) -> Response:
        return Response(service.metrics.exposition(principal.tenant),
                        media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute | Route) and route.path_regex.match(path) and route.methods:
            methods |= route.methods
    return sorted(methods)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

"""What one service app holds and does beyond HTTP: `Service` (renderer, pool, keys, limits, metrics).

In: `ServiceSettings`; from the routes, parsed request bodies and `Job`s for the render pool. Out: loaded
layouts and their input schemas, the 413 limit checks, render/validate results from the worker pool (or
the `ProblemError` a failure maps to), void records for numbers a killed worker reserved, and issue-log
records of registry events. One `Service` per app (``app.state.service``); no module-level state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from renderer.api import Renderer
from renderer.schemas import envelope_schema
from renderer.service.keys import KeyStore, Principal
from renderer.service.logs import LOGGER
from renderer.service.metrics import Metrics
from renderer.service.pool import JobTimeout, NotReady, PoolError, QueueFull, RenderPool, WorkerDied
from renderer.service.problems import (
    ProblemError,
    Scrubber,
    from_job_error,
    internal,
    not_ready,
    too_large,
)
from renderer.service.ratelimit import RateLimiter
from renderer.service.readiness import StateProbe
from renderer.service.settings import ServiceSettings
from renderer.service.work import Job, JobError, Output
from renderer.spec.model import LayoutSpec
from renderer.state.issue_log import IssueLogError, LogRecord


class Service:
    """Everything one app holds: the main-process renderer (layouts, tenants, registry, issue log), the
    render pool, the key store, the rate limiter, metrics, the state probe of ``/readyz`` and the logger."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.renderer = Renderer(settings.renderer)
        self.pool = RenderPool(settings.renderer, workers=settings.workers, queue_size=settings.queue_size,
                               job_timeout=settings.render_timeout_s, queue_timeout=settings.queue_timeout_s,
                               start_timeout=settings.worker_start_timeout_s)
        self.keys = KeyStore(settings.keys_path)
        self.limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
        self.metrics = Metrics(self.pool.stats)
        self.state_probe = StateProbe(self.renderer)
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

    # ------------------------------------------------------------------ layouts and limits

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

    # ------------------------------------------------------------------ jobs and events

    async def run_job(self, job: Job, principal: Principal, scrub: Scrubber) -> Output:
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


def pool_problem(exc: PoolError) -> tuple[str, ProblemError]:
    """The metrics outcome and the 503/500 problem of a pool failure (queue full, timeout, not ready, died)."""
    if isinstance(exc, QueueFull):
        return "busy", ProblemError(503, "queue-full", "Service Unavailable", "the render queue is full",
                                    headers={"Retry-After": "1"})
    if isinstance(exc, JobTimeout):
        return "timeout", ProblemError(503, "render-timeout", "Service Unavailable",
                                       "the render took too long and was stopped; nothing was delivered",
                                       headers={"Retry-After": "5"})
    if isinstance(exc, NotReady):
        return "busy", not_ready()
    return "error", internal(cause=f"render worker: {exc.__class__.__name__}")

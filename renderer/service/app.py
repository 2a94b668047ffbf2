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
    GET  /openapi.json, /docs                  no key (setting docs: on | key | off; `renderer.service.docs`)

A key acts only for its own tenant: an envelope or body naming another is 403, and registry reads and
writes use the key's tenant. Renders run in the worker pool (`renderer.service.pool`); each writes its
issue-log record (`Renderer.render`) before its PDF is returned. Registry events (sync, lift, list) are
written to the issue log, as the CLI does, with the operator ``key:<id>``.

Where things are: the routes, one module per resource, in `renderer.service.routes`; what they share (the
service, the key's principal with a role, the JSON body) in `renderer.service.deps`; the per-app state and
the worker-pool calls in `renderer.service.core`; the error handlers in `renderer.service.handlers`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from renderer.service.core import Service
from renderer.service.docs import docs_router
from renderer.service.handlers import install_handlers
from renderer.service.logs import RequestMiddleware
from renderer.service.openapi import ServiceApp
from renderer.service.routes import ROUTERS
from renderer.service.settings import ServiceSettings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Service = app.state.service
    await run_in_threadpool(service.start)
    try:
        yield
    finally:
        await run_in_threadpool(service.stop)


def create_app(settings: ServiceSettings) -> FastAPI:
    service = Service(settings)
    app = ServiceApp(
        title="chohyo 標準帳票 render service",
        version="1",
        description="Renders the standard forms of Japanese municipal systems (住民票の写し, 一覧表, …) from the "
                    "same JSON envelope as the `chohyo` CLI. Every non-2xx answer is RFC 9457 problem+json "
                    "without input values.",
        lifespan=lifespan,
        docs_url=None,        # served by renderer.service.docs from the installed swagger-ui-bundle (no CDN)
        redoc_url=None,
        openapi_url=None,
        service=service,      # layout ids as an enum, each layout's data schema and sample
    )
    app.state.service = service
    app.add_middleware(RequestMiddleware, metrics=service.metrics, logger=service.logger)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(docs_router(settings.docs))
    return app

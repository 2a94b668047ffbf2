"""The HTTP routes of the service, one APIRouter per resource.

In: nothing at import (the routers are stateless; each handler reaches its app's `Service` through
`renderer.service.deps`). Out: `ROUTERS`, in the order `create_app` includes them (the order of the paths
in the OpenAPI document):

    render         POST /v1/render/{layout_id}, POST /v1/validate/{layout_id}
    layouts        GET /v1/layouts, GET /v1/layouts/{layout_id}
    suppressions   POST/GET /v1/suppressions, POST /v1/suppressions/{person_id}/lifts
    preview        POST /v1/preview/{layout_id} (renderer.preview: no 発行番号)
    verify         POST /v1/verify (renderer.verify)
    ops            GET /healthz, /readyz, /metrics
"""

from fastapi import APIRouter

from renderer.service.routes import layouts, ops, preview, render, suppressions, verify

ROUTERS: tuple[APIRouter, ...] = (render.router, layouts.router, suppressions.router, preview.router, verify.router,
                                  ops.router)

__all__ = ["ROUTERS"]

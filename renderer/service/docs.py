"""The API documentation without a CDN: ``/openapi.json`` and Swagger UI at ``/docs``, its assets served from
the ``fastapi-swagger`` package installed with the service extra (it ships Swagger UI 5's distribution files;
we use only those files, not its patching of the app). Not ``swagger-ui-bundle``: its Swagger UI 4.15 cannot
read an OpenAPI 3.1 document, which FastAPI writes.

In: the app's `ServiceSettings.docs`: ``on`` (the default: document and UI open to anyone who reaches the
service), ``key`` (``/openapi.json`` needs a valid API key of any role in ``X-API-Key``; the UI page and its
assets, which hold nothing of this deployment, stay open and the page asks for the key), ``off`` (no
document, no UI: 404). Out: `docs_router(mode)`.

The page references only same-origin URLs (under the app's root path): ``/docs/assets/swagger-ui.css``,
``swagger-ui-bundle.js`` and ``docs-init.js`` (our start-up script; no inline script, so a strict
Content-Security-Policy holds). ReDoc is not served: no Python package ships its standalone script except
as part of another web framework's plugin (flask-openapi3-redoc, star-openapi-redoc), and Swagger UI
already renders every schema and example.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from renderer.service.deps import require
from renderer.service.keys import Principal
from renderer.service.problems import ProblemError

DocsMode = Literal["on", "key", "off"]
DOCS_MODES: tuple[DocsMode, ...] = ("on", "key", "off")

#: the Swagger UI files served, with their media types (nothing else of the package is reachable)
ASSETS: dict[str, str] = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
INIT_SCRIPT = "docs-init.js"
CACHE = "public, max-age=86400"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{base}/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{base}/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi="{base}/openapi.json" data-key="{key}"></div>
<script src="{base}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{base}/docs/assets/{init}"></script>
</body>
</html>
"""

# Reads its settings from the page's data attributes. With data-key="required" it asks for the API key once
# (kept in sessionStorage for the tab), sends it with the document request and pre-authorizes the operations.
INIT = """(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var key = null;
  if (root.dataset.key === "required") {
    key = window.sessionStorage.getItem("chohyo-api-key") || window.prompt("X-API-Key") || "";
    window.sessionStorage.setItem("chohyo-api-key", key);
  }
  var ui = window.SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    requestInterceptor: function (req) {
      if (key && !req.headers["X-API-Key"]) { req.headers["X-API-Key"] = key; }
      return req;
    },
    onComplete: function () { if (key) { ui.preauthorizeApiKey("ApiKey", key); } }
  });
  window.ui = ui;
})();
"""


def asset(name: str) -> bytes:
    """One of `ASSETS` from the installed package (or our `INIT` script)."""
    if name == INIT_SCRIPT:
        return INIT.encode("utf-8")
    return (resources.files("fastapi_swagger") / "resources" / name).read_bytes()


def docs_router(mode: DocsMode) -> APIRouter:
    """``/openapi.json``, ``/docs`` and ``/docs/assets/{name}`` for `mode` (none of them for ``off``)."""
    router = APIRouter(include_in_schema=False)
    if mode == "off":
        return router

    if mode == "key":
        @router.get("/openapi.json")
        async def protected_openapi(request: Request,
                                    _: Annotated[Principal, Depends(require(None))]) -> JSONResponse:
            return JSONResponse(request.app.openapi())
    else:
        @router.get("/openapi.json")
        async def openapi(request: Request) -> JSONResponse:
            return JSONResponse(request.app.openapi())

    @router.get("/docs")
    async def docs(request: Request) -> HTMLResponse:
        base = html.escape(str(request.scope.get("root_path", "")).rstrip("/"), quote=True)
        page = PAGE.format(title=html.escape(request.app.title), base=base, init=INIT_SCRIPT,
                           key="required" if mode == "key" else "")
        return HTMLResponse(page, headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            "Cache-Control": "no-cache"})

    @router.get("/docs/assets/{name}")
    async def docs_asset(name: str) -> Response:
        if name == INIT_SCRIPT:
            media = "text/javascript; charset=utf-8"
        elif name in ASSETS:
            media = ASSETS[name]
        else:
            raise ProblemError(404, "not-found", "Not Found", "no such documentation asset")
        return Response(asset(name), media_type=media, headers={"Cache-Control": CACHE})

    return router

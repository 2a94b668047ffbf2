"""The app's exception handlers: every non-2xx answer as RFC 9457 problem+json.

In: a `ProblemError` from a route or dependency, Starlette's `HTTPException` (unknown route 404, wrong
method 405), FastAPI's `RequestValidationError` (path or query parameters), or a `ChohyoError` that escaped
a route. Out: the problem response; its kind and rule go into the request's log context (an escaped
exception by class name only). Input values are scrubbed from validation messages.
"""

from collections.abc import Iterable, Iterator
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute, APIRouter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route

from renderer.errors import ChohyoError
from renderer.service.logs import context_of
from renderer.service.problems import (
    Problem,
    ProblemError,
    Scrubber,
    database_unavailable,
    internal,
    problem_response,
    validation_items,
)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ChohyoError, on_error)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    ctx = context_of(request.scope)
    ctx.add(problem=exc.type.rsplit(":", 1)[-1], rule=exc.rule, cause=exc.cause)
    return problem_response(exc.problem(ctx.request_id), exc.headers)


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    rid = context_of(request.scope).request_id
    kinds = {404: "not-found", 405: "method-not-allowed"}
    problem = Problem(type="urn:chohyo:problem:" + kinds.get(exc.status_code, "http"),
                      title=_reason(exc.status_code), status=exc.status_code, request_id=rid,
                      instance=f"urn:chohyo:request:{rid}")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:   # every method of the path, not only those of the first route matched
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
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
    if isinstance(exc, ChohyoError) and exc.problem == "database-unavailable":   # 503 with Retry-After, cause logged
        return await on_problem(request, database_unavailable(exc.exit_code, exc.message))
    return await on_problem(request, internal())


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for route in _routes(app.routes):
        if isinstance(route, APIRoute | Route) and route.path_regex.match(path) and route.methods:
            methods |= route.methods
    return sorted(methods)


def _routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too (FastAPI ≥ 0.16x keeps an included router as one entry
    that holds the `APIRouter` itself; older versions copied its routes into the app's)."""
    for route in routes:
        router = getattr(route, "original_router", None)
        if isinstance(router, APIRouter):
            yield from _routes(router.routes)
        else:
            yield route


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

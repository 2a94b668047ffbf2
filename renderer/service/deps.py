"""The FastAPI dependencies every route shares: the app's `Service`, the API key's principal with a role,
and the JSON body (bounded, parsed, of the key's own tenant).

In: the request (its ``X-API-Key`` header, its body stream) and the app (``app.state.service``). Out:
`Service`, `Principal` (or 401 missing/invalid key, 429 rate limited, 403 role lacking, in that order) and
`JsonBody` (or 413 too large, 400 not JSON, 403 another tenant named in the body). The key id and tenant
go into the request's log context; nothing of the body does.

The order of checks is part of the API: the key first (a dependency), then the path parameters (FastAPI
validates a dependency's own parameters after its sub-dependencies and calls it only when they are valid),
then what the route itself needs (a layout that exists), and the body last. A route whose path carries more
than the key therefore declares one dependency of its own that takes the path parameter and calls
`read_body` (see ``routes.render`` and ``routes.suppressions``).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, cast

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader

from renderer import jsontext
from renderer.service.core import Service
from renderer.service.keys import Principal, Role
from renderer.service.logs import context_of
from renderer.service.problems import ProblemError, Scrubber, forbidden_tenant, too_large
from renderer.service.ratelimit import RateLimiter
from renderer.service.settings import ServiceSettings

API_KEY_HEADER = "X-API-Key"
CHALLENGE = f'ApiKey realm="chohyo", header="{API_KEY_HEADER}"'

api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
                       description="`chohyo keys create --tenant T --role …` prints one (once)")

#: a layout id in a path; the app's own ids are added to the OpenAPI document as its enum
#: (`renderer.service.openapi.ServiceApp`), so clients and the fuzzer see the real ids
LayoutId = Annotated[str, Path(description="a layout id (GET /v1/layouts)", max_length=64)]


def get_service(request: Request) -> Service:
    return cast(Service, request.app.state.service)


ServiceDep = Annotated[Service, Depends(get_service)]


@cache   # one callable per role: FastAPI then resolves a principal once per request, however often declared
def require(role: Role | None) -> Callable[..., Awaitable[Principal]]:
    """The dependency for a valid API key (401), within its rate limit (429), with `role` (403; None: any)."""

    async def principal(request: Request, service: ServiceDep,
                        key: Annotated[str | None, Security(api_key)] = None) -> Principal:
        found = service.keys.verify(key)
        if found is None:
            service.metrics.auth_failures.labels("missing" if not key else "invalid").inc()
            raise ProblemError(401, "unauthorized", "Unauthorized",
                               f"a valid API key is required in the {API_KEY_HEADER} header",
                               headers={"WWW-Authenticate": CHALLENGE})
        context_of(request.scope).add(key_id=found.key_id, tenant=found.tenant)
        wait = service.limiter.take(found.key_id)
        if wait is not None:
            service.metrics.rate_limited.labels(found.tenant).inc()
            raise ProblemError(429, "rate-limited", "Too Many Requests", "this API key's rate limit is exhausted",
                               headers={"Retry-After": RateLimiter.retry_after(wait)})
        if role is not None and not found.has(role):
            service.metrics.auth_failures.labels("role").inc()
            raise ProblemError(403, "forbidden-role", "Forbidden", f"this API key lacks the role {role!r}")
        return found

    return principal


@dataclass(frozen=True)
class JsonBody:
    """A request body: the parsed JSON (`raw`, any JSON value) and its bytes (for strict model parsing and
    the issue log's hash)."""

    raw: Any
    data: bytes

    def scrubber(self) -> Scrubber:
        return Scrubber.of(self.raw)


async def read_body(request: Request, principal: Principal, limit: int) -> JsonBody:
    """The body as JSON of at most `limit` bytes (413), parsable (400), naming no other tenant (403)."""
    raw, data = await read_json(request, limit)
    same_tenant(principal, raw.get("tenant") if isinstance(raw, dict) else None, "tenant")
    return JsonBody(raw, data)


def body_for(role: Role, limit: Callable[[ServiceSettings], int]) -> Callable[..., Awaitable[JsonBody]]:
    """The dependency for the body of a route whose path has no parameters: the key with `role` first."""

    async def body(request: Request, service: ServiceDep,
                   principal: Annotated[Principal, Depends(require(role))]) -> JsonBody:
        return await read_body(request, principal, limit(service.settings))

    return body


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

    try:
        return jsontext.loads(body), body
    except jsontext.NotJson as exc:   # the reason names no data (renderer.jsontext)
        raise ProblemError(400, "unparsable-body", "Bad Request",
                           f"the body is not a JSON document (UTF-8): {exc.reason}", field=exc.path) from None


def same_tenant(principal: Principal, tenant: Any, field: str) -> None:
    """A key acts only for its own tenant: a body or query naming another is 403."""
    if isinstance(tenant, str) and tenant != principal.tenant:
        raise forbidden_tenant(field)

"""Structured JSON logs and the outermost request middleware (request id, access log, HTTP metrics, last
line of defence against exceptions).

In: each HTTP request (ASGI scope), the fields handlers add to its `RequestContext` (key id, tenant,
layout, outcome, problem type, rule, counts, issue-log seq). Out: one JSON object per request on the
``chohyo.service`` logger — request id, method, route *template* (a raw path may hold a person_id), status,
milliseconds and those fields — the ``X-Request-ID`` response header, and the HTTP metrics.

Never logged: bodies, query strings, raw paths, API keys, names, addresses, numbers or person_ids of
residents. An incoming ``X-Request-ID`` is kept only if it is a short token (letters, digits, ``._-``).
An exception that escapes a handler is logged by class name only (its message may hold data) and
answered 500 problem+json, so neither a traceback nor a value reaches a client or a log. A client that
disconnects before the whole answer was sent (the server reports ``http.disconnect``, Starlette raises
`ClientDisconnect` while the body is read, or sending fails with an `OSError`) is logged as 499, nginx's
"client closed request", at info level: nobody is answered, and it is not a server error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renderer.service.metrics import Metrics
from renderer.service.problems import internal, problem_response

LOGGER = "chohyo.service"
CLIENT_CLOSED_REQUEST = 499   # nginx's status for a client that went away before the answer was sent
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra={"fields": {...}}` adds keys. Japanese stays readable."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            obj.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            obj["exception"] = record.exc_info[0].__name__   # the class only: messages may hold data
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def configure_logging(level: str = "info") -> None:
    """For `chohyo serve`: JSON lines on stderr for the service and uvicorn's own loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")   # raw paths and client addresses: never
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True


@dataclass
class RequestContext:
    request_id: str
    fields: dict[str, Any] = field(default_factory=dict)

    def add(self, **values: Any) -> None:
        self.fields.update({k: v for k, v in values.items() if v is not None})


def context_of(scope: Scope) -> RequestContext:
    ctx = scope.get("state", {}).get("chohyo")
    if isinstance(ctx, RequestContext):
        return ctx
    return RequestContext(request_id="")


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, logger: logging.Logger) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        ctx = RequestContext(request_id=request_id)
        scope.setdefault("state", {})["chohyo"] = ctx
        started = time.perf_counter()
        status = 500
        response_started = False
        response_complete = False
        client_gone = False

        async def receive_wrapper() -> Message:
            nonlocal client_gone
            message = await receive()
            if message["type"] == "http.disconnect" and not response_complete:
                client_gone = True   # the client closed the connection before the whole answer was sent
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started, response_complete, client_gone
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            try:
                await send(message)
            except OSError:   # the server cannot write to the client (uvicorn's ClientDisconnected is one)
                client_gone = True
                raise
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                response_complete = True

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception as exc:
            ctx.add(exception=exc.__class__.__name__)
            if isinstance(exc, ClientDisconnect):
                client_gone = True
            if not response_started and not client_gone:   # nobody to answer once the client is gone
                problem = internal().problem(request_id)
                await problem_response(problem)(scope, receive, send_wrapper)
        finally:
            if client_gone and not response_complete:
                status = CLIENT_CLOSED_REQUEST
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            tenant = ctx.fields.get("tenant", "")
            self.metrics.requests.labels(route, scope["method"], str(status), str(tenant)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            level = logging.ERROR if status >= 500 else logging.INFO
            self.logger.log(level, "request", extra={"fields": {
                "request_id": request_id, "method": scope["method"], "route": route, "status": status,
                "ms": round(elapsed * 1000, 1), **ctx.fields}})

"""RFC 9457 problem details for every non-2xx answer, without personal data.

In: a `ProblemError` raised by a handler, a `JobError` from a render worker, Starlette's `HTTPException`,
FastAPI's `RequestValidationError`, or any other exception. Out: an ``application/problem+json``
response: ``type`` (``urn:chohyo:problem:…``; a refusal by a rule of the standard is
``urn:chohyo:problem:rule:<rule>``), ``title``, ``status``, ``detail``, ``instance`` (the request id as a
URN) and the extensions ``request_id``, ``rule``, ``field``, ``exit_code`` and ``errors`` (path, message,
hint).

Never in a problem: input values. The renderer's own messages may name a code point or a person_id (they
are written for the clerk at the CLI), so the service never forwards them: ``detail`` is composed here
from the title, the field path and the rule, and ``errors`` carry only the diagnostics' paths and
messages (which `renderer.diagnostics.from_pydantic` builds without input values). As a second line of
defence every text is scrubbed of any string (and long number) that occurs in the request's data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from renderer.diagnostics import from_pydantic
from renderer.errors import PROBLEM_BASE
from renderer.service.work import JobError

MEDIA_TYPE = "application/problem+json"
RULE_BASE = PROBLEM_BASE + "rule:"
REDACTED = "[redacted]"


class ProblemItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="where: a JSON path into the request (data.household.members[0].name)")
    message: str = Field(description="what is wrong (never the value)")
    hint: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details with the renderer's extensions."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"additionalProperties": False})

    type: str = Field(description="urn:chohyo:problem:<kind>; refusals: urn:chohyo:problem:rule:<rule>")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = Field(default=None, description="urn:chohyo:request:<request id>")
    request_id: str | None = None
    rule: str | None = Field(default=None, description="the rule of the standard that refused the request")
    field: str | None = Field(default=None, description="the JSON path the problem is about")
    exit_code: int | None = Field(default=None, description="the CLI's exit code for the same failure")
    errors: list[ProblemItem] | None = None


class ProblemError(Exception):
    """Raised by handlers and dependencies; answered as problem+json."""

    def __init__(self, status: int, kind: str, title: str, detail: str | None = None, *,
                 headers: Mapping[str, str] | None = None, rule: str | None = None, field: str | None = None,
                 exit_code: int | None = None, errors: list[ProblemItem] | None = None,
                 cause: str | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.type = kind if kind.startswith("urn:") else PROBLEM_BASE + kind
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.rule = rule
        self.field = field
        self.exit_code = exit_code
        self.errors = errors
        self.cause = cause   # why it failed, for the access log only (`JobError.cause`); never answered

    def problem(self, request_id: str | None) -> Problem:
        return Problem(type=self.type, title=self.title, status=self.status, detail=self.detail,
                       instance=f"urn:chohyo:request:{request_id}" if request_id else None,
                       request_id=request_id, rule=self.rule, field=self.field, exit_code=self.exit_code,
                       errors=self.errors)


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(problem.model_dump(exclude_none=True), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=problem.status, media_type=MEDIA_TYPE, headers=dict(headers or {}))


# ---------------------------------------------------------------------- scrubbing

class Scrubber:
    """Replaces every occurrence of a request value in a text. Built from the request's ``data`` and the
    identifying parts of ``request`` (requester ids, purpose, members)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = sorted({v for v in values if len(v) >= 2}, key=len, reverse=True)

    @classmethod
    def of(cls, raw: Any) -> Scrubber:
        if not isinstance(raw, dict):
            return cls(_leaves(raw))
        found = list(_leaves(raw.get("data")))
        found += _leaves(raw.get("records"))
        found += _leaves(raw.get("reason"))
        request = raw.get("request")
        if isinstance(request, dict):
            found += _leaves(request.get("requester"))
            found += _leaves(request.get("members"))
        return cls(found)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for v in self.values:
            if v in text:
                text = text.replace(v, REDACTED)
        return text


def _leaves(node: Any) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, bool) or n is None:
            continue
        elif isinstance(n, int | float):
            if abs(n) >= 100:      # amounts, dates as numbers; small ints are indices in paths
                out.append(str(n))
        elif isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


# ---------------------------------------------------------------------- mapping

def items_of(errors: Iterable[Mapping[str, Any]], scrub: Scrubber) -> list[ProblemItem]:
    out: list[ProblemItem] = []
    for e in errors:
        hint = e.get("hint")
        out.append(ProblemItem(path=scrub(str(e.get("path", ""))) or "", message=scrub(str(e.get("message", ""))) or "",
                               hint=scrub(str(hint)) if hint else None))
    return out


def from_job_error(err: JobError, scrub: Scrubber) -> ProblemError:
    """A worker's `JobError` as the HTTP problem: 422 invalid, 403 refused (type names the rule),
    423 refused by the DV 抑止 rule, 500 internal (nothing delivered)."""
    field = scrub(err.field)
    items = items_of(err.errors, scrub)
    where = f" at {field}" if field else ""
    if err.kind == "blocked":
        return ProblemError(423, RULE_BASE + (err.rule or "dv-block"), "Refused by the DV 抑止 rule (支援措置)",
                            f"a person in this document is under a DV 支援措置 for this layout{where}; an active "
                            f"一時解除 must cover each protected person", rule=err.rule, field=field,
                            exit_code=err.exit_code)
    if err.kind == "refused":
        rule = err.rule or "refused"
        return ProblemError(403, RULE_BASE + rule, err.title, f"refused by rule {rule}{where}", rule=err.rule,
                            field=field, exit_code=err.exit_code, errors=items or None)
    if err.problem == "database-schema":   # the server's database, not the caller's input: try another server
        return ProblemError(503, err.problem, err.title, "this server's database is not at the schema revision "
                            "this release needs (an operator runs `chohyo db upgrade`); nothing was rendered",
                            exit_code=err.exit_code, headers={"Retry-After": "30"})
    if err.problem == "database-unavailable":   # down, restarting or unreachable now: another server, or later
        return database_unavailable(err.exit_code, err.cause)
    if err.problem == "issue-log-behind":   # a restored database: this server issues nothing until acknowledged
        return ProblemError(503, err.problem, err.title, "this server's database is behind its issue-log chain "
                            "head (restored from an older backup?); nothing was issued until an operator checks "
                            "it (chohyo audit verify, chohyo audit acknowledge-restore)", exit_code=err.exit_code,
                            headers={"Retry-After": "300"})
    if err.kind == "input":
        if not items and field:
            items = [ProblemItem(path=field, message=err.title)]
        count = f"{len(items)} problem(s)" if items else "a problem"
        return ProblemError(422, err.problem, err.title, f"{count}{where}", rule=err.rule, field=field,
                            exit_code=err.exit_code, errors=items or None)
    if err.problem == "signing-unavailable":   # renderer.signing: the TSA, a responder or the token did not answer
        return ProblemError(503, err.problem, err.title, "a service needed to sign this PDF (timestamp authority, "
                            "OCSP/CRL responder or key token) did not answer; nothing was delivered and its 発行番号 "
                            "were voided", field=field, exit_code=err.exit_code, headers={"Retry-After": "30"})
    return internal(err.exit_code, err.cause)


def internal(exit_code: int | None = 1, cause: str | None = None) -> ProblemError:
    return ProblemError(500, "internal", "Internal failure; nothing was delivered",
                        "the failure was logged with this request id", exit_code=exit_code, cause=cause)


def database_unavailable(exit_code: int | None = 1, cause: str | None = None) -> ProblemError:
    """503: this server's database cannot be reached now (`renderer.state.db.DatabaseUnavailable`); the access log
    names it (`cause`: the setting, the database without its password, the driver's error code)."""
    return ProblemError(503, "database-unavailable", "The database cannot be opened; nothing was done",
                        "this server's database cannot be reached now (down, restarting or unreachable); nothing was "
                        "rendered or recorded — try again, or another server", exit_code=exit_code,
                        headers={"Retry-After": "5"}, cause=cause)


def not_ready() -> ProblemError:
    return ProblemError(503, "not-ready", "Service Unavailable", "the render workers are not ready",
                        headers={"Retry-After": "5"})


def too_large(detail: str, field: str | None = None) -> ProblemError:
    return ProblemError(413, "too-large", "Content Too Large", detail, field=field)


def forbidden_tenant(field: str) -> ProblemError:
    return ProblemError(403, "forbidden-tenant", "Forbidden", "this API key acts only for its own tenant",
                        field=field)


def invalid(exc: ValidationError, scrub: Scrubber) -> ProblemError:
    """A body that failed its pydantic model (sync, lift): 422 with each path and reason, never a value."""
    items = [ProblemItem(path=scrub(d.path) or "", message=scrub(d.message) or "", hint=d.hint)
             for d in from_pydantic(exc)]
    return ProblemError(422, "invalid-input", "Invalid input", f"{len(items)} problem(s)", exit_code=2,
                        errors=items, field=items[0].path if items else None)


def validation_items(errors: Iterable[Mapping[str, Any]], scrub: Scrubber) -> list[ProblemItem]:
    """FastAPI/pydantic errors (which carry ``input``) reduced to path and message."""
    out: list[ProblemItem] = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("path", "query", "header", "body")]
        kind = str(e.get("type", ""))
        msg = "required item is missing" if kind == "missing" else str(e.get("msg", "invalid"))
        out.append(ProblemItem(path=scrub(".".join(loc)) or "", message=scrub(msg) or ""))
    return out

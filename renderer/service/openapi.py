"""The OpenAPI document: problem+json for every non-2xx answer, the request bodies, the API key scheme.

In: the routes' declared status codes. Out: `responses(...)` dicts for the route decorators, request
body declarations (bodies are read by the handlers themselves, to bound their size and keep input values
out of errors), and `ServiceApp`, a FastAPI whose ``openapi()`` adds the shared schemas (Problem,
Envelope, SyncRequest, LiftRequest) to ``components`` and documents this app's layout ids as the enum of
every ``layout_id`` path parameter (the routes are shared by every app; the ids are the app's own).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from renderer.envelope import Envelope
from renderer.service.models import LiftRequest, SyncRequest
from renderer.service.problems import MEDIA_TYPE, Problem

REF = "#/components/schemas/{model}"

DESCRIPTIONS: dict[int, str] = {
    400: "The body is not JSON (UTF-8).",
    401: "No API key, or not a valid one (header X-API-Key).",
    403: "The key lacks the role, or acts for another tenant; or a rule of the standard refuses the request "
         "(`type` is urn:chohyo:problem:rule:<rule>).",
    404: "No such layout, route or (for a lift) no active suppression of that person in the key's tenant.",
    413: "The body, the copies, the persons or the rows exceed the service's limits.",
    422: "Invalid data: `errors` lists each field path with the reason (never the value).",
    423: "Refused by the DV 抑止 rule: a protected person is in the document and no 一時解除 covers them.",
    429: "The key's rate limit is exhausted; retry after `Retry-After` seconds.",
    500: "Internal failure; nothing was delivered (the request id is in the log).",
    503: "Not ready, render queue full, or the render timed out; retry after `Retry-After` seconds.",
}

_RETRY = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_CHALLENGE = {"WWW-Authenticate": {"description": "the API key scheme", "schema": {"type": "string"}}}
_REQUEST_ID = {"X-Request-ID": {"description": "this request's id (also in the log)", "schema": {"type": "string"}}}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        headers = dict(_REQUEST_ID)
        if code in (429, 503):
            headers.update(_RETRY)
        if code == 401:
            headers.update(_CHALLENGE)
        out[code] = {"description": DESCRIPTIONS[code], "headers": headers,
                     "content": {MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}}}
    return out


def json_body(model: str, description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}}


def shared_schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [Problem, Envelope, SyncRequest, LiftRequest]
    keyed, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for (model, _mode), schema in keyed.items():
        if "$ref" not in schema:
            schemas[model.__name__] = schema
    envelope = schemas["Envelope"]
    envelope.setdefault("description", "The input envelope (the same as the CLI's); `data` is typed per layout "
                                       "in GET /v1/layouts/{layout_id} → input_schema.")
    return schemas


def document_layout_ids(schema: dict[str, Any], layout_ids: list[str]) -> None:
    """Every ``layout_id`` path parameter documented as an enum of `layout_ids` (none: left open)."""
    if not layout_ids:
        return
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "layout_id":
                    parameter["schema"]["enum"] = list(layout_ids)


class ServiceApp(FastAPI):
    """FastAPI with the shared schemas in the OpenAPI components and the app's layout ids documented."""

    def __init__(self, *, layout_ids: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout_ids = layout_ids

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            document_layout_ids(schema, self.layout_ids)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, value in shared_schemas().items():
                components.setdefault(name, value)
            self.openapi_schema = schema
        return self.openapi_schema

"""The OpenAPI document: problem+json for every non-2xx answer, the request bodies, the API key scheme.

In: the routes' declared status codes. Out: `responses(...)` dicts for the route decorators, request
body declarations (bodies are read by the handlers themselves, to bound their size and keep input values
out of errors), and `ServiceApp`, a FastAPI whose ``openapi()`` adds the shared schemas (Problem,
Envelope, SyncRequest, LiftRequest) to ``components``, documents this app's layout ids as the enum of
every ``layout_id`` path parameter (the routes are shared by every app; the ids are the app's own), and
types the render and validate bodies per layout: ``RenderRequest`` is a ``oneOf`` of each layout's
envelope (``JuminhyoSetaiEnvelope`` …, its models namespaced by layout) discriminated by the envelope's
``layout``, with each layout's ``layouts/samples/<id>.json`` as a named example. One union on the existing
paths rather than one path per layout: the route, its operationId and a generated client stay the same
when a layout is added, and the union is exactly the envelope the CLI takes.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from renderer.envelope import Envelope
from renderer.errors import ChohyoError
from renderer.service.models import LiftRequest, SyncRequest
from renderer.service.problems import MEDIA_TYPE, Problem

if TYPE_CHECKING:
    from renderer.service.core import Service

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
    """FastAPI with the shared schemas in the OpenAPI components, the app's layout ids documented and the
    envelope typed per layout (`layout_envelopes`)."""

    def __init__(self, *, service: Service, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            document_layout_ids(schema, self.service.renderer.layout_ids())
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, value in shared_schemas().items():
                components.setdefault(name, value)
            envelopes, examples = layout_envelopes(self.service)
            if envelopes:
                components.update(envelopes.pop("$defs"))
                components[RENDER_REQUEST] = envelopes[RENDER_REQUEST]
                type_envelope_bodies(schema, examples)
            self.openapi_schema = schema
        return self.openapi_schema


RENDER_REQUEST = "RenderRequest"
ENVELOPE_OPERATIONS = ("render", "validate", "preview")


def component_name(layout_id: str, name: str) -> str:
    """``juminhyo-setai`` + ``Person`` → ``JuminhyoSetaiPerson`` (one namespace per layout: two layouts may
    have models of the same name that differ)."""
    return "".join(part.capitalize() for part in layout_id.split("-")) + name


def _rebase(node: Any, layout_id: str) -> Any:
    """A layout's JSON Schema with its ``#/$defs/X`` references pointing at that layout's components."""
    if isinstance(node, dict):
        out = {k: _rebase(v, layout_id) for k, v in node.items() if k != "$schema"}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = REF.format(model=component_name(layout_id, ref.removeprefix("#/$defs/")))
        return out
    if isinstance(node, list):
        return [_rebase(v, layout_id) for v in node]
    return node


def layout_envelopes(service: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    """The envelope of every layout as components (``<Layout>.Envelope`` and its models) plus
    `RENDER_REQUEST`, their union discriminated by ``layout``; and the request examples: each layout's
    ``layouts/samples/<id>.json``. A layout that does not load is left out (``/readyz`` reports it)."""
    defs: dict[str, Any] = {}
    mapping: dict[str, str] = {}
    examples: dict[str, Any] = {}
    for layout_id in service.renderer.layout_ids():
        try:
            spec = service.layouts.get(layout_id) or service.renderer.layout(layout_id)
        except ChohyoError:
            continue
        envelope = _rebase(service.input_schema(spec), layout_id)
        for name, model in envelope.pop("$defs", {}).items():   # titled by component: generators name classes by title
            defs[component_name(layout_id, name)] = {**model, "title": component_name(layout_id, name)}
        name = component_name(layout_id, "Envelope")
        envelope["title"] = name
        envelope["description"] = f"The input envelope of {layout_id} ({spec.title}): `data` is {spec.data_model}."
        defs[name] = envelope
        mapping[layout_id] = REF.format(model=name)
        sample = service.settings.renderer.layouts_dir / "samples" / f"{layout_id}.json"
        with contextlib.suppress(OSError, ValueError):   # a layout without a sample has no example
            examples[layout_id] = {"summary": f"{spec.title} (layouts/samples/{layout_id}.json)",
                                   "value": json.loads(sample.read_text(encoding="utf-8"))}
    if not mapping:
        return {}, {}
    union = {"description": "The input envelope {layout, tenant, request, data}, as for the CLI; `layout` (which "
                            "must be the path's layout_id) selects the type of `data`.",
             "oneOf": [{"$ref": ref} for ref in mapping.values()],
             "discriminator": {"propertyName": "layout", "mapping": mapping}}
    return {"$defs": defs, RENDER_REQUEST: union}, examples


def type_envelope_bodies(schema: dict[str, Any], examples: dict[str, Any]) -> None:
    """The render, validate and preview bodies typed as `RENDER_REQUEST`, with the samples as examples."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if operation.get("operationId") in ENVELOPE_OPERATIONS:
                media = operation["requestBody"]["content"]["application/json"]
                media["schema"] = {"$ref": REF.format(model=RENDER_REQUEST)}
                if examples:
                    media["examples"] = examples

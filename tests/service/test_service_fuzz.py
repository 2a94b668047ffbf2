"""Schemathesis against the app's own OpenAPI, in-process: no 5xx, no undocumented status, content type,
header or body.

In: the session's started app (one render worker) and an all-roles key of the fuzzing tenant (281000, so
whatever the fuzzer syncs or lifts stays in that tenant's registry). A generated body that names a tenant
is pointed at that tenant, so requests get past the tenant check into validation and the render worker.
Out: pass/fail per operation. Examples are bounded (hypothesis settings below) to keep the suite fast.

Every default check runs except two that cannot hold for this API by design:
- ``positive_data_acceptance``: a schema-valid envelope still has to satisfy the layout's data model
  (check digits, household relations, the tenant's signer on the day …), which no JSON Schema expresses;
  a lift names a layout and minutes the tenant must allow — so a 422 for schema-valid input is correct.
- ``negative_data_rejection``: the test adds the API key header to every case, including the ones where
  the generator meant to leave it out, and unknown query parameters are ignored (as HTTP APIs do).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from svckit import TENANT_FUZZ, Running

pytest_plugins = ("svcfixtures",)   # the session's `service` fixture


@pytest.fixture
def api_schema(service: Running) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", service.app)


schema = schemathesis.pytest.from_fixture("api_schema")
# POST /v1/verify takes the raw PDF: send the generated binary as it is (most examples are then not a PDF: 422)
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_only_documented_answers(case: schemathesis.Case[Any], service: Running) -> None:
    if isinstance(case.body, dict) and isinstance(case.body.get("tenant"), str):
        case.body["tenant"] = TENANT_FUZZ
    case.call_and_validate(headers=service.keys(TENANT_FUZZ),
                           excluded_checks=[positive_data_acceptance, negative_data_rejection])

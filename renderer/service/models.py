"""Request and response bodies of the HTTP API (pydantic; they are also its OpenAPI schemas).

In: JSON bodies for suppression sync and lifts (render and validate take the CLI's envelope,
`renderer.envelope.Envelope`, validated by the renderer itself). Out: JSON answers. Suppression records
are the registry's own models (`UpsertRecord`, `ReleaseRecord`): the HTTP sync accepts exactly what
``chohyo suppressions import`` accepts, as a JSON array instead of JSON Lines.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from renderer.datamodels.types import PERSON_ID_PATTERN
from renderer.state.registry import ReleaseRecord, UpsertRecord

TenantCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="全国地方公共団体コード (6 digits)")]
PersonIdPath = PERSON_ID_PATTERN
LayoutIdPattern = r"^[a-z][a-z0-9-]{2,63}$"
SyncRecord = Annotated[UpsertRecord | ReleaseRecord, Field(discriminator="op")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------- requests

class SyncRequest(Model):
    """Deltas from the 住民記録 system, applied in one transaction (all or nothing)."""

    tenant: TenantCode
    records: list[SyncRecord] = Field(max_length=100_000)


class LiftRequest(Model):
    """A 一時解除 of one protected person for one layout, granted by the 支援措置責任者 (role ``lift``)."""

    tenant: TenantCode
    layout: Annotated[str, Field(pattern=LayoutIdPattern)] = Field(description="the layout the lift covers")
    minutes: int = Field(ge=1, le=1440, description="how long; at most the tenant's dv.lift_max_minutes")
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="why the review allowed it (kept in the registry, never logged)")


SYNC_REQUEST: TypeAdapter[SyncRequest] = TypeAdapter(SyncRequest)
LIFT_REQUEST: TypeAdapter[LiftRequest] = TypeAdapter(LiftRequest)


# ---------------------------------------------------------------------- responses

class LayoutSummary(Model):
    id: str
    kind: Literal["certificate", "notice", "list"]
    title: str
    data_model: str


class LayoutDetail(LayoutSummary):
    options: list[str] = Field(description="standard options a tenant may switch")
    omissions: list[str] = Field(description="optional items of the standard (request.include)")
    input_schema: dict[str, Any] = Field(description="JSON Schema of the envelope this layout accepts")


class OverflowCounts(Model):
    fields: int = Field(description="fields that needed more than their first fitting attempt")
    steps: dict[str, int] = Field(description="how many fields ended at each overflow step")
    chars_lost: int = Field(description="characters not printed by a terminal fit_as_much/blank step")


class ValidateResult(Model):
    valid: Literal[True]
    layout: str
    tenant: str
    copies: int
    sheets_per_copy: int
    overflow: OverflowCounts
    checked: list[str] = Field(description="what was checked (the DV registry is not: only a render consults it)")


class SyncResult(Model):
    tenant: str
    lines: int
    applied: int
    released: int
    ignored: int = Field(description="records whose version was not newer than the stored one")
    lifts_ended: int = Field(default=0, description="unexpired 一時解除 ended because their person's record was "
                                                    "replaced or released")


class LiftResult(Model):
    id: int
    tenant: str
    person_id: str
    layout: str
    created_at: str
    expires_at: str
    minutes: int
    reviewer: str = Field(description="the API key that granted it (key:<id>)")


class SuppressionList(Model):
    tenant: str
    suppressions: list[dict[str, Any]]
    lifts: list[dict[str, Any]]


class Health(Model):
    status: Literal["ok"]


class Ready(Model):
    status: Literal["ready"]
    workers: int
    workers_ready: int
    layouts: int

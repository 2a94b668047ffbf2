"""The one input envelope for every layout: ``{"layout", "tenant", "request", "data"}``.

In: a JSON object (CLI file, HTTP body, batch line). Out: `Envelope` with a validated `Request`; `data`
stays a dict here and is validated against the layout's data model in `renderer.bind`. `Request.pdfa` says
whether the PDF is PDF/A-2 (``pdf_profile``, default on for ``output: file``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from renderer.datamodels.types import IsoDate, PersonId
from renderer.signing.policy import SignOption
from renderer.spec.model import Channel, OmissionItem, Relation

MAX_COPIES = 20

#: a terminal or printer id declared in the tenant file (`renderer.tenants.Device`); "" = none
DeviceId = Annotated[str, Field(pattern=r"^([a-z0-9][a-z0-9_-]{0,19})?$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requester(Model):
    relation: Relation = Field(
        description="本人, 同一世帯員, 第三者, 代理人, 公用請求")
    person_id: PersonId | None = Field(
        default=None, description="the requester's 宛名番号 when known")
    acting_for: PersonId | None = Field(
        default=None, description="for an agent: the person_id of the person acted for")
    purpose: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="for a third party: the stated purpose (請求事由)")

    @model_validator(mode="after")
    def _relation_needs(self) -> Requester:
        if self.relation == "agent" and self.acting_for is None:
            raise ValueError("an agent request needs `acting_for` (the person acted for)")
        if self.relation == "third_party" and self.purpose is None:
            raise ValueError("a third_party request needs `purpose` (the stated purpose)")
        return self


def _issued_on_may_be_absent(schema: dict[str, Any]) -> None:
    """The JSON Schema of a request: ``issued_on`` may be absent (`parse_envelope` fills in today before the model
    validates it), so the published schemas accept the samples as they are."""
    schema["required"] = [r for r in schema.get("required", []) if r != "issued_on"]


class Request(Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_issued_on_may_be_absent)

    requester: Requester
    channel: Channel = Field(
        description="窓口, 郵送, 広域交付, コンビニ交付")
    operator: Annotated[str, Field(pattern=r"^[0-9A-Za-z._@-]{1,64}$")] = Field(
        description="who prints (user id of the clerk or system)")
    output: Literal["print", "file", "preview"] = "print"
    include: list[OmissionItem] | None = Field(
        default=None,
        description="optional items asked for; absent = the tenant's defaults")
    issued_on: IsoDate = Field(description="交付年月日 (absent: today in Asia/Tokyo by the server's clock)")
    copies: StrictInt = Field(default=1, ge=1, le=MAX_COPIES, description="a JSON integer, never a string")
    signer: Literal["head", "deputy"] = Field(default="head", description="市区町村長 or 職務代理者")
    seal: StrictBool = Field(default=True, description="print the 公印")
    terminal: DeviceId = Field(
        default="", description="id of a terminal the tenant file declares (its printed name goes into the 発行番号); "
                                "absent = no terminal part")
    printer: DeviceId = Field(
        default="", description="id of a printer the tenant file declares (its printed name goes into the 発行番号); "
                                "absent = no printer part")
    members: list[PersonId] | None = Field(
        default=None, min_length=1,
        description="person_ids to print (一部の世帯員), at least one; absent = the whole household")
    sign: SignOption | None = Field(
        default=None, description="sign the PDF (PAdES) with the tenant's key: {level: B-B|B-T|B-LT}; absent: signed "
                                  "only when the tenant's policy requires it for this output")
    pdf_profile: Literal["pdfa-2b", "none"] | None = Field(
        default=None, description="pdfa-2b: a PDF/A-2 file (PDF 1.7, XMP, sRGB output intent; claimed as 2u, every "
                                  "text mapped to Unicode); none: a plain PDF; absent = pdfa-2b for output: file, "
                                  "none otherwise")

    @property
    def pdfa(self) -> bool:
        """Whether this request's PDF is PDF/A-2 (asked for, or by default for ``output: file``)."""
        return self.pdf_profile == "pdfa-2b" or (self.pdf_profile is None and self.output == "file")


class Envelope(Model):
    layout: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,63}$")]
    tenant: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="全国地方公共団体コード (6 digits)")]
    request: Request
    data: dict[str, Any]

"""Data for 印鑑登録証明書: the registrant, the registration and the registered 印影.

In: the envelope's `data`. Out: `InkanData`. The registrant carries a stable `person_id` (宛名番号) so the DV
rules see who the certificate is about; the address is structured (printed from the 都道府県, always). The
印影 is a `RegisteredImage` (PNG or bilevel TIFF, checked like the 公印) with its registered size in mm, printed
at that size by the layout's `true_size_image` element.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from renderer.datamodels.address import DomesticAddress
from renderer.datamodels.impression import RegisteredImage
from renderer.datamodels.juminhyo import Name
from renderer.datamodels.types import IsoDate, PersonId


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Registrant(Model):
    person_id: PersonId
    name: Name = Field(description="氏名 (as in the 住民基本台帳)")
    birth_date: IsoDate = Field(description="生年月日 (printed in 和暦)")
    sex: Literal["男", "女"] = Field(description="男女の別")
    address: DomesticAddress = Field(description="住所 (方書を含む), the registrant's current address")


class Registration(Model):
    number: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,20}$")] = Field(
        description="登録番号 (the municipality's 印鑑登録番号)")
    registered_on: IsoDate | None = Field(default=None, description="登録年月日 (not printed)")


class InkanData(Model):
    registrant: Registrant
    registration: Registration
    impression: RegisteredImage = Field(description="印影 as registered, with its size on paper in mm")


__all__ = ["InkanData", "Registrant", "Registration"]

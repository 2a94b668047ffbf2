"""Data for the staff-facing 一覧表: 異動者一覧表 and 給付金 支給決定者一覧.

In: the envelope's `data`. Out: `IdoshaList` or `KyufuList`. Every row carries the `person_id` of the
resident it is about (so the rules stage can apply the DV policy to the row and to every value derived
from a protected address, such as the 行政区 a row is grouped under).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from renderer.datamodels.address import Address, DomesticAddress
from renderer.datamodels.types import IsoDate

PersonId = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$", description="宛名番号")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
MAX_ROWS = 200_000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(Model):
    start: IsoDate = Field(alias="from")
    end: IsoDate = Field(alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IdoshaRow(Model):
    person_id: PersonId
    moved_on: IsoDate = Field(description="異動日")
    reason: Literal["転入", "転出", "転居", "出生", "死亡", "職権記載", "職権消除", "国外転出", "国外転入"] = Field(
        description="異動事由")
    name: Name = Field(description="氏名")
    name_kana: Name | None = Field(default=None, description="氏名の振り仮名")
    birth_date: IsoDate = Field(description="生年月日")
    ward: Annotated[str, Field(min_length=1, max_length=20)] = Field(
        description="行政区 (the group key; derived from the address)")
    address_before: Address | None = Field(default=None, description="異動前住所")
    address_after: Address | None = Field(default=None, description="異動後住所")


class IdoshaList(Model):
    """異動者一覧表: one row per 異動, grouped by 行政区 (a page break per ward, as a 政令市 needs)."""

    period: Period = Field(description="対象期間")
    rows: list[IdoshaRow] = Field(max_length=MAX_ROWS)


class KyufuRow(Model):
    person_id: PersonId
    decided_on: IsoDate = Field(description="決定日")
    name: Name = Field(description="氏名")
    address: DomesticAddress = Field(description="住所")
    amount: StrictInt = Field(ge=0, le=999_999_999, description="支給額 (円)")
    account: Annotated[str, Field(max_length=40)] | None = Field(default=None, description="振込先 (表示用)")


class KyufuList(Model):
    """給付金 支給決定者一覧: amounts with 頁計, 累計 and 繰越, and a grand total."""

    program: Annotated[str, Field(min_length=1, max_length=60)] = Field(description="給付金の名称")
    rows: list[KyufuRow] = Field(max_length=MAX_ROWS)

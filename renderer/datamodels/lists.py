"""Data for the staff-facing 一覧表: 異動者一覧表 and 給付金 支給決定者一覧.

In: the envelope's `data`. Out: `IdoshaList` or `KyufuList`. Every row carries the `person_id` of the
resident it is about (so the rules stage can apply the DV policy to the row and to every value derived
from a protected address, such as the 行政区 a row is grouped under).

Which addresses a 異動 row has depends on its 異動事由 (`IDOSHA_ADDRESSES`): a 転出 row must carry its
転出先 (`address_after`), a 死亡 or 職権消除 row has no 異動後住所, a 出生 row no 異動前住所; input that
contradicts its 異動事由 is refused. The list prints a row's addresses through `before_shown` and
`after_shown`, which are None for an address the 異動事由 does not have — so nothing, not even the DV
「記載省略」 that the rules put on every protected address path, prints where no address exists.
A masked account number (振込先) is held with the full-width 伏字 「＊」, as the notices print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from renderer.datamodels.address import Address, DomesticAddress
from renderer.datamodels.types import IsoDate, NonBlank, PersonId

Name = Annotated[NonBlank, Field(min_length=1, max_length=100)]
MAX_ROWS = 200_000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(Model):
    start: IsoDate = Field(alias="from")
    end: IsoDate = Field(alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Reason = Literal["転入", "転出", "転居", "出生", "死亡", "職権記載", "職権消除", "国外転出", "国外転入"]
AddressSide = Literal["before", "after"]


@dataclass(frozen=True)
class ReasonAddresses:
    """The addresses a 異動 of one 異動事由 has: required, optional, and of which kind (domestic/overseas)."""

    required: frozenset[AddressSide]
    optional: frozenset[AddressSide] = frozenset()
    overseas: frozenset[AddressSide] = frozenset()   # these sides are an address abroad (国・地域 + text)

    def has(self, side: AddressSide) -> bool:
        return side in self.required or side in self.optional


_BEFORE: Final[frozenset[AddressSide]] = frozenset({"before"})
_AFTER: Final[frozenset[AddressSide]] = frozenset({"after"})
_BOTH: Final[frozenset[AddressSide]] = _BEFORE | _AFTER

#: 異動前住所 (before) and 異動後住所 (after) per 異動事由. 転出: the 転出先 is the 異動後住所 and must be given;
#: 死亡 and 職権消除 have no 異動後住所; 出生 and 職権記載 have no 異動前住所 of their own (a 職権記載 may name
#: where the person lived, optionally); 国外転出/国外転入: the address abroad (its 国・地域) is on the foreign side.
IDOSHA_ADDRESSES: Final[dict[str, ReasonAddresses]] = {
    "転入": ReasonAddresses(_BOTH),
    "転出": ReasonAddresses(_BOTH),
    "転居": ReasonAddresses(_BOTH),
    "出生": ReasonAddresses(_AFTER),
    "死亡": ReasonAddresses(_BEFORE),
    "職権記載": ReasonAddresses(_AFTER, optional=_BEFORE),
    "職権消除": ReasonAddresses(_BEFORE),
    "国外転出": ReasonAddresses(_BOTH, overseas=_AFTER),
    "国外転入": ReasonAddresses(_AFTER, optional=_BEFORE, overseas=_BEFORE),
}


class IdoshaRow(Model):
    """One 異動. A person may have several in the period (転居 then 転出, 出生 then 転出 …), each its own row:
    a person_id may repeat."""

    person_id: PersonId
    moved_on: IsoDate = Field(description="異動日")
    reason: Reason = Field(description="異動事由")
    name: Name = Field(description="氏名")
    name_kana: Name | None = Field(default=None, description="氏名の振り仮名")
    birth_date: IsoDate = Field(description="生年月日")
    ward: Annotated[NonBlank, Field(min_length=1, max_length=20)] = Field(
        description="行政区 (the group key; derived from the address)")
    address_before: Address | None = Field(
        default=None, description="異動前住所 (転入: 転入前住所; none for 出生)")
    address_after: Address | None = Field(
        default=None, description="異動後住所 (転出: 転出先住所, required; none for 死亡 and 職権消除)")

    @model_validator(mode="after")
    def _addresses_fit_the_reason(self) -> IdoshaRow:
        rule = IDOSHA_ADDRESSES[self.reason]
        sides: tuple[tuple[AddressSide, str, str], ...] = (("before", "address_before", "異動前住所"),
                                                           ("after", "address_after", "異動後住所"))
        for side, name, label in sides:
            value = getattr(self, name)
            if value is None:
                if side in rule.required:
                    raise ValueError(f"a {self.reason} row needs {name} ({label})")
                continue
            if not rule.has(side):
                raise ValueError(f"a {self.reason} row has no {label}: leave {name} out")
            abroad = getattr(value, "kind", "domestic") == "overseas"
            if abroad != (side in rule.overseas):
                where = "an address abroad" if side in rule.overseas else "a domestic address (from 都道府県)"
                raise ValueError(f"{name} of a {self.reason} row is {where}")
        if self.birth_date > self.moved_on:
            raise ValueError("birth_date is after moved_on (異動日)")
        return self

    def _shown(self, side: AddressSide, value: Any) -> Any:
        return value if IDOSHA_ADDRESSES[self.reason].has(side) else None

    @property
    def before_shown(self) -> Any:
        """The 異動前住所 as the list prints it: None when the 異動事由 has none (出生), whatever a rule put
        there (the DV redaction marks every protected path, even an empty one, 「記載省略」)."""
        return self._shown("before", self.address_before)

    @property
    def after_shown(self) -> Any:
        """The 異動後住所 (転出先 for a 転出) as the list prints it: None for a 死亡 or 職権消除 row."""
        return self._shown("after", self.address_after)


class IdoshaList(Model):
    """異動者一覧表: one row per 異動, grouped by 行政区 (a page break per ward, as a 政令市 needs)."""

    period: Period = Field(description="対象期間")
    rows: list[IdoshaRow] = Field(max_length=MAX_ROWS)


class KyufuRow(Model):
    #: why a person_id may occur once in the list (`renderer.bind.check_once_per_person`; streamed rows: the
    #: scan of `renderer.rows`): every row is a payment decided, and is added to the 頁計, 累計 and 合計
    ONCE_PER_PERSON: ClassVar[str] = "one row per person: every row is a payment, added to the 頁計, 累計 and 合計"

    person_id: PersonId
    decided_on: IsoDate = Field(description="決定日")
    name: Name = Field(description="氏名")
    address: DomesticAddress = Field(description="住所")
    amount: StrictInt = Field(ge=0, le=999_999_999, description="支給額 (円)")
    account: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="振込先 (表示用); the masked digits of the account number as 「＊」 (a half-width "
                                  "* is stored as 「＊」)")

    @field_validator("account")
    @classmethod
    def _full_width_mask(cls, v: str | None) -> str | None:
        """伏字 as the notices print it: a half-width * renders as a tiny raised mark next to digits."""
        return None if v is None else v.replace("*", "＊")


class KyufuList(Model):
    """給付金 支給決定者一覧: amounts with 頁計, 累計 and 繰越, and a grand total; one row per person (a person_id
    given twice is refused)."""

    program: Annotated[NonBlank, Field(min_length=1, max_length=60)] = Field(description="給付金の名称")
    rows: list[KyufuRow] = Field(max_length=MAX_ROWS)


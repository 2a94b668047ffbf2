"""Data for 住民票の写し (世帯連記式 and 個人票): a household and its members.

In: the envelope's `data`. Out: `JuminhyoData`. Every person carries a stable `person_id` (宛名番号,
unique within the tenant, hence within the household). Dates are ISO dates; the layout's formatters
print them in 和暦 (西暦 for a foreign resident's 生年月日 and 在留期間の満了の日). The residence dates follow
住基法7条: 住民となった年月日 (6号: the 転入 or birth), 住所を定めた年月日 (7号: a later 転居 within the
municipality), 届出日 and 転入前住所 (8号: the 届出 of the 転入 — or 出生 — and the 従前の住所); data that
contradicts them is refused (`Person._residence_dates_agree`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from renderer.datamodels.address import Address, DomesticAddress
from renderer.datamodels.types import IsoDate, NonBlank, PersonId
from renderer.formats.codes import CodeError, validate_my_number, validate_resident_code

Name = Annotated[NonBlank, Field(min_length=1, max_length=100)]


def _is_kana(ch: str) -> bool:
    """Hiragana or katakana (full or half width); the 長音符 and 中黒 count as kana."""
    return "\u3041" <= ch <= "\u30ff" or "\uff66" <= ch <= "\uff9f" or "\u31f0" <= ch <= "\u31ff"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForeignResident(Model):
    """外国人住民 items (住基法 30条の45). The 氏名 itself is `Person.name`: for a 外国人住民 that is the
    alphabet (ローマ字) name as registered; the 漢字 form is printed beside it where one is registered."""

    name_kanji: Name | None = Field(
        default=None, description="氏名の漢字表記 (併記名), printed with the alphabet 氏名 where registered")
    alias: Name | None = Field(
        default=None, description="通称: an item of its own (住基法30条の45 政令事項), never the 氏名")
    nationality: Name = Field(description="国籍・地域")
    status: Literal["中長期在留者", "特別永住者", "一時庇護許可者", "仮滞在許可者", "経過滞在者"] = Field(
        description="法第30条の45に規定する区分")
    residence_status: Name | None = Field(default=None, description="在留資格")
    period: Name | None = Field(default=None, description="在留期間 (e.g. 3年)")
    period_expires_on: IsoDate | None = Field(default=None, description="在留期間の満了の日 (printed in 西暦)")
    card_number: Annotated[str, Field(pattern=r"^[A-Z0-9]{12}$")] | None = Field(
        default=None, description="在留カード等番号")
    became_resident_on: IsoDate | None = Field(default=None, description="外国人住民となった年月日")


class MovingOut(Model):
    """What a 転出届 recorded. A certificate issued before `planned_on` omits all of it (§1.6)."""

    planned_on: IsoDate = Field(description="転出予定年月日")
    destination: Address = Field(description="転出先住所 (国外を含む)")
    notified_on: IsoDate = Field(description="転出届の届出日")


class Person(Model):
    person_id: PersonId
    name: Name = Field(description="氏名; for a 外国人住民 the alphabet (ローマ字) name, never a katakana reading")
    name_kana: Name | None = Field(default=None, description="氏名の振り仮名 (for a 外国人住民: the reading only)")
    former_name: Name | None = Field(default=None, description="旧氏")
    former_name_kana: Name | None = Field(default=None, description="旧氏の振り仮名")
    birth_date: IsoDate = Field(description="生年月日")
    sex: Literal["男", "女"] = Field(description="性別")
    relationship: Annotated[NonBlank, Field(min_length=1, max_length=20)] = Field(description="続柄")
    honseki: Name | None = Field(default=None, description="本籍")
    hittosha: Name | None = Field(default=None, description="筆頭者")
    became_resident_on: IsoDate | None = Field(
        default=None,
        description="住民となった年月日 (住基法7条6号): the 転入 date, or the birth date for a person born here")
    address_set_on: IsoDate | None = Field(
        default=None,
        description="住所を定めた年月日 (住基法7条7号): the last move (転居) within the municipality after becoming "
                    "a resident; absent (【空欄】) when there was none")
    notified_on: IsoDate | None = Field(
        default=None,
        description="届出日 = 住所を定めた旨の届出の年月日 (住基法7条8号): the 届出 by which the person became a "
                    "resident here (転入届; 出生届 for a birth; the date of a 職権記載); a later 転居 does not "
                    "change it")
    moved_in_from: Address | None = Field(
        default=None,
        description="転入前住所 = 従前の住所 of the 転入 (住基法7条8号), 国外を含む; absent for a person born here")
    my_number: str | None = Field(default=None, description="個人番号 (12 digits, check digit verified)")
    resident_code: str | None = Field(default=None, description="住民票コード (11 digits)")
    remarks: list[Annotated[NonBlank, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=4, description="備考 (up to 4)")
    foreign: ForeignResident | None = Field(default=None, description="present for 外国人住民")
    moving_out: MovingOut | None = Field(
        default=None, description="転出届 (転出予定): withheld on a certificate issued before its planned_on")

    @field_validator("my_number")
    @classmethod
    def _my_number(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return validate_my_number(v)
        except CodeError as exc:  # message never contains the number
            raise ValueError(str(exc)) from None

    @field_validator("resident_code")
    @classmethod
    def _resident_code(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return validate_resident_code(v)
        except CodeError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _foreign_name(self) -> Person:
        # the 氏名 of a 外国人住民 is the alphabet name (with its 漢字 form in foreign.name_kanji); a reading in
        # kana put in its place would print as the 氏名 (message never contains the name)
        if self.foreign is not None and any(_is_kana(ch) for ch in self.name):
            raise ValueError("name: a foreign resident's 氏名 is the alphabet name as registered; the kana "
                             "reading goes in name_kana and the 漢字 form in foreign.name_kanji")
        return self

    @model_validator(mode="after")
    def _residence_dates_agree(self) -> Person:
        """住基法7条6号–8号 tie the dates to the 異動 they record; data that contradicts them is refused (messages
        name the item, never its value)."""
        became = self.became_resident_on or (self.foreign.became_resident_on if self.foreign else None)
        if became is None:
            return self
        if became < self.birth_date:
            raise ValueError("became_resident_on: 住民となった年月日 (住基法7条6号) cannot precede the 生年月日")
        if self.moved_in_from is not None and became == self.birth_date:
            raise ValueError("moved_in_from: a person who became a resident on the day of birth was born here and "
                             "has no 転入前住所 (従前の住所, 住基法7条8号); a person who moved in became a resident "
                             "on the 転入 date")
        if self.notified_on is not None and self.notified_on < became:
            raise ValueError("notified_on: 届出日 (住基法7条8号) is the 届出 of becoming a resident (転入届, 出生届 or "
                             "the 職権記載) and cannot precede 住民となった年月日")
        if self.address_set_on is not None:
            if self.address_set_on <= became:
                raise ValueError("address_set_on: 住所を定めた年月日 (住基法7条7号) is a later 転居 within the "
                                 "municipality and comes after 住民となった年月日; without one it stays empty")
            if self.notified_on is not None and self.notified_on > self.address_set_on:
                raise ValueError("notified_on: 届出日 (住基法7条8号) belongs to the 転入 (or 出生), not to a later "
                                 "転居: it cannot follow 住所を定めた年月日 (7条7号)")
        return self

    @property
    def is_foreign(self) -> bool:
        return self.foreign is not None


class Household(Model):
    address: DomesticAddress = Field(description="住所 (方書を含む)")
    head_name: Name = Field(description="世帯主氏名")
    members: list[Person] = Field(min_length=1, max_length=200)
    order: Literal["standard", "as_given"] = Field(
        default="standard",
        description="standard: the order of §1.5 (世帯主, 配偶者, 子 …); as_given: the clerk's manual order")

    @model_validator(mode="after")
    def _unique_ids(self) -> Household:
        seen: set[str] = set()
        for i, m in enumerate(self.members):
            if m.person_id in seen:
                raise ValueError(f"members[{i}].person_id repeats an earlier member's 宛名番号")
            seen.add(m.person_id)
        return self


class JuminhyoData(Model):
    household: Household

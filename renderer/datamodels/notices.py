"""Data for 通知書 mailed in window envelopes: the 給付金 支給決定通知書 and the 納税通知書 with 納付書.

In: the envelope's `data`. Out: `KyufuKetteiNotice` or `NozeiNotice`. The addressee carries a
`person_id` (the DV policy treats the addressee as the requester of their own address block) and a
structured address (printed in full from 都道府県, with the 郵便番号 as 7 digits and a カスタマバーコード).
Amounts are integers in 円. The eL-QR payload format is not public, so a 納付書's QR payload is data.
The 納税通知書 is the 固定資産税 (and 都市計画税) notice: its figures (課税標準額, 税額, 年税額, 期別) are
data, and the layout declares which of them must agree (`checks:`), so input that contradicts itself is
refused before anything is printed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from renderer.datamodels.address import DomesticAddress
from renderer.datamodels.types import IsoDate, NonBlank, PersonId

Name = Annotated[NonBlank, Field(min_length=1, max_length=100)]
Digits = Annotated[str, Field(pattern=r"^[0-9]+$")]
# 地積 / 床面積 (㎡): a number above 0, or a string in plain decimal notation ("123.45"; no exponent, spaces or
# full-width digits), at most 9 digits before the point and 2 after it (trailing zeros after the point do not
# count). The schema is stated here rather than left to pydantic, whose export of a constrained Decimal changed
# between releases: layouts/input-schemas/ must not depend on the installed version. It admits exactly the
# strings the model accepts, and numbers in its range (tests/test_datamodel_schemas.py); that a number has at
# most 2 decimals is said in the description only: `multipleOf: 0.01` fails binary floats such as 0.29 in
# common validators.
# Leading zeros, then either a whole part of 1-9 digits not starting with 0 (and an optional fraction), or a
# fraction alone with a nonzero digit among its first two. Each step has one way to match, so a long string
# costs linear time (a lookahead for the nonzero digit after `0*` cost quadratic time: 20,000 zeros, 1.6 s).
# (?![\s\S]) ends the text in both Python and ECMA-262 regular expressions; $ would admit a final newline in
# Python's (and so in the jsonschema package).
AREA_PATTERN = r"^\+?0*(?:[1-9][0-9]{0,8}(?:\.[0-9]{0,2}0*)?|\.(?:[1-9][0-9]?|0[1-9])0*)(?![\s\S])"
AREA_SCHEMA: dict[str, object] = {"anyOf": [
    {"exclusiveMinimum": 0, "maximum": 999_999_999.99, "type": "number"},
    {"pattern": AREA_PATTERN, "type": "string"},
]}
_AREA_TEXT = re.compile(AREA_PATTERN)


def _plain_decimal(value: object) -> object:
    """A string 地積 must be plain decimal notation (the stated pattern); Decimal itself would take '1e2' or '１２'."""
    if isinstance(value, str) and not _AREA_TEXT.match(value):
        raise ValueError("must be a number above 0 in plain decimal notation, at most 9 digits before the point and "
                         "2 after it, e.g. 123.45")
    return value


Area = Annotated[Decimal, Field(gt=0, max_digits=11, decimal_places=2), BeforeValidator(_plain_decimal),
                 WithJsonSchema(AREA_SCHEMA)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Addressee(Model):
    person_id: PersonId
    name: Name = Field(description="宛名 (氏名); 様 is added by the layout")
    address: DomesticAddress = Field(description="送付先住所 (postal_code required)")
    postal_town: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="the 町域 name the 郵便番号 stands for (for the カスタマバーコード's 住所表示番号)")
    generic_postcode: StrictBool = Field(default=False, description="「以下に掲載がない場合」の郵便番号: no barcode")

    @model_validator(mode="after")
    def _postcode(self) -> Addressee:
        if self.address.postal_code is None:
            raise ValueError("address.postal_code is required on a mailed notice")
        return self


class PayeeAccount(Model):
    bank: Name = Field(description="金融機関名")
    branch: Name = Field(description="支店名")
    kind: Literal["普通", "当座", "貯蓄"] = Field(description="預金種目")
    number_masked: Annotated[str, Field(pattern=r"^[0-9*＊]{4,8}$")] = Field(
        description="口座番号 (一部伏字); a half-width * is held as the full-width 伏字 「＊」, as the forms print it")
    holder_kana: Name = Field(description="口座名義 (カナ): the reading of the account holder's name")
    public_account: StrictBool = Field(default=False, description="公金受取口座 (登録済みの口座) を利用")

    @model_validator(mode="before")
    @classmethod
    def _full_width_mask(cls, data: object) -> object:
        """「＊」 for every masked digit: a half-width * prints as a tiny raised mark beside the digits (the
        lists hold the same 伏字, `renderer.datamodels.lists.KyufuRow`)."""
        if isinstance(data, dict) and isinstance(data.get("number_masked"), str):
            return {**data, "number_masked": data["number_masked"].replace("*", "＊")}
        return data


class KyufuKetteiNotice(Model):
    """給付金 支給決定通知書: 給付額 = 50,000 円 + X (X a tenant parameter, up to 6 digits, may be null)."""

    addressee: Addressee
    document_number: Annotated[NonBlank, Field(min_length=1, max_length=40)] = Field(description="文書番号")
    decided_on: IsoDate = Field(description="決定日")
    payment_on: IsoDate = Field(description="支給予定日")
    household_size: StrictInt = Field(ge=1, le=99, description="対象世帯の人数")
    account: PayeeAccount

    @model_validator(mode="after")
    def _paid_after_the_decision(self) -> KyufuKetteiNotice:
        if self.payment_on < self.decided_on:
            raise ValueError("payment_on (支給予定日) is before decided_on (決定日)")
        return self


class Slip(Model):
    """One 納付書 (one installment): コンビニ収納 GS1-128 fields and the QR payload (data, not invented)."""

    issuer_code: Digits = Field(description="請求書発行企業コード (6 digits)")
    free_field: Digits = Field(description="自由使用欄 (21 digits)")
    reissue: StrictInt = Field(default=0, ge=0, le=9, description="再発行区分")
    stamp_flag: StrictInt = Field(default=0, ge=0, le=1, description="印紙フラグ")
    qr_payload: Annotated[NonBlank, Field(min_length=1, max_length=600)] | None = Field(
        default=None, description="地方税統一QRコードの内容 (format not public: given as data)")
    el_number: Annotated[str, Field(max_length=40)] | None = Field(default=None, description="eL番号")


class Installment(Model):
    period: Annotated[NonBlank, Field(min_length=1, max_length=10)] = Field(description="期別 (第1期 …)")
    due_on: IsoDate = Field(description="納期限")
    amount: StrictInt = Field(ge=0, le=999_999, description="税額 (円); コンビニ収納は 999,999 円まで")
    slip: Slip


class CoOwner(Model):
    """共有者 named on a 固定資産税 notice (the addressee is the 代表者)."""

    person_id: PersonId
    name: Name
    address: DomesticAddress


class TaxedAsset(Model):
    """One line of the 課税明細書 (地方税法364条3項): a parcel of land (所在, 地番, 地目, 地積) or a building
    (所在, 家屋番号, 種類・構造, 床面積) with its 価格 and, per tax, the 課税標準額 and the 相当税額 (the
    課税標準額 × 税率 of this asset alone, 1円未満切捨て: the 相当税額 need not add up to the 税額, which is
    computed on the total 課税標準額)."""

    kind: Literal["土地", "家屋"] = Field(description="資産の区分")
    location: Annotated[NonBlank, Field(min_length=1, max_length=16)] = Field(
        description="所在 (町名・字: the municipality is the tenant's), e.g. 栄町")
    number: Annotated[NonBlank, Field(min_length=1, max_length=11)] = Field(description="地番 (土地) / 家屋番号 (家屋)")
    category: Annotated[NonBlank, Field(min_length=1, max_length=11)] = Field(
        description="地目 (土地, e.g. 宅地) / 種類・構造 (家屋, e.g. 居宅・木造)")
    area: Area = Field(
        description="地積 / 床面積 (㎡, up to 2 decimals)")
    value: StrictInt = Field(ge=0, le=999_999_999_999, description="価格 (円): 固定資産課税台帳に登録された価格")
    tax_base: StrictInt = Field(ge=0, le=999_999_999_999, description="固定資産税の課税標準額 (円)")
    tax: StrictInt = Field(ge=0, le=99_999_999_999, description="固定資産税の相当税額 (円)")
    city_planning_tax_base: StrictInt | None = Field(
        default=None, ge=0, le=999_999_999_999, description="都市計画税の課税標準額 (円); null: not levied")
    city_planning_tax: StrictInt | None = Field(default=None, ge=0, le=99_999_999_999,
                                                description="都市計画税の相当税額 (円); null: not levied")


#: 納付書 (3連, 210 × 99 mm strips) the layout places on a sheet from its second sheet on (its repeat's
#: per_sheet: a test keeps the two equal)
SLIPS_PER_SHEET = 3
#: 課税明細書 lines the notice sheet has room for (its repeat's per_sheet)
ASSET_LINES = 8


class NozeiNotice(Model):
    """固定資産税・都市計画税 納税通知書 (地方税法1条1項6号, 364条) with its 課税明細書 and one 納付書 per
    installment.

    The figures are data; the layout's checks refuse data whose figures disagree (期別の合計 = 年税額;
    課税標準額 × 税率, 100円未満切捨て = 税額; 固定資産税額 + 都市計画税額 = 年税額). The 課税標準額 is the
    total after 1,000円未満切捨て (地方税法20条の4の2第1項) and the 税額 after 100円未満切捨て (同条第3項)."""

    addressee: Addressee
    document_number: Annotated[NonBlank, Field(min_length=1, max_length=40)]
    tax_year: StrictInt = Field(ge=2000, le=2100, description="年度 (西暦 in the data; printed in 和暦)")
    taxpayer_number: Annotated[NonBlank, Field(min_length=1, max_length=30)] = Field(description="通知書番号")
    tax_base: StrictInt = Field(ge=0, le=999_999_999_000, multiple_of=1000,
                                description="固定資産税の課税標準額 (円, 1,000円未満切捨て)")
    fixed_asset_tax: StrictInt = Field(ge=0, le=99_999_999_900, multiple_of=100,
                                       description="固定資産税額 (年額, 円, 100円未満切捨て)")
    city_planning_tax_base: StrictInt | None = Field(
        default=None, ge=0, le=999_999_999_000, multiple_of=1000,
        description="都市計画税の課税標準額 (円, 1,000円未満切捨て); null: 都市計画税 is not levied")
    city_planning_tax: StrictInt | None = Field(
        default=None, ge=0, le=99_999_999_900, multiple_of=100,
        description="都市計画税額 (年額, 円, 100円未満切捨て); null: not levied")
    annual_tax: StrictInt = Field(ge=0, le=99_999_999_900, description="年税額 (円): 固定資産税額 + 都市計画税額")
    assets: list[TaxedAsset] = Field(default_factory=list, max_length=ASSET_LINES,
                                     description="課税明細書: 土地・家屋 (償却資産 have no 課税明細書)")
    installments: list[Installment] = Field(min_length=1, max_length=12)
    co_owners: list[CoOwner] = Field(default_factory=list, max_length=10,
                                     description="共有者 (printed on the notice; their addresses follow the DV policy)")

    @property
    def total(self) -> int:
        return sum(i.amount for i in self.installments)

    @property
    def city_planning(self) -> bool:
        """Is 都市計画税 levied with the 固定資産税 (地方税法702条の8: 賦課徴収 together)?"""
        return self.city_planning_tax_base is not None or self.city_planning_tax is not None

    @property
    def tax_name(self) -> str:
        """税目 as the notice names it."""
        return "固定資産税・都市計画税" if self.city_planning else "固定資産税"

    @property
    def fiscal_year_start(self) -> dt.date:
        """The first day of the 年度 (4月1日), for printing the 年度 in 和暦 (2027年度 → 令和9年度)."""
        return dt.date(self.tax_year, 4, 1)

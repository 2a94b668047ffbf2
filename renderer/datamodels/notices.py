"""Data for 通知書 mailed in window envelopes: the 給付金 支給決定通知書 and the 納税通知書 with 納付書.

In: the envelope's `data`. Out: `KyufuKetteiNotice` or `NozeiNotice`. The addressee carries a
`person_id` (the DV policy treats the addressee as the requester of their own address block) and a
structured address (printed in full from 都道府県, with the 郵便番号 as 7 digits and a カスタマバーコード).
Amounts are integers in 円. The eL-QR payload format is not public, so a 納付書's QR payload is data.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from renderer.datamodels.address import DomesticAddress
from renderer.datamodels.types import IsoDate

PersonId = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$", description="宛名番号")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Digits = Annotated[str, Field(pattern=r"^[0-9]+$")]


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
    number_masked: Annotated[str, Field(pattern=r"^[0-9*＊]{4,8}$")] = Field(description="口座番号 (一部伏字)")
    holder_kana: Name = Field(description="口座名義 (カナ)")
    public_account: StrictBool = Field(default=False, description="公金受取口座 (登録済みの口座) を利用")


class KyufuKetteiNotice(Model):
    """給付金 支給決定通知書: 給付額 = 50,000 円 + X (X a tenant parameter, up to 6 digits, may be null)."""

    addressee: Addressee
    document_number: Annotated[str, Field(min_length=1, max_length=40)] = Field(description="文書番号")
    decided_on: IsoDate = Field(description="決定日")
    payment_on: IsoDate = Field(description="支給予定日")
    household_size: StrictInt = Field(ge=1, le=99, description="対象世帯の人数")
    account: PayeeAccount


class Slip(Model):
    """One 納付書 (one installment): コンビニ収納 GS1-128 fields and the QR payload (data, not invented)."""

    issuer_code: Digits = Field(description="請求書発行企業コード (6 digits)")
    free_field: Digits = Field(description="自由使用欄 (21 digits)")
    reissue: StrictInt = Field(default=0, ge=0, le=9, description="再発行区分")
    stamp_flag: StrictInt = Field(default=0, ge=0, le=1, description="印紙フラグ")
    qr_payload: Annotated[str, Field(min_length=1, max_length=600)] | None = Field(
        default=None, description="地方税統一QRコードの内容 (format not public: given as data)")
    el_number: Annotated[str, Field(max_length=40)] | None = Field(default=None, description="eL番号")


class Installment(Model):
    period: Annotated[str, Field(min_length=1, max_length=10)] = Field(description="期別 (第1期 …)")
    due_on: IsoDate = Field(description="納期限")
    amount: StrictInt = Field(ge=0, le=999_999, description="税額 (円); コンビニ収納は 999,999 円まで")
    slip: Slip


class CoOwner(Model):
    """共有者 named on a 固定資産税 notice (the addressee is the 代表者)."""

    person_id: PersonId
    name: Name
    address: DomesticAddress


class NozeiNotice(Model):
    """納税通知書 with one 納付書 per installment."""

    addressee: Addressee
    document_number: Annotated[str, Field(min_length=1, max_length=40)]
    tax_year: StrictInt = Field(ge=2000, le=2100, description="年度")
    tax_name: Annotated[str, Field(min_length=1, max_length=30)] = Field(description="税目 (e.g. 固定資産税)")
    taxpayer_number: Annotated[str, Field(min_length=1, max_length=30)] = Field(description="通知書番号")
    basis: Annotated[str, Field(max_length=400)] | None = Field(default=None, description="課税標準等の説明")
    installments: list[Installment] = Field(min_length=1, max_length=12)
    co_owners: list[CoOwner] = Field(default_factory=list, max_length=10,
                                     description="共有者 (printed on the notice; their addresses follow the DV policy)")

    @property
    def total(self) -> int:
        return sum(i.amount for i in self.installments)

"""Data for the 督促状 mailed as a V-fold sealed postcard (圧着はがき, layout `tokusokujo-hagaki`).

In: the envelope's `data`. Out: `TokusokuNotice` — the addressee (宛名: `person_id`, name, address with its
郵便番号, as on the other notices, so the DV addressee rule applies unchanged), the 文書番号 and 通知書番号,
the overdue items (one row per 税目・年度・期別 with its original 納期限, 本税 and 督促手数料), their totals,
and the payment stub (`payment`: 指定期限, 納付金額, 納付番号 and, optionally, the コンビニ収納 GS1-128 fields).
Amounts are integers in 円. The layout's `checks:` refuse totals that disagree with the rows (exit 2); this
model refuses a stub dated before an overdue 納期限 and a コンビニ barcode above 999,999 円.

延滞金 is not data: it accrues until the day of payment and is computed then, so the postcard states how it
accrues (the layout's wording), not an amount.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from renderer.barcodes.gs1 import MAX_AMOUNT_YEN
from renderer.datamodels.notices import Addressee, Slip
from renderer.datamodels.types import IsoDate, NonBlank

#: overdue rows the inside panel has room for (the layout's repeat per_sheet; a test keeps the two equal)
TOKUSOKU_ROWS = 6


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokusokuRow(Model):
    """One overdue item: 税目 (or 料金の名称), 年度, 期別, the original 納期限, 本税 and 督促手数料."""

    tax_name: Annotated[NonBlank, Field(min_length=1, max_length=20)] = Field(
        description="税目, e.g. 市民税・県民税（普通徴収）")
    fiscal_year: StrictInt = Field(ge=2000, le=2100, description="年度 (西暦 in the data; printed in 和暦)")
    period: Annotated[NonBlank, Field(min_length=1, max_length=10)] = Field(description="期別 (第1期, 全期 …)")
    due_on: IsoDate = Field(description="当初の納期限")
    tax: StrictInt = Field(ge=1, le=99_999_999, description="本税額 (円): the unpaid amount of this item")
    fee: StrictInt = Field(default=0, ge=0, le=9_999, description="督促手数料 (円; 0 where the 条例 levies none)")

    @property
    def fiscal_year_start(self) -> dt.date:
        """4月1日 of the 年度, for printing it in 和暦 (2026 → 令和8年度)."""
        return dt.date(self.fiscal_year, 4, 1)


class Payment(Model):
    """The payment stub (納付書-like block): 指定期限 (the deadline the 督促状 sets), 納付金額 (本税 +
    督促手数料: the layout checks it), 納付番号, and the コンビニ収納 fields when the stub carries a GS1-128."""

    due_on: IsoDate = Field(description="指定期限 (the 督促状's deadline; the GS1-128's 支払期限)")
    amount: StrictInt = Field(ge=1, le=999_999_999, description="納付金額 (円) = 本税 + 督促手数料")
    payment_number: Annotated[str, Field(pattern=r"^[0-9-]{1,30}$")] = Field(description="納付番号")
    slip: Slip | None = Field(default=None, description="コンビニ収納 GS1-128 fields; null: no barcode is printed")

    @model_validator(mode="after")
    def _barcode_amount(self) -> Payment:
        if self.slip is not None and self.amount > MAX_AMOUNT_YEN:
            raise ValueError(f"amount: a コンビニ収納 barcode carries at most {MAX_AMOUNT_YEN:,} 円; give slip: null "
                             "for a larger amount")
        return self


class TokusokuNotice(Model):
    """督促状: the overdue items of one taxpayer, mailed to the addressee on a sealed postcard."""

    addressee: Addressee
    document_number: Annotated[NonBlank, Field(min_length=1, max_length=40)] = Field(description="文書番号")
    taxpayer_number: Annotated[NonBlank, Field(min_length=1, max_length=30)] = Field(
        description="通知書番号（納税者番号）")
    rows: list[TokusokuRow] = Field(min_length=1, max_length=TOKUSOKU_ROWS,
                                    description=f"the overdue items, at most {TOKUSOKU_ROWS} (one postcard)")
    tax_total: StrictInt = Field(ge=1, le=999_999_999, description="本税の合計 (円)")
    fee_total: StrictInt = Field(ge=0, le=999_999, description="督促手数料の合計 (円)")
    total: StrictInt = Field(ge=1, le=999_999_999, description="合計 (円) = 本税の合計 + 督促手数料の合計")
    payment: Payment

    @model_validator(mode="after")
    def _deadline_after_due(self) -> TokusokuNotice:
        for i, row in enumerate(self.rows):
            if self.payment.due_on <= row.due_on:
                raise ValueError(f"payment.due_on (指定期限) is not after rows[{i}].due_on (納期限): a 督促 follows "
                                 "the 納期限")
        return self

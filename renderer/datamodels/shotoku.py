"""Data for 所得・課税証明書 (個人住民税): one taxpayer's 年度, 所得 by kind, 所得控除 by kind, 課税標準額 and 税額.

In: the envelope's `data`. Out: `ShotokuKazeiData`. The municipality's tax system computes every figure; this
model only types them (integers in 円) and refuses what cannot be true of one certificate (a 非課税 certificate
carrying tax amounts, a taxable one missing them, 総所得金額等 above 合計所得金額). Whether the figures add up
is declared by the layout (`checks:` in layouts/shotoku-kazei.yaml: the kinds sum to 合計所得金額, the
控除 to 控除合計, 課税標準額 = max(0, 総所得金額等 − 控除合計) 1,000円未満切捨て, 均等割 + 所得割 = each tax,
市町村民税 + 道府県民税 (+ 森林環境税) = 合計) and refused at bind (exit 2) when they do not.

`tax_year` is the 年度 in 西暦 (2026 → 令和8年度); the properties give the dates the layout prints in 和暦:
`fiscal_year_start` (4月1日 of the 年度, as the 納税通知書 prints its 年度), `income_year_end` (12月31日 of the
income year, the year before: 令和7年分) and `assessment_date` (賦課期日, 1月1日 of the 年度: the address is the
taxpayer's address on that day, 地方税法39条・318条). The taxpayer carries a `person_id` (宛名番号), so the DV
rules and the layout's ``requesters.subject`` see who the certificate is about.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from renderer.datamodels.address import DomesticAddress
from renderer.datamodels.juminhyo import Name
from renderer.datamodels.types import IsoDate, NonBlank, PersonId

#: an amount in 円 that is never negative (収入, 控除, 税額)
Yen = Annotated[StrictInt, Field(ge=0, le=999_999_999_999)]
#: an 所得 that may be a loss (事業, 不動産, 分離課税等: printed with △)
SignedYen = Annotated[StrictInt, Field(ge=-999_999_999_999, le=999_999_999_999)]
Count = Annotated[StrictInt, Field(ge=0, le=99)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Taxpayer(Model):
    person_id: PersonId
    name: Name = Field(description="氏名")
    birth_date: IsoDate = Field(description="生年月日 (printed in 和暦)")
    address: DomesticAddress = Field(description="住所 on the 賦課期日 (1月1日 of the 年度), printed in full")


class Income(Model):
    """所得 by kind as each enters 合計所得金額 (after the tax system's own rules: 給与所得控除, 公的年金等控除,
    一時所得の1/2, 損益通算), and the two totals. Absent = 0 (printed 0円, as certificates print a kind without
    income)."""

    salary_revenue: Yen = Field(default=0, description="給与収入 (支払金額)")
    salary: Yen = Field(default=0, description="給与所得")
    pension_revenue: Yen = Field(default=0, description="公的年金等収入")
    pension: Yen = Field(default=0, description="雑所得（公的年金等）")
    business: SignedYen = Field(default=0, description="事業所得（営業等）")
    agriculture: SignedYen = Field(default=0, description="事業所得（農業）")
    real_estate: SignedYen = Field(default=0, description="不動産所得")
    interest: Yen = Field(default=0, description="利子所得")
    dividend: Yen = Field(default=0, description="配当所得")
    misc_business: SignedYen = Field(default=0, description="雑所得（業務）")
    misc_other: SignedYen = Field(default=0, description="雑所得（その他）")
    transfer_occasional: SignedYen = Field(default=0, description="総合譲渡所得・一時所得")
    separate: SignedYen = Field(default=0, description="分離課税等の所得（山林・退職・分離譲渡・株式等）")
    total: SignedYen = Field(description="合計所得金額")
    aggregate: Yen = Field(description="総所得金額等 (合計所得金額 − 繰越控除), what the 所得控除 are deducted from")

    @model_validator(mode="after")
    def _aggregate_within_total(self) -> Income:
        if self.aggregate > max(self.total, 0):
            raise ValueError("aggregate (総所得金額等) cannot exceed total (合計所得金額)")
        if self.salary > self.salary_revenue:
            raise ValueError("salary (給与所得) cannot exceed salary_revenue (給与収入)")
        if self.pension > self.pension_revenue:
            raise ValueError("pension (公的年金等に係る雑所得) cannot exceed pension_revenue (公的年金等収入)")
        return self


class Deductions(Model):
    """所得控除 by kind (住民税の控除額) and their total. Absent = 0 (printed 0円)."""

    casualty: Yen = Field(default=0, description="雑損控除")
    medical: Yen = Field(default=0, description="医療費控除")
    social_insurance: Yen = Field(default=0, description="社会保険料控除")
    small_business_mutual_aid: Yen = Field(default=0, description="小規模企業共済等掛金控除")
    life_insurance: Yen = Field(default=0, description="生命保険料控除")
    earthquake_insurance: Yen = Field(default=0, description="地震保険料控除")
    widow: Yen = Field(default=0, description="寡婦控除")
    single_parent: Yen = Field(default=0, description="ひとり親控除")
    working_student: Yen = Field(default=0, description="勤労学生控除")
    disability: Yen = Field(default=0, description="障害者控除")
    spouse: Yen = Field(default=0, description="配偶者控除")
    spouse_special: Yen = Field(default=0, description="配偶者特別控除")
    dependents: Yen = Field(default=0, description="扶養控除")
    basic: Yen = Field(default=0, description="基礎控除")
    total: Yen = Field(description="所得控除合計")


class Dependents(Model):
    """扶養親族等の人数 (the tax system's 人的控除の内訳)."""

    spouse: Literal["なし", "一般", "老人"] = Field(default="なし", description="控除対象配偶者（一般・老人）")
    general: Count = Field(default=0, description="一般の扶養親族")
    specific: Count = Field(default=0, description="特定扶養親族（19歳以上23歳未満）")
    elderly: Count = Field(default=0, description="老人扶養親族（同居老親等を除く）")
    elderly_parents: Count = Field(default=0, description="同居老親等")
    under16: Count = Field(default=0, description="年少扶養親族（16歳未満: 扶養控除の対象外）")
    disabled_special: Count = Field(default=0, description="特別障害者（同居を含む）")
    disabled: Count = Field(default=0, description="障害者（特別障害者を除く）")

    @property
    def deducted(self) -> int:
        """扶養親族 counted by the 扶養控除 (年少扶養親族 are not)."""
        return self.general + self.specific + self.elderly + self.elderly_parents


class Levy(Model):
    """One tax (市町村民税 or 道府県民税): 均等割, 所得割 and their sum; all null on a 非課税 certificate."""

    per_capita: Yen | None = Field(default=None, description="均等割額")
    income_levy: Yen | None = Field(default=None, description="所得割額")
    total: Yen | None = Field(default=None, description="税額 (均等割額 + 所得割額)")

    def given(self) -> list[str]:
        return [k for k in ("per_capita", "income_levy", "total") if getattr(self, k) is not None]


class Tax(Model):
    city: Levy = Field(default_factory=Levy, description="市町村民税 (特別区民税)")
    prefecture: Levy = Field(default_factory=Levy, description="道府県民税 (都民税)")
    forest_environment: Yen | None = Field(
        default=None, description="森林環境税 (国税, collected with the 均等割 from 令和6年度): printed when given")
    total: Yen | None = Field(default=None, description="税額の合計 (市町村民税 + 道府県民税 + 森林環境税)")


class ShotokuKazeiData(Model):
    tax_year: StrictInt = Field(ge=2000, le=2100, description="年度 (西暦 in the data; printed in 和暦: 令和8年度)")
    taxpayer: Taxpayer
    income: Income
    deductions: Deductions
    dependents: Dependents = Field(default_factory=Dependents)
    taxable_income: StrictInt = Field(ge=0, le=999_999_999_000, multiple_of=1000,
                                      description="課税標準額 (総所得金額等 − 所得控除合計, 1,000円未満切捨て)")
    nontaxable: StrictBool = Field(default=False, description="非課税: no 均等割 and no 所得割 (no tax amounts)")
    tax: Tax = Field(default_factory=Tax)
    remarks: Annotated[NonBlank, Field(min_length=1, max_length=120)] | None = Field(
        default=None, description="備考 (e.g. the ground of 非課税), printed as given")

    @model_validator(mode="after")
    def _tax_matches_status(self) -> ShotokuKazeiData:
        t = self.tax
        given = [f"tax.city.{k}" for k in t.city.given()] + [f"tax.prefecture.{k}" for k in t.prefecture.given()]
        given += [f"tax.{k}" for k in ("forest_environment", "total") if getattr(t, k) is not None]
        if self.nontaxable:
            if given:
                raise ValueError(f"a 非課税 (nontaxable) certificate carries no tax amounts; given: {', '.join(given)}")
            return self
        missing = [f"tax.{levy}.{k}" for levy in ("city", "prefecture") for k in ("per_capita", "income_levy", "total")
                   if getattr(getattr(t, levy), k) is None]
        missing += ["tax.total"] if t.total is None else []
        if missing:
            raise ValueError("a taxable certificate needs every tax amount (0 where none); "
                             f"missing: {', '.join(missing)}")
        return self

    @property
    def fiscal_year_start(self) -> dt.date:
        """4月1日 of the 年度 (2026 → 令和8年4月1日: printed as 令和8年度)."""
        return dt.date(self.tax_year, 4, 1)

    @property
    def income_year_end(self) -> dt.date:
        """12月31日 of the income year, the year before the 年度 (2026年度 → 令和7年分)."""
        return dt.date(self.tax_year - 1, 12, 31)

    @property
    def assessment_date(self) -> dt.date:
        """賦課期日: 1月1日 of the 年度 (地方税法39条, 318条)."""
        return dt.date(self.tax_year, 1, 1)


__all__ = ["Deductions", "Dependents", "Income", "Levy", "ShotokuKazeiData", "Tax", "Taxpayer"]

"""Data for 住民票記載事項証明書: the 住民票's household, plus what the requester asked to be certified.

In: the envelope's `data`: ``household`` exactly as for the 住民票の写し (`renderer.datamodels.juminhyo`), and
``certify``: the items the requester asked for (`CertifiedItem`, in any order), and the 提出先 and 使用目的
when the request (請求書) gives them. Out: `KisaijikoData`, a `JuminhyoData`, so every rule of the 住民票 applies
to it unchanged (`renderer.rules.policy`: members selected and put in the standard order, optional items
withheld, the 転出届 before its date; `renderer.rules.dv`: block unless lifted, 相手方).

`KisaijikoData.lines` is what the layout prints, read from the data *after* the rules: one `Line` per
requested item in the standard order of `HOUSEHOLD_ITEMS` and `PERSON_ITEMS` (住基法7条 号 order; the household's
住所 and 世帯主 first, as the 住民票 prints them in its head), each person opening with their 氏名 (always
printed: the certificate is about that person). An item the rules withheld stays a `Withheld` value (its
label prints, its value the layout's omitted text, as on the 住民票); an item the data lacks prints 【空欄】.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from renderer.datamodels.juminhyo import JuminhyoData, Model, Person
from renderer.datamodels.types import NonBlank

CertifiedItem = Literal[
    "address", "head_name", "name_kana", "former_name", "birth_date", "sex", "relationship", "honseki",
    "hittosha", "became_resident_on", "address_set_on", "notified_on", "moved_in_from", "my_number",
    "resident_code",
]
LineFormat = Literal["text", "wareki", "resident_date", "address", "digits", "code"]

#: the household's items (item, label, attribute of the household, format), in the printed order
HOUSEHOLD_ITEMS: tuple[tuple[CertifiedItem, str, str, LineFormat], ...] = (
    ("address", "住所", "address", "address"),                 # 住基法7条7号
    ("head_name", "世帯主", "head_name", "text"),              # 4号
)
#: each person's items after the 氏名 (1号), in the standard order (住基法7条 号 order)
PERSON_ITEMS: tuple[tuple[CertifiedItem, str, str, LineFormat], ...] = (
    ("name_kana", "氏名の振り仮名", "name_kana", "text"),      # 1号 (戸籍法 改正 2025-05-26)
    ("former_name", "旧氏", "former_name", "text"),            # 令30条の13
    ("birth_date", "生年月日", "birth_date", "resident_date"),  # 2号
    ("sex", "性別", "sex", "text"),                            # 3号
    ("relationship", "続柄", "relationship", "text"),          # 4号
    ("honseki", "本籍", "honseki", "text"),                    # 5号
    ("hittosha", "筆頭者", "hittosha", "text"),                # 5号
    ("became_resident_on", "住民となった年月日", "became_resident_on", "wareki"),   # 6号
    ("address_set_on", "住所を定めた年月日", "address_set_on", "wareki"),          # 7号
    ("notified_on", "届出日", "notified_on", "wareki"),                           # 8号
    ("moved_in_from", "転入前住所", "moved_in_from", "address"),                    # 8号 従前の住所
    ("my_number", "個人番号", "my_number", "digits"),                               # 8号の2
    ("resident_code", "住民票コード", "resident_code", "code"),                     # 13号
)
#: lines a sheet holds (the layout's repeat per_sheet: a test keeps the two equal)
LINES_PER_SHEET = 24
STANDARD_ORDER: tuple[CertifiedItem, ...] = tuple(i for i, *_ in HOUSEHOLD_ITEMS + PERSON_ITEMS)


@dataclass(frozen=True)
class Line:
    """One printed line: ``household`` (住所, 世帯主), ``person`` (a person's 氏名, opening their lines),
    ``item``, or ``pad`` (nothing printed: the rest of a sheet a person's lines do not fit in). `number` is the
    person's (1, 2, …: the layout prints it on the 氏名 line). `foreign` is the person's foreign-resident items,
    so `resident_date` prints a foreign resident's 生年月日 in 西暦."""

    kind: Literal["household", "person", "item", "pad"]
    label: str
    value: Any
    format: LineFormat = "text"
    number: int | None = None
    person_id: str | None = None
    foreign: Any = None


class CertifyRequest(Model):
    items: list[CertifiedItem] = Field(
        min_length=1, max_length=len(STANDARD_ORDER),
        description="the items the requester asked to be certified (any order; printed in the standard order). "
                    "氏名 is always printed")
    submit_to: Annotated[NonBlank, Field(min_length=1, max_length=60)] | None = Field(
        default=None, description="提出先, printed when the request gives it")
    purpose: Annotated[NonBlank, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="使用目的, printed when the request gives it")

    @field_validator("items")
    @classmethod
    def _once(cls, v: list[CertifiedItem]) -> list[CertifiedItem]:
        for i, item in enumerate(v):
            if item in v[:i]:
                raise ValueError(f"items[{i}] repeats {item!r}")
        return v


class KisaijikoData(JuminhyoData):
    certify: CertifyRequest

    @property
    def lines(self) -> list[Line]:
        """The printed lines, sheet after sheet of `LINES_PER_SHEET`: a person's lines are kept on one sheet
        (padded to the next when they do not fit: a sheet never certifies items of a person whose 氏名 is on
        another; a person has at most 14 lines, so they always fit)."""
        asked = set(self.certify.items)
        household = self.household
        out = [Line("household", label, getattr(household, attr), fmt)
               for item, label, attr, fmt in HOUSEHOLD_ITEMS if item in asked]
        for n, person in enumerate(household.members, start=1):
            own = [Line("person", "氏名", person.name, "text", n, person.person_id, person.foreign)]
            own.extend(_person_line(person, n, item, label, attr, fmt)
                       for item, label, attr, fmt in PERSON_ITEMS if item in asked)
            room = LINES_PER_SHEET - len(out) % LINES_PER_SHEET
            if len(own) > room and len(own) <= LINES_PER_SHEET:
                out.extend(Line("pad", "", None) for _ in range(room))
            out.extend(own)
        return out


def _person_line(person: Person, n: int, item: CertifiedItem, label: str, attr: str, fmt: LineFormat) -> Line:
    value = getattr(person, attr)
    if item == "became_resident_on" and person.foreign is not None:
        label, value = "外国人住民となった年月日", person.foreign.became_resident_on
    return Line("item", label, value, fmt, n, person.person_id, person.foreign)


__all__ = ["HOUSEHOLD_ITEMS", "LINES_PER_SHEET", "PERSON_ITEMS", "STANDARD_ORDER", "CertifiedItem",
           "CertifyRequest", "KisaijikoData", "Line"]

"""Data for 転出証明書 (住基法施行令23条): the 住民票's household, plus the 転出届 the certificate is issued on.

In: the envelope's `data`: ``household`` exactly as for the 住民票の写し (`renderer.datamodels.juminhyo`), and
``tenshutsu``: the 転出届 (`TenshutsuNotification`: 届出年月日, 転出先, 転出予定年月日 and the person_ids of the
persons moving, all of the household or some of it). Out: `TenshutsuData`, a `JuminhyoData`, so every rule of
the 住民票 applies to it unchanged (`renderer.rules.policy`: members put in the standard order, optional items
withheld; `renderer.rules.dv`: block unless lifted, 相手方).

``tenshutsu`` may be absent in the data model so that its absence is a refusal by the layout's ``requires:``
(exit 3, naming ``data.tenshutsu``), not a schema error: a 転出証明書 is only ever issued on a 転出届.

The persons printed are exactly the persons of the 転出届: `fixed_members` hands them to the rules
(`renderer.datamodels.protocols.FixesMembers`), which select them from the household in the standard order and
refuse a ``request.members`` naming anyone else. `whole_household` (世帯全員 or 一部) is decided on the data as
given, before that selection, and kept through the rules' copies.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, PrivateAttr, field_validator, model_validator

from renderer.datamodels.address import DomesticAddress
from renderer.datamodels.juminhyo import JuminhyoData, Model
from renderer.datamodels.types import IsoDate, PersonId

#: where the persons of the 転出届 are in the data (named in messages)
PERSONS_PATH = "data.tenshutsu.persons"


class TenshutsuNotification(Model):
    """The 転出届 (住基法24条) as recorded: when it was made, where to, when, and who moves."""

    notified_on: IsoDate = Field(description="転出届の届出年月日")
    planned_on: IsoDate = Field(description="転出予定年月日")
    destination: DomesticAddress = Field(
        description="転出先住所 (always printed in full from the 都道府県). declared: domestic only — a 国外転出 "
                    "gets no 転出証明書 in this layout")
    persons: list[PersonId] = Field(
        min_length=1, max_length=200,
        description="宛名番号 of each person moving: the whole household (世帯全員) or some of its members")

    @field_validator("persons")
    @classmethod
    def _once(cls, v: list[str]) -> list[str]:
        for i, pid in enumerate(v):
            if pid in v[:i]:
                raise ValueError(f"persons[{i}] repeats an earlier person of the 転出届")
        return v


class TenshutsuData(JuminhyoData):
    tenshutsu: TenshutsuNotification | None = Field(
        default=None, description="転出届 (required: its absence is refused, rule tenshutsu-needs-notification)")
    _whole_household: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _persons_in_household(self) -> TenshutsuData:
        if self.tenshutsu is None:
            return self
        ids = {m.person_id for m in self.household.members}
        for i, pid in enumerate(self.tenshutsu.persons):
            if pid not in ids:   # the message names the position, never the value
                raise ValueError(f"tenshutsu.persons[{i}] names no member of the household")
        self._whole_household = set(self.tenshutsu.persons) == ids
        return self

    @property
    def fixed_members(self) -> tuple[str, Sequence[str]] | None:
        """The persons this certificate is about (`renderer.datamodels.protocols.FixesMembers`)."""
        if self.tenshutsu is None:
            return None
        return PERSONS_PATH, list(self.tenshutsu.persons)

    @property
    def whole_household(self) -> bool:
        """Does the 転出届 move every member of the household (世帯全員), as the data was given?"""
        return self._whole_household

    @property
    def persons_moving(self) -> int:
        return len(self.tenshutsu.persons) if self.tenshutsu is not None else 0


__all__ = ["PERSONS_PATH", "TenshutsuData", "TenshutsuNotification"]

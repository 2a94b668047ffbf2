"""The DV 支援措置 registry as plain values: what a render reads, with no database behind it.

In: nothing (definitions only; no SQLAlchemy, no stage). Out: `Suppression` (one active record), `Lift` (one
一時解除), `Snapshot` (what one render reads, in one transaction), `SnapshotSource` (anything that answers
`snapshot`: the database `renderer.state.registry.Registry`, its in-memory `RegistryView`, a batch's views),
`instant` (the stored form of an instant) and the registry's vocabularies (processes, address kinds, roles).

The rules (`renderer.rules.dv`) take these values; `renderer.state.registry` builds them from its tables.
Nothing here holds names, addresses or numbers of residents: only person_ids (宛名番号).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

Process = Literal["certificate", "notice", "list"]
AddressKind = Literal["current", "previous"]
Role = Literal["applicant", "joint"]
ALL_PROCESSES: tuple[Process, ...] = ("certificate", "notice", "list")
ALL_ADDRESSES: tuple[AddressKind, ...] = ("current", "previous")


def instant(value: dt.datetime) -> str:
    """The stored form of an instant: ISO UTC with microseconds (compares as text)."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Suppression:
    """One active record, as a render sees it."""

    person_id: str
    version: int
    case_id: str
    role: Role
    adversaries: frozenset[str]
    period_start: dt.date
    period_end: dt.date | None
    processes: frozenset[str]
    layouts: frozenset[str] | None
    addresses: frozenset[str]
    moved_out_on: dt.date | None
    continuation_end: dt.date | None

    def covers(self, layout_id: str, kind: str) -> bool:
        """Does this record protect the person on this layout (its process and, if listed, its id)?"""
        return kind in self.processes and (self.layouts is None or layout_id in self.layouts)

    def warnings(self, today: dt.date) -> list[str]:
        out: list[str] = []
        if self.period_end is not None and today > self.period_end:
            out.append(f"person {self.person_id}: the support period ended on {self.period_end.isoformat()}; "
                       f"protection continues until the 住民記録 system releases it")
        if self.continuation_end is not None and today > self.continuation_end:
            out.append(f"person {self.person_id}: the continuation after 転出 ended on "
                       f"{self.continuation_end.isoformat()}; protection continues until released")
        return out


@dataclass(frozen=True)
class Lift:
    id: int
    tenant: str
    person_id: str
    layout: str
    created_at: str
    expires_at: str
    minutes: int
    reviewer: str
    revoked_at: str | None

    def active(self, now: dt.datetime) -> bool:
        t = instant(now)
        return self.revoked_at is None and self.created_at <= t < self.expires_at

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "tenant": self.tenant, "person_id": self.person_id, "layout": self.layout,
                "created_at": self.created_at, "expires_at": self.expires_at, "minutes": self.minutes,
                "reviewer": self.reviewer, "revoked_at": self.revoked_at}


@dataclass(frozen=True)
class Snapshot:
    """What one render needs, read in one transaction."""

    suppressions: dict[str, Suppression]          # person_id → active record
    lifts: dict[str, Lift]                        # person_id → an active lift for the layout
    adversary_of: dict[str, list[str]]            # requester person_id → case ids naming them 相手方


class SnapshotSource(Protocol):
    """Answers the DV reads of one render (`Renderer.plan` calls it at most twice per document)."""

    def snapshot(self, tenant: str, person_ids: Iterable[str], requester_ids: Iterable[str], layout_id: str,
                 now: dt.datetime) -> Snapshot: ...


__all__ = ["ALL_ADDRESSES", "ALL_PROCESSES", "AddressKind", "Lift", "Process", "Role", "Snapshot",
           "SnapshotSource", "Suppression", "instant"]

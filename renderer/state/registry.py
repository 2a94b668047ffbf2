"""The DV 支援措置 suppression registry: who is protected, from whom, for what; and the 一時解除 (lifts).

In: delta files from the 住民記録 system (JSON Lines, one record per line, see `UpsertRecord` and
`ReleaseRecord`), lift/revoke commands, and the server's clock. Out: a `Snapshot` that one render reads
in a single database transaction (so a render running during an import sees the old or the new state,
never a gap), import reports and lift records. Keyed by (tenant, person_id); each record carries its
case (案件), role (申出者 ``applicant`` or 併せて支援を求める者 ``joint``), the 相手方 when known, the support
period, the processes and layouts it covers, which addresses are protected and the continuation end date
after a 転出.

Rules kept here:
- an import applies the whole file in one transaction or nothing; a bad line rejects the file, naming
  the line; a record whose version is not newer than the stored one is ignored; the absence of a record
  never releases anyone (only ``op: release`` does);
- protection lasts until an explicit release: the period end and the continuation end raise warnings,
  never a release;
- a lift covers one (tenant, person_id, layout) from its creation until it expires by itself (judged by
  the server's clock) or is revoked; it is never a release, and nothing here ever exports it.
Nothing in the registry holds names, addresses or numbers of residents: only person_ids (宛名番号).

The values a render reads (`Snapshot`, `Suppression`, `Lift`, `instant`) are plain dataclasses defined in
`renderer.suppressions` (no SQLAlchemy there, so the rules import them from it); they are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from renderer import jsontext
from renderer.datamodels.types import PersonId
from renderer.diagnostics import from_pydantic
from renderer.errors import InputError, UsageError
from renderer.settings import Settings
from renderer.state.db import (
    Database,
    lifts,
    open_database,
    registry_state,
    suppression_adversaries,
    suppressions,
)
from renderer.suppressions import (
    ALL_ADDRESSES,
    ALL_PROCESSES,
    AddressKind,
    Lift,
    Process,
    Role,
    Snapshot,
    Suppression,
    instant,
)

LayoutId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,63}$")]
MAX_LINES = 100_000
MAX_REASON = 500


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)   # built by an import, not by a render


class Period(_Model):
    start: dt.date = Field(description="支援措置の開始日")
    end: dt.date | None = Field(default=None, description="支援措置の終了予定日 (a warning after it, never a release)")

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.end is not None and self.end < self.start:
            raise ValueError("`end` is before `start`")
        return self

#: versions are stored as a signed 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT): a larger one is invalid
#: input, not a database overflow
MAX_VERSION = 2**63 - 1


class UpsertRecord(_Model):
    """Set the protection of one person (replaces the stored record when `version` is newer)."""

    op: Literal["upsert"]
    person_id: PersonId
    version: int = Field(ge=1, le=MAX_VERSION)
    case_id: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]{1,64}$")] = Field(description="支援措置の案件")
    role: Role = Field(description="applicant = 申出者, joint = 併せて支援を求める者")
    adversaries: list[PersonId] = Field(default_factory=list, max_length=50, description="相手方 (加害者)")
    period: Period
    processes: list[Process] = Field(default_factory=lambda: list(ALL_PROCESSES), min_length=1)
    layouts: list[LayoutId] | None = Field(default=None, description="None = every layout of those processes")
    addresses: list[AddressKind] = Field(default_factory=lambda: list(ALL_ADDRESSES), min_length=1)
    moved_out_on: dt.date | None = Field(default=None, description="転出日 (protection continues)")
    continuation_end: dt.date | None = Field(default=None, description="転出後の継続の終期 (a warning after it)")


class ReleaseRecord(_Model):
    """End the protection of one person (only this ever releases anyone)."""

    op: Literal["release"]
    person_id: PersonId
    version: int = Field(ge=1, le=MAX_VERSION)


Record = Annotated[UpsertRecord | ReleaseRecord, Field(discriminator="op")]


@functools.cache
def _record_adapter() -> TypeAdapter[UpsertRecord | ReleaseRecord]:
    """The import file's line validator, built by the first import (a render never needs it)."""
    return TypeAdapter(Record)


@dataclass(frozen=True)
class ImportReport:
    lines: int
    applied: int
    released: int
    ignored: int
    #: unexpired 一時解除 ended because their person's record changed (a lift was reviewed for the record it lifted)
    lifts_ended: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"lines": self.lines, "applied": self.applied, "released": self.released, "ignored": self.ignored,
                "lifts_ended": self.lifts_ended}


def parse_lines(lines: Iterable[str]) -> list[UpsertRecord | ReleaseRecord]:
    """Validate every line first; the first bad line rejects the whole file (exit 2, naming the line)."""
    records: list[UpsertRecord | ReleaseRecord] = []
    for number, line in enumerate(lines, start=1):
        if number > MAX_LINES:
            raise InputError(f"more than {MAX_LINES} lines; split the file", field=f"line {number}")
        if not line.strip():
            continue
        try:
            raw = jsontext.loads(line)
        except jsontext.NotJson as exc:
            raise InputError(f"line {number}: not JSON ({exc.reason}); nothing was imported",
                             field=f"line {number}") from None
        try:
            records.append(_record_adapter().validate_python(raw))
        except ValidationError as exc:
            diags = from_pydantic(exc, prefix=f"line {number}")
            raise InputError(f"line {number}: invalid record ({len(diags)} problem(s)); nothing was imported",
                             diagnostics=diags, field=diags[0].path if diags else f"line {number}") from None
    return records


def _csv(values: Sequence[str] | None) -> str | None:
    return None if values is None else ",".join(values)


def _set(text: str | None) -> frozenset[str]:
    return frozenset(v for v in (text or "").split(",") if v)


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


class Registry:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ sync from 住民記録

    def import_records(self, tenant: str, records: Sequence[UpsertRecord | ReleaseRecord],
                       now: dt.datetime) -> ImportReport:
        """Apply the deltas in one transaction (all or nothing). A record replaced or released ends its person's
        unexpired 一時解除: a lift was reviewed for the case it lifted, never for a later one."""
        applied = released = ignored = ended = 0
        with self.db.write(f"registry:{tenant}") as conn:
            bump_generation(conn, tenant)
            for rec in records:
                key = and_(suppressions.c.tenant == tenant, suppressions.c.person_id == rec.person_id)
                stored = conn.execute(select(suppressions.c.version).where(key)).scalar()
                if stored is not None and stored >= rec.version:
                    ignored += 1
                    continue
                # Replace the record: inside this transaction no reader can see the moment in between.
                conn.execute(suppressions.delete().where(key))
                conn.execute(suppression_adversaries.delete().where(and_(
                    suppression_adversaries.c.tenant == tenant,
                    suppression_adversaries.c.person_id == rec.person_id)))
                ended += conn.execute(lifts.update().where(
                    lifts.c.tenant == tenant, lifts.c.person_id == rec.person_id, lifts.c.revoked_at.is_(None),
                    lifts.c.expires_at > instant(now),
                ).values(revoked_at=instant(now), revoked_by=f"record version {rec.version}")).rowcount
                if isinstance(rec, ReleaseRecord):
                    conn.execute(suppressions.insert().values(
                        tenant=tenant, person_id=rec.person_id, version=rec.version, status="released",
                        updated_at=instant(now)))
                    released += 1
                    continue
                conn.execute(suppressions.insert().values(
                    tenant=tenant, person_id=rec.person_id, version=rec.version, status="active",
                    case_id=rec.case_id, role=rec.role, period_start=rec.period.start.isoformat(),
                    period_end=rec.period.end.isoformat() if rec.period.end else None,
                    processes=_csv(rec.processes), layouts=_csv(rec.layouts), addresses=_csv(rec.addresses),
                    moved_out_on=rec.moved_out_on.isoformat() if rec.moved_out_on else None,
                    continuation_end=rec.continuation_end.isoformat() if rec.continuation_end else None,
                    updated_at=instant(now)))
                for adversary in sorted(set(rec.adversaries)):
                    conn.execute(suppression_adversaries.insert().values(
                        tenant=tenant, person_id=rec.person_id, adversary_id=adversary))
                applied += 1
        return ImportReport(lines=len(records), applied=applied, released=released, ignored=ignored,
                            lifts_ended=ended)

    def changed_since(self, tenant: str, person_ids: Iterable[str], since: str) -> list[str]:
        """The persons among `person_ids` whose record was imported (upserted: protected now) after the instant
        `since` (ISO, as the issue log writes it): what was drawn before that knew nothing of it."""
        persons = sorted(set(person_ids))
        if not persons:
            return []
        with self.db.read() as conn:
            rows = conn.execute(select(suppressions.c.person_id).where(
                suppressions.c.tenant == tenant, suppressions.c.person_id.in_(persons),
                suppressions.c.status == "active", suppressions.c.updated_at > since)).scalars()
            return sorted(str(p) for p in rows)

    # ------------------------------------------------------------------ what a render reads

    def snapshot(self, tenant: str, person_ids: Iterable[str], requester_ids: Iterable[str], layout_id: str,
                 now: dt.datetime) -> Snapshot:
        persons = sorted(set(person_ids) | set(requester_ids))
        asking = sorted(set(requester_ids))
        with self.db.read() as conn:
            found = self._active(conn, tenant, persons)
            adversary_of: dict[str, list[str]] = {}
            if asking:
                rows = conn.execute(
                    select(suppression_adversaries.c.adversary_id, suppressions.c.case_id)
                    .join(suppressions, and_(suppressions.c.tenant == suppression_adversaries.c.tenant,
                                             suppressions.c.person_id == suppression_adversaries.c.person_id))
                    .where(suppression_adversaries.c.tenant == tenant,
                           suppression_adversaries.c.adversary_id.in_(asking),
                           suppressions.c.status == "active")).all()
                for adversary_id, case_id in rows:
                    cases = adversary_of.setdefault(str(adversary_id), [])
                    if case_id not in cases:
                        cases.append(str(case_id))
            active_lifts: dict[str, Lift] = {}
            if found:
                t = instant(now)
                rows = conn.execute(select(lifts).where(
                    lifts.c.tenant == tenant, lifts.c.layout == layout_id,
                    lifts.c.person_id.in_(sorted(found)), lifts.c.revoked_at.is_(None),
                    lifts.c.created_at <= t, lifts.c.expires_at > t).order_by(lifts.c.id)).all()
                for row in rows:
                    active_lifts.setdefault(row.person_id, _lift(row))
        return Snapshot(suppressions=found, lifts=active_lifts, adversary_of=adversary_of)

    def _active(self, conn: Connection, tenant: str, person_ids: Sequence[str]) -> dict[str, Suppression]:
        if not person_ids:
            return {}
        rows = conn.execute(select(suppressions).where(
            suppressions.c.tenant == tenant, suppressions.c.person_id.in_(person_ids),
            suppressions.c.status == "active")).all()
        out: dict[str, Suppression] = {}
        for row in rows:
            adversaries = conn.execute(select(suppression_adversaries.c.adversary_id).where(
                suppression_adversaries.c.tenant == tenant,
                suppression_adversaries.c.person_id == row.person_id)).scalars().all()
            out[row.person_id] = Suppression(
                person_id=row.person_id, version=row.version, case_id=row.case_id, role=row.role,
                adversaries=frozenset(adversaries), period_start=dt.date.fromisoformat(row.period_start),
                period_end=_date(row.period_end), processes=_set(row.processes),
                layouts=None if row.layouts is None else _set(row.layouts), addresses=_set(row.addresses),
                moved_out_on=_date(row.moved_out_on), continuation_end=_date(row.continuation_end))
        return out

    def view(self, tenant: str, layout_id: str, now: dt.datetime) -> RegistryView:
        """The tenant's whole registry for one layout, read in one transaction (a batch plans from it)."""
        t = instant(now)
        with self.db.read() as conn:
            gen = generation(conn, tenant)
            found = self._active_all(conn, tenant)
            rows = conn.execute(select(lifts).where(
                lifts.c.tenant == tenant, lifts.c.layout == layout_id, lifts.c.revoked_at.is_(None),
                lifts.c.expires_at > t).order_by(lifts.c.id)).all()
        return RegistryView(tenant, layout_id, gen, found, tuple(_lift(r) for r in rows))

    def _active_all(self, conn: Connection, tenant: str) -> dict[str, Suppression]:
        names = conn.execute(select(suppressions.c.person_id).where(
            suppressions.c.tenant == tenant, suppressions.c.status == "active")
            .order_by(suppressions.c.person_id)).scalars().all()
        return self._active(conn, tenant, list(names)) if names else {}

    # ------------------------------------------------------------------ 一時解除

    def lift(self, tenant: str, person_id: str, layout_id: str, *, minutes: int, max_minutes: int, reason: str,
             reviewer: str, now: dt.datetime) -> Lift:
        if not 1 <= minutes <= max_minutes:
            raise UsageError(f"--minutes must be between 1 and the tenant's maximum of {max_minutes}",
                             field="--minutes")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise UsageError(f"--reason must say why (1–{MAX_REASON} characters)", field="--reason")
        created = instant(now)
        expires = instant(now + dt.timedelta(minutes=minutes))
        with self.db.write(f"registry:{tenant}") as conn:
            bump_generation(conn, tenant)
            if person_id not in self._active(conn, tenant, [person_id]):
                raise UsageError(f"person {person_id} has no active suppression in tenant {tenant}: "
                                 f"there is nothing to lift", field="PERSON_ID")
            lift_id = conn.execute(lifts.insert().values(
                tenant=tenant, person_id=person_id, layout=layout_id, created_at=created, expires_at=expires,
                minutes=minutes, reviewer=reviewer, reason=reason)).inserted_primary_key
            assert lift_id is not None
            new_id = int(lift_id[0])
        return Lift(id=new_id, tenant=tenant, person_id=person_id, layout=layout_id, created_at=created,
                    expires_at=expires, minutes=minutes, reviewer=reviewer, revoked_at=None)

    def revoke(self, tenant: str, lift_id: int, *, reviewer: str, now: dt.datetime) -> Lift:
        with self.db.write(f"registry:{tenant}") as conn:
            bump_generation(conn, tenant)
            row = conn.execute(select(lifts).where(lifts.c.tenant == tenant, lifts.c.id == lift_id)).first()
            if row is None:
                raise UsageError(f"tenant {tenant} has no lift {lift_id}", field="LIFT_ID")
            if row.revoked_at is None:
                conn.execute(lifts.update().where(lifts.c.id == lift_id).values(
                    revoked_at=instant(now), revoked_by=reviewer))
            row = conn.execute(select(lifts).where(lifts.c.id == lift_id)).one()
        return _lift(row)

    # ------------------------------------------------------------------ listing

    def list(self, tenant: str, now: dt.datetime) -> dict[str, Any]:
        t = instant(now)
        with self.db.read() as conn:
            rows = conn.execute(select(suppressions).where(suppressions.c.tenant == tenant)
                                .order_by(suppressions.c.person_id)).all()
            records = []
            active = self._active(conn, tenant, [r.person_id for r in rows if r.status == "active"])
            today = now.astimezone(dt.UTC).date()
            for r in rows:
                entry: dict[str, Any] = {"person_id": r.person_id, "version": r.version, "status": r.status}
                s = active.get(r.person_id)
                if s is not None:
                    entry.update(case_id=s.case_id, role=s.role, adversaries=sorted(s.adversaries),
                                 period_start=s.period_start.isoformat(),
                                 period_end=s.period_end.isoformat() if s.period_end else None,
                                 processes=sorted(s.processes),
                                 layouts=None if s.layouts is None else sorted(s.layouts),
                                 addresses=sorted(s.addresses), warnings=s.warnings(today))
                records.append(entry)
            lift_rows = conn.execute(select(lifts).where(
                lifts.c.tenant == tenant, or_(lifts.c.expires_at > t, lifts.c.revoked_at.is_not(None)))
                .order_by(lifts.c.id)).all()
            listed = [dict(_lift(r).as_dict(), active=_lift(r).active(now)) for r in lift_rows
                      if r.expires_at > t]
        return {"tenant": tenant, "suppressions": records, "lifts": listed}


def _lift(row: Any) -> Lift:
    return Lift(id=int(row.id), tenant=row.tenant, person_id=row.person_id, layout=row.layout,
                created_at=row.created_at, expires_at=row.expires_at, minutes=int(row.minutes),
                reviewer=row.reviewer, revoked_at=row.revoked_at)


def seed_registry(settings: Settings, tenant: str, records: Sequence[Mapping[str, Any]],
                  lift_specs: Sequence[Mapping[str, Any]]) -> None:
    """Golden fixtures and tests: import `records` and grant `lift_specs` at the settings' clock."""
    if not records and not lift_specs:
        return
    registry = Registry(open_database(settings))
    now = settings.now()
    registry.import_records(tenant, parse_lines(json.dumps(r, ensure_ascii=False) for r in records), now)
    for spec in lift_specs:
        registry.lift(tenant, str(spec["person_id"]), str(spec["layout"]), minutes=int(spec.get("minutes", 15)),
                      max_minutes=1440, reason=str(spec.get("reason", "golden fixture")),
                      reviewer=str(spec.get("reviewer", "golden-fixture")), now=now)


__all__ = ["ImportReport", "Lift", "Registry", "ReleaseRecord", "Snapshot", "Suppression",
           "UpsertRecord", "instant", "parse_lines", "seed_registry"]


def generation(conn: Connection, tenant: str) -> int:
    """How many times the tenant's registry has changed (0: never)."""
    value = conn.execute(select(registry_state.c.generation).where(registry_state.c.tenant == tenant)).scalar()
    return int(value or 0)


def bump_generation(conn: Connection, tenant: str) -> None:
    current = conn.execute(select(registry_state.c.generation).where(registry_state.c.tenant == tenant)).scalar()
    if current is None:
        conn.execute(registry_state.insert().values(tenant=tenant, generation=1))
    else:
        conn.execute(registry_state.update().where(registry_state.c.tenant == tenant)
                     .values(generation=int(current) + 1))


@dataclass(frozen=True)
class RegistryView:
    """One tenant's registry for one layout as of `generation`: answers `snapshot` in memory exactly as
    `Registry.snapshot` does, for as long as the generation is current (the holder checks that inside
    the transaction that commits what it planned). Lifts are judged against each call's `now`."""

    tenant: str
    layout: str
    generation: int
    suppressions: dict[str, Suppression]
    lifts: tuple[Lift, ...]   # unrevoked, for this layout, by id

    def snapshot(self, tenant: str, person_ids: Iterable[str], requester_ids: Iterable[str], layout_id: str,
                 now: dt.datetime) -> Snapshot:
        if (tenant, layout_id) != (self.tenant, self.layout):
            raise ValueError("a registry view answers for its own tenant and layout only")
        persons = sorted(set(person_ids) | set(requester_ids))
        found = {p: self.suppressions[p] for p in persons if p in self.suppressions}
        adversary_of: dict[str, list[str]] = {}
        for asking in sorted(set(requester_ids)):
            for sup in self.suppressions.values():
                if asking in sup.adversaries:
                    cases = adversary_of.setdefault(asking, [])
                    if sup.case_id not in cases:
                        cases.append(str(sup.case_id))
        active: dict[str, Lift] = {}
        if found:
            t = instant(now)
            for lift in self.lifts:
                if lift.person_id in found and lift.created_at <= t < lift.expires_at:
                    active.setdefault(lift.person_id, lift)
        return Snapshot(suppressions=found, lifts=active, adversary_of=adversary_of)

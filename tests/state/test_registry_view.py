"""`RegistryView` (the batch coordinator's in-memory DV registry) answers exactly like `Registry.snapshot`.

A registry with several cases, adversaries, a released record, lifts that are active, expired, revoked, for
another layout or not yet begun is compared snapshot by snapshot over many person sets, requesters and
clock times; and every registry write (import, lift, revoke) moves the tenant's generation.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from dvkit import NOW, TENANT, Clock, load, make_renderer, release, upsert

from renderer.state.registry import generation

PEOPLE = ["100000001", "100000002", "100000003", "100000004", "100000005", "900000001", "900000002"]


def test_a_view_gives_the_same_snapshot_as_the_database(tmp_path: Path, database_url: str | None) -> None:
    clock = Clock()
    r = make_renderer(tmp_path / "state", clock, database_url=database_url)
    reg = r.registry
    load(r, upsert("100000002", case_id="C-1", adversaries=["900000001"]),
         upsert("100000003", case_id="C-1", role="joint"),
         upsert("100000004", case_id="C-2", adversaries=["900000001", "900000002"], layouts=["juminhyo-setai"]),
         upsert("100000005", case_id="C-3"))
    load(r, release("100000005", 2))
    def lift(person: str, layout: str, minutes: int, at: dt.datetime) -> int:
        return reg.lift(TENANT, person, layout, minutes=minutes, max_minutes=60, reason="確認済み", reviewer="r1",
                        now=at).id

    lift("100000002", "juminhyo-setai", 10, NOW)
    lift("100000002", "juminhyo-setai", 30, NOW + dt.timedelta(minutes=5))
    reg.revoke(TENANT, lift("100000003", "juminhyo-setai", 20, NOW), reviewer="r2", now=NOW + dt.timedelta(minutes=1))
    lift("100000004", "juminhyo-kojin", 20, NOW)
    view = reg.view(TENANT, "juminhyo-setai", NOW)
    compared = 0
    for minutes in (0, 4, 6, 12, 29, 36, 90):
        now = NOW + dt.timedelta(minutes=minutes)
        for size in (0, 1, 2, 3):
            for persons in itertools.combinations(PEOPLE[:5], size):
                for asking in ([], ["900000001"], ["900000002", "100000003"]):
                    expected = reg.snapshot(TENANT, persons, asking, "juminhyo-setai", now)
                    got = view.snapshot(TENANT, persons, asking, "juminhyo-setai", now)
                    assert got == expected, (minutes, persons, asking)
                    compared += 1
    assert compared > 500
    assert view.snapshot(TENANT, ["100000002"], [], "juminhyo-setai", NOW + dt.timedelta(minutes=6)).lifts


def test_every_registry_write_moves_the_generation(tmp_path: Path, database_url: str | None) -> None:
    r = make_renderer(tmp_path / "state", Clock(), database_url=database_url)

    def gen() -> int:
        with r.db.read() as conn:
            return generation(conn, TENANT)

    assert gen() == 0
    load(r, upsert("100000002"))
    assert gen() == 1
    lift = r.registry.lift(TENANT, "100000002", "juminhyo-setai", minutes=5, max_minutes=30, reason="r",
                           reviewer="x", now=NOW)
    assert gen() == 2
    r.registry.revoke(TENANT, lift.id, reviewer="x", now=NOW)
    assert gen() == 3
    with r.db.read() as conn:
        assert generation(conn, "131016") == 0   # per tenant

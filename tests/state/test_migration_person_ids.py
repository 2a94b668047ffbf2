"""Revision 0003: the DV registry's person_ids upper-cased, on SQLite and PostgreSQL.

In: the ``database_url`` fixture; a database at 0002, or one a release before migrations left (revision 0001's
tables, no ``alembic_version``), holding registry rows as releases before 11b959e wrote them — a record,
its 相手方 and a lift of ``ab1`` (the person_id pattern admitted a-z then) — written with revision 0001's frozen
tables, as ``tests/state/test_migrations.py`` does. Out: assertions that

- after ``chohyo db upgrade`` the record protects ``AB1``: a notice addressed to ``AB1`` at the counter prints
  「記載省略」 and not the address (before the fix it printed in full); ``XY9`` is recognised as the 相手方, the
  lift moved with its person, and the record can be released by ``AB1`` (the import refuses ``ab1``);
- a person stored under two spellings (``ab1`` and ``AB1``; a lift of ``ef3`` beside the record ``EF3``)
  refuses the upgrade — exit 2 naming the tenant and the person_ids, no traceback, nothing changed, also by
  auto-upgrade at start — until the operator deletes one spelling as README says;
- a print run's DV hold reads the person_ids of render records an older release wrote in lower case as the
  registry spells them now.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from dvkit import NOW, ROOT, TENANT, inspect_pdf
from migkit import KEY, settings, unchecked
from sqlalchemy import select, text
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.printing.run import dv_holds
from renderer.settings import Settings
from renderer.state.db import (
    lifts,
    metadata,
    open_database,
    registry_state,
    suppression_adversaries,
    suppressions,
)
from renderer.state.issue_log import IssueLog, LogRecord
from renderer.state.migrations import HEAD, REVISIONS, SchemaError
from renderer.state.migrations.run import differences, upgrade
from renderer.state.migrations.versions.r0001_initial import METADATA as REV1
from renderer.state.registry import parse_lines
from renderer.suppressions import instant

FIRST, PREVIOUS = REVISIONS[0], REVISIONS[-2]
OTHER = "131016"
NOTICE = "tsuchisho-kyufu-kettei"
#: the sample notice's address parts that must not print for a protected addressee
ADDRESS = ("栄町", "3番2号", "見本ハイツ503号室", "285-0014")




def chohyo(s: Settings, *args: str) -> Any:
    env = {"CHOHYO_STATE_DIR": str(s.state_dir), "CHOHYO_DATABASE_URL": s.database_url,
           "CHOHYO_LOG_KEY": KEY.hex(), "CHOHYO_DB_AUTO_UPGRADE": None}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def record(tenant: str, person_id: str, *, version: int = 1, case_id: str = "C-1") -> dict[str, Any]:
    """A ``suppressions`` row as the registry's import wrote it (every process and layout, both addresses)."""
    return {"tenant": tenant, "person_id": person_id, "version": version, "status": "active", "case_id": case_id,
            "role": "applicant", "period_start": "2026-04-01", "period_end": "2099-03-31",
            "processes": "certificate,notice,list", "layouts": None, "addresses": "current,previous",
            "moved_out_on": None, "continuation_end": None, "updated_at": instant(NOW - dt.timedelta(days=30))}


def lift(tenant: str, person_id: str, layout: str = "juminhyo-setai") -> dict[str, Any]:
    """An unexpired 一時解除 (of another layout than the notice's)."""
    return {"tenant": tenant, "person_id": person_id, "layout": layout,
            "created_at": instant(NOW - dt.timedelta(minutes=5)), "expires_at": instant(NOW + dt.timedelta(hours=1)),
            "minutes": 65, "reviewer": "reviewer01", "reason": "本人確認済み"}


def older_release(s: Settings, start: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """A database an older release left: at `start` (a revision, or ``unversioned``: a release before
    migrations, no ``alembic_version``) holding `rows` in revision 0001's tables."""
    with unchecked(s) as db:
        upgrade(db, FIRST if start == "unversioned" else start)
        with db.write("schema") as conn:
            for table in REV1.sorted_tables:
                if rows.get(table.name):
                    conn.execute(table.insert(), rows[table.name])
            if start == "unversioned":
                conn.execute(text("DROP TABLE alembic_version"))


def registry_rows(s: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with unchecked(s) as db, db.read() as conn:
        return {
            "suppressions": sorted(tuple(r) for r in conn.execute(
                select(suppressions.c.tenant, suppressions.c.person_id, suppressions.c.version))),
            "suppression_adversaries": sorted(tuple(r) for r in conn.execute(select(suppression_adversaries))),
            "lifts": sorted(tuple(r) for r in conn.execute(select(lifts.c.tenant, lifts.c.person_id, lifts.c.layout))),
            "registry_state": sorted(tuple(r) for r in conn.execute(select(registry_state))),
        }


def notice(person_id: str) -> dict[str, Any]:
    """The sample 支給決定通知書 addressed to `person_id`, asked for by the office at the counter, as a file."""
    env: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{NOTICE}.json").read_text(encoding="utf-8"))
    env["data"]["addressee"]["person_id"] = person_id
    env["request"].update(channel="counter", output="file")
    return env


LOWER_CASE_ROWS: dict[str, list[dict[str, Any]]] = {
    "suppressions": [record(TENANT, "ab1"), record(TENANT, "CD2", case_id="C-2"), record(OTHER, "ab1", case_id="C-9")],
    # the old import stored the 相手方 as given: one of them twice, in two spellings
    "suppression_adversaries": [
        *({"tenant": TENANT, "person_id": "ab1", "adversary_id": a} for a in ("xy9", "XY9", "Q-7")),
        {"tenant": TENANT, "person_id": "CD2", "adversary_id": "zz1"}],
    "lifts": [lift(TENANT, "ab1")],
    "registry_state": [{"tenant": TENANT, "generation": 4}, {"tenant": OTHER, "generation": 1}],
}


@pytest.mark.parametrize("start", ["unversioned", PREVIOUS])
def test_a_lower_case_record_protects_the_upper_case_person_after_the_upgrade(tmp_path: Path,
                                                                                database_url: str | None,
                                                                                start: str) -> None:
    s = settings(tmp_path / "state", database_url)
    older_release(s, start, LOWER_CASE_ROWS)
    status = chohyo(s, "db", "status", "--json")
    assert status.exit_code == 0 and HEAD in json.loads(status.stdout)["pending"]

    done = chohyo(s, "db", "upgrade")
    assert done.exit_code == 0, done.output
    assert f"to {HEAD}" in done.stdout and HEAD in done.stdout.split("applied")[-1]

    r = Renderer(s)
    found = inspect_pdf(r.render(notice("AB1"), layout_id=NOTICE).pdf)
    assert found.where("記載省略"), "the protected address is withheld"
    for part in ADDRESS:
        assert not found.where(part), f"{part} printed for a protected addressee"
    shown = inspect_pdf(r.render(notice("EF5"), layout_id=NOTICE).pdf)   # the control: nobody protected
    assert shown.where("見本ハイツ503号室") and not shown.where("記載省略")

    assert registry_rows(s) == {
        "suppressions": [(TENANT, "AB1", 1), (TENANT, "CD2", 1), (OTHER, "AB1", 1)],
        "suppression_adversaries": [(TENANT, "AB1", "Q-7"), (TENANT, "AB1", "XY9"), (TENANT, "CD2", "ZZ1")],
        "lifts": [(TENANT, "AB1", "juminhyo-setai")],
        "registry_state": [(TENANT, 5), (OTHER, 2)],   # a batch planned before the upgrade plans again
    }
    with unchecked(s) as db, db.read() as conn:
        assert differences(conn, metadata) == [] and db.schema().revision == HEAD   # no column changed

    snap = r.registry.snapshot(TENANT, ["AB1"], ["XY9"], "juminhyo-setai", r.settings.now())
    assert set(snap.suppressions) == {"AB1"} and snap.adversary_of == {"XY9": ["C-1"]}
    assert snap.lifts["AB1"].person_id == "AB1"   # the lift reviewed for this record moved with it

    # the record can be managed again: released by its one spelling (which also ends its lift)
    released = r.registry.import_records(TENANT, parse_lines(['{"op": "release", "person_id": "AB1", "version": 2}']),
                                         r.settings.now())
    assert (released.released, released.lifts_ended) == (1, 1)
    listed = r.registry.list(TENANT, r.settings.now())["suppressions"]
    assert [(e["person_id"], e["status"]) for e in listed] == [("AB1", "released"), ("CD2", "active")]


CONFLICTING_ROWS: dict[str, list[dict[str, Any]]] = {
    "suppressions": [record(TENANT, "ab1"), record(TENANT, "AB1", version=3, case_id="C-3"), record(TENANT, "gh4"),
                     record(OTHER, "EF3")],
    "suppression_adversaries": [{"tenant": TENANT, "person_id": "ab1", "adversary_id": "xy9"},
                                {"tenant": TENANT, "person_id": "AB1", "adversary_id": "XY9"}],
    "lifts": [lift(OTHER, "ef3")],   # a lift of one spelling, the record of the other
    "registry_state": [{"tenant": TENANT, "generation": 2}, {"tenant": OTHER, "generation": 1}],
}


@pytest.mark.parametrize("start", ["unversioned", PREVIOUS])
def test_two_spellings_of_one_person_refuse_the_upgrade_and_change_nothing(tmp_path: Path, database_url: str | None,
                                                                           start: str) -> None:
    s = settings(tmp_path / "state", database_url)
    older_release(s, start, CONFLICTING_ROWS)
    before = registry_rows(s)

    up = chohyo(s, "db", "upgrade", "--json")
    assert up.exit_code == 2, up.output
    problem = json.loads(up.stderr)
    assert problem["type"] == "urn:chohyo:problem:database-schema" and problem["field"] == "suppressions.person_id"
    detail = problem["detail"]
    assert "2 person(s) are stored under two spellings" in detail
    assert f"tenant {OTHER}: EF3 and ef3" in detail and f"tenant {TENANT}: AB1 and ab1" in detail
    assert "gh4" not in detail and "C-3" not in detail and "nothing was changed" in detail
    assert "chohyo db upgrade" in detail and "README" in detail
    plain = chohyo(s, "db", "upgrade")
    assert plain.exit_code == 2 and "Traceback" not in plain.output and "two spellings" in plain.output

    with pytest.raises(SchemaError, match="two spellings"):   # nor at start, even when allowed to upgrade
        open_database(settings(tmp_path / "state", database_url, auto_upgrade=True))
    with unchecked(s) as db:
        assert db.schema().revision == (None if start == "unversioned" else start)
    assert registry_rows(s) == before

    # the operator keeps the current record of each person, deletes the other spelling's rows (README), upgrades
    with unchecked(s) as db, db.write("schema") as conn:
        for table, tenant, person_id in (("suppression_adversaries", TENANT, "ab1"), ("lifts", TENANT, "ab1"),
                                         ("suppressions", TENANT, "ab1"), ("lifts", OTHER, "ef3")):
            conn.execute(text(f"DELETE FROM {table} WHERE tenant = :t AND person_id = :p"),
                         {"t": tenant, "p": person_id})
    done = chohyo(s, "db", "upgrade")
    assert done.exit_code == 0, done.output
    rows = registry_rows(s)
    assert rows["suppressions"] == [(TENANT, "AB1", 3), (TENANT, "GH4", 1), (OTHER, "EF3", 1)]
    assert rows["suppression_adversaries"] == [(TENANT, "AB1", "XY9")] and rows["lifts"] == []


def test_a_print_hold_reads_lower_case_person_ids_of_an_older_release_as_the_registry_spells_them(
        tmp_path: Path, database_url: str | None) -> None:
    """A batch file drawn by an older release (its render record says ``ab1``) waits for the operator when
    ``AB1`` comes under a DV 支援措置 after it was planned."""
    s = settings(tmp_path / "state", database_url)
    r = Renderer(s)
    log = IssueLog(s, r.db)
    run_id = "3f1c2a9e-0000-4000-8000-000000000001"
    planned = r.settings.now()
    log.append(LogRecord("reserve", planned, {"tenant": TENANT, "layout": NOTICE, "batch": run_id,
                                              "file": "0001.pdf"}))
    log.append(LogRecord("render", planned, {"tenant": TENANT, "layout": NOTICE, "batch": run_id, "file": "0001.pdf",
                                             "person_ids": ["ab1"]}))
    assert dv_holds(log, run_id, {"0001.pdf"}) == {}
    later = planned + dt.timedelta(minutes=1)
    r.registry.import_records(TENANT, parse_lines([json.dumps(
        {"op": "upsert", "person_id": "AB1", "version": 1, "case_id": "C-1", "role": "applicant",
         "period": {"start": "2026-04-01"}})]), later)
    held = dv_holds(log, run_id, {"0001.pdf"})
    assert list(held) == ["0001.pdf"] and "person_id AB1" in held["0001.pdf"]

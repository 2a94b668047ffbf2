"""Schema migrations of the runtime database (Alembic, `renderer.state.migrations`), on SQLite and PostgreSQL.

In: the ``database_url`` fixture (the state directory's SQLite file, or a fresh database on the session's
throwaway PostgreSQL server), real renders, registry imports, a lift and a batch run written by the code on a
scratch database and copied — as revision 0001's columns only — into a database created at 0001 (what the
previous release left behind). Out: assertions that

- the package's `REVISIONS`/`HEAD` constants are Alembic's own chain, and the models match head exactly
  (Alembic's ``compare_metadata`` finds nothing), also after an upgrade from 0001 with data;
- ``chohyo db upgrade`` keeps every row, fills the provenance columns from the MACed bodies, and the chain
  still verifies (``chohyo audit verify``) and grows;
- a database at 0001, without a revision (a release before migrations) or at a revision this release does
  not know is refused with a message naming the revisions and the command — CLI exit 2, ``chohyo serve``
  does not start, ``/readyz`` is not ready — unless ``CHOHYO_DB_AUTO_UPGRADE`` allows the upgrade;
- tables without a revision that are not exactly 0001 are never stamped; an upgrade that fails half-way
  changes nothing; the migrations downgrade too; two upgrades at once apply the revisions once
  (PostgreSQL: the advisory lock); the start-up check does not import Alembic.

Revision 0003 (the DV registry's person_ids upper-cased) has its own file, ``test_migration_person_ids.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from batchkit import write_jsonl
from dvkit import ROOT, TENANT, sample, upsert
from migkit import KEY, settings, unchecked
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

import renderer
from renderer.api import Renderer
from renderer.batch import BatchOptions, run_batch
from renderer.cli import app
from renderer.samples import sample_notices
from renderer.settings import Settings
from renderer.state.db import (
    DB_FILE,
    PROVENANCE_COLUMNS,
    close_database,
    issue_log,
    metadata,
    open_database,
    provenance_columns,
)
from renderer.state.issue_log import HEAD_FILE, IssueLog, LogRecord
from renderer.state.migrations import HEAD, REVISIONS, SchemaError
from renderer.state.migrations.run import differences, script_revisions, upgrade
from renderer.state.migrations.versions.r0001_initial import METADATA as REV1
from renderer.state.registry import parse_lines

PREVIOUS = REVISIONS[-2]
#: the schema of 0.2.0, the last release before migrations: the rows it left are copied into a database at it
FIRST = REVISIONS[0]
LATER = ", ".join(REVISIONS[1:])
WIFE = "100000002"




def upgrade_with(s: Settings) -> Any:
    with unchecked(s) as db:
        return upgrade(db)


def env(s: Settings) -> dict[str, str | None]:
    return {"CHOHYO_STATE_DIR": str(s.state_dir), "CHOHYO_DATABASE_URL": s.database_url,
            "CHOHYO_LOG_KEY": KEY.hex(), "CHOHYO_DB_AUTO_UPGRADE": None}


def chohyo(s: Settings, *args: str, **extra: str | None) -> Any:
    result = CliRunner().invoke(app, list(args), env=env(s) | extra)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def dump(conn: Connection, tables: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of `tables` (their columns only), in a stable order."""
    out = {}
    for table in tables.sorted_tables:
        rows = conn.execute(select(table)).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


# ------------------------------------------------------------------------------------ what the previous release left


def previous_release_state(tmp: Path) -> Path:
    """A state directory written by real renders, a failed render (void), a registry import, a lift and a
    batch run — on a scratch SQLite database at head; returns it (its head file and database)."""
    scratch = tmp / "scratch"
    r = Renderer(settings(scratch, None))
    r.render(sample(), layout_id="juminhyo-setai")
    with pytest.MonkeyPatch.context() as m:
        def broken(*_: object, **__: object) -> bytes:
            raise RuntimeError("drawing failed after the reservation")

        m.setattr("renderer.api.finish", broken)
        with pytest.raises(RuntimeError):
            r.render(sample(), layout_id="juminhyo-setai")
    now = r.settings.now()
    report = r.registry.import_records(TENANT, parse_lines([json.dumps(upsert(WIFE, adversaries=["900000001"]))]),
                                       now)
    r.issue_log.append(LogRecord("import", now, {"operator": "test", "tenant": TENANT, "import": report.as_dict(),
                                                 "file_sha256": "0" * 64}))
    lift = r.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=10, max_minutes=30, reason="本人確認済み",
                           reviewer="reviewer01", now=now)
    r.issue_log.append(LogRecord("lift", now, {"operator": "reviewer01", "tenant": TENANT, "layout": "juminhyo-setai",
                                               "person_ids": [WIFE], "lift": {"id": lift.id, "minutes": 10,
                                                                              "expires_at": lift.expires_at}}))
    inp = write_jsonl(tmp / "in.jsonl", sample_notices(2))
    summary = run_batch(r, BatchOptions(layout="tsuchisho-kyufu-kettei", input=inp, out_dir=tmp / "out", workers=1,
                                        progress=False))
    assert summary.exit_code == 0
    assert r.issue_log.verify().ok
    close_database(f"sqlite:///{scratch / DB_FILE}")
    return scratch


def at_first_revision(tmp: Path, database_url: str | None) -> tuple[Settings, dict[str, list[tuple[Any, ...]]]]:
    """A database created at revision 0001 holding the previous release's rows (its columns only), and the
    state directory's head file; returns the settings and the rows as stored."""
    scratch = previous_release_state(tmp)
    s = settings(tmp / "state", database_url)
    with unchecked(s) as db:
        done = upgrade(db, FIRST)
        assert done.after == FIRST and done.applied == (FIRST,)
        with unchecked(settings(scratch, None)) as old, old.read() as src:
            rows = dump(src, REV1)
        with db.write("schema") as conn:
            for table in REV1.sorted_tables:
                if rows[table.name]:
                    conn.execute(table.insert(), [dict(zip(table.columns.keys(), r, strict=True))
                                                  for r in rows[table.name]])
            if not db.is_sqlite:   # as if the ids had been given by the sequence
                conn.execute(text("SELECT setval(pg_get_serial_sequence('lifts', 'id'), (SELECT max(id) FROM lifts))"))
    shutil.copy(scratch / HEAD_FILE, s.state_dir / HEAD_FILE)
    assert all(rows[name] for name in ("issue_log", "serials", "issued_numbers", "number_outcomes", "reservations",
                                       "suppressions", "suppression_adversaries", "registry_state", "lifts",
                                       "batch_runs", "batch_files", "batch_records")), "every table has rows"
    return s, rows


# ---------------------------------------------------------------------------------------- the chain of revisions


def test_the_revision_constants_are_alembics_chain() -> None:
    assert script_revisions() == REVISIONS
    assert REVISIONS[-1] == HEAD


def test_a_new_database_is_created_at_head_and_matches_the_models(tmp_path: Path, database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url)
    db = open_database(s)
    assert db.schema().revision == HEAD and db.schema().status == "current"
    with db.read() as conn:
        assert differences(conn, metadata) == []
    with unchecked(s) as raw, raw.write("schema") as conn:   # the tables are head's, not 0001's
        assert differences(conn, REV1) != []


def test_upgrade_from_the_first_revision_keeps_every_row(tmp_path: Path, database_url: str | None) -> None:
    s, before = at_first_revision(tmp_path, database_url)
    refused = chohyo(s, "audit", "verify")
    assert refused.exit_code == 2
    assert f"schema revision {FIRST}" in refused.output and HEAD in refused.output
    assert "chohyo db upgrade" in refused.output

    status = chohyo(s, "db", "status", "--json")
    assert status.exit_code == 0
    assert json.loads(status.stdout) | {"database": None, "detail": None} == {
        "database": None, "detail": None, "status": "behind", "current": FIRST, "recorded": [FIRST],
        "head": HEAD, "known": list(REVISIONS), "pending": list(REVISIONS[1:])}

    done = chohyo(s, "db", "upgrade")
    assert done.exit_code == 0, done.output
    assert f"upgraded from {FIRST} to {HEAD}: applied {LATER}" in done.stdout

    with unchecked(s) as db, db.read() as conn:
        assert dump(conn, REV1) == before   # every row of every table, as it was
        assert differences(conn, metadata) == []
        logged = conn.execute(select(issue_log).order_by(issue_log.c.seq)).all()
    events = [r.event for r in logged]
    assert events.count("render") == 3 and "void" in events and "lift" in events and "import" in events
    for row in logged:   # the provenance columns hold what the MACed body says, nothing else
        assert {k: row._mapping[k] for k in PROVENANCE_COLUMNS} == provenance_columns(json.loads(row.body))
    renders = [r for r in logged if r.event == "render"]
    assert all(r.renderer_version == renderer.__version__ and len(r.font_manifest_sha256) == 64 for r in renders)
    assert {r.layout for r in renders} == {"juminhyo-setai", "tsuchisho-kyufu-kettei"}

    verified = chohyo(s, "audit", "verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["records"] == len(logged)

    # the upgraded database works on: a render and a lift continue the chain and the counters
    r = Renderer(s)
    r.render(sample(), layout_id="juminhyo-setai")
    r.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=5, max_minutes=30, reason="再交付", reviewer="reviewer01",
                    now=r.settings.now())
    report = IssueLog(s, r.db).verify()
    assert report.ok and report.records == len(logged) + 2, report
    shown = chohyo(s, "audit", "show", "000002", "--tenant", TENANT, "--json")
    assert shown.exit_code == 0, shown.output
    again = chohyo(s, "db", "upgrade", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout) == {"before": HEAD, "after": HEAD, "applied": [],
                                                                "stamped": False}


def test_a_tampered_provenance_column_fails_verify(tmp_path: Path, database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url)
    r = Renderer(s)
    r.render(sample(), layout_id="juminhyo-setai")
    with r.db.write("issue_log") as conn:
        conn.execute(issue_log.update().where(issue_log.c.event == "render").values(renderer_version="9.9.9"))
    report = r.issue_log.verify()
    assert not report.ok and report.problem == "record 2: a column differs from its MACed body"


def test_the_migrations_downgrade_to_the_first_revision_without_losing_rows(tmp_path: Path,
                                                                           database_url: str | None) -> None:
    from alembic import command

    from renderer.state.migrations.run import _config

    s = settings(tmp_path / "state", database_url)
    r = Renderer(s)
    r.render(sample(), layout_id="juminhyo-setai")
    with unchecked(s) as db:
        with db.read() as conn:
            before = dump(conn, REV1)
        with db.write("schema") as conn:
            command.downgrade(_config(conn), FIRST)
        with db.read() as conn:
            assert differences(conn, REV1) == [] and dump(conn, REV1) == before
        assert upgrade(db).applied == REVISIONS[1:]
    assert IssueLog(s, open_database(s)).verify().ok


def test_an_upgrade_that_fails_half_way_leaves_the_database_as_it_was(tmp_path: Path, database_url: str | None,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(tmp_path / "state", database_url)
    with unchecked(s) as db:
        upgrade(db, FIRST)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr("alembic.op.create_index", broken)   # after 0002 has added its columns
    with unchecked(s) as db:
        with pytest.raises(RuntimeError, match="disk filled up"):
            upgrade(db)
        with db.read() as conn:
            assert db.schema().revision == FIRST and differences(conn, REV1) == []


# ---------------------------------------------------------------------------------------- refusals


def test_an_older_revision_is_refused_everywhere_unless_auto_upgrade(tmp_path: Path, database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url)
    with unchecked(s) as db:
        upgrade(db, PREVIOUS)
    with pytest.raises(SchemaError) as caught:
        open_database(s)
    assert caught.value.exit_code == 2 and caught.value.field == "CHOHYO_DATABASE_URL"
    assert f"at schema revision {PREVIOUS} but this release needs {HEAD}" in caught.value.message
    assert "chohyo db upgrade" in caught.value.message and "CHOHYO_DB_AUTO_UPGRADE" in caught.value.message

    render = chohyo(s, "render", "juminhyo-setai", str(ROOT / "layouts" / "samples" / "juminhyo-setai.json"),
                    "-o", str(tmp_path / "out.pdf"), "--json")
    assert render.exit_code == 2 and not (tmp_path / "out.pdf").exists()
    problem = json.loads(render.stderr)
    assert problem["type"] == "urn:chohyo:problem:database-schema" and PREVIOUS in problem["detail"]

    serve = chohyo(s, "serve", "--port", "1")
    assert serve.exit_code == 2 and "chohyo db upgrade" in serve.output   # refused before listening

    from renderer.service.readiness import StateProbe

    blocked = StateProbe(Renderer(s)).problem()
    assert blocked is not None and blocked.code == "database-schema" and PREVIOUS in blocked.detail
    assert str(s.state_dir) not in blocked.detail

    bad = chohyo(s, "audit", "verify", CHOHYO_DB_AUTO_UPGRADE="perhaps")
    assert bad.exit_code == 2 and "CHOHYO_DB_AUTO_UPGRADE must be" in bad.output

    auto = chohyo(s, "audit", "verify", CHOHYO_DB_AUTO_UPGRADE="1")
    assert auto.exit_code == 0, auto.output
    with unchecked(s) as db:
        assert db.schema().revision == HEAD


def test_a_revision_this_release_does_not_know_is_refused(tmp_path: Path, database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url, auto_upgrade=True)
    with unchecked(s) as db:
        upgrade(db)
        with db.write("schema") as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0003_from_the_future'"))
    for attempt in (lambda: open_database(s), lambda: upgrade_with(s)):   # auto-upgrade does not help
        with pytest.raises(SchemaError, match="schema revision 0003_from_the_future, which this release does not "
                                              f"know .*its newest is {HEAD}"):
            attempt()
    status = chohyo(s, "db", "status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["status"] == "unknown"
    assert json.loads(status.stdout)["pending"] == []
    up = chohyo(s, "db", "upgrade")
    assert up.exit_code == 2 and "does not know" in up.output
    render = chohyo(s, "render", "juminhyo-setai", str(ROOT / "layouts" / "samples" / "juminhyo-setai.json"),
                    "-o", str(tmp_path / "out.pdf"))
    assert render.exit_code == 2 and "0003_from_the_future" in render.output


def test_readiness_fails_when_another_server_upgraded_past_this_release(tmp_path: Path,
                                                                        database_url: str | None) -> None:
    from renderer.service.readiness import StateProbe

    s = settings(tmp_path / "state", database_url)
    probe = StateProbe(Renderer(s))
    assert probe.problem() is None   # opened (created) at head
    with unchecked(s) as db, db.write("schema") as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0003_from_the_future'"))
    blocked = probe.problem()
    assert blocked is not None and blocked.code == "database-schema" and "0003_from_the_future" in blocked.detail


def test_a_future_release_revision_is_not_downgraded(tmp_path: Path, database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url)
    open_database(s)
    down = chohyo(s, "db", "upgrade", "--to", PREVIOUS, "--json")
    assert down.exit_code == 2
    assert "never downgrades" in json.loads(down.stderr)["detail"]
    unknown = chohyo(s, "db", "upgrade", "--to", "0042_nothing")
    assert unknown.exit_code == 2 and "--to '0042_nothing' is not a revision" in unknown.output


# ---------------------------------------------------------------------------------------- before migrations


def create_all_release(tmp: Path, database_url: str | None) -> tuple[Settings, dict[str, list[tuple[Any, ...]]]]:
    """A database as a release before migrations left it: revision 0001's tables by ``create_all``, rows,
    no ``alembic_version``."""
    s, rows = at_first_revision(tmp, database_url)
    with unchecked(s) as db, db.write("schema") as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    return s, rows


def test_a_database_of_a_release_before_migrations_is_stamped_then_upgraded(tmp_path: Path,
                                                                            database_url: str | None) -> None:
    s, before = create_all_release(tmp_path, database_url)
    with pytest.raises(SchemaError, match="created by a release before schema migrations"):
        open_database(s)
    status = chohyo(s, "db", "status")
    assert status.exit_code == 0 and "status:   unversioned" in status.stdout
    done = chohyo(s, "db", "upgrade")
    assert done.exit_code == 0, done.output
    assert f"match {FIRST}: recorded it" in done.stdout and f"applied {LATER}" in done.stdout
    with unchecked(s) as db, db.read() as conn:
        assert db.schema().revision == HEAD
        assert dump(conn, REV1) == before and differences(conn, metadata) == []
    assert chohyo(s, "audit", "verify").exit_code == 0


def test_tables_without_a_revision_that_are_not_0001_are_never_stamped(tmp_path: Path,
                                                                       database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url, auto_upgrade=True)
    with unchecked(s) as db, db.write("schema") as conn:   # an older release: no outcomes, no reservations yet
        trimmed = MetaData()
        for table in REV1.sorted_tables:
            if table.name not in ("number_outcomes", "reservations"):
                table.to_metadata(trimmed)
        trimmed.create_all(conn)
        conn.execute(text("ALTER TABLE serials ADD COLUMN note VARCHAR(10)"))
    for attempt in (lambda: open_database(s), lambda: upgrade_with(s)):
        with pytest.raises(SchemaError) as caught:
            attempt()
        message = caught.value.message
        assert "they are not revision 0001_initial" in message
        assert "add_table number_outcomes" in message and "add_table reservations" in message
        assert "remove_column serials.note" in message
    up = chohyo(s, "db", "upgrade")
    assert up.exit_code == 2 and "cannot be upgraded safely" in up.output
    with unchecked(s) as db, db.read() as conn:   # nothing was changed
        assert db.schema().revision is None and db.schema().status == "unversioned"
        assert "alembic_version" not in inspect(conn).get_table_names()
        assert [c["name"] for c in inspect(conn).get_columns("serials")][-1] == "note"


# ------------------------------------------------------------------------------------ several at once, start-up cost


def test_two_upgrades_at_once_apply_each_revision_once(tmp_path: Path, database_url: str | None) -> None:
    s = settings(tmp_path / "state", database_url)
    with unchecked(s) as db:
        upgrade(db, PREVIOUS)
    barrier = threading.Barrier(3)
    results: list[Any] = []

    def server() -> None:
        with unchecked(s) as db:
            barrier.wait()
            try:
                results.append(upgrade(db).applied)
            except Exception as exc:   # recorded, so the assertion below shows it
                results.append(exc)

    threads = [threading.Thread(target=server) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(repr, results)) == sorted(map(repr, [(), (), (HEAD,)]))   # one applied it, two found it done
    with unchecked(s) as db, db.read() as conn:
        assert differences(conn, metadata) == []


def test_the_start_up_check_does_not_import_alembic(tmp_path: Path) -> None:
    s = settings(tmp_path / "state", None)
    open_database(s)   # created (this process imports Alembic for that)
    probe = ("import sys\nfrom pathlib import Path\nfrom renderer.settings import Settings\n"
             "from renderer.state.db import open_database\n"
             f"state = Path({str(s.state_dir)!r})\n"
             "db = open_database(Settings(layouts_dir=Path('.'), fonts_dir=Path('.'), state_dir=state))\n"
             "print(db.schema().revision, 'alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.split() == [HEAD, "False"]

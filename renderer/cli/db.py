"""`chohyo db status | upgrade`: the schema revision of the runtime database, and upgrading it.

In: the state directory (its SQLite file) or ``CHOHYO_DATABASE_URL``. Out:
- ``status``: the revision the database records, the head this release needs, the revisions pending and a
  state (``current``, ``empty``: created at head on first use, ``behind``: run ``chohyo db upgrade``,
  ``unversioned``: tables of a release before migrations, ``unknown``: a newer release's revision). Exit 0
  whenever it could tell (``--json``: one object on stdout); never creates anything.
- ``upgrade [--to REV]``: applies the pending revisions up to head (or REV) in one transaction under the
  ``schema`` lock (PostgreSQL: an advisory lock, so several servers may run it at once: the first upgrades,
  the others find nothing to do); a database of a release before migrations is first compared with
  revision 0001 and stamped. Exit 0 done (or nothing to do), 2 refused (a revision this release does not
  know, tables that are not 0001, a REV behind the database: never a downgrade) with the reason.
Back up the database before ``upgrade``. Nothing here prints personal data: revisions and counts only.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from renderer.cli.common import Cli, command, out

db_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                     help="The runtime database's schema revision (status, upgrade).")


def _status(cli: Cli) -> dict[str, Any]:
    from renderer.state.db import DB_FILE, close_database, connect, local_database_missing
    from renderer.state.migrations import HEAD, REVISIONS, SchemaState

    settings = cli.settings
    if local_database_missing(settings):   # never create a file just to say there is none
        state = SchemaState(None, False)
        where = f"{settings.state_dir / DB_FILE} (not created yet)"
    else:
        db = connect(settings)
        try:
            state = db.schema()
        finally:
            db.engine.dispose()
        close_database(db.url)
        where = "CHOHYO_DATABASE_URL" if settings.database_url else str(settings.state_dir / DB_FILE)
    problem = state.problem()
    return {"database": where, "status": state.status, "current": state.revision,
            "recorded": list(state.revisions), "head": HEAD, "known": list(REVISIONS),
            "pending": list(state.pending), "detail": problem.message if problem else state.describe()}


@db_app.command("status")
@command(("--state-dir", "--json"), json_help="print the status as one JSON object on stdout")
def db_status(cli: Cli) -> int:
    """Show the database's schema revision, this release's head and the revisions pending."""
    report = _status(cli)
    if cli.as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return 0
    out.print(f"database: {report['database']}", markup=False)
    out.print(f"status:   {report['status']}", markup=False)
    out.print(f"current:  {', '.join(report['recorded']) or '(none)'}", markup=False)
    out.print(f"head:     {report['head']}", markup=False)
    out.print(f"pending:  {', '.join(report['pending']) or '(none)'}", markup=False)
    out.print(report["detail"], markup=False)
    return 0


@db_app.command("upgrade")
@command(("--state-dir", "--json"), json_help="print the result as one JSON object on stdout (errors: problem+json)")
def db_upgrade(
    cli: Cli,
    to: Annotated[str | None, typer.Option("--to", help="stop at this revision (default: this release's head)")] = None,
) -> int:
    """Upgrade the database's schema to this release's head (back it up first)."""
    from renderer.state.db import close_database, connect
    from renderer.state.migrations import HEAD
    from renderer.state.migrations.run import upgrade

    db = connect(cli.settings)
    try:
        done = upgrade(db, to or HEAD)
    finally:
        db.engine.dispose()
    close_database(db.url)   # this process's checked handle (if any) predates the upgrade
    if cli.as_json:
        sys.stdout.write(json.dumps(done.as_dict()) + "\n")
        return 0
    if done.stamped:
        out.print(f"the tables of a release before migrations match {done.before}: recorded it", markup=False)
    if done.applied:
        out.print(f"upgraded from {done.before or 'an empty database'} to {done.after}: applied "
                  f"{', '.join(done.applied)}", markup=False)
    else:
        out.print(f"already at {done.after}: nothing to do", markup=False)
    return 0

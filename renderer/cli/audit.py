"""`chohyo audit verify`: check the issue log's HMAC chain and its head kept outside the database.

In: the state directory (or ``CHOHYO_DATABASE_URL``) and the log key (``CHOHYO_LOG_KEY`` or
``<state_dir>/issue-log.key``). Out: on stdout the number of records and, when the chain is broken, the
first bad record and what is wrong with it (edited, missing, truncated tail, rewritten); ``--json`` prints
the report as one object. Exit 0 when the chain verifies, 1 when it does not (or cannot be read).
"""

from __future__ import annotations

import json
import sys

import typer

from renderer.api import Renderer
from renderer.cli.common import FontsDir, JsonFlag, LayoutsDir, StateDir, err, guard, out, settings_from

audit_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                        help="The issue log (印刷ログ・交付履歴).")


@audit_app.command("verify")
def audit_verify(
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
    state_dir: StateDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify every record's MAC, the sequence and the chain head; report the first bad record."""

    def body() -> int:
        renderer = Renderer(settings_from(layouts_dir, fonts_dir, state_dir))
        report = renderer.issue_log.verify()
        if as_json:
            sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
        elif report.ok:
            out.print(f"ok: {report.records} record(s), chain head at record {report.head}", markup=False)
        else:
            err.print(f"BROKEN: first bad record {report.first_bad}: {report.problem} "
                      f"({report.records} record(s) stored)", markup=False)
        for note in report.notes:
            err.print(f"note: {note}", markup=False)
        return 0 if report.ok else 1

    guard(as_json, body)

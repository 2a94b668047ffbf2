"""`chohyo audit verify | anchor | void-stale`: the issue log's chain, its anchors and its 発行番号 accounting.

In: the state directory (or ``CHOHYO_DATABASE_URL``) and the log key (``CHOHYO_LOG_KEY`` or
``<state_dir>/issue-log.key``); an anchor target (``--anchor`` / ``--to``, default ``CHOHYO_AUDIT_ANCHOR``):
an append-only file outside the state directory or an http(s) URL. Out:
- ``verify``: the number of records and, when something is wrong, the first bad record and what is wrong
  (edited, missing, truncated tail, rewritten, head not authentic, rolled back behind the last anchor) and
  every accounting problem (a number twice, a number missing without a void record, a counter behind its
  numbers, tables that differ from the log, a reservation left open past ``--grace-minutes``). Exit 0
  when everything verifies, 1 when not.
- ``anchor``: appends the authenticated chain head to the target (run it at least at the end of every
  business day and after every batch run; see the README). Exit 1 if the log does not verify.
- ``void-stale``: voids the open reservations older than ``--older-than-minutes`` that no unfinished batch
  run owns (a CLI render killed mid-way), one void record each, reason ``abandoned``.
``--json`` prints one object.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Annotated

import typer

from renderer.caller import Caller
from renderer.cli.common import Cli, command, err, out
from renderer.errors import UsageError
from renderer.state.issue_log import LogRecord

audit_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                        help="The issue log (印刷ログ・交付履歴).")

ANCHOR_ENV = "CHOHYO_AUDIT_ANCHOR"

AnchorOption = Annotated[str | None, typer.Option(
    "--anchor", help=f"the anchor target (file path or http(s) URL); default ${ANCHOR_ENV}")]


def _anchor_target(given: str | None, *, required: bool) -> str | None:
    target = given or os.environ.get(ANCHOR_ENV) or None
    if target is None and required:
        raise UsageError(f"no anchor target: pass --to or set {ANCHOR_ENV}", field="--to")
    return target


@audit_app.command("verify")
@command()
def audit_verify(
    cli: Cli,
    anchor: AnchorOption = None,
    grace_minutes: Annotated[float, typer.Option("--grace-minutes", min=0,
                                                 help="an open reservation older than this is a problem")] = 60.0,
) -> int:
    """Verify every record's MAC, the sequence, the authenticated chain head, the last anchor and the
    accounting of every 発行番号 series."""
    renderer = cli.renderer()
    report = renderer.issue_log.verify(anchor=_anchor_target(anchor, required=False),
                                       grace_minutes=grace_minutes)
    if cli.as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    elif report.ok:
        out.print(f"ok: {report.records} record(s), chain head at record {report.head}"
                  + (f", anchored at record {report.anchor['seq']}" if report.anchor else ""), markup=False)
    elif report.problem != "accounting":
        err.print(f"BROKEN: first bad record {report.first_bad}: {report.problem} "
                  f"({report.records} record(s) stored)", markup=False)
    if not cli.as_json:
        for problem in report.accounting:
            err.print(f"ACCOUNTING: {problem}", markup=False)
        for seq, count, age in report.open:
            err.print(f"open: reservation {seq}: {count} number(s), {age:.0f} minute(s) old", markup=False)
        for note in report.notes:
            err.print(f"note: {note}", markup=False)
    return 0 if report.ok else 1


@audit_app.command("anchor")
@command()
def audit_anchor(
    cli: Cli,
    to: Annotated[str | None, typer.Option("--to", help=f"file path or http(s) URL; default ${ANCHOR_ENV}")] = None,
) -> int:
    """Append the authenticated chain head (count, seq, MAC, time) to an append-only place outside the
    state directory."""
    target = _anchor_target(to, required=True)
    assert target is not None
    renderer = cli.renderer()
    head = renderer.issue_log.anchor(target)
    if cli.as_json:
        sys.stdout.write(json.dumps({"anchored": head.as_dict(), "target": target}) + "\n")
    else:
        out.print(f"anchored record {head.seq} ({head.count} record(s)) to {target}", markup=False)
    return 0


@audit_app.command("void-stale")
@command()
def audit_void_stale(
    cli: Cli,
    older_than_minutes: Annotated[float, typer.Option("--older-than-minutes", min=1,
                                                      help="void reservations open longer than this")] = 60.0,
) -> int:
    """Void the numbers of reservations abandoned by a killed render (never an unfinished batch run's:
    `chohyo batch --resume` finishes those)."""
    renderer = cli.renderer()
    log = renderer.issue_log
    now = renderer.settings.now()
    unfinished = log.unfinished_batches()
    caller = Caller.local("cli")
    voided: list[int] = []
    for seq, at, _job, batch, _count in log.open_reservations():
        age = (now - dt.datetime.fromisoformat(at.replace("Z", "+00:00"))).total_seconds() / 60
        if age < older_than_minutes or (batch and batch in unfinished):
            continue
        body = {"caller": caller.record(), "reason": "abandoned"}
        if log.void_open(LogRecord("void", now, body), seqs=[seq]) is not None:
            voided.append(seq)
    if cli.as_json:
        sys.stdout.write(json.dumps({"voided_reservations": voided}) + "\n")
    else:
        out.print(f"voided {len(voided)} abandoned reservation(s)"
                  + (f": {', '.join(map(str, voided))}" if voided else ""), markup=False)
    return 0

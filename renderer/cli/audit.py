"""`chohyo audit verify | anchor | acknowledge-restore | void-stale | show`: the issue log's chain, anchors,
発行番号 accounting, restores, lookups.

In: the state directory (or ``CHOHYO_DATABASE_URL``) and the log key (``CHOHYO_LOG_KEY`` or
``<state_dir>/issue-log.key``); an anchor target (``--anchor`` / ``--to``, default ``CHOHYO_AUDIT_ANCHOR``):
an append-only file outside the state directory or an http(s) URL. Out:
- ``verify``: the number of records and, when something is wrong, the first bad record and what is wrong
  (edited, missing, truncated tail, rewritten, head not authentic, rolled back behind the last anchor) and
  every accounting problem (a number twice, a number missing without a void record, a counter behind its
  numbers, tables that differ from the log, a reservation left open past ``--grace-minutes``). Exit 0
  when everything verifies, 1 when not.
- ``anchor``: appends the authenticated chain head to the target (run it at least at the end of every
  business day and after every batch run; see the README). Exit 1 if the log does not verify, or if any
  line already in the target names a record the log no longer has (a rollback a new anchor would hide).
- ``acknowledge-restore``: after a deliberate restore, one ``restore`` record naming what was lost and the
  series at risk; the chain head moves to it so appends continue (README: Backup and restore).
- ``void-stale``: voids the open reservations older than ``--older-than-minutes`` that no unfinished batch
  run owns (a CLI render killed mid-way), one void record each, reason ``abandoned``.
- ``show SERIAL``: the records of one 発行番号 — its ``reserve`` record and the ``render`` or ``void`` record
  that closed it, each with its MAC checked — so a printed certificate is traced to what drew it (the
  render record's layout, parts, tenant and font manifest sha256 and renderer version). SERIAL is a serial
  (``12`` or ``000012``: every series holding it, narrowed by ``--tenant`` / ``--day``) or the whole printed
  発行番号 (``20261127 佐倉市 窓口1 プリンタA 000012``, with or without its ``n/N``). The records hold no
  names, addresses or numbers of residents (a record's keys are a closed set: `renderer.state.issue_log`);
  they are printed as stored. Exit 2 when no record matches, 1 when a shown record fails its MAC.
``--json`` prints one object.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.cli.common import Cli, command, err, out
from renderer.errors import ChohyoError, UsageError
from renderer.state.issue_log import IssueLogError, LogRecord, chain_mac

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


@audit_app.command("acknowledge-restore")
@command()
def audit_acknowledge_restore(
    cli: Cli,
    reason: Annotated[str, typer.Option("--reason", help="why the database was restored (a ticket number; no "
                                                          "names or numbers of residents)")],
    operator: Annotated[str | None, typer.Option("--operator", help="who acknowledges it (staff id)")] = None,
    anchor: AnchorOption = None,
) -> int:
    """After a deliberate restore of the database: write one `restore` record stating what was lost (this
    server's chain head, anchor lines) and the 発行番号 series whose next numbers may already have been issued,
    then move the chain head to it so renders continue. `audit verify` reports it every time after."""
    if not reason.strip():
        raise UsageError("--reason must say why the database was restored", field="--reason")
    target = _anchor_target(anchor, required=False)
    renderer = cli.renderer()
    body: dict[str, Any] = {"caller": Caller.local("cli").record(), "reason": reason.strip()}
    if operator:
        body["operator"] = operator
    seq, stated = renderer.issue_log.acknowledge_restore(LogRecord("restore", renderer.settings.now(), body),
                                                         anchor=target)
    if cli.as_json:
        sys.stdout.write(json.dumps({"restore_record": seq, **stated}, ensure_ascii=False) + "\n")
        return 0
    ended = stated["log_ended_at"]
    out.print(f"restore acknowledged by record {seq}: the restored log ended at record {ended['seq']}", markup=False)
    for lost in stated["lost"]:
        what = f"record {lost['seq']} ({lost['at']})" if "seq" in lost else lost.get("problem", "?")
        where = f" line {lost['line']}" if "line" in lost else ""
        out.print(f"  lost: {lost['source']}{where} named {what}", markup=False)
    for tenant, day, terminal, printer, last in stated["at_risk"]:
        out.print(f"  at risk: {tenant} {day} {terminal or '-'} {printer or '-'}: serials after {last:06d} may "
                  f"have been issued before the restore", markup=False)
    if target:
        out.print(f"anchored record {seq} to {target}", markup=False)
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


# ---------------------------------------------------------------------------------------------------- show

_PAGE_PART = re.compile(r"^\d+/\d+$")


@dataclass(frozen=True)
class NumberQuery:
    """What ``audit show`` looks for: a serial, and for a whole 発行番号 its day and printed text."""

    serial: int
    day: dt.date | None = None
    printed: str | None = None   # the whole 発行番号 without its n/N, NFKC-normalised, single spaces


def parse_number(text: str) -> NumberQuery:
    """A serial (``12``, ``000012``) or a whole printed 発行番号 (``YYYYMMDD 市区町村名 [端末] [プリンタ] NNNNNN``,
    with or without the sheet's ``n/N``); full-width digits and spaces are read as ASCII (NFKC)."""
    tokens = unicodedata.normalize("NFKC", text).split()
    if tokens and len(tokens) > 1 and _PAGE_PART.match(tokens[-1]):
        tokens = tokens[:-1]
    if len(tokens) == 1 and tokens[0].isdigit() and tokens[0].isascii():
        return NumberQuery(serial=int(tokens[0]))
    hint = "give a serial (e.g. 000012) or the whole 発行番号 as printed (e.g. '20261127 佐倉市 窓口1 000012')"
    if len(tokens) < 2 or not (tokens[-1].isdigit() and tokens[-1].isascii()):
        raise UsageError(f"SERIAL: not a 発行番号 or a serial; {hint}", field="SERIAL")
    try:
        day = dt.datetime.strptime(tokens[0], "%Y%m%d").date()
    except ValueError:
        raise UsageError(f"SERIAL: a whole 発行番号 starts with its date (YYYYMMDD); {hint}", field="SERIAL") from None
    return NumberQuery(serial=int(tokens[-1]), day=day, printed=" ".join(tokens))


@dataclass(frozen=True)
class ShownNumber:
    tenant: str
    day: str
    terminal: str
    printer: str
    serial: int
    reserved_by: int            # the reserve record's seq
    closed_by: int | None       # the render or void record's seq; None = still open
    outcome: str | None         # rendered | void | None

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "day": self.day, "terminal": self.terminal, "printer": self.printer,
                "serial": self.serial, "reserved_by": self.reserved_by, "closed_by": self.closed_by,
                "outcome": self.outcome}


def find_numbers(renderer: Renderer, query: NumberQuery, *, tenant: str | None,
                 day: dt.date | None) -> list[ShownNumber]:
    """The issued numbers (every series) with this serial, narrowed by tenant and day."""
    from sqlalchemy import select

    from renderer.state.db import issued_numbers, number_outcomes

    n, o = issued_numbers.c, number_outcomes.c
    stmt = (select(n.tenant, n.day, n.terminal, n.printer, n.serial, n.seq, o.seq.label("closed_by"), o.outcome)
            .outerjoin(number_outcomes, (o.tenant == n.tenant) & (o.day == n.day) & (o.terminal == n.terminal)
                       & (o.printer == n.printer) & (o.serial == n.serial))
            .where(n.serial == query.serial).order_by(n.seq))
    for value, column in ((tenant, n.tenant), (day and day.isoformat(), n.day),
                          (query.day and query.day.isoformat(), n.day)):
        if value:
            stmt = stmt.where(column == value)
    with renderer.db.read() as conn:
        rows = conn.execute(stmt).all()
    return [ShownNumber(r.tenant, r.day, r.terminal, r.printer, int(r.serial), int(r.seq),
                        None if r.closed_by is None else int(r.closed_by), r.outcome) for r in rows]


def read_records(renderer: Renderer, seqs: set[int]) -> dict[int, dict[str, Any]]:
    """The records `seqs` as stored (body parsed), each with ``mac_ok``: its own MAC against the log key
    (None when the key is not available here). The whole chain is `chohyo audit verify`'s job."""
    from sqlalchemy import select

    from renderer.state.db import issue_log

    if not seqs:
        return {}
    with renderer.db.read() as conn:
        rows = conn.execute(select(issue_log).where(issue_log.c.seq.in_(sorted(seqs)))).all()
    try:
        key: bytes | None = renderer.issue_log.key(create=False)
    except IssueLogError:
        key = None
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        r = row._mapping
        try:
            body = json.loads(r["body"])
        except ValueError:
            body = None
        mac_ok = None if key is None or body is None else hmac.compare_digest(
            str(r["mac"]), chain_mac(key, int(r["seq"]), str(r["prev"]), body))
        found[int(r["seq"])] = {"seq": int(r["seq"]), "mac_ok": False if body is None else mac_ok, "body": body}
    return found


def _printed_as(renderer: Renderer, number: ShownNumber) -> str | None:
    """The 発行番号 this series prints for the number, by the tenant file as it is now (None if it cannot say)."""
    try:
        t = renderer.tenant(number.tenant)
        parts = [number.day.replace("-", ""), t.local_name, t.device_name("terminal", number.terminal),
                 t.device_name("printer", number.printer), f"{number.serial:06d}"]
    except ChohyoError:
        return None
    return unicodedata.normalize("NFKC", " ".join(p for p in parts if p))


def _matches(renderer: Renderer, query: NumberQuery, number: ShownNumber, records: dict[int, dict[str, Any]]) -> bool:
    """Whether a whole 発行番号 names this number: as its render record printed it, or as its tenant file
    composes it today (a voided number was never printed)."""
    if query.printed is None:
        return True
    closing = records.get(number.closed_by) if number.closed_by is not None else None
    printed = (closing or {}).get("body") or {}
    issued = [unicodedata.normalize("NFKC", " ".join(str(s).split())) for s in printed.get("issue_numbers", [])]
    return query.printed in issued or _printed_as(renderer, number) == query.printed


@audit_app.command("show")
@command()
def audit_show(
    cli: Cli,
    serial: Annotated[str, typer.Argument(metavar="SERIAL",
                                          help="a serial (000012) or the whole printed 発行番号")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="only this tenant (団体コード)")] = None,
    day: Annotated[str | None, typer.Option("--day", help="only this 発行年月日 (YYYY-MM-DD)")] = None,
) -> int:
    """Print the issue-log records of a 発行番号 (reserve, render or void), with each record's MAC checked.
    Exit 2 when there is none."""
    query = parse_number(serial)
    try:
        on_day = dt.date.fromisoformat(day) if day else None
    except ValueError:
        raise UsageError("--day must be YYYY-MM-DD", field="--day") from None
    renderer = cli.renderer()
    numbers = find_numbers(renderer, query, tenant=tenant, day=on_day)
    records = read_records(renderer, {s for n in numbers for s in (n.reserved_by, n.closed_by) if s is not None})
    numbers = [n for n in numbers if _matches(renderer, query, n, records)]
    if not numbers:
        where = "".join(f" {k} {v}" for k, v in (("tenant", tenant), ("day", day)) if v)
        raise UsageError(f"no issue-log record of 発行番号 {query.printed or f'serial {query.serial:06d}'}{where}",
                         field="SERIAL")
    wanted = sorted({s for n in numbers for s in (n.reserved_by, n.closed_by) if s is not None})
    if cli.as_json:
        sys.stdout.write(json.dumps({"numbers": [n.as_dict() for n in numbers],
                                     "records": [records[s] for s in wanted if s in records]},
                                    ensure_ascii=False) + "\n")
        return 0
    for n in numbers:
        state = f"{n.outcome} (record {n.closed_by})" if n.outcome else "open (reserved, not yet rendered or voided)"
        out.print(f"発行番号 {n.serial:06d} of tenant {n.tenant}, {n.day}, terminal {n.terminal or '-'}, "
                  f"printer {n.printer or '-'}: reserved by record {n.reserved_by}, {state}", markup=False)
    for seq in wanted:
        record = records.get(seq)
        if record is None:
            err.print(f"record {seq}: missing from the issue log (run chohyo audit verify)", markup=False)
            continue
        mac = {True: "MAC ok", False: "MAC FAILS (edited?)", None: "MAC not checked (no log key here)"}
        body = record["body"] or {}
        out.print(f"\nrecord {seq}: {body.get('event', '?')} at {body.get('at', '?')} — {mac[record['mac_ok']]}",
                  markup=False)
        for name in sorted(k for k in body if k not in ("event", "at")):
            value = body[name]
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
            out.print(f"  {name}: {shown}", markup=False)
    return 0 if all(records.get(s, {}).get("mac_ok") is not False for s in wanted) else 1

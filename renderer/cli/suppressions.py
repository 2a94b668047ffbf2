"""`chohyo suppressions`: the DV 支援措置 registry — import deltas, grant/revoke 一時解除, list.

In: a tenant code, JSON Lines delta files from the 住民記録 system, person_ids, layout ids. Out: the
registry in the runtime database, one issue-log record per command (import, lift, revoke, list), and a
summary on stdout (``--json`` for machines). The reviewer of a lift or revoke is the operating-system user
running the command (its effective uid), never a name typed on the command line. Exit codes: 0 done,
2 invalid usage or a bad line (nothing imported), 1 the database or issue log failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from renderer.cli.common import Cli, command, err, out
from renderer.errors import UsageError
from renderer.state.issue_log import LogRecord
from renderer.state.registry import parse_lines

suppressions_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                               help="DV 支援措置: suppression registry and 一時解除 (lifts).")

Tenant = Annotated[str, typer.Option("--tenant", help="全国地方公共団体コード (6 digits)")]


def os_user() -> str:
    """The reviewer: the operating-system user of this process (effective uid)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid-{os.geteuid()}"


def _emit(obj: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    else:
        out.print(text, markup=False)


@suppressions_app.command("import")
@command()
def suppressions_import(
    cli: Cli,
    file: Annotated[Path, typer.Argument(metavar="FILE.jsonl", help="deltas: one upsert/release per line")],
    tenant: Tenant,
) -> int:
    """Apply a delta file in one transaction; a bad line rejects the whole file (exit 2, with its line)."""
    renderer = cli.renderer()
    renderer.tenant(tenant)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc.__class__.__name__}", field="FILE") from None
    records = parse_lines(text.splitlines())
    now = renderer.settings.now()
    report = renderer.registry.import_records(tenant, records, now)
    renderer.issue_log.append(LogRecord("import", now, {
        "operator": os_user(), "tenant": tenant, "import": report.as_dict(),
        "file_sha256": hashlib.sha256(raw).hexdigest()}))
    _emit(dict(report.as_dict(), tenant=tenant), cli.as_json,
          f"imported {file.name} for tenant {tenant}: {report.applied} applied, {report.released} released, "
          f"{report.ignored} ignored (not newer than the stored version)"
          + (f"; {report.lifts_ended} 一時解除 ended (their record changed)" if report.lifts_ended else ""))
    return 0


@suppressions_app.command("lift")
@command()
def suppressions_lift(
    cli: Cli,
    person_id: Annotated[str, typer.Argument(metavar="PERSON_ID", help="宛名番号 of the protected person")],
    tenant: Tenant,
    layout: Annotated[str, typer.Option("--layout", help="the layout the lift covers, e.g. juminhyo-setai")],
    minutes: Annotated[int, typer.Option("--minutes", help="how long; at most the tenant's dv.lift_max_minutes")],
    reason: Annotated[str, typer.Option("--reason", help="why the review allowed it (kept in the registry)")],
) -> int:
    """Grant a 一時解除 for one (tenant, person, layout); it expires by itself and is never a release."""
    renderer = cli.renderer()
    t = renderer.tenant(tenant)
    spec = renderer.layout(layout)
    now = renderer.settings.now()
    reviewer = os_user()
    lift = renderer.registry.lift(tenant, person_id, spec.id, minutes=minutes,
                                  max_minutes=t.file.dv.lift_max_minutes, reason=reason, reviewer=reviewer,
                                  now=now)
    renderer.issue_log.append(LogRecord("lift", now, {
        "operator": reviewer, "tenant": tenant, "layout": spec.id, "person_ids": [person_id],
        "lift": {"id": lift.id, "minutes": lift.minutes, "expires_at": lift.expires_at}}))
    _emit(lift.as_dict(), cli.as_json, f"lift {lift.id}: person {person_id}, layout {spec.id}, "
                                   f"until {lift.expires_at} (reviewer {reviewer})")
    return 0


@suppressions_app.command("revoke")
@command()
def suppressions_revoke(
    cli: Cli,
    lift_id: Annotated[int, typer.Argument(metavar="LIFT_ID")],
    tenant: Tenant,
) -> int:
    """End a lift before it expires."""
    renderer = cli.renderer()
    renderer.tenant(tenant)
    now = renderer.settings.now()
    reviewer = os_user()
    lift = renderer.registry.revoke(tenant, lift_id, reviewer=reviewer, now=now)
    renderer.issue_log.append(LogRecord("revoke", now, {
        "operator": reviewer, "tenant": tenant, "layout": lift.layout, "person_ids": [lift.person_id],
        "lift": {"id": lift.id}}))
    _emit(lift.as_dict(), cli.as_json, f"lift {lift.id} revoked (reviewer {reviewer})")
    return 0


@suppressions_app.command("list")
@command()
def suppressions_list(
    cli: Cli,
    tenant: Tenant,
) -> int:
    """List the tenant's records (person_ids, cases, versions, warnings) and unexpired lifts."""
    renderer = cli.renderer()
    renderer.tenant(tenant)
    now = renderer.settings.now()
    listing = renderer.registry.list(tenant, now)
    renderer.issue_log.append(LogRecord("list", now, {
        "operator": os_user(), "tenant": tenant, "records": len(listing["suppressions"])}))
    if cli.as_json:
        sys.stdout.write(json.dumps(listing, ensure_ascii=False, indent=2) + "\n")
        return 0
    table = Table("person_id", "status", "version", "case", "role", "period", "covers")
    for r in listing["suppressions"]:
        period = f"{r.get('period_start', '')}–{r.get('period_end') or ''}" if r["status"] == "active" else ""
        covers = ",".join(r.get("processes", [])) + (f" [{','.join(r['layouts'])}]" if r.get("layouts") else "")
        table.add_row(r["person_id"], r["status"], str(r["version"]), r.get("case_id", ""), r.get("role", ""),
                      period, covers)
    out.print(table)
    for r in listing["suppressions"]:
        for w in r.get("warnings", []):
            err.print(f"warning: {w}", markup=False)
    for lift in listing["lifts"]:
        state = "active" if lift["active"] else "revoked"
        out.print(f"lift {lift['id']}: {lift['person_id']} {lift['layout']} until {lift['expires_at']} "
                  f"({state}, reviewer {lift['reviewer']})", markup=False)
    return 0

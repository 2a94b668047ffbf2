"""`chohyo chars check INPUT.json|INPUT.jsonl --layout ID`: the characters of a run that need attention."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from renderer import jsontext
from renderer.charcheck import CharReport, check_record
from renderer.cli.common import Cli, command, out, read_json
from renderer.errors import UsageError

chars_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                        help="Character reports (fallback fonts, IVS variants, substitutes, unprintable).")


@chars_app.command("check")
@command(("--layouts-dir", "--fonts-dir", "--json"))
def chars_check(
    cli: Cli,
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.json|INPUT.jsonl")],
    layout_id: Annotated[str, typer.Option("--layout", help="layout the envelopes are for")],
    json_out: Annotated[bool, typer.Option("--json-report", help="print the report as JSON")] = False,
) -> int:
    """List every character needing a fallback font, an IVS variant or a substitute, or that cannot print.

    Exit 0 when every character can print, 2 when some cannot (or a record is invalid).
    """
    renderer = cli.renderer()
    renderer.layout(layout_id)
    report = CharReport()
    if input_path.suffix == ".jsonl":
        try:
            lines = input_path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {input_path}: {exc.__class__.__name__}", field="INPUT") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = jsontext.loads(line)
            except jsontext.NotJson as exc:
                report.records += 1
                report.failed.append({"record": f"line {number}", "exit_code": 2, "problem": "invalid-json",
                                      "field": exc.path, "rule": None, "detail": exc.reason})
                continue
            check_record(renderer, raw, layout_id, report, f"line {number}")
    else:
        check_record(renderer, read_json(input_path), layout_id, report, str(input_path.name))
    _print(report, json_out)
    return 2 if report.uncovered or report.failed else 0


def _print(report: CharReport, as_json: bool) -> None:
    data = report.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("kind", "sequence", "char", "font", "count", "fields")
    for row in data["characters"]:
        char = "".join(chr(int(cp[2:], 16)) for cp in row["sequence"].split())
        fields = ", ".join(row["fields"][:3]) + (" …" if len(row["fields"]) > 3 else "")
        table.add_row(row["kind"], row["sequence"], char, row["font"] or "—", str(row["count"]), fields)
    out.print(table)
    out.print(f"{data['records']} record(s); {data['uncovered']} unprintable character(s); "
              f"{len(data['failed'])} record(s) failed for other reasons")
    for failed in data["failed"]:
        out.print(f"  {failed['record']}: {failed['problem']} (exit {failed['exit_code']}) "
                  f"{failed.get('field') or ''} {failed.get('rule') or ''}".rstrip(), markup=False)
        if failed.get("detail"):
            out.print(f"    {failed['detail']}", markup=False)

"""`chohyo layouts`: list, validate (every problem with path, line and hint: the report on stdout, exit 2 when
any) and export schemas."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from renderer.api import Renderer
from renderer.bind import parameter_problems
from renderer.cli.common import Cli, command, err, out
from renderer.diagnostics import Diagnostic
from renderer.errors import ChohyoError, LayoutError
from renderer.schemas import write_schemas

layouts_app = typer.Typer(no_args_is_help=False, pretty_exceptions_enable=False,
                          help="List, validate and export the layouts.")



@layouts_app.callback(invoke_without_command=True)
@command(("--layouts-dir", "--fonts-dir", "--json"), json_help="machine-readable list")
def layouts_list(cli: Cli, ctx: typer.Context) -> int:
    """List the layouts (id, kind, title); an invalid layout is listed as such (exit 2)."""
    if ctx.invoked_subcommand is not None:
        return 0
    renderer = cli.renderer()
    rows: list[dict[str, str]] = []
    invalid = 0
    for layout_id in renderer.layout_ids():
        try:
            spec = renderer.layout(layout_id)
            rows.append({"id": spec.id, "kind": spec.kind, "title": spec.title})
        except ChohyoError:
            invalid += 1
            rows.append({"id": layout_id, "kind": "invalid", "title": "run `chohyo layouts validate`"})
    if cli.as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        table = Table("id", "kind", "title")
        for r in rows:
            table.add_row(r["id"], r["kind"], r["title"])
        out.print(table)
    return 2 if invalid else 0


@layouts_app.command("validate")
@command(("--layouts-dir", "--fonts-dir", "--json"))
def layouts_validate(
    cli: Cli,
    layout_ids: Annotated[list[str] | None, typer.Argument(help="layouts to check (default: all)")] = None,
) -> int:
    """Validate layouts and tenants; report every problem with its path, line and a hint."""
    renderer = cli.renderer()
    problems: list[ChohyoError] = []
    declared_options: set[str] = set()
    for layout_id in layout_ids or renderer.layout_ids():
        try:
            spec = renderer.layout(layout_id)
            declared_options |= set(spec.options)
            out.print(f"ok  {layout_id}", markup=False)
        except ChohyoError as exc:
            problems.append(exc)
    for path in sorted(renderer.settings.tenants_dir.glob("*.yaml")):
        try:
            check_tenant(renderer, path, declared_options if not layout_ids else None)
            out.print(f"ok  tenant {path.stem}", markup=False)
        except ChohyoError as exc:
            problems.append(exc)
    if not problems:
        return 0
    count = sum(max(1, len(p.diagnostics)) for p in problems)
    if cli.as_json:
        diags = [d.as_dict() for p in problems for d in p.diagnostics] or [
            {"path": p.field or "", "message": p.message} for p in problems]
        obj = LayoutError(f"{count} problem(s) in layouts or tenants").problem_object()
        obj["errors"] = diags
        sys.stderr.write(json.dumps(obj, ensure_ascii=False) + "\n")
    else:   # the report, on stdout with its ok lines (`> report.txt` keeps all of it); the exit code says 2
        for p in problems:
            out.print(str(p), markup=False)
        out.print(f"{count} problem(s)", markup=False)
    return 2


def check_tenant(renderer: Renderer, path: Path, declared_options: set[str] | None) -> None:
    """A tenant file's defaults: parameters of existing layouts, valid for them; options some layout declares
    (checked only when every layout was validated: `declared_options` is then theirs, else None)."""
    tenant = renderer.tenant(path.stem)
    for layout_id, values in sorted(tenant.file.defaults.parameters.items()):
        if layout_id not in renderer.layout_ids():
            raise LayoutError(f"{path}: defaults.parameters names no layout {layout_id!r}",
                              field=f"defaults.parameters.{layout_id}")
        bad = parameter_problems(renderer.layout(layout_id), values)
        if bad:
            raise LayoutError(f"{path}: {len(bad)} invalid parameter(s)",
                              diagnostics=[Diagnostic(where, why, source=str(path)) for where, why in bad])
    unknown = sorted(set(tenant.file.defaults.options) - (declared_options or set()))
    if unknown and declared_options is not None:
        raise LayoutError(f"{path}: defaults.options names options no layout declares: "
                          f"{', '.join(unknown)}", field="defaults.options")


@layouts_app.command("schema")
@command(("--layouts-dir", "--fonts-dir"))
def layouts_schema(
    cli: Cli,
    check: Annotated[bool, typer.Option("--check", help="fail if the committed schemas are stale")] = False,
) -> int:
    """Write layouts/schema.json (the layout language) and layouts/input-schemas/<id>.json (the envelopes)."""
    stale = write_schemas(cli.renderer(), check=check)
    for path in stale:
        err.print(f"{'stale' if check else 'wrote'} {path}", markup=False)
    return 2 if check and stale else 0



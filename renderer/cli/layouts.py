"""`chohyo layouts`: list, validate (every problem with path, line and hint) and export schemas."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from renderer.api import Renderer
from renderer.bind import parameter_problems
from renderer.cli.common import FontsDir, JsonFlag, LayoutsDir, err, guard, out, settings_from
from renderer.diagnostics import Diagnostic
from renderer.errors import ChohyoError, LayoutError
from renderer.schemas import write_schemas

layouts_app = typer.Typer(no_args_is_help=False, pretty_exceptions_enable=False,
                          help="List, validate and export the layouts.")



@layouts_app.callback(invoke_without_command=True)
def layouts_list(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable list")] = False,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
) -> None:
    """List the layouts (id, kind, title); an invalid layout is listed as such (exit 2)."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> int:
        renderer = Renderer(settings_from(layouts_dir, fonts_dir, None))
        rows: list[dict[str, str]] = []
        invalid = 0
        for layout_id in renderer.layout_ids():
            try:
                spec = renderer.layout(layout_id)
                rows.append({"id": spec.id, "kind": spec.kind, "title": spec.title})
            except ChohyoError:
                invalid += 1
                rows.append({"id": layout_id, "kind": "invalid", "title": "run `chohyo layouts validate`"})
        if json_out:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        else:
            table = Table("id", "kind", "title")
            for r in rows:
                table.add_row(r["id"], r["kind"], r["title"])
            out.print(table)
        return 2 if invalid else 0

    guard(json_out, body)


@layouts_app.command("validate")
def layouts_validate(
    layout_ids: Annotated[list[str] | None, typer.Argument(help="layouts to check (default: all)")] = None,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate layouts and tenants; report every problem with its path, line and a hint."""

    def body() -> int:
        renderer = Renderer(settings_from(layouts_dir, fonts_dir, None))
        ids = layout_ids or renderer.layout_ids()
        problems: list[ChohyoError] = []
        declared_options: set[str] = set()
        for layout_id in ids:
            try:
                spec = renderer.layout(layout_id)
                declared_options |= set(spec.options)
                err.print(f"ok  {layout_id}", markup=False)
            except ChohyoError as exc:
                problems.append(exc)
        for path in sorted(renderer.settings.tenants_dir.glob("*.yaml")):
            try:
                tenant = renderer.tenant(path.stem)
                for layout_id, values in sorted(tenant.file.defaults.parameters.items()):
                    if layout_id not in renderer.layout_ids():
                        raise LayoutError(f"{path}: defaults.parameters names no layout {layout_id!r}",
                                          field=f"defaults.parameters.{layout_id}")
                    bad = parameter_problems(renderer.layout(layout_id), values)
                    if bad:
                        raise LayoutError(f"{path}: {len(bad)} invalid parameter(s)",
                                          diagnostics=[Diagnostic(where, why, source=str(path)) for where, why in bad])
                unknown = sorted(set(tenant.file.defaults.options) - declared_options)
                if unknown and not layout_ids:
                    raise LayoutError(f"{path}: defaults.options names options no layout declares: "
                                      f"{', '.join(unknown)}", field="defaults.options")
                err.print(f"ok  tenant {path.stem}", markup=False)
            except ChohyoError as exc:
                problems.append(exc)
        if not problems:
            return 0
        count = sum(max(1, len(p.diagnostics)) for p in problems)
        if as_json:
            diags = [d.as_dict() for p in problems for d in p.diagnostics] or [
                {"path": p.field or "", "message": p.message} for p in problems]
            obj = LayoutError(f"{count} problem(s) in layouts or tenants").problem_object()
            obj["errors"] = diags
            sys.stderr.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            for p in problems:
                err.print(str(p), markup=False)
            err.print(f"{count} problem(s)", markup=False)
        return 2

    guard(as_json, body)


@layouts_app.command("schema")
def layouts_schema(
    check: Annotated[bool, typer.Option("--check", help="fail if the committed schemas are stale")] = False,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
) -> None:
    """Write layouts/schema.json (the layout language) and layouts/input-schemas/<id>.json (the envelopes)."""

    def body() -> int:
        renderer = Renderer(settings_from(layouts_dir, fonts_dir, None))
        stale = write_schemas(renderer, check=check)
        for path in stale:
            err.print(f"{'stale' if check else 'wrote'} {path}", markup=False)
        return 2 if check and stale else 0

    guard(False, body)



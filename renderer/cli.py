"""The `chohyo` command line.

In: arguments and files. Out: PDFs and reports on disk, messages on stderr, and one exit code for every
command: 0 done; 1 internal failure (nothing delivered); 2 invalid usage, layout or input; 3 refused by
a rule of the standard; 4 a batch finished with some records failed. ``--json`` prints an error as one
RFC 9457 problem object on stderr. Messages carry field paths and rule names, never personal data.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from renderer.api import Renderer
from renderer.errors import ChohyoError, LayoutError, UsageError
from renderer.schemas import write_schemas
from renderer.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="標準帳票 rendering service: layouts + JSON data → PDF.")
layouts_app = typer.Typer(no_args_is_help=False, pretty_exceptions_enable=False,
                          help="List, validate and export the layouts.")
tenants_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Tenant helpers.")
app.add_typer(layouts_app, name="layouts")
app.add_typer(tenants_app, name="tenants")

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

LayoutsDir = Annotated[Path | None, typer.Option("--layouts-dir", envvar="CHOHYO_LAYOUTS_DIR",
                                                 help="layouts directory (default: the project's layouts/)")]
FontsDir = Annotated[Path | None, typer.Option("--fonts-dir", envvar="CHOHYO_FONTS_DIR",
                                               help="fonts directory (default: the project's fonts/)")]
StateDir = Annotated[Path | None, typer.Option("--state-dir", envvar="CHOHYO_STATE_DIR",
                                               help="runtime state (serials); never inside the repository")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print errors as one problem+json object on stderr")]


def _fail(exc: ChohyoError, as_json: bool) -> NoReturn:
    if as_json:
        sys.stderr.write(json.dumps(exc.problem_object(), ensure_ascii=False) + "\n")
    else:
        err.print(f"[bold red]error[/] ({exc.problem}, exit {exc.exit_code}): ", end="")
        err.print(str(exc), markup=False)
    raise typer.Exit(exc.exit_code)


def _guard(as_json: bool, body: Callable[[], int | None]) -> None:
    """Run a command body and map every failure to its exit code (no tracebacks for users)."""
    try:
        code = body()
    except ChohyoError as exc:
        _fail(exc, as_json)
    except typer.Exit:
        raise
    except Exception as exc:   # an internal failure: say what kind, never the data
        _fail(ChohyoError(f"internal failure ({exc.__class__.__name__}); nothing was delivered"), as_json)
    raise typer.Exit(code or 0)


def _settings(layouts_dir: Path | None, fonts_dir: Path | None, state_dir: Path | None) -> Settings:
    return Settings.from_env(layouts_dir=layouts_dir, fonts_dir=fonts_dir, state_dir=state_dir)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write the whole file or nothing: temp file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc.__class__.__name__}", field="INPUT") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}",
                         field="INPUT") from None


# --------------------------------------------------------------------------- render


@app.command()
def render(
    layout_id: Annotated[str, typer.Argument(help="layout id, e.g. juminhyo-setai")],
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.json",
                                               help="the envelope {layout, tenant, request, data}")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF to write")],
    report: Annotated[Path | None, typer.Option("--report", help="write the render report (JSON) here")] = None,
    display: Annotated[Path | None, typer.Option("--display", help="write the display list text here")] = None,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
    state_dir: StateDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Render one envelope to a PDF."""

    def body() -> int:
        renderer = Renderer(_settings(layouts_dir, fonts_dir, state_dir))
        result = renderer.render(_read_json(input_path), layout_id=layout_id)
        summary = {
            "layout": layout_id,
            "pages": result.pages,
            "sheets_per_copy": result.sheets_per_copy,
            "issue_numbers": result.issue_numbers,
            "seal_printed": result.seal_printed,
            "my_number_printed": result.my_number_printed,
            "overflow": result.overflow,
        }
        if report is not None:
            _write_atomic(report, json.dumps(summary, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        if display is not None:
            _write_atomic(display, result.display.encode("utf-8"))
        _write_atomic(output, result.pdf)
        err.print(f"wrote {output} ({result.pages} page(s), 発行番号 {', '.join(result.issue_numbers)})",
                  markup=False)
        if result.overflow:
            err.print(f"overflow: {len(result.overflow)} field(s) needed their overflow policy "
                      f"(see --report)", markup=False)
        return 0

    _guard(as_json, body)


# --------------------------------------------------------------------------- layouts


@layouts_app.callback(invoke_without_command=True)
def layouts_list(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable list")] = False,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
) -> None:
    """List the layouts (id, kind, title)."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> int:
        renderer = Renderer(_settings(layouts_dir, fonts_dir, None))
        rows = []
        for layout_id in renderer.layout_ids():
            spec = renderer.layout(layout_id)
            rows.append({"id": spec.id, "kind": spec.kind, "title": spec.title})
        if json_out:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        else:
            table = Table("id", "kind", "title")
            for r in rows:
                table.add_row(r["id"], r["kind"], r["title"])
            out.print(table)
        return 0

    _guard(json_out, body)


@layouts_app.command("validate")
def layouts_validate(
    layout_ids: Annotated[list[str] | None, typer.Argument(help="layouts to check (default: all)")] = None,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate layouts and tenants; report every problem with its path, line and a hint."""

    def body() -> int:
        renderer = Renderer(_settings(layouts_dir, fonts_dir, None))
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

    _guard(as_json, body)


@layouts_app.command("schema")
def layouts_schema(
    check: Annotated[bool, typer.Option("--check", help="fail if the committed schemas are stale")] = False,
    layouts_dir: LayoutsDir = None,
    fonts_dir: FontsDir = None,
) -> None:
    """Write layouts/schema.json (the layout language) and layouts/input-schemas/<id>.json (the envelopes)."""

    def body() -> int:
        renderer = Renderer(_settings(layouts_dir, fonts_dir, None))
        stale = write_schemas(renderer, check=check)
        for path in stale:
            err.print(f"{'stale' if check else 'wrote'} {path}", markup=False)
        return 2 if check and stale else 0

    _guard(False, body)


# --------------------------------------------------------------------------- tenants


@tenants_app.command("sample-seal")
def tenants_sample_seal(
    office_title: Annotated[str, typer.Argument(help="職名 with the 都道府県名, e.g. 千葉県佐倉市長")],
    output: Annotated[Path, typer.Option("-o", "--output")],
    fonts_dir: FontsDir = None,
) -> None:
    """Make a sample 公印 image that visibly says 見本 (for sample tenants only)."""
    from renderer.samples import make_sample_seal

    def body() -> int:
        settings = _settings(None, fonts_dir, None)
        _write_atomic(output, make_sample_seal(office_title, settings.fonts_dir))
        return 0

    _guard(False, body)


def main() -> None:
    app()


if __name__ == "__main__":   # pragma: no cover
    main()

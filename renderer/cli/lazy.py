"""Lazy subcommands for the `chohyo` app: a command's module is imported only when that command runs.

In: `LAZY`, the table of every top-level command (name → module, attribute, one-line help). Out:
`LazyGroup`, the Click group of the top-level Typer app: ``chohyo --help`` lists the commands from the
table without importing them, and ``chohyo render …`` imports `renderer.cli.render` (and through it the
renderer) but never FastAPI, uvicorn, pypdfium2 or the batch engine. Importing `renderer.cli` itself costs
Typer only.

A table entry's attribute is either a `typer.Typer` (a command group, e.g. ``layouts``) or a command body
function (e.g. ``render``); `load` turns either into its Click command the way ``app.add_typer`` and
``app.command()`` would. ``tests/cli/test_cli_startup.py`` checks that the table's help is each command's own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    module: str
    attribute: str
    help: str


#: every top-level command, in the order ``chohyo --help`` lists them
LAZY: dict[str, LazyCommand] = {
    "render": LazyCommand("renderer.cli.render", "render", "Render one envelope to a PDF."),
    "batch": LazyCommand("renderer.cli.batch", "batch", "Print many records: PDF files of at most --pages-per-file "
                                                        "pages, manifest.json and errors.json."),
    "layouts": LazyCommand("renderer.cli.layouts", "layouts_app", "List, validate and export the layouts."),
    "tenants": LazyCommand("renderer.cli.tenants", "tenants_app", "Tenant helpers."),
    "golden": LazyCommand("renderer.cli.golden", "golden_app",
                          "Visual diffs of PDFs and golden cases; update golden files."),
    "chars": LazyCommand("renderer.cli.chars", "chars_app",
                         "Character reports (fallback fonts, IVS variants, substitutes, unprintable)."),
    "bench": LazyCommand("renderer.cli.bench", "bench_app", "Benchmarks."),
    "fonts": LazyCommand("renderer.cli.fonts", "fonts_app", "The vendored fonts: fill the per-machine font cache."),
    "suppressions": LazyCommand("renderer.cli.suppressions", "suppressions_app",
                                "DV 支援措置: suppression registry and 一時解除 (lifts)."),
    "audit": LazyCommand("renderer.cli.audit", "audit_app", "The issue log (印刷ログ・交付履歴)."),
    "serve": LazyCommand("renderer.cli.serve", "serve",
                         "Run the HTTP render service (POST /v1/render/{layout_id}, …; OpenAPI at /docs)."),
    "keys": LazyCommand("renderer.cli.keys", "keys_app", "API keys of the HTTP service (`chohyo serve`)."),
    "preview": LazyCommand("renderer.cli.preview", "preview",
                           "Preview one envelope without issuing anything (no 発行番号, no render record)."),
    "verify": LazyCommand("renderer.cli.verify", "verify",
                          "Check a PDF handed back: signatures, PDF/A claim and clauses, "
                          "発行番号 in this server's issue log."),
    "db": LazyCommand("renderer.cli.db", "db_app", "The runtime database's schema revision (status, upgrade)."),
    "print": LazyCommand("renderer.cli.print", "print_",
                         "Render one envelope and print it on a declared IPP printer (one job, watched to its end)."),
    "calibrate": LazyCommand("renderer.cli.calibrate", "calibrate", "Print the calibration sheet of a printer's "
                             "tray (rulers and crosses, with the tray's calibration applied)."),
}


def load(name: str, entry: LazyCommand, *, markup: Any = None) -> Command:
    """The Click command of a table entry (its module imported now, without collections: `renderer.gcpolicy`)."""
    from renderer.gcpolicy import loading

    with loading():
        target = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):
        holder = typer.Typer(add_completion=False, rich_markup_mode=markup)
        holder.add_typer(target, name=name)
        group = typer.main.get_command(holder)
        assert isinstance(group, TyperGroup)
        found = group.commands[name]
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name=name)(target)
        found = typer.main.get_command(single)
    found.name = name
    return found


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands in `LAZY` are loaded on first use; help lists them from the table."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*LAZY, *(name for name in super().list_commands(ctx) if name not in LAZY)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in LAZY:
            found = load(cmd_name, LAZY[cmd_name], markup=self.rich_markup_mode)
            self.commands[cmd_name] = found
        return found

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, LAZY[name].help if name in LAZY and name not in self.commands
                 else (self.commands[name].get_short_help_str(200)))
                for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

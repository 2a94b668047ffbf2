"""The `chohyo` command line: one Typer app assembled from the command modules of this package.

In: arguments and files. Out: PDFs and reports on disk, messages on stderr, and one exit code for every
command: 0 done; 1 internal failure (nothing delivered); 2 invalid usage, layout or input; 3 refused by
a rule of the standard; 4 a batch finished with some records failed. ``--json`` prints an error as one
RFC 9457 problem object on stderr. Messages carry field paths and rule names, never personal data.
"""

from __future__ import annotations

import typer

from renderer.cli.audit import audit_app
from renderer.cli.batch import batch
from renderer.cli.bench import bench_app
from renderer.cli.chars import chars_app
from renderer.cli.golden import golden_app
from renderer.cli.keys import keys_app
from renderer.cli.layouts import layouts_app
from renderer.cli.render import render
from renderer.cli.serve import serve
from renderer.cli.suppressions import suppressions_app
from renderer.cli.tenants import tenants_app

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="標準帳票 rendering service: layouts + JSON data → PDF.")
app.command()(render)
app.command()(batch)
app.add_typer(layouts_app, name="layouts")
app.add_typer(tenants_app, name="tenants")
app.add_typer(golden_app, name="golden")
app.add_typer(chars_app, name="chars")
app.add_typer(bench_app, name="bench")
app.add_typer(suppressions_app, name="suppressions")
app.add_typer(audit_app, name="audit")
app.command()(serve)
app.add_typer(keys_app, name="keys")


def main() -> None:
    app()


__all__ = ["app", "main"]

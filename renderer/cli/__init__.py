"""The `chohyo` command line: one Typer app assembled from the command modules of this package.

In: arguments and files. Out: PDFs and reports on disk, messages on stderr, and one exit code for every
command: 0 done; 1 internal failure (nothing delivered); 2 invalid usage, layout or input; 3 refused by
a rule of the standard; 4 a batch finished with some records failed. ``--json`` prints an error as one
RFC 9457 problem object on stderr. Messages carry field paths and rule names, never personal data.
"""

from __future__ import annotations

from typing import Annotated

import typer

from renderer.cli.lazy import LazyGroup


def _print_version(value: bool) -> None:
    """``chohyo --version``: the version the issue log cites (`renderer.__version__`), then exit 0."""
    if value:
        from renderer import __version__

        typer.echo(f"chohyo {__version__}")
        raise typer.Exit()


def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """標準帳票 rendering service: layouts + JSON data → PDF."""


# The commands are in `renderer.cli.lazy.LAZY`: each module is imported only when its command runs, so
# `chohyo --help` costs Typer alone (plain Click help: Typer's Rich help alone takes about 0.25 s to import).
app = typer.Typer(cls=LazyGroup, callback=_root, add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="標準帳票 rendering service: layouts + JSON data → PDF.")


def main() -> None:
    app()


__all__ = ["app", "main"]

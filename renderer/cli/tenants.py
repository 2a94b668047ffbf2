"""`chohyo tenants`: helpers for tenant files (sample seals)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from renderer.cli.common import Cli, command
from renderer.files import write_atomic

tenants_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Tenant helpers.")


@tenants_app.command("sample-seal")
@command(("--fonts-dir",))
def tenants_sample_seal(
    cli: Cli,
    office_title: Annotated[str, typer.Argument(help="職名 with the 都道府県名, e.g. 千葉県佐倉市長")],
    output: Annotated[Path, typer.Option("-o", "--output")],
) -> int:
    """Make a sample 公印 image that visibly says 見本 (for sample tenants only)."""
    from renderer.samples import make_sample_seal

    write_atomic(output, make_sample_seal(office_title, cli.settings.fonts_dir))
    return 0



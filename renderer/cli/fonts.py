"""`chohyo fonts cache`: fill the per-machine font cache ahead of time (an image build, an installation step).

In: the fonts directory (``--fonts-dir``/``CHOHYO_FONTS_DIR``) and the cache directory (``--cache-dir``, else
``CHOHYO_CACHE_DIR`` / ``$XDG_CACHE_HOME/chohyo``). Out: one line per font and kind (entry file, size, whether
it was built now or found), exit 0; exit 2 when the cache is off or the directory may not be used (the reason is
named: another owner, writable by group or others) or cannot be written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from renderer.cli.common import Cli, command, out
from renderer.errors import UsageError

fonts_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                        help="The vendored fonts: fill the per-machine font cache.")


@fonts_app.command("cache")
@command(("--fonts-dir", "--json"))
def fonts_cache(
    cli: Cli,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="cache directory (default: CHOHYO_CACHE_DIR, "
                                                                       "else $XDG_CACHE_HOME/chohyo)")] = None,
    report_json: Annotated[bool, typer.Option("--json-report", help="print the entries as JSON")] = False,
) -> int:
    """Parse every font once and store what the renderer reads from it, so no process parses them again."""
    from renderer.draw.fonts import FACE_VERSION, load_font
    from renderer.fontcache import FontCache, default_directory, unsafe_reason
    from renderer.fonts import METRICS_VERSION, FontSet

    directory = cache_dir if cache_dir is not None else default_directory()
    if directory is None:
        raise UsageError("the font cache is off (CHOHYO_CACHE_DIR=off); name a directory with --cache-dir",
                         field="--cache-dir")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    reason = unsafe_reason(directory)
    if reason is not None:
        raise UsageError(f"{directory} may not hold the font cache: it {reason}", field="--cache-dir")
    cache = FontCache(directory)
    fonts = FontSet(cli.settings.fonts_dir, cache)
    rows = []
    for family, file in fonts.files.items():
        for kind, version in (("metrics", METRICS_VERSION), ("reportlab-face", FACE_VERSION)):
            entry = cache.entry(kind, file.path, file.sha256, version)
            if entry is None:
                raise UsageError(f"font file of {family} cannot be read: {file.path}", field="fonts")
            found = entry.is_file()
            if kind == "metrics":
                metrics = fonts.metrics(family)
            else:
                load_font(family, file, metrics, cache)
            if not entry.is_file():
                raise UsageError(f"{entry} could not be written (see the warning above)", field="--cache-dir")
            rows.append({"family": family, "kind": kind, "entry": str(entry), "bytes": entry.stat().st_size,
                         "state": "found" if found else "built"})
    if report_json:
        out.print(json.dumps(rows, ensure_ascii=False, indent=2), markup=False)
    else:
        for row in rows:
            out.print(f"{row['state']:5}  {row['family']:12} {row['kind']:15} {row['bytes']:>9} B  {row['entry']}",
                      markup=False)
    return 0

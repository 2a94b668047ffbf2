"""`chohyo preview LAYOUT_ID INPUT.json -o OUT.pdf|OUT.png [--page N] [--outline] [--watch]`: a preview that issues
nothing (`renderer.preview`).

In: a layout id, an envelope file, the output path (its suffix chooses PDF or PNG; PNG draws page ``--page``,
default 1). Out: the file (written atomically), a one-line summary on stderr; exit codes as for ``render``
(2 invalid, 3 refused — a preview obeys every rule a print does). No 発行番号 is spent; the issue log gets one
``preview`` record without personal data.

``--watch`` keeps the process warm (fonts, layouts and templates loaded once) and previews again on every
change of the layout file, its parts, the tenant file or the input file (watchfiles); each round prints the
time from the change on disk (the file's modification time) to the new output written, and an invalid edit
prints its error and waits for the next change. Ctrl-C ends it (exit 0).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from renderer.caller import Caller
from renderer.cli.common import MAILING_HELP, Cli, command, err, layout_argument, read_json
from renderer.errors import ChohyoError, UsageError
from renderer.files import write_atomic

SUFFIXES = (".pdf", ".png")


@command()
def preview(
    cli: Cli,
    layout_id: Annotated[str, typer.Argument(help="layout id, e.g. juminhyo-setai")],
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.json",
                                               help="the envelope {layout, tenant, request, data}")],
    output: Annotated[Path, typer.Option("-o", "--output", help="OUT.pdf or OUT.png")],
    page: Annotated[int, typer.Option("--page", min=1, help="the page a PNG shows (1-based)")] = 1,
    outline: Annotated[bool, typer.Option("--outline", help="draw every element's box with its type and path")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="preview again on every change of the layout, its parts, "
                                                        "the tenant or the input (Ctrl-C ends)")] = False,
    identity_verified: Annotated[bool, typer.Option(
        "--identity-verified", help="as for render: the requester's identity documents were checked")] = False,
    mailing: Annotated[bool, typer.Option("--mailing", help=MAILING_HELP)] = False,
) -> int:
    """Preview one envelope without issuing anything (no 発行番号, no render record)."""
    if output.suffix.lower() not in SUFFIXES:
        raise UsageError(f"-o {output}: the output must end in .pdf or .png", field="--output")
    layout = layout_argument(layout_id, cli.settings.layouts_dir)
    caller = Caller.local("cli", identity_verified=identity_verified, mailing=mailing)

    def once() -> str:
        from renderer.api import Renderer
        from renderer.preview import preview as run_preview
        from renderer.preview import to_png

        renderer = Renderer(cli.settings)   # fresh: a changed layout or tenant file is read again
        result = run_preview(renderer, read_json(input_path), layout_id=layout, caller=caller, outline=outline)
        data = to_png(result.pdf, page) if output.suffix.lower() == ".png" else result.pdf
        write_atomic(output, data)
        return f"wrote {output} (preview, {result.pages} page(s), no 発行番号 spent)"

    if not watch:
        err.print(once(), markup=False)
        return 0
    return watch_loop(once, watched_paths(cli, layout, input_path), as_json=cli.as_json)


def watched_paths(cli: Cli, layout: str, input_path: Path) -> list[Path]:
    """The layout file, the parts directory, the tenants directory and the input file."""
    layouts = cli.settings.layouts_dir
    return [p for p in (layouts / f"{layout}.yaml", layouts / "parts", cli.settings.tenants_dir, input_path)
            if p.exists()]


def watch_loop(once: Callable[[], str], paths: list[Path], *, as_json: bool,
               rounds: int | None = None) -> int:
    """Preview now, then on every change of `paths` (at most `rounds` times after the first; None: until
    Ctrl-C). Each round reports the time from the newest changed file's modification to the output written."""
    try:
        from watchfiles import watch as watch_files
    except ImportError:
        raise UsageError("--watch needs watchfiles: pip install 'chohyo-renderer[authoring]'",
                         field="--watch") from None

    def run(changed: list[Path]) -> None:
        try:
            summary = once()
        except ChohyoError as exc:
            problem = exc.problem_object() if as_json else None
            err.print(json.dumps(problem, ensure_ascii=False) if problem else
                      f"error ({exc.problem}, exit {exc.exit_code}): {exc}", markup=False)
            return
        if not changed:
            err.print(summary, markup=False)
            return
        saved = max((p.stat().st_mtime for p in changed if p.exists()), default=time.time())
        err.print(f"{summary}; {1000 * (time.time() - saved):.0f} ms from save to output", markup=False)

    run([])
    err.print(f"watching {len(paths)} path(s); Ctrl-C ends", markup=False)
    done = 0
    try:
        for changes in watch_files(*paths, debounce=50, step=10, rust_timeout=0, yield_on_timeout=False):
            run(sorted({Path(p) for _, p in changes}))
            done += 1
            if rounds is not None and done >= rounds:
                break
    except KeyboardInterrupt:
        sys.stderr.write("\n")
    return 0

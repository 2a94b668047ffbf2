"""`chohyo golden`: visual diff reports of PDFs and golden cases, and updating golden files.

In: two PDFs, or the golden directory (``golden/<layout-id>/<case>/``). Out:

- ``chohyo golden diff OLD.pdf NEW.pdf -o report.html`` — one self-contained HTML report;
- ``chohyo golden diff --all -o DIR`` — every case's committed expected.pdf against the working tree's
  render: ``DIR/index.html`` plus ``DIR/<layout>/<case>/report.html``;
- ``chohyo golden update [CASE ...]`` — the same as ``pytest --update-golden [-k CASE]``: rewrites only the
  expected files that differ, prints what changed, and first writes the visual diff of each changed case to
  ``tests/.golden-store/<layout>/<case>/report.html``. Refused under CI.

Exit codes of ``diff``: 0 nothing changed, 1 something changed (bytes, pages, pixels, text or a case's
expected result), 2 bad input (a missing, unreadable or non-PDF file: the message names the argument).
``update``: 0 done, 2 refused in CI or an unknown/malformed case.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from renderer import golden
from renderer.cli.common import Cli, command, err, out
from renderer.errors import UsageError
from renderer.goldendiff.worker import DEFAULT_DPI, MAX_PICTURES

golden_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                         help="Visual diffs of PDFs and golden cases; update golden files.")

GoldenDir = Annotated[Path | None, typer.Option("--golden-dir", help="golden cases (default: the project's golden/)")]


def _print(lines: tuple[str, ...] | list[str]) -> None:
    for line in lines:
        out.print(line, markup=False)


@golden_app.command("diff")
@command(())
def golden_diff(
    cli: Cli,
    output: Annotated[Path, typer.Option("-o", "--output", help="report.html (two PDFs) or a directory (--all)")],
    old: Annotated[Path | None, typer.Argument(metavar="OLD.pdf", help="the PDF before",
                                               show_default=False)] = None,
    new: Annotated[Path | None, typer.Argument(metavar="NEW.pdf", help="the PDF after",
                                               show_default=False)] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="every golden case: expected.pdf against a fresh "
                                                         "render of the working tree, with an index page")] = False,
    golden_dir: GoldenDir = None,
    dpi: Annotated[int, typer.Option("--dpi", min=36, max=300, help="rasterizing resolution")] = DEFAULT_DPI,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, max=200,
                                           help="changed pages embedded with pictures per report")] = MAX_PICTURES,
) -> int:
    """Write a self-contained HTML visual diff; exit 0 unchanged, 1 changed, 2 bad input."""
    from renderer.goldendiff import run

    if all_cases:
        if old is not None or new is not None:
            raise UsageError("--all compares every golden case; give no OLD/NEW files with it", field="--all")
        if output.exists() and not output.is_dir():
            raise UsageError(f"--output {output}: with --all this must be a directory", field="--output")
        root = golden_dir or golden.GOLDEN_DIR
        if not golden.discover(root):
            raise UsageError(f"--golden-dir {root}: no golden cases (<layout-id>/<case>/ folders)",
                             field="--golden-dir")
        result = golden.diff_all(output, golden_dir=root, dpi=dpi, max_pictures=max_pages)
        _print(result.lines)
        return 1 if result.changed else 0
    if old is None or new is None:
        raise UsageError("give OLD.pdf and NEW.pdf, or --all", field="OLD" if old is None else "NEW")
    if output.is_dir():
        raise UsageError(f"--output {output} is a directory; give the report file name", field="--output")
    written = run.diff_files(old, new, output, dpi=dpi, max_pictures=max_pages)
    _print(written.lines)
    return 1 if written.changed else 0


@golden_app.command("update")
@command(())
def golden_update(
    cli: Cli,
    cases: Annotated[list[str] | None, typer.Argument(metavar="[CASE]...",
                                                     help="case id (layout/case), case name or layout id; "
                                                          "none: every case")] = None,
    golden_dir: GoldenDir = None,
    report_dir: Annotated[Path | None, typer.Option("--report-dir",
                                                    help="where the visual diffs of changed cases go "
                                                         "(default tests/.golden-store)")] = None,
    report: Annotated[bool, typer.Option("--report/--no-report",
                                         help="write the visual diff of each changed case first")] = True,
) -> int:
    """Rewrite the golden files that differ (as `pytest --update-golden -k CASE`); refused in CI."""
    if golden.is_ci():
        raise UsageError(f"golden files are never updated in CI (CI={os.environ.get('CI')!r}): update "
                         "locally, look at the changes and commit them", field="CI")
    try:
        selected = golden.select(golden.discover(golden_dir or golden.GOLDEN_DIR), cases or [])
    except golden.GoldenError as exc:
        raise UsageError(str(exc), field="CASE") from None
    if not selected:
        raise UsageError(f"no golden cases under {golden_dir or golden.GOLDEN_DIR}", field="--golden-dir")
    updated = sum(update_case(case, None if not report else report_dir or golden.STORE_DIR) for case in selected)
    err.print(f"{updated} of {len(selected)} case(s) updated", markup=False)
    return 0


def update_case(case: golden.GoldenCase, report_store: Path | None) -> bool:
    """Render one case; if it differs, write its visual diff into `report_store` (None: no report) and
    rewrite its expected files. True when it differed."""
    try:
        outcome = golden.render_case(case.path)
        problems = golden.compare(case.path, outcome)
        if not problems:
            out.print(f"{case.id}: unchanged", markup=False)
            return False
        written = None if report_store is None else golden.write_report(case, outcome, problems, report_store)
        changes = golden.update(case.path, outcome)
    except golden.GoldenError as exc:
        raise UsageError(f"{case.id}: {exc}", field="CASE") from None
    out.print(f"{case.id}: {'; '.join(changes) if changes else 'unchanged'}", markup=False)
    if written is not None:
        _print(["    " + line for line in written.lines])
        out.print(f"    look at the change before committing: {written.path}", markup=False)
    return True

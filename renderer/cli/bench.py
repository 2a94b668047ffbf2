"""`chohyo bench …`: benchmarks reported as numbers and ratios within one run (never pass/fail)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from renderer.bench import run_list
from renderer.cli.common import guard, out

bench_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Benchmarks.")


@bench_app.command("list")
def bench_list(
    layout: Annotated[str, typer.Option("--layout", help="ichiran-kyufu or ichiran-idosha")] = "ichiran-kyufu",
    rows: Annotated[list[int] | None, typer.Option("--rows", help="sizes (repeat the option)")] = None,
) -> None:
    """Render lists of increasing size; time per row should stay flat and memory should not grow."""

    def body() -> int:
        sizes = rows or [1_000, 10_000, 100_000]
        runs = run_list(layout, sizes)
        base = runs[0]
        table = Table("rows", "pages", "s (render)", "µs/row", "µs/row ratio", "input RSS MB", "peak RSS MB",
                      "peak − input MB", "PDF MB", title=f"chohyo bench list --layout {layout}")
        for r in runs:
            table.add_row(f"{r.rows:,}", f"{r.pages:,}", f"{r.compose_draw_seconds:.2f}", f"{r.us_per_row:.0f}",
                          f"{r.us_per_row / base.us_per_row:.2f}", f"{r.input_rss_mb:.0f}", f"{r.peak_rss_mb:.0f}",
                          f"{r.peak_rss_mb - r.input_rss_mb:.0f}", f"{r.pdf_mb:.1f}")
        out.print(table)
        return 0

    guard(False, body)

"""`chohyo bench …`: benchmarks reported as numbers and ratios within one run (never pass/fail).

In: sizes and switches. Out: tables on stdout. The benchmark code (`renderer.benchmarks`) is imported only
inside the commands, so the runtime CLI never loads it.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from renderer.cli.common import Cli, command, out

if TYPE_CHECKING:
    from renderer.benchmarks.pipeline import PipelineReport

bench_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Benchmarks.")


@bench_app.command("list")
@command(())
def bench_list(
    cli: Cli,
    layout: Annotated[str, typer.Option("--layout", help="ichiran-kyufu or ichiran-idosha")] = "ichiran-kyufu",
    rows: Annotated[list[int] | None, typer.Option("--rows", help="sizes (repeat the option)")] = None,
    stream: Annotated[bool, typer.Option(
        "--stream", help="also render each size as header + ROWS.jsonl (chohyo render --rows), beside the inline "
                         "baseline")] = False,
) -> int:
    """Render lists of increasing size; time per row should stay flat and memory should not grow."""
    from renderer.benchmarks.lists import run_list

    runs = run_list(layout, rows or [1_000, 10_000, 100_000], stream=stream)
    base = {r.mode: r for r in reversed(runs)}   # the first (smallest) run of each mode
    inline = {r.rows: r for r in runs if r.mode == "inline"}
    table = Table("mode", "rows", "pages", "s (render)", "µs/row", "µs/row ratio", "input RSS MB", "peak RSS MB",
                  "peak − input MB", "PDF MB", "PDF = inline",
                  title=f"chohyo bench list --layout {layout}" + (" --stream" if stream else ""))
    for r in runs:
        same = "" if r.mode == "inline" else ("yes" if r.pdf_sha256 == inline[r.rows].pdf_sha256 else "NO")
        table.add_row(r.mode, f"{r.rows:,}", f"{r.pages:,}", f"{r.compose_draw_seconds:.2f}", f"{r.us_per_row:.0f}",
                      f"{r.us_per_row / base[r.mode].us_per_row:.2f}", f"{r.input_rss_mb:.0f}",
                      f"{r.peak_rss_mb:.0f}", f"{r.peak_rss_mb - r.input_rss_mb:.0f}", f"{r.pdf_mb:.1f}", same)
    out.print(table)
    return 0


@bench_app.command("pipeline")
@command(())
def bench_pipeline(
    cli: Cli,
    records: Annotated[int, typer.Option("--records", min=1, help="住民票 records")] = 500,
    same: Annotated[bool, typer.Option("--same/--varied",
                                       help="varied (default): records that differ as real ones do (households "
                                            "of 1–9, IVS names, 方書 or none, 備考 of 0–80 characters) against "
                                            "the sample repeated; same: the 1-page sample repeated and its IVS + "
                                            "fallback variant")] = False,
    seed: Annotated[int, typer.Option("--seed", help="seed of the varied records")] = 18,
    workers_compare: Annotated[bool, typer.Option("--workers-compare",
                                                  help="also run `batch` with 1 and 2 workers")] = False,
    profile: Annotated[bool, typer.Option("--profile", help="cProfile the pipeline: top functions")] = False,
    pages_per_file: Annotated[int | None, typer.Option("--pages-per-file", min=1,
                                                       help="for --workers-compare (default: records / 8)")] = None,
    pairs: Annotated[int, typer.Option("--pairs", min=1, help="for --workers-compare: pairs of runs (1 and 2 "
                                                              "workers, in alternating order); the median "
                                                              "speed-up is the figure")] = 1,
) -> int:
    """The full pipeline against plain ReportLab drawing the same strings (numbers, never pass/fail)."""
    from renderer.benchmarks.pipeline import run_pipeline_bench

    print_pipeline_report(run_pipeline_bench(records, profile=profile, workers_compare=workers_compare,
                                             pages_per_file=pages_per_file, varied=not same, seed=seed,
                                             pairs=pairs))
    return 0


def print_pipeline_report(report: PipelineReport) -> None:
    """The pipeline against the floor, the stages, and (when measured) the profile and the batch runs."""
    from renderer.benchmarks.pipeline import TARGET_RATIO, TARGET_RSS_MB, TARGET_SPEEDUP

    varied = report.mode == "varied"
    first, second = (("varied records", "sample repeated") if varied else ("", "IVS + fallback names"))
    title = (f"chohyo bench pipeline --records {report.records} --{report.mode} (住民票の写し, one canvas; "
             + ("varied records against the 1-page sample repeated)" if varied else "the 1-page sample repeated)"))
    table = Table("run", "pages", "s", "pages/s", "ratio to floor", "target", title=title)
    table.add_row("pipeline" + (f", {first}" if first else ""), f"{report.plain.pages:,}",
                  f"{report.plain.stages.total:.2f}", f"{report.plain.pages_per_s:.1f}", f"{report.ratio:.2f}",
                  f"≥ {TARGET_RATIO:.1f}")
    table.add_row("floor (plain ReportLab)" + (f", {first}" if first else ""), f"{report.floor.pages:,}",
                  f"{report.floor.seconds:.2f}", f"{report.floor.pages_per_s:.1f}", "1.00", "")
    table.add_row(f"pipeline, {second}", f"{report.shaped.pages:,}",
                  f"{report.shaped.stages.total:.2f}", f"{report.shaped.pages_per_s:.1f}",
                  f"{report.shaped_ratio:.2f}", "")
    table.add_row(f"floor, {second}", f"{report.shaped_floor.pages:,}",
                  f"{report.shaped_floor.seconds:.2f}", f"{report.shaped_floor.pages_per_s:.1f}", "1.00", "")
    _show(table)
    if varied:
        out.print(f"checked: same page count and same extracted characters per page (pypdf), both runs; "
                  f"varied records run at {report.plain.pages_per_s / report.shaped.pages_per_s:.2f}× the "
                  f"pages/s of the sample repeated", markup=False)
    else:
        out.print(f"checked: same page count and same extracted characters per page (pypdf), plain and shaping "
                  f"variant; shaping costs {report.shaping_ms_per_page:+.2f} ms/page "
                  f"({report.shaped.pages_per_s / report.plain.pages_per_s:.2f}× the plain pipeline's pages/s)",
                  markup=False)
    stages = Table("stage", "s", "share", "ms/page", f"s ({second})", f"share ({second})",
                   title="pipeline stages" + (f" ({first})" if first else ""))
    for name, plain_s, shaped_s in (
            ("plan (parse, bind, rules, DV)", report.plain.stages.plan, report.shaped.stages.plan),
            ("compose", report.plain.stages.compose, report.shaped.stages.compose),
            ("draw + save", report.plain.stages.draw, report.shaped.stages.draw)):
        stages.add_row(name, f"{plain_s:.2f}", f"{plain_s / report.plain.stages.total:.0%}",
                       f"{plain_s / max(report.plain.pages, 1) * 1000:.2f}", f"{shaped_s:.2f}",
                       f"{shaped_s / report.shaped.stages.total:.0%}")
    _show(stages)
    if report.profile:
        prof = Table("function", "calls", "tottime s", "cumtime s", title="cProfile of the pipeline (by own time)")
        for row in report.profile:
            prof.add_row(row.function, f"{row.calls:,}", f"{row.tottime:.3f}", f"{row.cumtime:.3f}")
        _show(prof)
    if report.batches:
        batch = Table("workers", "records", "files", "s", "records/s", "speed-up", "target", "peak RSS MB",
                      "target", title=f"chohyo batch (--pages-per-file {report.pages_per_file})")
        base = report.batches[0].records_per_s
        for b in report.batches:
            rss = "\n".join(f"{p.role} {p.peak_rss_mb:.0f}" for p in b.processes if p.role != "helper")
            batch.add_row(str(b.workers), f"{b.records:,}", str(b.files), f"{b.seconds:.2f}",
                          f"{b.records_per_s:.1f}", f"{b.records_per_s / base:.2f}" if base else "",
                          f"≥ {TARGET_SPEEDUP:.1f}" if b.workers == 2 else "", rss,
                          f"< {TARGET_RSS_MB:.0f} each")
        _show(batch)
        if len(report.pair_speedups) > 1:
            each = ", ".join(f"{s:.2f}" for s in report.pair_speedups)
            out.print(f"2 workers vs 1, {len(report.pair_speedups)} pairs in alternating order: median "
                      f"{statistics.median(report.pair_speedups):.2f}× (each: {each}); the table shows the "
                      f"median pair", markup=False)


def _show(table: Table) -> None:
    """Wide tables stay one row per line even in a narrow or non-terminal output."""
    Console(highlight=False, soft_wrap=True, width=max(out.width, 150)).print(table)


@bench_app.command("startup")
@command(())
def bench_startup(
    cli: Cli,
    runs: Annotated[int, typer.Option("--runs", min=1, help="fresh processes per figure (best of)")] = 5,
    warm: Annotated[int, typer.Option("--warm", min=1, help="warm renders in one process (median)")] = 20,
) -> int:
    """Start-up of one `chohyo` process (help, cold render, first render on a machine) and a warm render,
    against a plain ReportLab script drawing the same page in the same run (numbers, never pass/fail)."""
    from renderer.benchmarks.startup import TARGET_COLD_S, TARGET_COLD_S_16, TARGET_WARM_MS, run_startup_bench

    r = run_startup_bench(runs, warm)
    stale = "NOT compiled or stale: such modules are compiled each run (python -m compileall renderer)"
    table = Table("figure", "s", "× canvas script", "target",
                  title=f"chohyo bench startup (best of {r.runs} fresh processes; renderer bytecode "
                        f"{'compiled' if r.bytecode else stale})")
    rows = [("python -c pass", r.python, ""), ("canvas script (baseline)", r.canvas_script, ""),
            ("chohyo --help", r.help, "≤ 0.3 s"),
            ("chohyo render, cold (machine caches filled)", r.cold_render,
             f"≤ {TARGET_COLD_S_16} s (#16), ≤ {TARGET_COLD_S} s (#18)"),
            ("chohyo render, cold in a new state dir (creates the database)", r.new_state_render, ""),
            ("chohyo render, first on a machine (empty caches, new state dir)", r.first_render, ""),
            ("warm render in one process (median)", r.warm_render_ms / 1000, f"≤ {TARGET_WARM_MS / 1000} s")]
    for name, seconds, target in rows:
        table.add_row(name, f"{seconds:.3f}", f"{seconds / r.canvas_script:.2f}", target)
    _show(table)
    return 0

"""Benchmarks of the renderer (never assertions): how time and memory scale, reported as numbers and ratios
within one run by ``chohyo bench …``. Not part of the runtime: only `renderer.cli.bench` imports this
package, inside its commands.

In: a benchmark name and sizes. Out: measurements (dataclasses) for the CLI to print. Modules:

    lists      `chohyo bench list`: an 一覧表 of N rows, each size in a fresh process (time per row, peak RSS)
    sample     the 住民票の写し sample of the pipeline benchmark and its shaping variant (IVS, font fallback)
    varied     the pipeline benchmark's default input: seeded 住民票 records that differ as real ones do
    pipeline   `chohyo bench pipeline`: the full pipeline against the floor, per stage, optional cProfile
    floor      the floor: the same display list drawn with plain ReportLab calls, nothing else
    batches    `run_batch` with 1 and 2 workers, each in a fresh process (records/s, peak RSS per process)

``python -m renderer.benchmarks …`` is the entry point of those fresh processes (see ``__main__``).
"""

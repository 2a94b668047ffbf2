"""cProfile of the pipeline on varied 住民票 records: the top functions by own time and the share of the
time spent fitting text (`TextFitter.fit`, cumulative). A measurement script, never a test.

    python3 tests/bench/profile_fit.py --records 200

In: a record count and a seed. Out: a table on stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()

    from renderer.api import Renderer
    from renderer.benchmarks.pipeline import run_pipeline
    from renderer.benchmarks.varied import varied_envelopes
    from renderer.settings import Settings

    with tempfile.TemporaryDirectory(prefix="chohyo-prof-") as state:
        renderer = Renderer(Settings.from_env(state_dir=Path(state)))
        run_pipeline(renderer, varied_envelopes(10, seed=args.seed + 1000), 10)   # warm up
        envelopes = varied_envelopes(args.records, seed=args.seed)
        profiler = cProfile.Profile()
        profiler.enable()
        run = run_pipeline(renderer, envelopes, args.records)
        profiler.disable()
    stats = pstats.Stats(profiler)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(cum for (_cc, _n, _tt, cum, _callers) in entries.values())
    fit = sum(cum for (filename, _line, name), (_cc, _n, _tt, cum, _c) in entries.items()
              if name == "fit" and filename.endswith("compose/text.py"))
    print(f"{args.records} varied records, {run.pages} pages, {total:.2f} s under cProfile "
          f"({run.pages / total:.1f} pages/s)")
    print(f"TextFitter.fit cumulative: {fit:.2f} s = {fit / total:.1%} of the run")
    rows = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:args.top]
    print(f"{'function':70} {'calls':>9} {'tottime':>8} {'cumtime':>8}")
    for (filename, line, name), (_cc, calls, tottime, cumtime, _c) in rows:
        short = filename.split("/main/", 1)[-1].split("site-packages/", 1)[-1]
        print(f"{short + ':' + str(line) + '(' + name + ')':70} {calls:>9} {tottime:>8.3f} {cumtime:>8.3f}")


if __name__ == "__main__":
    main()

"""Benchmarks (never assertions): how time and memory scale, reported as ratios within one run.

In: a benchmark name and sizes. Out: rows of measurements printed by `chohyo bench …`. Each size runs in
a fresh worker process, so its peak memory (ru_maxrss) belongs to that size alone.

- `list`: an 一覧表 of N rows (fictitious sample data) rendered through the full pipeline with the
  display-list dump off: seconds, pages, µs per row and its ratio to the smallest size (flat = 1.0),
  peak RSS, the PDF's size, and peak RSS minus the PDF (what the renderer holds besides its output).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.samples import sample_idosha_rows, sample_kyufu_rows

REQUEST = {"requester": {"relation": "public_office"}, "channel": "counter", "operator": "bench",
           "issued_on": "2026-11-27", "terminal": "bench", "printer": "bench"}


@dataclass(frozen=True)
class ListRun:
    layout: str
    rows: int
    pages: int
    seconds: float
    compose_draw_seconds: float
    peak_rss_mb: float
    input_rss_mb: float
    pdf_mb: float

    @property
    def us_per_row(self) -> float:
        return self.compose_draw_seconds / max(self.rows, 1) * 1e6


def list_envelope(layout: str, rows: int) -> dict[str, Any]:
    if layout == "ichiran-kyufu":
        return {"layout": layout, "tenant": "122122", "request": REQUEST,
                "data": {"program": "見本給付金", "rows": sample_kyufu_rows(rows, seed=1)}}
    return {"layout": layout, "tenant": "281000", "request": REQUEST,
            "data": {"period": {"from": "2026-11-01", "to": "2026-11-30"},
                     "rows": sample_idosha_rows(rows, seed=1, wards=9)}}


def run_list_once(layout: str, rows: int) -> ListRun:
    """Measure one size in this process (called in a fresh worker by `run_list`)."""
    from renderer.api import Renderer
    from renderer.datamodels import DATA_MODELS
    from renderer.settings import Settings

    started = time.perf_counter()
    envelope = list_envelope(layout, rows)
    with tempfile.TemporaryDirectory() as state:
        renderer = Renderer(Settings.from_env(state_dir=Path(state)))
        spec = renderer.layout(layout)
        renderer.tenant(envelope["tenant"])
        # the input itself: the envelope and its validated model (the render validates it once more)
        model = DATA_MODELS[spec.data_model].model_validate(envelope["data"])
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del model
        t0 = time.perf_counter()
        result = renderer.render(envelope, layout_id=layout, with_display=False)
        t1 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return ListRun(layout, rows, result.pages, t1 - started, t1 - t0, peak, baseline, len(result.pdf) / 2**20)


def run_list(layout: str, sizes: list[int]) -> list[ListRun]:
    runs = []
    for rows in sizes:
        proc = subprocess.run([sys.executable, "-m", "renderer.bench", layout, str(rows)], capture_output=True,
                              text=True, check=True)
        runs.append(ListRun(**json.loads(proc.stdout)))
    return runs


def main(argv: list[str]) -> None:   # worker entry point: python -m renderer.bench LAYOUT ROWS
    run = run_list_once(argv[0], int(argv[1]))
    sys.stdout.write(json.dumps(run.__dict__) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

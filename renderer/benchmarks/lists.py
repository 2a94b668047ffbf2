"""`chohyo bench list`: an 一覧表 of N rows (fictitious sample data) through the full pipeline, display-list
dump off, each size in a fresh process so its peak memory (ru_maxrss) belongs to that size alone.

In: a list layout (ichiran-kyufu or ichiran-idosha) and sizes. Out: one `ListRun` per size: seconds, pages,
µs per row (flat across sizes is the goal), peak RSS, RSS of the input alone and the PDF's size.
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

from renderer.api import Renderer
from renderer.samples import sample_idosha_rows, sample_kyufu_rows
from renderer.settings import Settings

REQUEST = {"requester": {"relation": "public_office"}, "channel": "counter", "operator": "bench",
           "terminal": "honcho-1", "printer": "prn-001"}   # issued today: a list's date must be near the clock


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
    from renderer.datamodels import DATA_MODELS

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
        proc = subprocess.run([sys.executable, "-m", "renderer.benchmarks", layout, str(rows)],
                              capture_output=True, text=True, check=True)
        runs.append(ListRun(**json.loads(proc.stdout)))
    return runs

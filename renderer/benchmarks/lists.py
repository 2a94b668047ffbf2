"""`chohyo bench list`: an 一覧表 of N rows (fictitious sample data) through the full pipeline, display-list
dump off, each size in a fresh process so its peak memory (ru_maxrss) belongs to that size alone.

In: a list layout (ichiran-kyufu or ichiran-idosha), sizes, and whether to measure the streamed input too
(``--stream``: the same rows as a header envelope plus ROWS.jsonl, `renderer.rows`, written by this parent
process before the measuring process starts). Out: one `ListRun` per size and mode (``inline``: the envelope
with its rows, the baseline; ``stream``): seconds, pages, µs per row (flat across sizes is the goal), peak
RSS, RSS before the render (inline: with the input built and validated once; stream: the renderer loaded,
no row read) and the PDF's size. The streamed run also checks that its PDF has the same sha256 as the
inline run of the same size (`same_pdf`), when both ran.
"""

from __future__ import annotations

import hashlib
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
    mode: str = "inline"
    pdf_sha256: str = ""

    @property
    def us_per_row(self) -> float:
        return self.compose_draw_seconds / max(self.rows, 1) * 1e6


def peak_rss_mb() -> float:
    """This process's peak resident set so far: VmHWM, which starts afresh at exec (ru_maxrss, kept across
    exec by Linux, would carry the spawning parent's peak into the measuring child); ru_maxrss elsewhere."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        baseline = peak_rss_mb()
        del model
        t0 = time.perf_counter()
        result = renderer.render(envelope, layout_id=layout, with_display=False)
        t1 = time.perf_counter()
    peak = peak_rss_mb()
    return ListRun(layout, rows, result.pages, t1 - started, t1 - t0, peak, baseline, len(result.pdf) / 2**20,
                   pdf_sha256=hashlib.sha256(result.pdf).hexdigest())


def write_stream_input(layout: str, rows: int, directory: Path) -> tuple[Path, Path]:
    """The rows of `list_envelope(layout, rows)` as a header envelope and ROWS.jsonl in `directory`."""
    envelope = list_envelope(layout, rows)
    data = envelope["data"]
    lines = data.pop("rows")
    header, jsonl = directory / "header.json", directory / "rows.jsonl"
    header.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    with jsonl.open("w", encoding="utf-8") as fh:
        for row in lines:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return header, jsonl


def run_stream_once(layout: str, rows: int, header: Path, jsonl: Path) -> ListRun:
    """Measure one streamed size in this process: header + JSONL through `Renderer.render(rows=…)`."""
    from renderer.rows import RowsFile

    started = time.perf_counter()
    raw = json.loads(header.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as state:
        renderer = Renderer(Settings.from_env(state_dir=Path(state)))
        renderer.layout(layout)
        renderer.tenant(raw["tenant"])
        baseline = peak_rss_mb()
        t0 = time.perf_counter()
        with RowsFile(jsonl) as source:
            result = renderer.render(raw, layout_id=layout, with_display=False, rows=source)
        t1 = time.perf_counter()
    peak = peak_rss_mb()
    return ListRun(layout, rows, result.pages, t1 - started, t1 - t0, peak, baseline, len(result.pdf) / 2**20,
                   mode="stream", pdf_sha256=hashlib.sha256(result.pdf).hexdigest())


def _child(*args: str) -> ListRun:
    proc = subprocess.run([sys.executable, "-m", "renderer.benchmarks", *args], capture_output=True, text=True,
                          check=True)
    return ListRun(**json.loads(proc.stdout))


def run_list(layout: str, sizes: list[int], *, stream: bool = False) -> list[ListRun]:
    """Each size in a fresh process: the inline envelope (the baseline), then, with `stream`, header + JSONL."""
    runs = []
    for rows in sizes:
        runs.append(_child(layout, str(rows)))
        if stream:
            with tempfile.TemporaryDirectory(prefix="chohyo-bench-") as tmp:
                # written by a process of its own: the rows never sit in this one, nor in the measuring one
                subprocess.run([sys.executable, "-m", "renderer.benchmarks", "write-rows", layout, str(rows), tmp],
                               check=True)
                header, jsonl = Path(tmp) / "header.json", Path(tmp) / "rows.jsonl"
                runs.append(_child(layout, str(rows), str(header), str(jsonl)))
    return runs

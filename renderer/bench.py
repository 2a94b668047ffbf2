"""Benchmarks (never assertions): how time and memory scale, reported as ratios within one run.

In: a benchmark name and sizes. Out: rows of measurements printed by `chohyo bench …`. Each size runs in
a fresh worker process, so its peak memory (ru_maxrss) belongs to that size alone.

- `list`: an 一覧表 of N rows (fictitious sample data) rendered through the full pipeline with the
  display-list dump off: seconds, pages, µs per row and its ratio to the smallest size (flat = 1.0),
  peak RSS, the PDF's size, and peak RSS minus the PDF (what the renderer holds besides its output).
- `pipeline`: the 1-page 住民票の写し (layouts/samples/juminhyo-setai.json) N times through the full
  pipeline in this process, as a batch worker draws a file (plan each record, compose, all pages into
  one canvas), against a floor that draws the same display list with plain ReportLab calls
  (`renderer.draw.floor`); both PDFs must give the same page count and the same text per page, else
  `BenchCheckError`. Also the cost of shaping (IVS variants and font fallback in the names), an optional
  cProfile of the pipeline, and optionally `run_batch` with 1 and 2 workers (records/s, peak RSS of the
  coordinator and of each worker, each batch in a fresh process). Serial allocation and the issue log
  (database work per chunk) are not in the in-process pipeline; the batch comparison includes them.
"""

from __future__ import annotations

import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from renderer.api import TOKYO, Renderer, parse_envelope
from renderer.batch.run import RegistryViews
from renderer.compose.compose import Composer
from renderer.display import Page, PagedDocument
from renderer.draw import draw
from renderer.draw.floor import draw_floor
from renderer.errors import ChohyoError
from renderer.finish import finish
from renderer.fonts import FontSet
from renderer.samples import sample_idosha_rows, sample_kyufu_rows
from renderer.settings import PROJECT_ROOT, Settings

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
        proc = subprocess.run([sys.executable, "-m", "renderer.bench", layout, str(rows)], capture_output=True,
                              text=True, check=True)
        runs.append(ListRun(**json.loads(proc.stdout)))
    return runs


# --------------------------------------------------------------------------- pipeline vs floor

T = TypeVar("T")
PIPELINE_LAYOUT = "juminhyo-setai"
SAMPLE = PROJECT_ROOT / "layouts" / "samples" / f"{PIPELINE_LAYOUT}.json"
#: targets from the issue, printed next to the measurements (never asserted)
TARGET_RATIO = 0.8
TARGET_SPEEDUP = 1.7
TARGET_RSS_MB = 400.0
#: the shaping variant: names whose glyphs need an ideographic variation sequence (辻󠄂 U+8FBB U+E0102,
#: 邊󠄉 U+908A U+E0109, 﨑󠄂 U+FA11 U+E0102, drawn from IPAmj明朝's format-14 cmap) and a former name whose
#: 𠮷 (U+20BB7) IPAex明朝 lacks, so the body style falls back to IPAmj明朝
TSUJI = "辻\U000E0102"
HEN = "邊\U000E0109"
SAKI = "﨑\U000E0102"
YOSHI = "\U00020BB7"


class BenchCheckError(ChohyoError):
    """The pipeline's PDF and the floor's do not say the same thing: the comparison would be meaningless."""


@dataclass(frozen=True)
class Stages:
    plan: float        # parse + bind + rules + DV + sheet count (Renderer.plan), per record
    compose: float     # Composer setup and Composer.stream, per record
    draw: float        # drawing every page into one canvas, save() and finish()

    @property
    def total(self) -> float:
        return self.plan + self.compose + self.draw


@dataclass(frozen=True)
class PipelineRun:
    label: str
    records: int
    pages: int
    stages: Stages
    pdf: bytes = field(repr=False)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.stages.total if self.stages.total else 0.0


@dataclass(frozen=True)
class FloorRun:
    pages: int
    seconds: float
    pdf: bytes = field(repr=False)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class ProfileLine:
    function: str
    calls: int
    tottime: float
    cumtime: float


@dataclass(frozen=True)
class ProcessPeak:
    role: str          # coordinator, worker, helper (forkserver, resource tracker)
    pid: int
    peak_rss_mb: float


@dataclass(frozen=True)
class BatchRunStats:
    workers: int
    records: int
    pages: int
    files: int
    seconds: float
    processes: list[ProcessPeak]

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class PipelineReport:
    records: int
    plain: PipelineRun
    floor: FloorRun
    shaped: PipelineRun
    shaped_floor: FloorRun
    profile: list[ProfileLine] = field(default_factory=list)
    batches: list[BatchRunStats] = field(default_factory=list)
    pages_per_file: int = 0

    @property
    def ratio(self) -> float:
        return self.plain.pages_per_s / self.floor.pages_per_s if self.floor.pages_per_s else 0.0

    @property
    def shaped_ratio(self) -> float:
        return self.shaped.pages_per_s / self.shaped_floor.pages_per_s if self.shaped_floor.pages_per_s else 0.0

    @property
    def shaping_ms_per_page(self) -> float:
        return (self.shaped.stages.total / max(self.shaped.pages, 1)
                - self.plain.stages.total / max(self.plain.pages, 1)) * 1000

    @property
    def speedup(self) -> float | None:
        by = {b.workers: b for b in self.batches}
        if 1 in by and 2 in by and by[1].records_per_s:
            return by[2].records_per_s / by[1].records_per_s
        return None


def sample_envelope() -> dict[str, Any]:
    """The bundled sample, as the CLI reads it (no issued_on: it is issued today)."""
    envelope: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return envelope


def shaping_envelope() -> dict[str, Any]:
    """The sample with names that need IVS variant glyphs and a former name that needs font fallback."""
    env = sample_envelope()
    household = env["data"]["household"]
    household["head_name"] = f"{TSUJI}　太郎"
    household["address"]["town"] = f"見本町{HEN}"
    for member in household["members"]:
        if member["name"].startswith("見本"):
            member["name"] = member["name"].replace("見本", TSUJI)
        if "hittosha" in member:
            member["hittosha"] = f"{TSUJI}　太郎"
        if "former_name" in member:
            member["former_name"] = f"{YOSHI}{SAKI}"
    return env


def _timed(items: Iterator[T], spent: list[float]) -> Iterator[T]:
    """Yield the items of `items`, adding the time spent producing them to spent[0]."""
    while True:
        t0 = time.perf_counter()
        try:
            page = next(items)
        except StopIteration:
            spent[0] += time.perf_counter() - t0
            return
        spent[0] += time.perf_counter() - t0
        yield page


def run_pipeline(renderer: Renderer, envelope: dict[str, Any], records: int, *, label: str = "pipeline",
                 keep: list[Page] | None = None) -> PipelineRun:
    """Plan `records` copies of `envelope` (as the batch coordinator does: the DV registry read once into
    a view), then compose and draw them all into one canvas, as `renderer.batch.work.render_file` does
    (serials are given, not allocated: no database work)."""
    now = renderer.settings.now()
    today = now.astimezone(TOKYO).date()
    t0 = time.perf_counter()
    plans = []
    views = RegistryViews(renderer.registry)   # the DV registry as the batch coordinator reads it
    for _ in range(records):
        env = parse_envelope(envelope, today=today)
        plans.append(renderer.plan(env, renderer.layout(env.layout), renderer.tenant(env.tenant), now,
                                   registry=views))
    t1 = time.perf_counter()
    fonts = renderer.fonts

    def pages() -> Iterator[Page]:
        serial = 0
        for plan in plans:
            composer = Composer(plan.doc, fonts)
            serials = tuple(range(serial + 1, serial + 1 + plan.copies))
            serial += plan.copies
            own = list(composer.stream(serials))
            if keep is not None:
                keep.extend(own)
            yield from own

    composing = [0.0]
    count = [0]

    def on_page(n: int, _page: Page) -> None:
        count[0] = n

    info = Composer(plans[0].doc, fonts).info()
    t2 = time.perf_counter()
    pdf = finish(draw(PagedDocument(info=info, pages=_timed(pages(), composing)), fonts, on_page=on_page))
    t3 = time.perf_counter()
    stages = Stages(plan=t1 - t0, compose=composing[0], draw=(t3 - t2) - composing[0])
    return PipelineRun(label, records, count[0], stages, pdf)


def run_floor(fonts: FontSet, pages: list[Page]) -> FloorRun:
    t0 = time.perf_counter()
    pdf = draw_floor(pages, fonts)
    return FloorRun(len(pages), time.perf_counter() - t0, pdf)


def page_texts(pdf: bytes) -> list[Counter[str]]:
    """Per page, the multiset of the characters pypdf extracts (whitespace left out: the pipeline's
    長体 and letter spacing move glyphs, which changes where an extractor puts spaces)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return [Counter(ch for ch in page.extract_text() if not ch.isspace()) for page in reader.pages]


def check_same_text(pipeline_pdf: bytes, floor_pdf: bytes, *, what: str) -> None:
    """Both PDFs have the same pages and, page by page, the same extracted characters; else raise."""
    ours, floor = page_texts(pipeline_pdf), page_texts(floor_pdf)
    if len(ours) != len(floor):
        raise BenchCheckError(f"{what}: the pipeline drew {len(ours)} page(s), the floor {len(floor)}")
    for n, (a, b) in enumerate(zip(ours, floor, strict=True), start=1):
        if a != b:
            only_a = sum((a - b).values())
            only_b = sum((b - a).values())
            raise BenchCheckError(f"{what}: page {n} differs: {only_a} character(s) only in the pipeline's PDF, "
                                  f"{only_b} only in the floor's")
        if not a:
            raise BenchCheckError(f"{what}: page {n} has no extractable text")


def profile_pipeline(renderer: Renderer, envelope: dict[str, Any], records: int, *, top: int = 25
                     ) -> list[ProfileLine]:
    """cProfile of one pipeline run: the functions with the most time of their own."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run_pipeline(renderer, envelope, records)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows: list[ProfileLine] = []
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in entries.items():
        short = filename
        for prefix in (str(PROJECT_ROOT) + "/", "site-packages/"):
            if prefix in short:
                short = short.split(prefix, 1)[1]
        rows.append(ProfileLine(f"{short}:{line}({name})", int(calls), float(tottime), float(cumtime)))
    rows.sort(key=lambda r: r.tottime, reverse=True)
    return rows[:top]


def run_pipeline_bench(records: int, *, profile: bool = False, workers_compare: bool = False,
                       pages_per_file: int | None = None) -> PipelineReport:
    """The whole `chohyo bench pipeline` run (fresh temporary state; the sample tenant)."""
    with tempfile.TemporaryDirectory(prefix="chohyo-bench-") as state:
        renderer = Renderer(Settings.from_env(state_dir=Path(state)))
        plain_env, shaped_env = sample_envelope(), shaping_envelope()
        for env in (plain_env, shaped_env):   # warm up: fonts, layout, templates, ReportLab registration
            warm: list[Page] = []
            run_pipeline(renderer, env, 10, keep=warm)
            run_floor(renderer.fonts, warm)
        plain_pages: list[Page] = []
        plain = run_pipeline(renderer, plain_env, records, keep=plain_pages)
        floor = run_floor(renderer.fonts, plain_pages)
        del plain_pages
        shaped_pages: list[Page] = []
        shaped = run_pipeline(renderer, shaped_env, records, label="pipeline (IVS + fallback)", keep=shaped_pages)
        shaped_floor = run_floor(renderer.fonts, shaped_pages)
        del shaped_pages
        check_same_text(plain.pdf, floor.pdf, what="plain")
        check_same_text(shaped.pdf, shaped_floor.pdf, what="shaping variant")
        report = PipelineReport(records, plain, floor, shaped, shaped_floor)
        if profile:
            report.profile = profile_pipeline(renderer, plain_env, records)
    if workers_compare:
        report.pages_per_file = pages_per_file or max(1, math.ceil(records / 8))
        report.batches = compare_workers(records, report.pages_per_file)
    return report


# --------------------------------------------------------------------------- batch: 1 vs 2 workers

def compare_workers(records: int, pages_per_file: int, workers: tuple[int, ...] = (1, 2)) -> list[BatchRunStats]:
    """`run_batch` over a JSONL of `records` copies of the sample, once per worker count, each in a fresh
    process with its own state directory (so each coordinator's peak RSS is its own)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="chohyo-bench-batch-") as tmp:
        jsonl = Path(tmp) / "input.jsonl"
        line = json.dumps(sample_envelope(), ensure_ascii=False)
        jsonl.write_text((line + "\n") * records, encoding="utf-8")
        for n in workers:
            proc = subprocess.run([sys.executable, "-m", "renderer.bench", "batch", str(jsonl), str(n),
                                   str(pages_per_file)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise ChohyoError(f"the batch benchmark with {n} worker(s) failed: {proc.stderr[-2000:]}")
            raw = json.loads(proc.stdout)
            raw["processes"] = [ProcessPeak(**p) for p in raw["processes"]]
            out.append(BatchRunStats(**raw))
    return out


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the kernel's peak resident set) of a live process, else its current RSS via psutil."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    try:
        import psutil

        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except Exception:   # gone, or no psutil
        return None


class _ChildSampler:
    """Samples the peak RSS of every descendant of this process until stopped (a daemon thread)."""

    def __init__(self, interval: float = 0.05) -> None:
        import threading

        self.interval = interval
        self.peaks: dict[int, float] = {}
        self.parents: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ChildSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:   # pragma: no cover - psutil comes with distributed (test extra)
            return
        try:
            children = psutil.Process().children(recursive=True)
        except psutil.Error:   # pragma: no cover
            return
        for child in children:
            peak = _peak_rss_mb(child.pid)
            if peak is None:
                continue
            self.peaks[child.pid] = max(peak, self.peaks.get(child.pid, 0.0))
            if child.pid not in self.parents:
                try:
                    self.parents[child.pid] = child.ppid()
                except psutil.Error:
                    continue

    def processes(self) -> list[ProcessPeak]:
        me = os.getpid()
        out = []
        for pid, peak in sorted(self.peaks.items()):
            role = "worker" if self.parents.get(pid, me) != me else "helper"
            out.append(ProcessPeak(role, pid, round(peak, 1)))
        return out


def run_batch_once(jsonl: Path, workers: int, pages_per_file: int) -> BatchRunStats:
    """One `run_batch` in this (fresh) process; called by `compare_workers` through `main`."""
    from renderer.batch import BatchOptions, run_batch

    with tempfile.TemporaryDirectory(prefix="chohyo-bench-run-") as tmp:
        renderer = Renderer(Settings.from_env(state_dir=Path(tmp) / "state"))
        options = BatchOptions(layout=PIPELINE_LAYOUT, input=jsonl, out_dir=Path(tmp) / "out", workers=workers,
                               pages_per_file=pages_per_file, progress=False)
        with _ChildSampler() as sampler:
            t0 = time.perf_counter()
            summary = run_batch(renderer, options)
            seconds = time.perf_counter() - t0
    if summary.exit_code:
        raise ChohyoError(f"the batch run failed: {summary.refused} refused, {summary.invalid} invalid, "
                          f"{summary.failed} failed")
    # VmHWM, not ru_maxrss: ru_maxrss survives execve, so it would report the RSS of the process that
    # started this one (the bench itself, after its in-process runs) at the moment it forked
    own = _peak_rss_mb(os.getpid())
    coordinator = ProcessPeak("coordinator", os.getpid(), round(
        own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    return BatchRunStats(workers, summary.rendered, summary.pages, summary.files, seconds,
                         [coordinator, *sampler.processes()])


def main(argv: list[str]) -> None:
    """Worker entry points: ``python -m renderer.bench LAYOUT ROWS`` (list) or
    ``python -m renderer.bench batch INPUT.jsonl WORKERS PAGES_PER_FILE``."""
    if argv[0] == "batch":
        stats = run_batch_once(Path(argv[1]), int(argv[2]), int(argv[3]))
        payload = {**stats.__dict__, "processes": [p.__dict__ for p in stats.processes]}
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    run = run_list_once(argv[0], int(argv[1]))
    sys.stdout.write(json.dumps(run.__dict__) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

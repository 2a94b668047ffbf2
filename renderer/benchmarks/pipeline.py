"""`chohyo bench pipeline`: N 住民票の写し records through the full pipeline in this process, as a batch worker
draws a file (plan each record, compose, all pages into one canvas), against the floor that draws the same
display list with plain ReportLab calls (`renderer.benchmarks.floor`). The pipeline composes a layout's static
parts once and places them as Form XObjects (`renderer.compose.static`); the floor draws every page in full
(each page's forms flattened into its ops before the floor is timed), as a hand-placed canvas would.

In: a record count, the mode and switches (cProfile, the batch comparison). Two modes:

- varied (the default): N different records (`renderer.benchmarks.varied`: households of 1–9, names with
  IVS variants, addresses with and without 方書, 備考 of 0–80 characters), compared in the same run with
  the 1-page sample repeated N times;
- same (``--same``): the 1-page sample N times, and its shaping variant (IVS variants and font fallback
  in the names) N times — the benchmark as it was before varied records.

Out: a `PipelineReport`: for each of the two runs, pages/s of the pipeline and of its floor and their
ratio, per stage (plan, compose, draw), optionally the top functions by own time (of fresh records of
the first run's kind) and `run_batch` with 1 and 2 workers over records of the first run's kind
(`renderer.benchmarks.batches`). Both PDFs of each pair must give the same page count and the same text
per page, else `BenchCheckError`. Serial allocation and the issue log (database work per chunk) are not in
the in-process pipeline; the batch comparison includes them.
"""

from __future__ import annotations

import io
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from renderer.api import TOKYO, Renderer, parse_envelope
from renderer.batch.run import RegistryViews
from renderer.benchmarks.batches import BatchRunStats, compare_workers
from renderer.benchmarks.floor import draw_floor
from renderer.benchmarks.sample import sample_envelope, shaping_envelope
from renderer.benchmarks.varied import DEFAULT_SEED, varied_envelopes
from renderer.compose.compose import Composer
from renderer.display import Page, PagedDocument
from renderer.draw import draw
from renderer.errors import ChohyoError
from renderer.finish import finish
from renderer.fonts import FontSet
from renderer.settings import PROJECT_ROOT, Settings

T = TypeVar("T")
#: targets from the issue, printed next to the measurements (never asserted)
TARGET_RATIO = 1.0
TARGET_SPEEDUP = 1.7
TARGET_RSS_MB = 400.0


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


@dataclass
class PipelineReport:
    records: int
    plain: PipelineRun
    floor: FloorRun
    shaped: PipelineRun
    shaped_floor: FloorRun
    profile: list[ProfileLine] = field(default_factory=list)
    batches: list[BatchRunStats] = field(default_factory=list)
    #: 2 workers vs 1 of every pair run (`--pairs`: pairs in alternating order; the median is the figure)
    pair_speedups: list[float] = field(default_factory=list)
    pages_per_file: int = 0
    #: "varied": `plain` is the varied records and `shaped` the sample repeated; "same": `plain` is the
    #: sample repeated and `shaped` its IVS + fallback variant repeated
    mode: str = "same"

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


def run_pipeline(renderer: Renderer, envelope: dict[str, Any] | Sequence[dict[str, Any]], records: int, *,
                 label: str = "pipeline", keep: list[Page] | None = None) -> PipelineRun:
    """Plan `records` records — copies of `envelope`, or the envelopes of a sequence in turn — (as the
    batch coordinator does: the DV registry read once into a view), then compose and draw them all into
    one canvas, as `renderer.batch.work.render_file` does (serials are given, not allocated: no database
    work)."""
    now = renderer.settings.now()
    today = now.astimezone(TOKYO).date()
    envelopes = [envelope] if isinstance(envelope, dict) else list(envelope)
    t0 = time.perf_counter()
    plans = []
    views = RegistryViews(renderer.registry)   # the DV registry as the batch coordinator reads it
    for i in range(records):
        env = parse_envelope(envelopes[i % len(envelopes)], today=today)
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
    """The floor over the same pages, every op drawn on every page (static layers flattened, not timed)."""
    flat = [page.flattened() for page in pages]
    t0 = time.perf_counter()
    pdf = draw_floor(flat, fonts)
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


def profile_pipeline(renderer: Renderer, envelope: dict[str, Any] | Sequence[dict[str, Any]], records: int,
                     *, top: int = 25) -> list[ProfileLine]:
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
                       pages_per_file: int | None = None, varied: bool = True, seed: int = DEFAULT_SEED,
                       pairs: int = 1) -> PipelineReport:
    """The whole `chohyo bench pipeline` run (fresh temporary state; the sample tenant)."""
    with tempfile.TemporaryDirectory(prefix="chohyo-bench-") as state:
        renderer = Renderer(Settings.from_env(state_dir=Path(state)))
        first: dict[str, Any] | list[dict[str, Any]]
        if varied:
            first, second = varied_envelopes(records, seed=seed), sample_envelope()
            labels = ("pipeline, varied records", "pipeline, the sample repeated")
            what = ("varied records", "the sample repeated")
        else:
            first, second = sample_envelope(), shaping_envelope()
            labels = ("pipeline", "pipeline (IVS + fallback)")
            what = ("plain", "shaping variant")
        warm_envs = (varied_envelopes(10, seed=seed + 1), second) if varied else (first, second)
        for env in warm_envs:   # warm up: fonts, layout, templates, ReportLab registration
            warm: list[Page] = []
            run_pipeline(renderer, env, 10, keep=warm)
            run_floor(renderer.fonts, warm)
        plain_pages: list[Page] = []
        plain = run_pipeline(renderer, first, records, label=labels[0], keep=plain_pages)
        floor = run_floor(renderer.fonts, plain_pages)
        del plain_pages
        shaped_pages: list[Page] = []
        shaped = run_pipeline(renderer, second, records, label=labels[1], keep=shaped_pages)
        shaped_floor = run_floor(renderer.fonts, shaped_pages)
        del shaped_pages
        check_same_text(plain.pdf, floor.pdf, what=what[0])
        check_same_text(shaped.pdf, shaped_floor.pdf, what=what[1])
        report = PipelineReport(records, plain, floor, shaped, shaped_floor, mode="varied" if varied else "same")
        if profile:
            fresh = varied_envelopes(records, seed=seed + 2) if varied else first   # not in the fit cache yet
            report.profile = profile_pipeline(renderer, fresh, records)
    if workers_compare:
        report.pages_per_file = pages_per_file or max(1, math.ceil(records / 8))
        runs = [compare_workers(records, report.pages_per_file, varied=varied, seed=seed,
                                workers=(1, 2) if n % 2 == 0 else (2, 1)) for n in range(pairs)]
        for run in runs:
            by = {b.workers: b for b in run}
            report.pair_speedups.append(by[2].records_per_s / by[1].records_per_s)
        # the table shows the pair whose speed-up is the median (the machine's speed drifts between runs)
        middle = sorted(range(pairs), key=lambda n: report.pair_speedups[n])[(pairs - 1) // 2]
        report.batches = sorted(runs[middle], key=lambda b: b.workers)
    return report

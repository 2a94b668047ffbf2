"""Batch worker: compose and draw one output file from its plan.

In: a `FileTask` — the path of a plan file (the documents the coordinator planned, rules and DV already
applied, each with the serials it was given), a temp output path and the fonts directory. Out: the PDF,
written whole and fsynced (mode 0600) by the worker itself under that temp name, and a small `FileResult`
(sha256, pages, and per record its first page, pages, 公印/個人番号 printed and overflow report). The
whole file is drawn into one canvas, so each font subset is embedded once per file.

Runs in a pool process (`concurrent.futures`) or on a Dask worker; fonts are loaded once per process
(`renderer.fonts.font_set` is cached) and registered with ReportLab once. Nothing here touches the runtime
database: serials, the issue log and the manifest are the coordinator's.
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from renderer.bind import BoundDocument
from renderer.compose.compose import Composer
from renderer.display import Page, PagedDocument
from renderer.draw import draw
from renderer.draw.fonts import register_fonts
from renderer.errors import ChohyoError
from renderer.files import write_atomic
from renderer.finish import finish
from renderer.fonts import font_set
from renderer.gcpolicy import fewer_collections, loading
from renderer.settings import Settings

PLAN_VERSION = 1


@dataclass(frozen=True)
class PlannedRecord:
    position: int
    line: int
    doc: BoundDocument
    serials: tuple[int, ...]


@dataclass(frozen=True)
class FileTask:
    name: str
    plan_path: str
    out_path: str       # a temp name in the output directory; the coordinator renames it into place
    fonts_dir: str


@dataclass(frozen=True)
class RecordResult:
    position: int
    first_page: int
    pages: int
    seal_printed: bool
    my_number_printed: bool
    overflow: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordFailure:
    """A record that could not be composed (a missing glyph, text over an `error` overflow policy)."""

    position: int
    problem: str
    rule: str | None
    field: str | None
    message: str


@dataclass(frozen=True)
class FileResult:
    name: str
    sha256: str          # "" when every record failed and no file was written
    path: str            # where the worker wrote it (the task's out_path)
    pages: int
    records: list[RecordResult]
    failures: list[RecordFailure] = field(default_factory=list)


def save_plan(path: Path, records: list[PlannedRecord]) -> None:
    """One pickle per file: the layout and tenant objects the records share are stored once."""
    write_atomic(path, pickle.dumps({"version": PLAN_VERSION, "records": records}, protocol=5))


def load_plan(path: Path) -> list[PlannedRecord]:
    with path.open("rb") as fh:
        plan = pickle.load(fh)   # written by our coordinator into the owner-only run directory
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        raise ChohyoError(f"{path.name} is not a plan file of this version; nothing was delivered")
    records: list[PlannedRecord] = plan["records"]
    return records


def whole_sheets(doc: BoundDocument, pages: list[Page]) -> list[Page]:
    """A layout printed two-sided: each copy of a record padded with a blank back to whole sheets, so that the
    next copy or record of the file starts on a sheet of its own (never on the back of another person's)."""
    needs = doc.layout.printing
    copies = max(1, doc.request.copies)
    if needs is None or needs.sides == "one-sided" or not pages or len(pages) % copies:
        return pages
    per = len(pages) // copies
    if per % 2 == 0:
        return pages
    out: list[Page] = []
    for i in range(copies):
        copy = pages[i * per:(i + 1) * per]
        out += [*copy, Page(copy[-1].width, copy[-1].height, ())]
    return out


def render_file(task: FileTask) -> FileResult:
    """Compose and draw every record of the plan into one PDF and write it."""
    with fewer_collections():   # a file's records make short-lived objects by the hundred thousand
        return _render_file(task)


def _render_file(task: FileTask) -> FileResult:
    records = load_plan(Path(task.plan_path))
    if not records:
        raise ChohyoError(f"the plan of {task.name} has no records; nothing was delivered")
    fonts_dir = Path(task.fonts_dir)
    if not fonts_dir.is_dir():   # a Dask worker on another machine: its own installation's fonts
        fonts_dir = Settings.from_env().fonts_dir
    fonts = font_set(fonts_dir)
    results: list[RecordResult] = []
    failures: list[RecordFailure] = []

    def pages() -> Iterator[Page]:
        drawn = 0
        for rec in records:
            composer = Composer(rec.doc, fonts)
            try:   # a record's pages are composed whole before any is drawn: a failure draws nothing
                own = list(composer.stream(rec.serials))
            except ChohyoError as exc:
                failures.append(RecordFailure(rec.position, exc.problem, exc.rule, exc.field, str(exc)))
                continue
            own = whole_sheets(rec.doc, own)
            results.append(RecordResult(rec.position, drawn + 1, len(own), composer.seal_printed,
                                        composer.my_number_printed, list(composer.overflow)))
            drawn += len(own)
            yield from own

    gen = pages()
    first = next(gen, None)
    if first is None:   # every record failed: no file
        return FileResult(task.name, "", "", 0, [], failures)
    info = Composer(records[0].doc, fonts).info()
    # one file is PDF/A or not as a whole: PDF/A when any of its records' requests asks for it (a PDF/A file
    # prints like any other; `request.pdf_profile`, default pdfa-2b for output: file)
    pdfa = any(rec.doc.request.pdfa for rec in records)
    pdf = finish(draw(PagedDocument(info=info, pages=itertools.chain([first], gen)), fonts, pdfa_2=pdfa),
                 pdfa_2=pdfa)
    write_atomic(Path(task.out_path), pdf)
    return FileResult(task.name, hashlib.sha256(pdf).hexdigest(), task.out_path, sum(r.pages for r in results),
                      results, failures)


def ready() -> None:
    """A task that does nothing: submitted once per worker when a pool is made, so the workers start (and
    `warm_up`) while the coordinator plans, not when the first file is ready."""


def warm_up(fonts_dir: str) -> None:
    """Pool initializer: load every font once per worker process, before the first task (from the per-machine
    font cache, `renderer.fontcache`: a few tables read and the font files mapped, never parsed again). Ctrl-C
    is ignored here: on a terminal it reaches the whole process group, and the coordinator decides when workers
    stop (it stops and reaps them: `renderer.stopping`) — no worker dies mid-file with a traceback on stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with loading():   # the fonts stay for the worker's life: later collections skip them (renderer.gcpolicy)
        fonts = font_set(Path(fonts_dir))
        register_fonts(fonts, set(fonts.files))

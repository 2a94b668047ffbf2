"""The part of the diff that touches PDFium, run only in worker processes.

In: a `DiffJob` (old and new PDF bytes, either may be None for "no document", labels naming them for
messages, the DPI, the pixel threshold and how many changed pages get pictures). Out: a `DocDiff` with one
`PageDiff` per page (status, changed-pixel count, bounding box, crop, PNG pictures for the first
``max_pictures`` changed pages, the page texts) or a `BadPdf` naming the argument that is not a readable
PDF.

PDFium (pypdfium2) is not thread-safe, not even across documents, so `run_jobs` runs every job in worker
processes (``python -m renderer.goldendiff``, at most one per CPU at a time; a long document is split into
page ranges, one per worker, and merged again); the calling process never loads PDFium. Nothing here uses
threads. Page text (pypdf, the slow part) is extracted only for pages whose pixels changed.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image
from pypdf import PdfReader

from renderer.goldendiff import pixels
from renderer.goldendiff.pixels import Box

PageStatus = Literal["same", "changed", "added", "removed"]

DEFAULT_DPI = 100
MAX_PICTURES = 20          # changed pages embedded with pictures in one report
CROP_MARGIN_MM = 10.0      # shown around the changed region
CROP_MIN_MM = (120.0, 45.0)
THUMB_WIDTH = 180          # px: the whole-page locator picture
ZOOM_MAX_PX = 120          # a changed region up to this size also gets an enlarged overlay
ZOOM_MARGIN_PX = 4
ZOOM_FACTOR = 8            # the enlarged overlay is rendered at 8 × the DPI (800 dpi at the default 100)
MIN_PAGES_PER_WORKER = 4   # a document is split across workers only in ranges of at least this many pages
PDF_MAGIC = b"%PDF-"


class BadPdf(Exception):
    """An input is not a readable PDF. ``label`` names the argument (e.g. ``OLD``), ``reason`` says why."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(label, reason)
        self.label = label
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


@dataclass(frozen=True)
class DiffJob:
    old: bytes | None
    new: bytes | None
    old_label: str = "OLD"
    new_label: str = "NEW"
    dpi: int = DEFAULT_DPI
    threshold: int = pixels.THRESHOLD
    max_pictures: int = MAX_PICTURES
    first: int = 0                       # the page range this job covers: [first, stop), 0-based;
    stop: int | None = None              # None: to the last page of the longer document


@dataclass(frozen=True)
class Pictures:
    """PNG bytes of the crop (old, new, overlay, difference) and of the whole-page locator thumbnail."""

    old: bytes
    new: bytes
    overlay: bytes
    difference: bytes
    thumb: bytes
    thumb_size: tuple[int, int]
    zoom: bytes | None = None            # overlay of the box and a few pixels around it, shown enlarged
    zoom_box: Box | None = None


@dataclass(frozen=True)
class PageDiff:
    number: int                          # 1-based
    status: PageStatus
    changed_pixels: int
    bbox: Box | None                     # in page pixels at the job's DPI
    size: tuple[int, int]                # compared canvas in pixels
    size_pt: tuple[float, float]         # page size in points (the new page's when it exists)
    crop: Box | None = None              # the region the pictures show
    pictures: Pictures | None = None
    old_text: str = ""
    new_text: str = ""

    @property
    def changed(self) -> bool:
        return self.status != "same"


@dataclass(frozen=True)
class DocDiff:
    pages: tuple[PageDiff, ...]
    old_pages: int
    new_pages: int
    identical_bytes: bool
    dpi: int
    threshold: int
    max_pictures: int
    seconds: float = 0.0
    text_error: str = ""                 # pypdf could not extract text (pictures still valid)

    @property
    def changed_pages(self) -> tuple[PageDiff, ...]:
        return tuple(p for p in self.pages if p.changed)

    @property
    def pictured(self) -> int:
        return sum(1 for p in self.pages if p.pictures is not None)

    @property
    def changed(self) -> bool:
        """Anything differs: bytes, page count, pixels (text changes always come with bytes)."""
        return not self.identical_bytes


def check_magic(data: bytes, label: str) -> None:
    """Reject what is plainly not a PDF before it reaches PDFium (the header must come in the first 1 KiB)."""
    if PDF_MAGIC not in data[:1024]:
        raise BadPdf(label, "not a PDF (no %PDF- header)")


def _mm_to_px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


class _Rasterizer:
    """One open PDF in PDFium: pages of a range at the job's DPI, and regions of a page at a higher DPI."""

    def __init__(self, data: bytes | None, label: str, dpi: int, first: int, stop: int | None) -> None:
        import pypdfium2 as pdfium  # only ever imported inside a worker process

        self.label, self.dpi, self.data = label, dpi, data
        self.count = 0
        self.images: dict[int, Image.Image] = {}
        self.sizes: dict[int, tuple[float, float]] = {}
        self._doc: pdfium.PdfDocument | None = None
        self._reader: PdfReader | None = None
        if data is None:
            return
        check_magic(data, label)
        try:
            self._doc = pdfium.PdfDocument(data)
            self.count = len(self._doc)
            for index in range(first, min(self.count, self.count if stop is None else stop)):
                page = self._doc[index]
                try:
                    self.sizes[index] = page.get_size()
                    self.images[index] = self._render(page, dpi, (0.0, 0.0, 0.0, 0.0))
                finally:
                    page.close()
        except pdfium.PdfiumError as exc:
            self.close()
            raise BadPdf(label, f"not a readable PDF ({exc})") from None

    def text(self, index: int) -> str:
        """The page's text as pypdf extracts it ("" for a page this document does not have)."""
        if self.data is None or index >= self.count:
            return ""
        if self._reader is None:
            self._reader = PdfReader(io.BytesIO(self.data))
        return self._reader.pages[index].extract_text() or ""

    @staticmethod
    def _render(page: object, dpi: int, crop: tuple[float, float, float, float]) -> Image.Image:
        bitmap = page.render(scale=dpi / 72, grayscale=True, crop=crop)  # type: ignore[attr-defined]
        try:
            image: Image.Image = bitmap.to_pil().convert("L").copy()   # copy: never share PDFium's buffer
            return image
        finally:
            bitmap.close()

    def region(self, index: int, box: Box, factor: int) -> Image.Image | None:
        """Page `index`, only the pixel box `box` (at the job's DPI), rendered `factor` times finer."""
        if self._doc is None or index not in self.images:
            return None
        width_pt, height_pt = self.sizes[index]
        k = 72 / self.dpi
        x0, y0, x1, y1 = box
        crop = (x0 * k, max(0.0, height_pt - y1 * k), max(0.0, width_pt - x1 * k), y0 * k)
        page = self._doc[index]
        try:
            return self._render(page, self.dpi * factor, crop)
        finally:
            page.close()

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
            self._doc = None


def _zoom(old: _Rasterizer, new: _Rasterizer, index: int, diff: pixels.PixelDiff) -> tuple[Box, bytes] | None:
    """The overlay of a small changed region rendered ZOOM_FACTOR times finer, or None for a large one."""
    assert diff.bbox is not None
    x0, y0, x1, y1 = diff.bbox
    if x1 - x0 > ZOOM_MAX_PX or y1 - y0 > ZOOM_MAX_PX:
        return None
    box = pixels.crop_box(diff.bbox, diff.size, ZOOM_MARGIN_PX, (0, 0))
    fine = [r.region(index, box, ZOOM_FACTOR) for r in (old, new)]
    size = pixels.canvas_size(*fine) if any(fine) else None
    if size is None:
        return None
    return box, pixels.png(pixels.overlay(fine[0], fine[1], levels=16))


def _pictures(old: Image.Image | None, new: Image.Image | None, diff: pixels.PixelDiff, dpi: int, threshold: int,
              zoom: tuple[Box, bytes] | None) -> tuple[Box, Pictures]:
    assert diff.bbox is not None
    margin = _mm_to_px(CROP_MARGIN_MM, dpi)
    minimum = (_mm_to_px(CROP_MIN_MM[0], dpi), _mm_to_px(CROP_MIN_MM[1], dpi))
    crop = pixels.crop_box(diff.bbox, diff.size, margin, minimum)
    o, n = pixels.pad(old, diff.size), pixels.pad(new, diff.size)
    thumb_h = max(1, round(diff.size[1] * THUMB_WIDTH / diff.size[0]))
    thumb = pixels.posterize((n if new is not None else o).resize((THUMB_WIDTH, thumb_h), Image.Resampling.BOX))
    pics = Pictures(
        old=pixels.png(pixels.posterize(o.crop(crop))),   # 16 grey levels: a third smaller, same to the eye
        new=pixels.png(pixels.posterize(n.crop(crop))),
        overlay=pixels.png(pixels.overlay(o.crop(crop), n.crop(crop), levels=16)),
        difference=pixels.png(pixels.difference(o.crop(crop), n.crop(crop), threshold)),
        thumb=pixels.png(thumb),
        thumb_size=thumb.size,
        zoom=zoom[1] if zoom is not None else None,
        zoom_box=zoom[0] if zoom is not None else None,
    )
    return crop, pics


def diff_job(job: DiffJob) -> DocDiff:
    """Rasterize the job's page range of both documents, diff each page, draw pictures of the first changed
    pages and extract their text. Worker only."""
    started = time.perf_counter()
    old_doc = _Rasterizer(job.old, job.old_label, job.dpi, job.first, job.stop)
    try:
        new_doc = _Rasterizer(job.new, job.new_label, job.dpi, job.first, job.stop)
    except BaseException:
        old_doc.close()
        raise
    try:
        return _diff_docs(job, old_doc, new_doc, started)
    finally:
        old_doc.close()
        new_doc.close()


def _page_texts(old_doc: _Rasterizer, new_doc: _Rasterizer, index: int) -> tuple[str, str, str]:
    try:
        return old_doc.text(index), new_doc.text(index), ""
    except Exception as exc:   # text is an aid: a PDF that PDFium reads but pypdf does not still gets pictures
        return "", "", f"text extraction failed ({exc.__class__.__name__})"


def _diff_docs(job: DiffJob, old_doc: _Rasterizer, new_doc: _Rasterizer, started: float) -> DocDiff:
    text_error = ""
    pages: list[PageDiff] = []
    pictured = 0
    stop = max(old_doc.count, new_doc.count) if job.stop is None else min(job.stop, max(old_doc.count,
                                                                                       new_doc.count))
    for index in range(job.first, stop):
        old, new = old_doc.images.get(index), new_doc.images.get(index)
        diff = pixels.pixel_diff(old, new, job.threshold)
        status: PageStatus
        if old is None:
            status = "added"
        elif new is None:
            status = "removed"
        elif old.size != new.size:   # a page that changed size has changed, even with the same ink
            status = "changed"
            if diff.bbox is None:
                diff = pixels.PixelDiff(diff.changed, (0, 0, *diff.size), diff.size)
        else:
            status = "changed" if diff.changed else "same"
        size_pt = new_doc.sizes[index] if new is not None else old_doc.sizes[index]
        crop: Box | None = None
        pics: Pictures | None = None
        old_text = new_text = ""
        if status != "same":
            old_text, new_text, error = _page_texts(old_doc, new_doc, index)
            text_error = text_error or error
            if diff.bbox is not None and pictured < job.max_pictures:
                crop, pics = _pictures(old, new, diff, job.dpi, job.threshold, _zoom(old_doc, new_doc, index, diff))
                pictured += 1
        pages.append(PageDiff(
            number=index + 1, status=status, changed_pixels=diff.changed, bbox=diff.bbox, size=diff.size,
            size_pt=size_pt, crop=crop, pictures=pics, old_text=old_text, new_text=new_text,
        ))
    return DocDiff(
        pages=tuple(pages), old_pages=old_doc.count, new_pages=new_doc.count,
        identical_bytes=job.old == job.new, dpi=job.dpi, threshold=job.threshold,
        max_pictures=job.max_pictures, seconds=time.perf_counter() - started, text_error=text_error,
    )


def _page_count(data: bytes | None) -> int | None:
    """Pages of a PDF as pypdf counts them (no PDFium here); None when pypdf cannot tell."""
    if data is None:
        return 0
    try:
        return len(PdfReader(io.BytesIO(data)).pages)
    except Exception:   # PDFium, in the worker, gives the verdict on a PDF pypdf cannot read
        return None


def split(job: DiffJob, workers: int) -> list[DiffJob]:
    """The job as page ranges, one per worker, of at least MIN_PAGES_PER_WORKER pages each."""
    counts = [_page_count(job.old), _page_count(job.new)]
    if workers <= 1 or None in counts:
        return [job]
    total = max(c for c in counts if c is not None)
    parts = max(1, min(workers, total // MIN_PAGES_PER_WORKER))
    if parts == 1:
        return [job]
    bounds = [round(i * total / parts) for i in range(parts + 1)]
    return [dataclasses.replace(job, first=bounds[i], stop=bounds[i + 1]) for i in range(parts)]


def merge(job: DiffJob, parts: Sequence[DocDiff], seconds: float) -> DocDiff:
    """One `DocDiff` from the page ranges of `job`, pictures kept for its first ``max_pictures`` changed pages."""
    pages: list[PageDiff] = []
    pictured = 0
    for page in (p for part in parts for p in part.pages):
        if page.pictures is not None:
            if pictured >= job.max_pictures:
                page = dataclasses.replace(page, pictures=None, crop=None)
            else:
                pictured += 1
        pages.append(page)
    first = parts[0]
    return dataclasses.replace(first, pages=tuple(pages), seconds=seconds,
                               text_error=next((p.text_error for p in parts if p.text_error), ""))


def _cpus(limit: int | None) -> int:
    """Worker processes to run at once: the CPUs this process may use, or fewer when `limit` says so."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(limit or cpus, cpus))


def child_main(argv: Sequence[str]) -> int:
    """Worker process body: ``python -m renderer.goldendiff JOB.pickle RESULT.pickle``."""
    job_path, result_path = (Path(a) for a in argv)
    job = pickle.loads(job_path.read_bytes())
    if not isinstance(job, DiffJob):
        raise TypeError("the job file does not hold a DiffJob")
    result: DocDiff | BadPdf
    try:
        result = diff_job(job)
    except BadPdf as exc:
        result = exc
    result_path.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


def _start(job_file: Path, result_file: Path, stderr_file: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    with stderr_file.open("wb") as err:
        return subprocess.Popen([sys.executable, "-m", "renderer.goldendiff", str(job_file), str(result_file)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)


def run_jobs(jobs: Sequence[DiffJob], workers: int | None = None) -> list[DocDiff | BadPdf]:
    """Run every job in worker processes, at most one per CPU at a time; long documents split by pages.

    Each piece runs in a fresh ``python -m renderer.goldendiff`` process that reads its job from and writes
    its result to a private temporary directory, so PDFium never loads in the calling process, whatever
    that process is (a CLI, pytest, a service thread) and whatever its ``__main__``. Results come back in the
    order of `jobs`; an input that is not a readable PDF gives a `BadPdf` in its place. A worker that dies
    raises RuntimeError with the end of its stderr.
    """
    if not jobs:
        return []
    started = time.perf_counter()
    cpus = _cpus(workers)
    pieces: list[tuple[int, DiffJob]] = []
    for number, job in enumerate(jobs):
        pieces.extend((number, piece) for piece in (split(job, cpus) if len(jobs) < cpus else [job]))
    results = _run_pieces([piece for _, piece in pieces], min(cpus, len(pieces)))
    out: list[DocDiff | BadPdf] = []
    for number, job in enumerate(jobs):
        mine = [r for (n, _), r in zip(pieces, results, strict=True) if n == number]
        bad = next((r for r in mine if isinstance(r, BadPdf)), None)
        if bad is not None:
            out.append(bad)
        else:
            docs = [r for r in mine if isinstance(r, DocDiff)]
            out.append(docs[0] if len(docs) == 1 else merge(job, docs, time.perf_counter() - started))
    return out


def _run_pieces(jobs: Sequence[DiffJob], limit: int) -> list[DocDiff | BadPdf]:
    results: list[DocDiff | BadPdf | None] = [None] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="chohyo-goldendiff-") as tmp:
        base = Path(tmp)
        pending = list(range(len(jobs)))
        running: dict[int, subprocess.Popen[bytes]] = {}
        try:
            while pending or running:
                while pending and len(running) < limit:
                    i = pending.pop(0)
                    (base / f"job-{i}").write_bytes(pickle.dumps(jobs[i], protocol=pickle.HIGHEST_PROTOCOL))
                    running[i] = _start(base / f"job-{i}", base / f"result-{i}", base / f"stderr-{i}")
                done = [i for i, proc in running.items() if proc.poll() is not None]
                if not done:
                    time.sleep(0.005)
                    continue
                for i in done:
                    proc = running.pop(i)
                    result_file = base / f"result-{i}"
                    if proc.returncode != 0 or not result_file.exists():
                        tail = (base / f"stderr-{i}").read_text(encoding="utf-8", errors="replace")[-2000:]
                        raise RuntimeError(f"diff worker exited with {proc.returncode}: {tail.strip()}")
                    result = pickle.loads(result_file.read_bytes())
                    if not isinstance(result, DocDiff | BadPdf):
                        raise RuntimeError("diff worker returned something else than a DocDiff")
                    results[i] = result
        finally:
            for proc in running.values():
                proc.kill()
                proc.wait()
    return [r for r in results if r is not None]

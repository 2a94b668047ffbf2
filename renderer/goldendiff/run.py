"""Entry points of the visual diff: two PDF files, one `Pair` of documents, or many pairs with an index.

In: paths of two PDFs, or `Pair`s (two versions of a document as bytes, either may be absent, with the
names to show, the differences the caller found and an optional text to diff beside the pictures), and an
output path. Out: self-contained HTML reports written atomically, and a `Written` / `AllWritten` result
saying whether anything changed (the CLI turns that into exit 0/1), the report's size and a few summary
lines for the console. Rasterizing happens in worker processes (`renderer.goldendiff.worker.run_jobs`).

This package knows nothing of golden cases: `renderer.golden` describes each case as a `Pair` (committed
expected.pdf and display.txt against the render) and calls `pair_report` / `pairs_report`.

Errors: `renderer.errors.UsageError` (exit 2) when an input is missing, unreadable or not a PDF; the message
names the argument (``OLD``/``NEW``) and the path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from renderer.errors import UsageError
from renderer.files import write_atomic
from renderer.goldendiff import report
from renderer.goldendiff.text import LineDiff, diff_lines
from renderer.goldendiff.worker import DEFAULT_DPI, MAX_PICTURES, BadPdf, DiffJob, DocDiff, check_magic, run_jobs

INDEX_NAME = "index.html"


@dataclass(frozen=True)
class Written:
    """A report on disk: where, how big, whether anything changed, and lines for the console."""

    path: Path
    changed: bool
    size: int
    lines: tuple[str, ...]
    doc: DocDiff | None = None


@dataclass(frozen=True)
class AllWritten:
    index: Path
    changed: bool
    cases: tuple[report.IndexEntry, ...]
    lines: tuple[str, ...]
    seconds: float


def _write(path: Path, text: str) -> int:
    """Write the whole report or nothing (readable by others: a report is opened in a browser)."""
    data = text.encode("utf-8")
    write_atomic(path, data, mode=0o644)
    return len(data)


def _page_lines(doc: DocDiff) -> list[str]:
    lines: list[str] = []
    for page in doc.changed_pages:
        box = ""
        if page.bbox is not None:
            x0, y0, x1, y1 = page.bbox
            box = f" in box x {x0}–{x1}, y {y0}–{y1} px"
        lines.append(f"page {page.number}: {page.status}, {page.changed_pixels:,} changed pixel(s){box}")
    return lines


def read_pdf(path: Path, label: str) -> bytes:
    """The bytes of a PDF argument, or a UsageError naming the argument (exit 2)."""
    if not path.exists():
        raise UsageError(f"{label} {path}: no such file", field=label)
    if not path.is_file():
        raise UsageError(f"{label} {path}: not a file", field=label)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{label} {path}: cannot be read ({exc.__class__.__name__})", field=label) from None
    try:
        check_magic(data, label)
    except BadPdf as exc:
        raise UsageError(f"{label} {path}: {exc.reason}", field=label) from None
    return data


def _run_one(job: DiffJob, names: dict[str, Path]) -> DocDiff:
    (result,) = run_jobs([job])
    if isinstance(result, BadPdf):
        path = names.get(result.label)
        where = f" {path}" if path is not None else ""
        raise UsageError(f"{result.label}{where}: {result.reason}", field=result.label)
    return result


def diff_files(old: Path, new: Path, out: Path, *, dpi: int = DEFAULT_DPI,
               max_pictures: int = MAX_PICTURES) -> Written:
    """Compare two PDF files and write the report to `out` (the text diff is pypdf's page text only)."""
    old_bytes, new_bytes = read_pdf(old, "OLD"), read_pdf(new, "NEW")
    job = DiffJob(old_bytes, new_bytes, "OLD", "NEW", dpi=dpi, max_pictures=max_pictures)
    doc = _run_one(job, {"OLD": old, "NEW": new})
    html = report.doc_report(f"{old.name} → {new.name}", doc, old_name=str(old), new_name=str(new))
    size = _write(out, html)
    lines = [report.verdict(doc), *_page_lines(doc), f"report: {out} ({size / 1024:.1f} KB, {doc.seconds:.2f} s)"]
    return Written(out, doc.changed, size, tuple(lines), doc)


# --------------------------------------------------------------------------- pairs of documents


@dataclass(frozen=True)
class Pair:
    """Two versions of one document to report on, named by the caller (a golden case: the committed
    expected.pdf and display.txt against the working tree's render)."""

    title: str
    old: bytes | None                  # the PDF before (None: there was none)
    new: bytes | None                  # the PDF after (None: none was made)
    old_label: str                     # short names, in the pictures and in a bad-PDF message
    new_label: str
    old_name: str                      # long names, in the report's header
    new_name: str
    problems: tuple[str, ...] = ()     # the differences the caller found: the report's summary
    unchanged: str = "no difference"   # the summary when the caller found none
    old_display: str | None = None     # a text shown as a line diff beside the pictures (both or nothing)
    new_display: str | None = None
    meta: str = ""                     # what the new version is when there is nothing to picture

    def job(self, *, dpi: int = DEFAULT_DPI, max_pictures: int = MAX_PICTURES) -> DiffJob | None:
        if self.old is None and self.new is None:
            return None
        return DiffJob(self.old, self.new, self.old_label, self.new_label, dpi=dpi, max_pictures=max_pictures)

    def display_diff(self) -> LineDiff | None:
        if self.old_display is None or self.new_display is None:
            return None
        return diff_lines(self.old_display, self.new_display)


def _pair_html(pair: Pair, doc: DocDiff | BadPdf | None, index_href: str | None) -> str:
    summary = list(pair.problems) or [pair.unchanged]
    display = pair.display_diff()
    if isinstance(doc, DocDiff):
        return report.doc_report(pair.title, doc, old_name=pair.old_name, new_name=pair.new_name, summary=summary,
                                 display=display, index_href=index_href)
    if isinstance(doc, BadPdf):
        summary.append(f"no pictures: {doc}")
    return report.plain_report(pair.title, pair.meta, summary, display=display, old_name=pair.old_name,
                               new_name=pair.new_name, index_href=index_href)


def _changed(pair: Pair, doc: DocDiff | BadPdf | None) -> bool:
    return bool(pair.problems) or (isinstance(doc, DocDiff) and doc.changed) or isinstance(doc, BadPdf)


def pair_report(pair: Pair, out: Path, *, dpi: int = DEFAULT_DPI, max_pictures: int = MAX_PICTURES) -> Written:
    """Write the report of one pair (a failing golden case, a changed case in `chohyo golden update`)."""
    job = pair.job(dpi=dpi, max_pictures=max_pictures)
    doc: DocDiff | BadPdf | None = run_jobs([job])[0] if job is not None else None
    size = _write(out, _pair_html(pair, doc, None))
    lines = [report.verdict(doc), *_page_lines(doc)] if isinstance(doc, DocDiff) else []
    return Written(out, _changed(pair, doc), size, tuple(lines), doc if isinstance(doc, DocDiff) else None)


def _headline(pair: Pair | None, doc: DocDiff | BadPdf | None) -> str:
    """The first change as text: a page's text, else the display text (「old → new」); "" when neither changed."""
    if isinstance(doc, DocDiff):
        for page in doc.changed_pages:
            summaries = diff_lines(page.old_text, page.new_text).summaries
            if summaries:
                return f"p{page.number}: {summaries[0]}"
    display = pair.display_diff() if pair is not None else None
    if display is not None and display.summaries:
        return f"display.txt: {display.summaries[0]}"
    return ""


@dataclass(frozen=True)
class Item:
    """One entry of a many-pair report: its id and status, where its report goes (relative to the output
    directory), and its `Pair` (None: nothing to compare, e.g. a malformed golden case; `problems` say why)."""

    id: str
    status: str
    href: str
    pair: Pair | None
    problems: tuple[str, ...] = ()


def pairs_report(items: Sequence[Item], out_dir: Path, title: str, *, dpi: int = DEFAULT_DPI,
                 max_pictures: int = MAX_PICTURES, started: float | None = None) -> AllWritten:
    """One report per item with a pair (``out_dir/<href>``) and ``out_dir/index.html`` over all of them;
    the pictures of every pair are made in one run of the worker processes. `started` (perf_counter) is
    when the caller began, for the time reported (default: now)."""
    started = time.perf_counter() if started is None else started
    jobs = [item.pair.job(dpi=dpi, max_pictures=max_pictures) if item.pair is not None else None for item in items]
    results = iter(run_jobs([job for job in jobs if job is not None]))
    entries: list[report.IndexEntry] = []
    lines: list[str] = []
    for item, job in zip(items, jobs, strict=True):
        doc = next(results) if job is not None else None
        changed = bool(item.problems) or (item.pair is not None and _changed(item.pair, doc))
        href = ""
        if item.pair is not None:
            href = item.href
            _write(out_dir / href, _pair_html(item.pair, doc, "../" * href.count("/") + INDEX_NAME))
        entries.append(report.IndexEntry(
            case_id=item.id, status=item.status, changed=changed, href=href or None,
            doc=doc if isinstance(doc, DocDiff) else None, problems=item.problems,
            headline=_headline(item.pair, doc),
        ))
        lines.append(f"{item.id}: {'CHANGED' if changed else 'unchanged'}"
                     + (f" — {item.problems[0]}" if item.problems else ""))
        if isinstance(doc, DocDiff):
            lines.extend("    " + line for line in _page_lines(doc))
    seconds = time.perf_counter() - started
    index = out_dir / INDEX_NAME
    _write(index, report.index_report(title, entries, seconds=seconds))
    lines.append(f"index: {index} ({len(entries)} case(s), {seconds:.1f} s)")
    return AllWritten(index, any(e.changed for e in entries), tuple(entries), tuple(lines), seconds)

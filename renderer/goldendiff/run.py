"""Entry points of the visual diff: two PDF files, one golden case, or every golden case.

In: paths (two PDFs; or a golden directory) or a golden case with its fresh `CaseOutcome`, and an output
path. Out: self-contained HTML reports written atomically, and a `Written` / `AllWritten` result saying
whether anything changed (the CLI turns that into exit 0/1), the report's size and a few summary lines for
the console. Rasterizing happens in worker processes (`renderer.goldendiff.worker.run_jobs`).

Errors: `renderer.errors.UsageError` (exit 2) when an input is missing, unreadable or not a PDF; the message
names the argument (``OLD``/``NEW``) and the path.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from renderer import golden
from renderer.errors import UsageError
from renderer.goldendiff import report
from renderer.goldendiff.text import LineDiff, diff_lines
from renderer.goldendiff.worker import DEFAULT_DPI, MAX_PICTURES, BadPdf, DiffJob, DocDiff, check_magic, run_jobs

REPORT_NAME = "report.html"
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
    """Write the whole report or nothing (temporary file in the same directory, then rename)."""
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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


# --------------------------------------------------------------------------- golden cases


def _display_diff(case_dir: Path, outcome: golden.CaseOutcome) -> LineDiff | None:
    path = case_dir / golden.DISPLAY
    if outcome.display is None or not path.exists():
        return None
    return diff_lines(path.read_text(encoding="utf-8", errors="replace"), outcome.display)


def case_job(case_dir: Path, outcome: golden.CaseOutcome, *, dpi: int = DEFAULT_DPI,
             max_pictures: int = MAX_PICTURES) -> DiffJob | None:
    """The visual diff of a case: committed expected.pdf (or none) against the render (or none)."""
    expected = case_dir / golden.EXPECTED_PDF
    old = expected.read_bytes() if expected.exists() else None
    if old is None and outcome.pdf is None:
        return None
    return DiffJob(old, outcome.pdf, golden.EXPECTED_PDF, "rendered", dpi=dpi, max_pictures=max_pictures)


def _case_html(case: golden.GoldenCase, outcome: golden.CaseOutcome, problems: Sequence[str],
               doc: DocDiff | BadPdf | None, index_href: str | None) -> str:
    old_name, new_name = f"{case.id}/{golden.EXPECTED_PDF} (committed)", "working tree render"
    summary = list(problems) or ["no difference: the case passes"]
    display = _display_diff(case.path, outcome)
    if isinstance(doc, DocDiff):
        return report.doc_report(case.id, doc, old_name=old_name, new_name=new_name, summary=summary,
                                 display=display, index_href=index_href)
    if isinstance(doc, BadPdf):
        summary.append(f"no pictures: {doc}")
    return report.plain_report(case.id, outcome.describe(), summary, display=display, old_name=old_name,
                               new_name=new_name, index_href=index_href)


def case_report(case: golden.GoldenCase, outcome: golden.CaseOutcome, problems: Sequence[str], out: Path, *,
                dpi: int = DEFAULT_DPI, max_pictures: int = MAX_PICTURES) -> Written:
    """Write the report of one golden case (used when the golden test fails and by `chohyo golden update`)."""
    job = case_job(case.path, outcome, dpi=dpi, max_pictures=max_pictures)
    doc: DocDiff | BadPdf | None = run_jobs([job])[0] if job is not None else None
    size = _write(out, _case_html(case, outcome, problems, doc, None))
    lines = [report.verdict(doc), *_page_lines(doc)] if isinstance(doc, DocDiff) else []
    changed = bool(problems) or (isinstance(doc, DocDiff) and doc.changed) or isinstance(doc, BadPdf)
    return Written(out, changed, size, tuple(lines), doc if isinstance(doc, DocDiff) else None)


def _headline(case: golden.GoldenCase, outcome: golden.CaseOutcome | None, doc: DocDiff | BadPdf | None) -> str:
    """The first change as text: a page's text, else display.txt (「old → new」); "" when neither changed."""
    if isinstance(doc, DocDiff):
        for page in doc.changed_pages:
            summaries = diff_lines(page.old_text, page.new_text).summaries
            if summaries:
                return f"p{page.number}: {summaries[0]}"
    display = _display_diff(case.path, outcome) if outcome is not None else None
    if display is not None and display.summaries:
        return f"display.txt: {display.summaries[0]}"
    return ""


def _status(outcome: golden.CaseOutcome | None, problems: Sequence[str]) -> str:
    if outcome is None:
        return "malformed case"
    kind = "error case" if outcome.is_error else "render"
    return f"{kind} changed" if problems else f"{kind} unchanged"


def diff_all(out_dir: Path, *, golden_dir: Path = golden.GOLDEN_DIR, dpi: int = DEFAULT_DPI,
             max_pictures: int = MAX_PICTURES) -> AllWritten:
    """Every case's committed expected.pdf against the working tree's render: one report per case + index."""
    started = time.perf_counter()
    cases = golden.discover(golden_dir)
    rendered: list[tuple[golden.GoldenCase, golden.CaseOutcome | None, list[str], DiffJob | None]] = []
    for case in cases:
        try:
            fresh = golden.render_case(case.path)
        except golden.GoldenError as exc:
            rendered.append((case, None, [str(exc)], None))
            continue
        problems = golden.compare(case.path, fresh)
        rendered.append((case, fresh, problems, case_job(case.path, fresh, dpi=dpi, max_pictures=max_pictures)))
    jobs = [job for *_, job in rendered if job is not None]
    results = iter(run_jobs(jobs))
    entries: list[report.IndexEntry] = []
    lines: list[str] = []
    for case, outcome, problems, job in rendered:
        doc = next(results) if job is not None else None
        href = f"{case.layout_id}/{case.name}/{REPORT_NAME}"
        changed = bool(problems) or (isinstance(doc, DocDiff) and doc.changed) or isinstance(doc, BadPdf)
        if outcome is not None:
            _write(out_dir / href, _case_html(case, outcome, problems, doc, f"../../{INDEX_NAME}"))
        else:
            href = ""
        entries.append(report.IndexEntry(
            case_id=case.id, status=_status(outcome, problems), changed=changed, href=href or None,
            doc=doc if isinstance(doc, DocDiff) else None, problems=tuple(problems),
            headline=_headline(case, outcome, doc),
        ))
        lines.append(f"{case.id}: {'CHANGED' if changed else 'unchanged'}"
                     + (f" — {problems[0]}" if problems else ""))
        if isinstance(doc, DocDiff):
            lines.extend("    " + line for line in _page_lines(doc))
    seconds = time.perf_counter() - started
    index = out_dir / INDEX_NAME
    _write(index, report.index_report(f"golden diff — {golden_dir.name}/ ({len(entries)} cases)", entries,
                                      seconds=seconds))
    lines.append(f"index: {index} ({len(entries)} case(s), {seconds:.1f} s)")
    return AllWritten(index, any(e.changed for e in entries), tuple(entries), tuple(lines), seconds)

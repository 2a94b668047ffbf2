"""The report on a known one-digit change, pages added or removed, the picture cap, and golden case reports.

In: the `one_digit` pair (tests/goldendiff/conftest.py) and multi-page PDFs stitched from it with pypdf.
Out: assertions on `renderer.goldendiff.worker`, `.report` and `renderer.golden.write_report`: the bounding
box sits on the digit, the HTML is self-contained and carries all five views and the text diffs, and the
report stays small.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from goldendiff_support import OneDigit, make_one_digit
from pypdf import PdfReader, PdfWriter

from renderer import golden
from renderer.goldendiff import report
from renderer.goldendiff.worker import DEFAULT_DPI, BadPdf, DiffJob, DocDiff, run_jobs


@pytest.fixture
def one_digit(tmp_path_factory: pytest.TempPathFactory) -> OneDigit:
    return make_one_digit(tmp_path_factory)


def _stitch(*pdfs: Path) -> bytes:
    writer = PdfWriter()
    for pdf in pdfs:
        for page in PdfReader(pdf).pages:
            writer.add_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _doc(job: DiffJob) -> DocDiff:
    (result,) = run_jobs([job])
    assert isinstance(result, DocDiff), result
    return result


def assert_self_contained(html: str) -> None:
    """No URL that would load anything: every picture and the font are data: URLs, no links out."""
    assert not re.search(r"https?://", html)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#|\.\./|[\w.-]+/)""", html)
    assert "url(" not in html.replace('url("data:font/woff;base64,', "")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_one_digit_change(one_digit: OneDigit) -> None:
    doc = _doc(DiffJob(one_digit.old_pdf.read_bytes(), one_digit.new_pdf.read_bytes()))
    assert doc.changed and doc.dpi == DEFAULT_DPI == 100 and doc.threshold == 32
    (page,) = doc.pages
    assert page.status == "changed" and page.bbox is not None and page.crop is not None
    assert 10 <= page.changed_pixels <= 200, page.changed_pixels
    # the box sits on the digit's cell (display list position + font advance), and is about one digit big
    x0, y0, x1, y1 = one_digit.digit.pixels(doc.dpi)
    bx0, by0, bx1, by1 = page.bbox
    assert x0 - 1 <= bx0 and bx1 <= x1 + 1 and y0 - 1 <= by0 and by1 <= y1 + 1, (page.bbox, (x0, y0, x1, y1))
    # the crop holds the box with a margin
    cx0, cy0, cx1, cy1 = page.crop
    assert cx0 < bx0 and cy0 < by0 and cx1 > bx1 and cy1 > by1
    assert "昭和59年4月2日" in page.old_text and "昭和59年4月3日" in page.new_text

    html = report.doc_report("one digit", doc, old_name="old.pdf", new_name="new.pdf")
    assert_self_contained(html)
    for view, _label in report.VIEWS:
        assert f'data-view="{view}"' in html and f"view-{view}" in html
    assert 'class="swipe-range"' in html and 'class="onion-range"' in html
    # old, new, overlay, difference, locator and the enlarged overlay of the box: each embedded once
    assert html.count("data:image/png;base64,") == 6
    assert re.search(r"<li>[^<]*昭和59年4月2日[^<]* → [^<]*昭和59年4月3日", html)   # the change, read as text
    assert "<del>2</del>" in html and "<ins>3</ins>" in html
    assert f'data-bbox="{bx0},{by0},{bx1},{by1}"' in html
    assert len(html.encode("utf-8")) < 150 * 1024


def test_identical_documents() -> None:
    data = (golden.GOLDEN_DIR / "juminhyo-setai" / "setai-4nin" / golden.EXPECTED_PDF).read_bytes()
    doc = _doc(DiffJob(data, data))
    assert not doc.changed and doc.changed_pages == () and all(p.status == "same" for p in doc.pages)
    html = report.doc_report("same", doc, old_name="a", new_name="b")
    assert "identical" in html and "data:image/png" not in html


def test_added_and_removed_pages_count_as_changed(one_digit: OneDigit) -> None:
    one = one_digit.old_pdf.read_bytes()
    two = _stitch(one_digit.old_pdf, one_digit.new_pdf)
    added = _doc(DiffJob(one, two))
    assert [p.status for p in added.pages] == ["same", "added"]
    assert added.pages[1].changed_pixels > 10_000 and added.pages[1].pictures is not None
    removed = _doc(DiffJob(two, one))
    assert [p.status for p in removed.pages] == ["same", "removed"]
    nothing = _doc(DiffJob(None, one))
    assert [p.status for p in nothing.pages] == ["added"] and nothing.old_pages == 0


def test_pictures_are_capped_and_the_cap_is_said(one_digit: OneDigit) -> None:
    old = _stitch(one_digit.old_pdf, one_digit.old_pdf, one_digit.old_pdf)
    new = _stitch(one_digit.new_pdf, one_digit.new_pdf, one_digit.new_pdf)
    doc = _doc(DiffJob(old, new, max_pictures=2))
    assert [p.status for p in doc.pages] == ["changed"] * 3
    assert [p.pictures is not None for p in doc.pages] == [True, True, False]
    html = report.doc_report("capped", doc, old_name="old", new_name="new")
    assert "Capped: pictures of 2 of 3 changed page(s)" in html
    assert "Pictures left out" in html
    assert html.count('class="page"') == 3          # every changed page is still listed with its text diff


def test_bad_pdf_comes_back_named(tmp_path: Path) -> None:
    results = run_jobs([DiffJob(b"%PDF-1.7\nnot really", None, old_label="OLD"),
                        DiffJob(b"hello", None, old_label="expected.pdf")])
    assert all(isinstance(r, BadPdf) for r in results)
    assert [r.label for r in results if isinstance(r, BadPdf)] == ["OLD", "expected.pdf"]
    assert "not a PDF" in str(results[1])


def test_failing_case_report_goes_to_the_store(one_digit: OneDigit, tmp_path: Path) -> None:
    case = golden.case_of(one_digit.case_dir)
    outcome = golden.render_case(one_digit.case_dir)
    problems = golden.compare(one_digit.case_dir, outcome)
    assert problems and problems[0] == f"{golden.DISPLAY} differs:"
    written = golden.write_report(case, outcome, problems, store=tmp_path / "store")
    assert written.path == tmp_path / "store" / "juminhyo-setai" / "setai-4nin" / golden.REPORT_NAME
    assert written.lines[0].startswith("1 of 1 page(s) changed") and written.lines[1].startswith("page 1: changed")
    html = written.path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert 'id="display"' in html and "display.txt" in html and "<ins>3</ins>" in html
    assert (written.path.parent / "rendered.pdf").read_bytes() == outcome.pdf
    assert sorted(p.name for p in one_digit.case_dir.iterdir()) == sorted(
        ["README.md", "input.json", "fixtures.json", "expected.pdf", "display.txt"])   # case folder untouched
    golden.clear_report(case, store=tmp_path / "store")
    assert not written.path.parent.exists()

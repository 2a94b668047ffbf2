"""`print_mode: overlay` with a `background` page: checked when the layout is loaded, shown under previews only.

In: a copy of a shipped layout (tsuchisho-kyufu-kettei, A4 portrait) declaring ``print_mode: overlay`` and
``background: {file: backgrounds/form.pdf, page: 1}`` in a temporary layouts directory, with background PDFs
drawn here (ReportLab: a frame and a black mark in a part of the sheet the layout leaves blank). Out: checks
that a bad background is refused at validation with the key named (outside the layouts directory, missing,
not a PDF, too large, no such page, the wrong page size, a background without ``print_mode: overlay``), that
a preview shows the background under its pages (the mark is in the PDF and in the PNG), deterministically,
and that render output and batch files are byte-identical to the same layout without the background.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

import renderer.spec.background as background_module
from renderer.api import Renderer, font_set
from renderer.errors import LayoutError
from renderer.golden import DEFAULT_CLOCK, default_settings
from renderer.preview import preview, to_png
from renderer.settings import PROJECT_ROOT
from renderer.spec.validate import load_layout

LAYOUT = "tsuchisho-kyufu-kettei"
PT_PER_MM = 72 / 25.4
#: the background's mark, mm from the sheet's top-left corner: a part of the notice the layout leaves blank
MARK = (150.0, 265.0, 170.0, 280.0)
DECLARATION = "print_mode: overlay\nbackground: {file: backgrounds/form.pdf, page: 1}\n"
FONTS = font_set(PROJECT_ROOT / "fonts")


def form_pdf(width_mm: float = 210.0, height_mm: float = 297.0, pages: int = 1) -> bytes:
    """A pre-printed form: a frame and a filled black mark at `MARK` on each page."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(width_mm * PT_PER_MM, height_mm * PT_PER_MM), invariant=1)
    for _ in range(pages):
        c.setLineWidth(1.0)
        c.rect(8 * PT_PER_MM, 8 * PT_PER_MM, (width_mm - 16) * PT_PER_MM, (height_mm - 16) * PT_PER_MM)
        x0, y0, x1, y1 = MARK
        c.rect(x0 * PT_PER_MM, (height_mm - y1) * PT_PER_MM, (x1 - x0) * PT_PER_MM, (y1 - y0) * PT_PER_MM,
               stroke=0, fill=1)
        c.showPage()
    c.save()
    return buf.getvalue()


def layout_text(declaration: str = DECLARATION) -> str:
    text = (PROJECT_ROOT / "layouts" / f"{LAYOUT}.yaml").read_text(encoding="utf-8")
    paper = "paper: {size: A4, orientation: portrait}\n"
    assert text.count(paper) == 1
    return text.replace(paper, paper + declaration)


def small_layouts(tmp_path: Path, declaration: str = DECLARATION, pdf: bytes | None = None) -> Path:
    """A layouts directory with the modified layout, its parts and (unless None) backgrounds/form.pdf."""
    out = tmp_path / "layouts"
    out.mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "layouts" / "parts", out / "parts")
    (out / f"{LAYOUT}.yaml").write_text(layout_text(declaration), encoding="utf-8")
    if pdf is not None:
        (out / "backgrounds").mkdir()
        (out / "backgrounds" / "form.pdf").write_bytes(pdf)
    return out


def problem(layouts: Path) -> tuple[str, str]:
    with pytest.raises(LayoutError) as caught:
        load_layout(layouts / f"{LAYOUT}.yaml", FONTS)
    [diag] = caught.value.diagnostics
    return diag.path, diag.message


# --------------------------------------------------------------------------- validation


def test_a_valid_background_loads(tmp_path: Path) -> None:
    spec = load_layout(small_layouts(tmp_path, pdf=form_pdf()) / f"{LAYOUT}.yaml", FONTS)
    assert spec.print_mode == "overlay" and spec.background is not None
    assert (spec.background.file, spec.background.page) == ("backgrounds/form.pdf", 1)


def test_a_background_needs_print_mode_overlay(tmp_path: Path) -> None:
    declaration = "background: {file: backgrounds/form.pdf, page: 1}\n"
    key, message = problem(small_layouts(tmp_path, declaration, form_pdf()))
    assert key == "background" and "print_mode: overlay" in message
    layouts = small_layouts(tmp_path / "full", "print_mode: full\n" + declaration, form_pdf())
    assert problem(layouts)[0] == "background"


def test_a_background_outside_the_layouts_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.pdf").write_bytes(form_pdf())
    for where in ("../outside.pdf", "backgrounds/../../outside.pdf", "/tmp/outside.pdf"):
        layouts = small_layouts(tmp_path / str(len(where)), DECLARATION.replace("backgrounds/form.pdf", where))
        key, message = problem(layouts)
        assert key == "background.file" and "outside the layouts directory" in message, message
    # a symbolic link inside that leads outside is refused when the file is checked
    (layouts / "backgrounds").mkdir()
    (layouts / "backgrounds" / "form.pdf").symlink_to(tmp_path / "outside.pdf")
    (layouts / f"{LAYOUT}.yaml").write_text(layout_text(), encoding="utf-8")
    assert problem(layouts) == (key, "'backgrounds/form.pdf' resolves outside the layouts directory; the "
                                     "background must stay inside it")


def test_a_missing_or_unreadable_background_is_refused(tmp_path: Path) -> None:
    assert problem(small_layouts(tmp_path / "a")) == ("background.file", "'backgrounds/form.pdf' does not exist")
    key, message = problem(small_layouts(tmp_path / "b", pdf=b"\x89PNG\r\n\x1a\n not a pdf"))
    assert key == "background.file" and "is not a PDF" in message
    key, message = problem(small_layouts(tmp_path / "c", pdf=b"%PDF-1.4\n garbage"))
    assert key == "background.file" and "not a readable PDF" in message


def test_a_background_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = form_pdf()
    monkeypatch.setattr(background_module, "MAX_BACKGROUND_BYTES", len(pdf) - 1)
    key, message = problem(small_layouts(tmp_path, pdf=pdf))
    assert key == "background.file" and "byte limit" in message
    assert background_module.MAX_BACKGROUND_BYTES < 5_000_001


def test_a_background_page_of_another_size_or_missing_is_refused(tmp_path: Path) -> None:
    key, message = problem(small_layouts(tmp_path / "a5", pdf=form_pdf(148.0, 210.0)))
    assert key == "background.page" and "148.0 × 210.0 mm" in message and "210 × 297 mm" in message
    landscape = small_layouts(tmp_path / "landscape", pdf=form_pdf(297.0, 210.0))
    assert problem(landscape)[0] == "background.page"
    # within 0.5 mm is the same paper (a PDF exported in points rounds the size)
    load_layout(small_layouts(tmp_path / "close", pdf=form_pdf(210.4, 296.6)) / f"{LAYOUT}.yaml", FONTS)
    second = small_layouts(tmp_path / "page2", DECLARATION.replace("page: 1", "page: 2"), form_pdf())
    assert problem(second) == ("background.page", "'backgrounds/form.pdf' has 1 page(s), there is no page 2")
    load_layout(small_layouts(tmp_path / "two", DECLARATION.replace("page: 1", "page: 2"), form_pdf(pages=2))
                / f"{LAYOUT}.yaml", FONTS)


def test_layouts_validate_names_the_key(tmp_path: Path) -> None:
    layouts = small_layouts(tmp_path, pdf=form_pdf(148.0, 210.0))
    shutil.copytree(PROJECT_ROOT / "layouts" / "tenants", layouts / "tenants")
    done = subprocess.run([sys.executable, "-m", "renderer", "layouts", "validate", LAYOUT, "--json",
                           "--layouts-dir", str(layouts)], capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    obj = json.loads(done.stderr.strip().splitlines()[-1])
    errors = obj["errors"]   # the layout itself, and each tenant whose defaults name it, report the one problem
    assert errors and {e["path"] for e in errors} == {"background.page"}
    assert all(e["line"] == 43 and "148.0 × 210.0" in e["message"] for e in errors), errors


# --------------------------------------------------------------------------- previews only


def renderer_on(layouts: Path, state: Path) -> Renderer:
    return Renderer(dataclasses.replace(default_settings(), layouts_dir=layouts, state_dir=state,
                                        clock=lambda: DEFAULT_CLOCK))


@pytest.fixture(scope="module")
def two_layouts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the layouts with the background declared, the shipped layouts), both complete directories."""
    root = tmp_path_factory.mktemp("overlay")
    layouts = root / "layouts"
    shutil.copytree(PROJECT_ROOT / "layouts", layouts)
    (layouts / f"{LAYOUT}.yaml").write_text(layout_text(), encoding="utf-8")
    (layouts / "backgrounds").mkdir()
    (layouts / "backgrounds" / "form.pdf").write_bytes(form_pdf())
    return layouts, PROJECT_ROOT / "layouts"


def envelope() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROJECT_ROOT / "layouts" / "samples" / f"{LAYOUT}.json")
                                      .read_text(encoding="utf-8"))
    return data


def mark_darkness(png: bytes, dpi: int) -> float:
    """Mean darkness (0 white … 1 black) of the PNG inside `MARK` (inset 1 mm)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    px = dpi / 25.4
    x0, y0, x1, y1 = MARK
    box = image.crop((round((x0 + 1) * px), round((y0 + 1) * px), round((x1 - 1) * px), round((y1 - 1) * px)))
    histogram = box.histogram()
    total = sum(histogram)
    return 1 - sum(v * n for v, n in enumerate(histogram)) / (255 * total)


def test_a_preview_shows_the_background_under_every_page(tmp_path: Path, two_layouts: tuple[Path, Path]) -> None:
    with_bg, plain = two_layouts
    shown = preview(renderer_on(with_bg, tmp_path / "a"), envelope(), layout_id=LAYOUT)
    without = preview(renderer_on(plain, tmp_path / "b"), envelope(), layout_id=LAYOUT)
    assert mark_darkness(to_png(shown.pdf, 1, dpi=100), 100) > 0.95
    assert mark_darkness(to_png(without.pdf, 1, dpi=100), 100) < 0.02
    assert shown.pages == without.pages and shown.pdf_sha256 == hashlib.sha256(shown.pdf).hexdigest()
    # the drawing is still there, over the background: the same text as the preview without it
    doc = pdfium.PdfDocument(shown.pdf)
    other = pdfium.PdfDocument(without.pdf)
    try:
        for i in range(len(doc)):
            assert doc[i].get_textpage().get_text_range() == other[i].get_textpage().get_text_range()
    finally:
        doc.close()
        other.close()
    again = preview(renderer_on(with_bg, tmp_path / "c"), envelope(), layout_id=LAYOUT)
    assert again.pdf == shown.pdf   # deterministic
    # a PDF/A request: the preview drops the claim (the background's conformance is unchecked), the render keeps it
    pdfa = envelope()
    pdfa["request"]["pdf_profile"] = "pdfa-2b"
    assert b"pdfaid" in preview(renderer_on(plain, tmp_path / "d"), pdfa, layout_id=LAYOUT).pdf
    claimed = preview(renderer_on(with_bg, tmp_path / "e"), pdfa, layout_id=LAYOUT).pdf
    assert b"pdfaid" not in claimed and b"/OutputIntents" not in claimed
    assert b"pdfaid" in renderer_on(with_bg, tmp_path / "f").render(pdfa, layout_id=LAYOUT).pdf


def test_render_and_batch_output_never_carry_the_background(tmp_path: Path, two_layouts: tuple[Path, Path]) -> None:
    with_bg, plain = two_layouts
    a = renderer_on(with_bg, tmp_path / "a").render(envelope(), layout_id=LAYOUT)
    b = renderer_on(plain, tmp_path / "b").render(envelope(), layout_id=LAYOUT)
    assert a.pdf == b.pdf   # what is archived, and printed onto the pre-printed stock: the drawing alone
    records = tmp_path / "notices.jsonl"
    records.write_text("\n".join(json.dumps(envelope(), ensure_ascii=False) for _ in range(2)) + "\n",
                       encoding="utf-8")
    shas = []
    for name, layouts in (("with", with_bg), ("plain", plain)):
        out = tmp_path / f"run-{name}"
        done = subprocess.run([sys.executable, "-m", "renderer", "batch", LAYOUT, str(records), "-o", str(out),
                               "--workers", "1", "--quiet", "--layouts-dir", str(layouts),
                               "--state-dir", str(tmp_path / f"state-{name}")],
                              capture_output=True, text=True, check=False, env=None)
        assert done.returncode == 0, done.stderr
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        shas.append([f["sha256"] for f in manifest["files"]])
    assert shas[0] == shas[1] and shas[0]


def test_only_previews_read_the_background() -> None:
    """Nothing but the preview (and layout validation) reads a background: no render, batch or print path."""
    users = sorted(str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "renderer").rglob("*.py")
                   if "load_background" in p.read_text(encoding="utf-8"))
    assert users == ["renderer/preview.py", "renderer/spec/background.py"]

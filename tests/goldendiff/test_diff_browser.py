"""The visual diff report in a real browser: Debian's headless Chromium driven by Playwright.

In: the `one_digit` pair (a golden case rendered, then rendered again with one birth-date digit changed),
turned into a report by ``chohyo golden diff``; /usr/bin/chromium (``apt-get install chromium``; Playwright's
own browser download is never used). Out: assertions that every view switches and works (swipe and
opacity sliders included), that the drawn bounding box lies on the digit's position from the display list,
that the overlay shows red and cyan ink there, that nothing but file: and data: URLs is loaded and no
console error occurs; and one screenshot per view in tests/.golden-store/browser/ for a person to look at.

Without /usr/bin/chromium the test is skipped locally and fails under CI (CI installs it in .ci/run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from goldendiff_support import OneDigit, make_one_digit
from PIL import Image
from playwright.sync_api import BrowserContext, Page, sync_playwright
from typer.testing import CliRunner

from renderer import golden
from renderer.cli import app
from renderer.goldendiff import report

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = golden.STORE_DIR / "browser"
VIEWS = [view for view, _label in report.VIEWS]


@pytest.fixture
def one_digit(tmp_path_factory: pytest.TempPathFactory) -> OneDigit:
    return make_one_digit(tmp_path_factory)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if golden.is_ci():
        pytest.fail(f"{CHROMIUM} is missing under CI: .ci/run installs it with `apt-get install -y chromium`")
    pytest.skip(f"{CHROMIUM} is missing: `apt-get update && apt-get install -y chromium` to run the browser test")


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    _require_chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")   # a fresh user data dir
    with sync_playwright() as playwright:
        ctx = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, device_scale_factor=1, offline=True,
        )
        try:
            yield ctx
        finally:
            ctx.close()


def _element_box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not visible"
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def _bbox_in_page_pixels(page: Page, view: str) -> tuple[float, float, float, float]:
    """Where the drawn box is, read from the browser's layout and mapped back through the crop to page px."""
    section = page.locator("section.page").first
    crop = [int(v) for v in (section.get_attribute("data-crop") or "").split(",")]
    stack = f"section.page .view-{view} .stack"
    image = _element_box(page, f"{stack} img >> nth=0")
    box = _element_box(page, f"{stack} .bbox >> nth=0")
    sx = (crop[2] - crop[0]) / image["width"]
    sy = (crop[3] - crop[1]) / image["height"]
    left, top = box["x"] - image["x"], box["y"] - image["y"]
    return (crop[0] + left * sx, crop[1] + top * sy,
            crop[0] + (left + box["width"]) * sx, crop[1] + (top + box["height"]) * sy)


def test_report_in_chromium(one_digit: OneDigit, context: BrowserContext, tmp_path: Path) -> None:
    started = time.perf_counter()
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["golden", "diff", str(one_digit.old_pdf), str(one_digit.new_pdf), "-o", str(out)])
    assert result.exit_code == 1, result.output
    SHOTS.mkdir(parents=True, exist_ok=True)

    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_function("document.fonts.status === 'loaded'")
    assert page.locator("section.page").count() == 1

    # the digit's cell on the page, from the display list and the font's advance widths
    dpi = int(page.locator("section.page").first.get_attribute("data-dpi") or "0")
    dx0, dy0, dx1, dy1 = one_digit.digit.pixels(dpi)
    centre = ((dx0 + dx1) / 2, (dy0 + dy1) / 2)
    data_bbox = [int(v) for v in (page.locator("section.page").first.get_attribute("data-bbox") or "").split(",")]

    for view in VIEWS:
        page.click(f'nav.views button[data-view="{view}"]')
        assert page.evaluate("document.body.dataset.view") == view
        assert page.locator(f'nav.views button[data-view="{view}"]').get_attribute("aria-pressed") == "true"
        for other in VIEWS:
            assert page.locator(f"section.page .view-{other}").is_visible() == (other == view), (view, other)
        if view == "swipe":
            page.locator("input.swipe-range").fill("30")
            clip = page.evaluate("getComputedStyle(document.querySelector('.view-swipe img.top')).clipPath")
            assert "70%" in clip, clip
        if view == "onion":
            page.locator("input.onion-range").fill("25")
            opacity = page.evaluate("getComputedStyle(document.querySelector('.view-onion img.top')).opacity")
            assert float(opacity) == pytest.approx(0.25)
        # the drawn box, measured in the browser, is the changed region and it covers the digit
        x0, y0, x1, y1 = _bbox_in_page_pixels(page, view)
        for got, want in zip((x0, y0, x1, y1), data_bbox, strict=True):
            assert abs(got - want) <= 1.0, (view, (x0, y0, x1, y1), data_bbox)
        assert x0 <= centre[0] <= x1 and y0 <= centre[1] <= y1, (view, (x0, y0, x1, y1), centre)
        assert dx0 - 2 <= x0 and x1 <= dx1 + 2 and dy0 - 2 <= y0 and y1 <= dy1 + 2, (view, (x0, y0, x1, y1),
                                                                                     (dx0, dy0, dx1, dy1))
        page.locator("section.page").first.screenshot(path=str(SHOTS / f"{view}.png"))

    # the overlay as the browser paints it: red (removed "2") and cyan (added "3") inside the box, both in the
    # 1.5× crop (smoothed, so judged by how far one channel stands apart) and in the enlarged box (pixelated)
    for which, selector, margin in (("overlay-stack", "section.page .view-overlay .stack >> nth=0", 80),
                                    ("overlay-zoom", "section.page .view-overlay .stack.zoom", 80)):
        shot = SHOTS / f"{which}.png"
        page.locator(selector).screenshot(path=str(shot))
        stack_box = _element_box(page, f"{selector} >> img")
        bbox_box = _element_box(page, f"{selector} >> .bbox")
        with Image.open(shot) as raw:
            left, top = bbox_box["x"] - stack_box["x"], bbox_box["y"] - stack_box["y"]
            region = raw.convert("RGB").crop((int(left), int(top), int(left + bbox_box["width"]) + 1,
                                              int(top + bbox_box["height"]) + 1))
            colours = [(n, c) for n, c in region.getcolors(1 << 16) or [] if isinstance(c, tuple)]
        red = sum(n for n, (r, g, b, *_) in colours if r - max(g, b) > margin)
        cyan = sum(n for n, (r, g, b, *_) in colours if min(g, b) - r > margin)
        assert red >= 5 and cyan >= 5, f"{which}: red {red}, cyan {cyan} pixels inside the box"

    # the text diff names the change
    assert "昭和59年4月2日" in page.locator("ul.changes").first.inner_text()
    assert page.locator("ins").first.inner_text() == "3" and page.locator("del").first.inner_text() == "2"

    # keyboard: 1 goes back to side-by-side
    page.keyboard.press("1")
    assert page.evaluate("document.body.dataset.view") == "side"
    page.screenshot(path=str(SHOTS / "full-page.png"), full_page=True)

    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert problems == []
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"the browser test took {elapsed:.1f} s"

"""The pixel diff on synthetic pages: threshold, counts, bounding box, overlay colours, crops, PNGs.

In: small greyscale images drawn here (0 = ink, 255 = paper). Out: assertions on `renderer.goldendiff.pixels`.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from renderer.goldendiff import pixels

W, H = 100, 80
OLD_ONLY = (10, 10, 20, 20)     # x0, y0, x1, y1 (exclusive): ink only in the old page → removed
NEW_ONLY = (50, 30, 60, 40)     # ink only in the new page → added
BOTH = (70, 60, 80, 70)         # ink in both → unchanged


def _page(*boxes: tuple[int, int, int, int], size: tuple[int, int] = (W, H)) -> Image.Image:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=0)
    return image


def _pair() -> tuple[Image.Image, Image.Image]:
    return _page(OLD_ONLY, BOTH), _page(NEW_ONLY, BOTH)


def test_counts_and_bounding_box() -> None:
    old, new = _pair()
    diff = pixels.pixel_diff(old, new)
    assert diff.changed == 100 + 100          # two 10×10 squares
    assert diff.bbox == (10, 10, 60, 40)      # both squares, not the unchanged one
    assert diff.size == (W, H)


def test_identical_pages() -> None:
    old, _ = _pair()
    diff = pixels.pixel_diff(old, old.copy())
    assert diff.changed == 0 and diff.bbox is None


def test_threshold_is_strictly_more_than_32() -> None:
    base = Image.new("L", (4, 1), 200)
    other = base.copy()
    other.putpixel((0, 0), 200 - 32)   # |a−b| = 32: not changed
    other.putpixel((1, 0), 200 - 33)   # 33: changed
    other.putpixel((2, 0), 200 + 40)   # either direction
    diff = pixels.pixel_diff(base, other)
    assert diff.changed == 2
    assert diff.bbox == (1, 0, 3, 1)
    assert pixels.pixel_diff(base, other, threshold=50).changed == 0


def test_overlay_colours() -> None:
    old, new = _pair()
    over = pixels.overlay(old, new)
    assert over.mode == "RGB"
    assert over.getpixel((15, 15)) == pixels.REMOVED_RGB == (255, 0, 0)     # ink only in old: red
    assert over.getpixel((55, 35)) == pixels.ADDED_RGB == (0, 255, 255)     # ink only in new: cyan
    assert over.getpixel((75, 65)) == (0, 0, 0)                             # ink in both: black
    assert over.getpixel((5, 5)) == (255, 255, 255)                         # paper: white
    posterized = pixels.overlay(old, new, levels=16)                        # the report's smaller variant
    assert posterized.getpixel((15, 15)) == (255, 0, 0) and posterized.getpixel((55, 35)) == (0, 255, 255)
    assert posterized.getcolors(256) is not None


def test_difference_picture_marks_only_changed_pixels() -> None:
    old, new = _pair()
    picture = pixels.difference(old, new)
    assert picture.getpixel((15, 15)) == pixels.CHANGED_RGB
    assert picture.getpixel((55, 35)) == pixels.CHANGED_RGB
    unchanged = picture.getpixel((75, 65))
    assert unchanged != pixels.CHANGED_RGB and isinstance(unchanged, tuple) and unchanged[0] == unchanged[1]
    assert picture.getpixel((5, 5)) == (255, 255, 255)


def test_added_and_removed_pages_compare_with_blank_paper() -> None:
    page = _page(OLD_ONLY)
    added = pixels.pixel_diff(None, page)
    removed = pixels.pixel_diff(page, None)
    assert added.changed == removed.changed == 100
    assert added.bbox == removed.bbox == OLD_ONLY
    assert pixels.overlay(None, page).getpixel((15, 15)) == pixels.ADDED_RGB
    assert pixels.overlay(page, None).getpixel((15, 15)) == pixels.REMOVED_RGB
    with pytest.raises(ValueError):
        pixels.pixel_diff(None, None)


def test_pages_of_different_size_are_padded_with_paper() -> None:
    small = _page(BOTH, size=(W, H))
    large = _page(BOTH, (90, 90, 100, 100), size=(W + 20, H + 30))
    diff = pixels.pixel_diff(small, large)
    assert diff.size == (W + 20, H + 30)
    assert diff.changed == 100 and diff.bbox == (90, 90, 100, 100)


def test_crop_box_grows_and_stays_inside_the_page() -> None:
    size = (800, 1000)
    assert pixels.crop_box((400, 500, 410, 510), size, margin=10, min_size=(0, 0)) == (390, 490, 420, 520)
    x0, y0, x1, y1 = pixels.crop_box((400, 500, 410, 510), size, margin=10, min_size=(200, 100))
    assert (x1 - x0, y1 - y0) == (200, 100) and x0 <= 400 and x1 >= 410 and y0 <= 500 and y1 >= 510
    # near a corner: shifted inside, size kept
    assert pixels.crop_box((0, 0, 5, 5), size, margin=20, min_size=(200, 100)) == (0, 0, 200, 100)
    assert pixels.crop_box((795, 995, 800, 1000), size, margin=20, min_size=(200, 100)) == (600, 900, 800, 1000)
    # larger than the page: the whole page
    assert pixels.crop_box((0, 0, 800, 1000), size, margin=20, min_size=(2000, 2000)) == (0, 0, 800, 1000)


def test_png_is_lossless() -> None:
    old, new = _pair()
    for image in (old, pixels.overlay(old, new), pixels.difference(old, new)):
        back = Image.open(io.BytesIO(pixels.png(image))).convert(image.mode)
        assert back.tobytes() == image.tobytes()

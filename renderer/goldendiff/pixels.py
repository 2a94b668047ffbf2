"""Pixel comparison of two rasterized pages: changed-pixel mask, counts, bounding box and review images.

In: two greyscale (mode ``L``, 0 = black ink, 255 = white paper) Pillow images of the same page, either of
which may be missing (a page added or removed). Out: a `PixelDiff` (changed-pixel count and bounding box
under the threshold rule |a−b| > 32), and the pictures a reviewer looks at: the **overlay** (ink only in the
old page shows red, ink only in the new page cyan, ink in both stays black), the **difference** picture
(changed pixels in magenta over a faint copy of both pages), a crop rectangle around the change, and PNG
bytes. Pure Pillow, no PDFium: safe to call anywhere.

Overlay channels: red carries the *new* page and green+blue the *old* page. Where only the old page has
ink, green and blue are dark and red stays bright, so removed ink reads red; where only the new page has
ink, red is dark, so added ink reads cyan; ink in both pages is dark in all three channels (black).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops

THRESHOLD = 32           # a pixel is changed when its grey levels differ by more than this (0–255)
WHITE = 255

Box = tuple[int, int, int, int]   # x0, y0, x1, y1 in pixels, top-left origin, x1/y1 exclusive (Pillow's convention)

REMOVED_RGB = (255, 0, 0)      # overlay colour of ink only in the old page
ADDED_RGB = (0, 255, 255)      # overlay colour of ink only in the new page
CHANGED_RGB = (214, 0, 214)    # difference picture: changed pixels


@dataclass(frozen=True)
class PixelDiff:
    """How two pages differ: the number of changed pixels and the box around all of them (None: none)."""

    changed: int
    bbox: Box | None
    size: tuple[int, int]       # width, height of the compared canvas in pixels


def blank(size: tuple[int, int]) -> Image.Image:
    return Image.new("L", size, WHITE)


def canvas_size(old: Image.Image | None, new: Image.Image | None) -> tuple[int, int]:
    sizes = [im.size for im in (old, new) if im is not None]
    if not sizes:
        raise ValueError("at least one of the two pages is needed")
    return max(w for w, _ in sizes), max(h for _, h in sizes)


def pad(image: Image.Image | None, size: tuple[int, int]) -> Image.Image:
    """`image` on white paper of `size` (top-left aligned); a missing page is blank paper."""
    if image is None:
        return blank(size)
    if image.mode != "L":
        image = image.convert("L")
    if image.size == size:
        return image
    out = blank(size)
    out.paste(image, (0, 0))
    return out


def _threshold_lut(threshold: int) -> list[int]:
    return [0 if v <= threshold else 255 for v in range(256)]


def changed_mask(old: Image.Image, new: Image.Image, threshold: int = THRESHOLD) -> Image.Image:
    """Mode ``L`` mask: 255 where |old − new| > threshold, else 0. Both images must have the same size."""
    if old.size != new.size:
        raise ValueError(f"sizes differ: {old.size} vs {new.size}; pad() them first")
    return ImageChops.difference(old, new).point(_threshold_lut(threshold))


def pixel_diff(old: Image.Image | None, new: Image.Image | None, threshold: int = THRESHOLD) -> PixelDiff:
    """Count the changed pixels and box them; a missing page is compared as blank paper."""
    size = canvas_size(old, new)
    mask = changed_mask(pad(old, size), pad(new, size), threshold)
    bbox = mask.getbbox()
    return PixelDiff(changed=mask.histogram()[255], bbox=bbox, size=size)


def posterize(image: Image.Image, levels: int = 16) -> Image.Image:
    """Fewer grey levels (smaller PNGs); 0 and 255 stay exact, so ink and paper keep their colours."""
    step = 255 / (levels - 1)
    return image.point([round(round(v / step) * step) for v in range(256)])


def overlay(old: Image.Image | None, new: Image.Image | None, levels: int | None = None) -> Image.Image:
    """RGB overlay: removed ink red, added ink cyan, unchanged ink black, paper white (see module doc).

    With `levels`, each page is first posterized to that many grey levels, which keeps the overlay within
    a 256-colour palette (levels ≤ 16) for a small PNG.
    """
    size = canvas_size(old, new)
    o, n = pad(old, size), pad(new, size)
    if levels is not None:
        o, n = posterize(o, levels), posterize(n, levels)
    return Image.merge("RGB", (n, o, o))


def difference(old: Image.Image | None, new: Image.Image | None, threshold: int = THRESHOLD) -> Image.Image:
    """RGB picture of the changed pixels (magenta) over a faint copy of both pages for orientation."""
    size = canvas_size(old, new)
    o, n = pad(old, size), pad(new, size)
    faint = ImageChops.darker(o, n).point(lambda v: 255 - (255 - v) // 6)
    mask = changed_mask(o, n, threshold)
    out = Image.merge("RGB", (faint, faint, faint))
    out.paste(CHANGED_RGB, (0, 0, size[0], size[1]), mask)
    return out


def crop_box(bbox: Box, size: tuple[int, int], margin: int, min_size: tuple[int, int]) -> Box:
    """The region to show: `bbox` grown by `margin`, then to at least `min_size` around its centre, in page."""
    width, height = size
    x0, y0, x1, y1 = bbox[0] - margin, bbox[1] - margin, bbox[2] + margin, bbox[3] + margin
    min_w, min_h = min(min_size[0], width), min(min_size[1], height)
    if x1 - x0 < min_w:
        grow = min_w - (x1 - x0)
        x0 -= grow // 2
        x1 += grow - grow // 2
    if y1 - y0 < min_h:
        grow = min_h - (y1 - y0)
        y0 -= grow // 2
        y1 += grow - grow // 2
    # shift back inside the page, keeping the size where the page allows it
    if x0 < 0:
        x1, x0 = x1 - x0, 0
    if y0 < 0:
        y1, y0 = y1 - y0, 0
    if x1 > width:
        x0, x1 = max(0, x0 - (x1 - width)), width
    if y1 > height:
        y0, y1 = max(0, y0 - (y1 - height)), height
    return x0, y0, x1, y1


def png(image: Image.Image) -> bytes:
    """Lossless PNG bytes (optimized); an RGB picture of at most 256 colours is stored with a palette."""
    if image.mode == "RGB" and image.getcolors(256) is not None:
        paletted = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        if ImageChops.difference(paletted.convert("RGB"), image).getbbox() is None:
            image = paletted
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()

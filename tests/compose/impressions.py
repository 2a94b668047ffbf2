"""Fictitious 印影 images for the 印鑑登録証明書 tests, sample and golden cases.

In: a size in mm, a resolution, a format and whether to break it (colour, grayscale TIFF). Out: the image file's
bytes, deterministic for the same arguments: a round seal (outer ring) with 「見本」 cut vertically, never a real
person's impression. `envelope_impression(...)` gives the data object (base64 + mm) a layout reads.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONTS = Path(__file__).resolve().parents[2] / "fonts"


def make_impression(side_mm: float = 15.0, *, dpi: int = 600, fmt: str = "PNG", colour: bool = False,
                    bilevel: bool = False, height_mm: float | None = None, text: str = "見本") -> bytes:
    w = round(side_mm / 25.4 * dpi)
    h = round((height_mm or side_mm) / 25.4 * dpi)
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    ink = (200, 30, 30) if colour else (0, 0, 0)
    ring = max(2, w // 24)
    draw.ellipse((ring, ring, w - 1 - ring, h - 1 - ring), outline=ink, width=ring)
    font = ImageFont.truetype(str(FONTS / "ipaexm.ttf"), size=max(8, int(min(w, h) * 0.34)))
    step = (h - 4 * ring) / max(1, len(text))
    for i, ch in enumerate(text):
        cx, cy = w / 2, 2 * ring + step * (i + 0.5)
        draw.text((cx, cy), ch, fill=ink, font=font, anchor="mm")
    out: Image.Image = img if colour else img.convert("L")
    if bilevel:
        out = out.convert("1")
    buf = io.BytesIO()
    if fmt == "TIFF":
        out.save(buf, format="TIFF", compression="group4" if bilevel else "raw")
    else:
        out.save(buf, format=fmt)
    return buf.getvalue()


def envelope_impression(raw: bytes, width_mm: float, height_mm: float | None = None) -> dict[str, Any]:
    return {"image": base64.b64encode(raw).decode("ascii"), "width_mm": width_mm,
            "height_mm": height_mm if height_mm is not None else width_mm}

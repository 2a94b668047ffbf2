"""Sample seals for sample tenants: a square 公印 that visibly says 見本.

In: the office title (e.g. 千葉県佐倉市長) and the fonts directory. Out: PNG bytes (black on white,
600×600 px). Used by `chohyo tenants sample-seal` to make the seals of `layouts/tenants/`, so a demo
certificate can never pass for a real one.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE_PX = 600


def make_sample_seal(office_title: str, fonts_dir: Path) -> bytes:
    img = Image.new("L", (SIZE_PX, SIZE_PX), 255)
    draw = ImageDraw.Draw(img)
    draw.rectangle((12, 12, SIZE_PX - 13, SIZE_PX - 13), outline=0, width=22)
    draw.rectangle((52, 52, SIZE_PX - 53, SIZE_PX - 53), outline=0, width=6)
    # The office name + 之印 in vertical columns of up to 4 characters, right to left, as seals are cut.
    text = f"{office_title}之印"
    columns = [text[i:i + 4] for i in range(0, len(text), 4)]
    font_path = str(fonts_dir / "ipaexm.ttf")
    inner = SIZE_PX - 2 * 70
    col_w = inner / max(len(columns), 1)
    size = int(min(col_w * 0.9, inner / 4 * 0.9))
    font = ImageFont.truetype(font_path, size)
    for ci, col in enumerate(columns):
        x = SIZE_PX - 70 - col_w * (ci + 0.5)
        for ri, ch in enumerate(col):
            y = 70 + inner / 4 * (ri + 0.5)
            draw.text((x, y), ch, font=font, fill=96, anchor="mm")
    # 見本 across the seal in heavy black type with a white outline, so it reads at any size.
    big = ImageFont.truetype(str(fonts_dir / "ipaexg.ttf"), 190)
    draw.text((SIZE_PX / 2, SIZE_PX / 2), "見本", font=big, fill=0, anchor="mm", stroke_width=12,
              stroke_fill=255)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()

"""A registered image that prints at its true size: the 印影 of a 印鑑登録証明書 (and any image of a set size).

In: a JSON object ``{"image": <base64 PNG or bilevel TIFF>, "width_mm": 15, "height_mm": 15}`` — the image as
registered and its size on paper. Out: `RegisteredImage`, whose ``png`` is the image normalised like the 公印
(`renderer.tenants.check_seal_image`): black ink with an alpha channel, so it never prints in colour and white
never hides anything under it. The layout's `true_size_image` element prints it at ``width_mm`` × ``height_mm``
and refuses a size above its declared box (`renderer.compose.true_size`).

Checked here, each failure an input error naming the field and the reason (never the image): base64, at most
`MAX_IMPRESSION_BYTES` bytes, PNG or TIFF (a TIFF must be bilevel, 1 bit per pixel, as scanners of 印鑑登録原票
write them), at most `MAX_IMPRESSION_PIXELS` pixels, no colour (ink with saturation above 48/255 on more than
0.1 % of the pixels), proportions matching ``width_mm``/``height_mm`` (it would print distorted) and at least
`MIN_IMPRESSION_DPI` at its true size (it would print blurred).
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from typing import Annotated

from PIL import Image, ImageChops, UnidentifiedImageError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_IMPRESSION_BYTES = 2_000_000        # as the 公印 (renderer.tenants.MAX_SEAL_BYTES)
MAX_IMPRESSION_PIXELS = 4_000_000       # as the 公印 (renderer.tenants.MAX_SEAL_PIXELS)
MIN_IMPRESSION_SIDE_PX = 64
MIN_IMPRESSION_DPI = 200.0
#: how far the image's proportions may differ from the declared size's (relative)
ASPECT_TOLERANCE = 0.03
_B64_MAX = (MAX_IMPRESSION_BYTES * 4) // 3 + 4


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 (the image file's bytes, base64-encoded)") from None


def _open(raw: bytes) -> Image.Image:
    """Open (without decoding the pixels) a PNG or a bilevel TIFF within the byte and pixel limits."""
    if len(raw) > MAX_IMPRESSION_BYTES:
        raise ValueError(f"{len(raw)} bytes, over the {MAX_IMPRESSION_BYTES} byte limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValueError(f"over the {MAX_IMPRESSION_PIXELS} pixel limit") from None
    except (UnidentifiedImageError, OSError):
        raise ValueError("is not an image PNG or TIFF can read") from None
    w, h = image.size
    if image.format not in ("PNG", "TIFF"):
        raise ValueError(f"must be PNG or a bilevel TIFF, is {image.format}")
    if image.format == "TIFF" and image.mode != "1":
        raise ValueError(f"a TIFF impression must be bilevel (1 bit per pixel), is mode {image.mode}")
    if w * h > MAX_IMPRESSION_PIXELS:
        raise ValueError(f"{w}×{h} pixels, over the {MAX_IMPRESSION_PIXELS} pixel limit")
    if min(w, h) < MIN_IMPRESSION_SIDE_PX:
        raise ValueError(f"{w}×{h} pixels is too small to print (at least {MIN_IMPRESSION_SIDE_PX} on each side)")
    return image


def normalise(raw: bytes) -> bytes:
    """The checked image as PNG bytes: black ink, alpha = darkness (white transparent). Raises ValueError."""
    image = _open(raw)
    try:
        rgba = image.convert("RGBA")
    except OSError:
        raise ValueError("cannot be decoded (damaged image data)") from None
    w, h = rgba.size
    r, g, b, a = rgba.split()
    saturation = Image.merge("RGB", (r, g, b)).convert("HSV").split()[1]
    value = rgba.convert("L")
    inked = ImageChops.multiply(a.point(lambda v: 255 if v > 32 else 0), value.point(lambda v: 255 if v < 224 else 0))
    coloured = ImageChops.multiply(inked, saturation.point(lambda v: 255 if v > 48 else 0)).histogram()[255]
    if coloured > (w * h) // 1000:
        raise ValueError(f"{coloured} coloured pixels: an impression is stored in black on white (grayscale or "
                         f"bilevel)")
    alpha = Image.composite(Image.eval(value, lambda v: 255 - v), Image.new("L", value.size, 0), a)
    out = Image.merge("LA", (Image.new("L", value.size, 0), alpha))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _checked_image(text: str) -> str:
    """The base64 text of the normalised PNG (so everything after validation reads one format). The length is
    checked here, not as the schema's ``maxLength``: JSON Schema tools (Swagger UI's example generator) build
    strings of that length."""
    if len(text) > _B64_MAX:
        raise ValueError(f"over the {MAX_IMPRESSION_BYTES} byte limit")
    return base64.b64encode(normalise(_decode(text))).decode("ascii")


class RegisteredImage(BaseModel):
    """An image as registered, with its size on paper in millimetres."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: Annotated[str, Field(min_length=4, description="the image file (PNG, or a bilevel TIFF), base64-encoded, "
                                                          f"at most {MAX_IMPRESSION_BYTES} bytes"),
                     AfterValidator(_checked_image)]
    width_mm: float = Field(ge=1, le=100, allow_inf_nan=False, description="printed width, mm (as registered)")
    height_mm: float = Field(ge=1, le=100, allow_inf_nan=False, description="printed height, mm (as registered)")

    @model_validator(mode="after")
    def _fits_its_size(self) -> RegisteredImage:
        with Image.open(io.BytesIO(self.png)) as probe:
            w, h = probe.size
        declared, actual = self.width_mm / self.height_mm, w / h
        if abs(actual - declared) > ASPECT_TOLERANCE * declared:
            raise ValueError(f"image: {w}×{h} pixels disagrees with width_mm × height_mm "
                             f"({self.width_mm:g} × {self.height_mm:g} mm): it would print distorted")
        dpi = min(w / (self.width_mm / 25.4), h / (self.height_mm / 25.4))
        if dpi < MIN_IMPRESSION_DPI:
            raise ValueError(f"image: {dpi:.0f} dpi at its true size, under {MIN_IMPRESSION_DPI:g}: it would print "
                             f"blurred")
        return self

    @property
    def png(self) -> bytes:
        """The normalised PNG (black ink, alpha = darkness)."""
        return base64.b64decode(self.image)


__all__ = ["MAX_IMPRESSION_BYTES", "MAX_IMPRESSION_PIXELS", "MIN_IMPRESSION_DPI", "RegisteredImage", "normalise"]

"""Fonts from `fonts/manifest.toml`: coverage, metrics and per-character fallback. Never system fonts.

In: the fonts directory and a style's font chain (family names). Out: `runs()` splits text into runs
drawn by the first font in the chain that has each character, and `width()` measures them with the
font's own advance widths (the same numbers ReportLab embeds). A character no font in the chain covers
raises `GlyphError` naming the code point and the field: a missing glyph is an error, never a tofu box.

This module reads fonts with fontTools only; registering them with ReportLab happens in `renderer.draw`.
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont

from renderer.errors import GlyphError, LayoutError

# Characters that never need a glyph: they are layout, not ink.
_ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})
VARIATION_SELECTORS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0xE0100, 0xE01F0))


@dataclass(frozen=True)
class FontFile:
    family: str
    label: str
    path: Path
    sha256: str
    role: str
    version: str

    def verify(self) -> str | None:
        """Return None when the file matches its manifest hash, else a reason."""
        if not self.path.is_file():
            return "file is missing"
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return None if digest == self.sha256 else f"sha256 is {digest}, manifest says {self.sha256}"


class FontMetrics:
    """fontTools view of one font: cmap, advance widths and vertical metrics (file closed after reading)."""

    def __init__(self, file: FontFile) -> None:
        self.file = file
        with TTFont(str(file.path), lazy=True) as tt:
            self.cmap: dict[int, str] = dict(tt.getBestCmap())
            self.units_per_em = int(tt["head"].unitsPerEm)
            self._advances: dict[str, int] = {name: adv for name, (adv, _lsb) in tt["hmtx"].metrics.items()}
            #: ascent and descent as fractions of the em (used to place the baseline in a box)
            self.ascent = float(tt["hhea"].ascent) / self.units_per_em
            self.descent = float(-tt["hhea"].descent) / self.units_per_em

    def has(self, codepoint: int) -> bool:
        return codepoint in self.cmap

    def advance_em(self, ch: str) -> float:
        glyph = self.cmap.get(ord(ch))
        if glyph is None:
            raise KeyError(ch)
        return self._advances[glyph] / self.units_per_em


@dataclass(frozen=True)
class Run:
    family: str
    text: str


class FontSet:
    """The vendored fonts, by family name."""

    def __init__(self, fonts_dir: Path) -> None:
        self.fonts_dir = fonts_dir
        manifest = fonts_dir / "manifest.toml"
        try:
            raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LayoutError(f"{manifest}: cannot read the font manifest ({exc.__class__.__name__})") from None
        self.files: dict[str, FontFile] = {}
        for entry in raw.get("font", []):
            ff = FontFile(family=entry["family"], label=entry.get("label", entry["family"]),
                          path=fonts_dir / entry["file"], sha256=entry["sha256"], role=entry["role"],
                          version=entry.get("version", ""))
            self.files[ff.family] = ff
        self._metrics: dict[str, FontMetrics] = {}

    def families(self) -> list[str]:
        return list(self.files)

    def metrics(self, family: str) -> FontMetrics:
        m = self._metrics.get(family)
        if m is None:
            if family not in self.files:
                raise LayoutError(f"unknown font family {family!r}; known: {', '.join(self.files)}")
            m = self._metrics[family] = FontMetrics(self.files[family])
        return m

    def runs(self, text: str, chain: list[str], *, field: str) -> list[Run]:
        """Split `text` into runs by coverage; raise GlyphError for a character no font covers."""
        out: list[Run] = []
        chain_metrics = [self.metrics(f) for f in chain]
        for index, ch in enumerate(text):
            cp = ord(ch)
            if cp in _ZERO_WIDTH:
                continue
            if cp in VARIATION_SELECTORS:
                base = ord(text[index - 1]) if index else 0
                raise GlyphError(
                    f"{field}: the variation sequence U+{base:04X} U+{cp:04X} (IVS) cannot be drawn yet",
                    field=field,
                    rule="glyph-coverage",
                )
            if cp < 0x20 or unicodedata.category(ch) in ("Cc", "Cs"):
                raise GlyphError(f"{field}: control character U+{cp:04X} cannot be printed",
                                 field=field, rule="glyph-coverage")
            family = next((m.file.family for m in chain_metrics if m.has(cp)), None)
            if family is None:
                raise GlyphError(
                    f"{field}: no font in the chain {' → '.join(chain)} has U+{cp:04X}",
                    field=field,
                    rule="glyph-coverage",
                )
            if out and out[-1].family == family:
                out[-1] = Run(family, out[-1].text + ch)
            else:
                out.append(Run(family, ch))
        return out

    def width(self, runs: list[Run], size_pt: float, *, letter_spacing_pt: float = 0.0,
              h_scale: float = 1.0) -> float:
        total = 0.0
        count = 0
        for run in runs:
            m = self.metrics(run.family)
            for ch in run.text:
                total += m.advance_em(ch) * size_pt
                count += 1
        return (total + letter_spacing_pt * count) * h_scale

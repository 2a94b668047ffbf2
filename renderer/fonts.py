"""Fonts from `fonts/manifest.toml`: coverage, IVS, vertical forms, metrics and per-character fallback.

In: the fonts directory and a style's font chain (family names). Out: `runs()` splits text into runs
drawn by the first font in the chain that has each character; `width()` measures them with the font's
own advance widths (the numbers ReportLab embeds), looked up in a per-font table of advances in em (drawing
code → float, size-independent, filled once per code: `FontMetrics.advance_em`/`advances_em`). Never
system fonts.

- A character no font in the chain covers raises `GlyphError` naming the code point and the field (a
  missing glyph is an error, never a tofu box) unless the field declares a substitute, which is reported.
- An ideographic variation sequence (base + U+E0100–E01EF or U+FE00–FE0F) is drawn with the variant glyph
  a font registers for it (cmap format 14); a font of the chain that registers the exact sequence wins.
  A sequence no font registers is drawn with the base glyph and reported.
- Vertical text uses the fonts' `vert` substitutions (「 → ﹁, 、 → ︑, ー → |).

Variant and vertical glyphs have no Unicode code point of their own, so each font gets a deterministic
table of plane-15 private-use codes (`FontMetrics.pua`), in sorted order of their source sequences.
`renderer.draw` gives ReportLab those codes and writes ToUnicode entries that map them back to the
source sequence, so copying text out of the PDF returns what the data said. This module reads fonts with
fontTools only.
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fontTools.ttLib import TTFont

from renderer.errors import GlyphError, LayoutError
from renderer.fontcache import FontCache

_ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})
VARIATION_SELECTORS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0xE0100, 0xE01F0))
PUA_BASE = 0xF0000          # Supplementary Private Use Area-A: our drawing codes for unencoded glyphs
PUA_LIMIT = 0xFFFFD

CharEventKind = Literal["fallback_font", "ivs", "ivs_fallback", "substitute", "uncovered"]


@dataclass(frozen=True)
class CharEvent:
    """Something worth reporting about one character: which field, what happened, which font."""

    kind: CharEventKind
    sequence: str            # "U+8FBB U+E0102"
    field: str
    family: str | None

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "sequence": self.sequence, "field": self.field, "font": self.family}


CharSink = Callable[[CharEvent], None]


def code_points(text: str) -> str:
    return " ".join(f"U+{ord(c):04X}" for c in text)


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
    """fontTools view of one font: cmap, IVS table, vertical forms, advances (file closed after reading).

    What fontTools reads is kept per machine by `renderer.fontcache` (a process reads a few MB of plain
    tables instead of parsing the font); `METRICS_VERSION` names what `_read_metrics` returns.
    """

    def __init__(self, file: FontFile, cache: FontCache | None = None) -> None:
        self.file = file
        data = (cache or FontCache(None)).load("metrics", file.path, file.sha256, METRICS_VERSION,
                                               lambda: _read_metrics(file.path))
        self.cmap: dict[int, str] = data["cmap"]
        self.units_per_em = int(data["units_per_em"])
        self._advances: dict[str, int] = data["advances"]
        #: ascent and descent as fractions of the em (used to place the baseline in a box)
        self.ascent = float(data["ascent"]) / self.units_per_em
        self.descent = float(data["descent"]) / self.units_per_em
        #: (base, selector) → glyph name, or None for "the default glyph of base"
        self.uvs: dict[tuple[int, int], str | None] = data["uvs"]
        self.vert: dict[str, str] = data["vert"]
        self._glyph_ids: dict[str, int] = data["glyph_ids"]
        self.pua, self.pua_source = self._pua_table()
        #: the advance table: drawing code → advance in em (size-independent), filled on first use of a code
        self._em: dict[str, float] = {}

    def _pua_table(self) -> tuple[dict[str, int], dict[int, str]]:
        """Key → drawing code, and drawing code → the source text it stands for (for ToUnicode).

        Keys are the source sequence for IVS (base + selector: every registered sequence gets its own
        code, so extraction returns the exact sequence even when it names the default glyph) and
        ``"\0v" + char`` for vertical forms. Codes follow the sorted keys: the same font always gives the
        same table, whatever was rendered before in the process.
        """
        entries: dict[str, tuple[str, str]] = {}
        for (base, selector), glyph in self.uvs.items():
            target = glyph if glyph is not None else self.cmap.get(base)
            if target is not None:
                entries[chr(base) + chr(selector)] = (chr(base) + chr(selector), target)
        for cp, glyph in self.cmap.items():
            if glyph in self.vert:
                entries["\0v" + chr(cp)] = (chr(cp), self.vert[glyph])
        if len(entries) > PUA_LIMIT - PUA_BASE:
            raise LayoutError(f"{self.file.family}: too many unencoded glyphs for the private-use table")
        codes: dict[str, int] = {}
        self._pua_glyphs: dict[int, str] = {}
        sources: dict[int, str] = {}
        for i, key in enumerate(sorted(entries)):
            source, glyph = entries[key]
            codes[key] = PUA_BASE + i
            self._pua_glyphs[PUA_BASE + i] = glyph
            sources[PUA_BASE + i] = source
        return codes, sources

    def glyph_id(self, name: str) -> int:
        return int(self._glyph_ids[name])

    def has(self, codepoint: int) -> bool:
        return codepoint in self.cmap

    def glyph_for_code(self, code: int) -> str | None:
        """The glyph a drawing code stands for: a cmap entry or one of our private-use codes."""
        glyph = self.cmap.get(code)
        if glyph is None and code >= PUA_BASE:
            glyph = self._pua_glyphs.get(code)
        return glyph

    def advance_em(self, ch: str) -> float:
        """Advance of the drawing code `ch` in em (KeyError when the font has no glyph for it)."""
        em = self._em.get(ch)
        if em is None:
            em = self._em[ch] = self._advance_of(ch)
        return em

    def advances_em(self, codes: str) -> list[float]:
        """`advance_em` of every drawing code of `codes`, in order (one table look-up each)."""
        table = self._em
        get = table.get
        out: list[float] = []
        for ch in codes:
            em = get(ch)
            if em is None:
                em = table[ch] = self._advance_of(ch)
            out.append(em)
        return out

    def _advance_of(self, ch: str) -> float:
        glyph = self.glyph_for_code(ord(ch))
        if glyph is None:
            raise KeyError(ch)
        return self._advances[glyph] / self.units_per_em

    def vertical_code(self, code: int) -> int:
        """The drawing code of the vertical form of `code`, or `code` itself when it has none."""
        return self.pua.get("\0v" + chr(code), code)


METRICS_VERSION = "1"


def _read_metrics(path: Path) -> dict[str, Any]:
    """What `FontMetrics` needs from a font file, as plain data (the cache stores exactly this)."""
    with TTFont(str(path), lazy=True) as tt:
        cmap: dict[int, str] = dict(tt.getBestCmap())
        uvs: dict[tuple[int, int], str | None] = {}
        for table in tt["cmap"].tables:
            if table.format == 14:
                for selector, pairs in table.uvsDict.items():
                    for base, glyph in pairs:
                        uvs[(base, selector)] = glyph
        vert = _vertical_substitutions(tt)
        targets = {g for g in uvs.values() if g is not None}
        targets.update(vert.values())
        targets.update(cmap[base] for (base, _sel), g in uvs.items() if g is None and base in cmap)
        return {
            "cmap": cmap,
            "units_per_em": int(tt["head"].unitsPerEm),
            "advances": {name: int(adv) for name, (adv, _lsb) in tt["hmtx"].metrics.items()},
            "ascent": int(tt["hhea"].ascent),
            "descent": -int(tt["hhea"].descent),
            "uvs": uvs,
            "vert": vert,
            "glyph_ids": {name: tt.getGlyphID(name) for name in sorted(targets)},
        }


def _vertical_substitutions(tt: TTFont) -> dict[str, str]:
    if "GSUB" not in tt:
        return {}
    gsub = tt["GSUB"].table
    if gsub.FeatureList is None or gsub.LookupList is None:
        return {}
    indices: set[int] = set()
    for record in gsub.FeatureList.FeatureRecord:
        if record.FeatureTag in ("vert", "vrt2"):
            indices.update(record.Feature.LookupListIndex)
    mapping: dict[str, str] = {}
    for index in sorted(indices):
        lookup = gsub.LookupList.Lookup[index]
        for sub in lookup.SubTable:
            table = sub.ExtSubTable if lookup.LookupType == 7 else sub
            if hasattr(table, "mapping"):
                for src, dst in sorted(table.mapping.items()):
                    mapping.setdefault(src, dst)
    return mapping


@dataclass(frozen=True)
class Run:
    """Consecutive source text drawn with one font; `draw` holds one drawing code per cluster."""

    family: str
    text: str
    draw: str = ""

    def __post_init__(self) -> None:
        if not self.draw:
            object.__setattr__(self, "draw", self.text)


@dataclass(frozen=True)
class Cluster:
    family: str
    text: str     # source: one character, or a base + variation selector
    code: str     # the drawing code (a character or one of the font's private-use codes)


class FontSet:
    """The vendored fonts, by family name."""

    def __init__(self, fonts_dir: Path, cache: FontCache | None = None) -> None:
        self.fonts_dir = fonts_dir
        #: where parsed font tables are kept between processes (`renderer.fontcache`); default: the environment's
        self.cache = cache if cache is not None else FontCache.from_env()
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
            m = self._metrics[family] = FontMetrics(self.files[family], self.cache)
        return m

    def clusters(self, text: str, chain: list[str], *, field: str, vertical: bool = False,
                 substitute: str | None = None, sink: CharSink | None = None,
                 collect: bool = False) -> list[Cluster]:
        """Resolve every character (or variation sequence) of `text` to a font and a drawing code.

        `collect=True` (character reports only, never for output) records an uncovered character as an
        `uncovered` event and goes on with a space in its place instead of raising.
        """
        chain_metrics = [self.metrics(f) for f in chain]
        out: list[Cluster] = []
        i = 0
        while i < len(text):
            ch = text[i]
            cp = ord(ch)
            selector = ord(text[i + 1]) if i + 1 < len(text) and ord(text[i + 1]) in VARIATION_SELECTORS else None
            i += 2 if selector is not None else 1
            if cp in _ZERO_WIDTH:
                continue
            if cp in VARIATION_SELECTORS:
                raise GlyphError(f"{field}: variation selector U+{cp:04X} follows no base character",
                                 field=field, rule="glyph-coverage")
            if ch != "\n" and (cp < 0x20 or unicodedata.category(ch) in ("Cc", "Cs")):
                raise GlyphError(f"{field}: control character U+{cp:04X} cannot be printed",
                                 field=field, rule="glyph-coverage")
            if ch == "\n":
                out.append(Cluster(chain[0], ch, ch))
                continue
            cluster = self._resolve(ch, selector, chain_metrics, field, sink)
            if cluster is None and collect and substitute is None:
                source = ch + (chr(selector) if selector is not None else "")
                if sink:
                    sink(CharEvent("uncovered", code_points(source), field, None))
                cluster = Cluster(chain[0], source, " ")
            if cluster is None:
                cluster = self._substitute(ch, selector, chain_metrics, field, substitute, sink)
            if vertical:
                code = chr(self.metrics(cluster.family).vertical_code(ord(cluster.code)))
                cluster = Cluster(cluster.family, cluster.text, code)
            out.append(cluster)
        return out

    def _resolve(self, ch: str, selector: int | None, chain: list[FontMetrics], field: str,
                 sink: CharSink | None) -> Cluster | None:
        cp = ord(ch)
        if selector is not None:
            source = ch + chr(selector)
            for m in chain:
                if (cp, selector) in m.uvs:
                    code = chr(m.pua.get(source, cp))
                    if sink:
                        sink(CharEvent("ivs", code_points(source), field, m.file.family))
                    return Cluster(m.file.family, source, code)
            for m in chain:
                if m.has(cp):
                    if sink:
                        sink(CharEvent("ivs_fallback", code_points(source), field, m.file.family))
                    return Cluster(m.file.family, source, ch)
            return None
        for index, m in enumerate(chain):
            if m.has(cp):
                if index and sink:
                    sink(CharEvent("fallback_font", code_points(ch), field, m.file.family))
                return Cluster(m.file.family, ch, ch)
        return None

    def _substitute(self, ch: str, selector: int | None, chain: list[FontMetrics], field: str,
                    substitute: str | None, sink: CharSink | None) -> Cluster:
        source = ch + (chr(selector) if selector is not None else "")
        if substitute is not None:
            for m in chain:
                if m.has(ord(substitute)):
                    if sink:
                        sink(CharEvent("substitute", code_points(source), field, m.file.family))
                    return Cluster(m.file.family, source, substitute)
        if sink:
            sink(CharEvent("uncovered", code_points(source), field, None))
        raise GlyphError(f"{field}: no font in the chain {' → '.join(m.file.family for m in chain)} "
                         f"has {code_points(source)}", field=field, rule="glyph-coverage")

    def runs(self, text: str, chain: list[str], *, field: str, vertical: bool = False,
             substitute: str | None = None, sink: CharSink | None = None) -> list[Run]:
        """Split `text` into runs by coverage (see `clusters`)."""
        return group_runs(self.clusters(text, chain, field=field, vertical=vertical, substitute=substitute,
                                        sink=sink))

    def width(self, runs: list[Run], size_pt: float, *, letter_spacing_pt: float = 0.0,
              h_scale: float = 1.0) -> float:
        total = 0.0
        count = 0
        for run in runs:
            for em in self.metrics(run.family).advances_em(run.draw):
                total += em * size_pt
                count += 1
        return (total + letter_spacing_pt * count) * h_scale


def group_runs(clusters: list[Cluster]) -> list[Run]:
    out: list[Run] = []
    for c in clusters:
        if out and out[-1].family == c.family:
            out[-1] = Run(c.family, out[-1].text + c.text, out[-1].draw + c.code)
        else:
            out.append(Run(c.family, c.text, c.code))
    return out

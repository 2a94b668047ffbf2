"""Register the vendored fonts with ReportLab, with our private-use drawing codes and honest ToUnicode.

In: the `FontSet` (fontTools view) and the families a document uses. Out: ReportLab `TTFont`s registered
once per process under their family names, each knowing the font's private-use codes for IVS variants
and vertical forms (`FontMetrics.pua`), and a ToUnicode writer that
- maps those codes back to their source sequence (base + variation selector, or the horizontal form), and
- writes characters outside the BMP (e.g. 𠮷 U+20BB7, plane-16 行政事務標準文字) as UTF-16 surrogate pairs
  (ReportLab's own writer emits them as invalid 5-digit codes),
so text extraction and copy/paste return what the data said.

ReportLab's parse of a font (its cmap, widths, glyph offsets: about 0.25 s for IPAmj明朝) is kept per machine
by `renderer.fontcache` (kind ``reportlab-face``, keyed by ReportLab's version): a process rebuilds the face
from those tables and maps the font file (`mmap`, read-only) for the glyph data the subsetter copies, so
batch workers and servers on one machine share one copy of the file in the page cache. The big tables are
stored packed and read in place (`renderer.fontcache.CodeTable`, `PairList`, arrays): ``charToGlyph``,
``hmetrics`` and ``glyphPos`` are those views; the widths are looked up in a packed table by
`_MappedFace.getCharWidth`; ``charWidths`` (ReportLab's C string-width function wants a dict) and
``glyphToChar`` (used by shaping only) are stored as marshalled dicts and unmarshalled on first use.
"""

from __future__ import annotations

import marshal
import mmap
import threading
import weakref
from collections.abc import Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import reportlab
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFNameBytes, TTFont, TTFontFace

from renderer.fontcache import (
    FontCache,
    pack_codes,
    pack_ints,
    pack_pairs,
    unpack_codes,
    unpack_ints,
    unpack_pairs,
)
from renderer.fonts import METRICS_VERSION, FontFile, FontMetrics, FontSet

_lock = threading.Lock()
#: PostScript name → the registered fonts' `FontMetrics.pua_source` (drawing code → source text), latest first
_SOURCES: dict[str, list[Mapping[int, str]]] = {}


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    cmap = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo",
        f"<< /Registry ({fontname})",
        f"/Ordering ({fontname})",
        "/Supplement 0",
        ">> def",
        f"/CMapName /{fontname} def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange",
        f"{len(subset)} beginbfchar",
    ]
    sources = _SOURCES.get(fontname.split("+", 1)[-1], [])

    def source(code: int) -> str:
        for table in sources:
            text = table.get(code)
            if text is not None:
                return text
        return chr(code)

    cmap += [f"<{i:02X}> <{_utf16_hex(source(code))}>" for i, code in enumerate(subset)]
    cmap += ["endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(cmap)


#: what `_face_state` returns (a change of this code, of ReportLab or of our private-use table makes new entries)
FACE_VERSION = f"5/reportlab-{reportlab.Version}/metrics-{METRICS_VERSION}"
_NOT_CACHED = frozenset({"_ttf_data", "_pdfScale", "filename"})   # the file itself, a function, where it is
_NAMES = ("name", "familyName", "styleName", "fullName", "uniqueFontID")   # TTFNameBytes (bytes + .ustr)


def _face_state(path: Path, metrics: FontMetrics) -> dict[str, Any]:
    """ReportLab's parsed face of the font file with our private-use drawing codes added, as plain data."""
    face = TTFontFace(str(path))
    # ReportLab keeps already-scaled advances for the glyphs past hhea.numberOfHMetrics (most of IPAmj明朝's
    # kanji) and writes them into every subset's hmtx, so the embedded program disagreed with /Widths
    # (PDF/A-2 6.2.11.5, found by renderer.pdfa_check): take every glyph's (advance, lsb) from the font itself
    from fontTools.ttLib import TTFont as TTFontTools  # only to build a machine-cache entry

    with TTFontTools(str(path), lazy=True) as tt:
        table = tt["hmtx"]
        face.hmetrics = [(advance, lsb & 0xFFFF)   # ReportLab reads and writes the bearing as unsigned
                         for advance, lsb in (table[name] for name in tt.getGlyphOrder())]
    for code in sorted(metrics.pua_source):
        gid = metrics.glyph_id(metrics.glyph_for_code(code) or ".notdef")
        face.charToGlyph[code] = gid
        face.glyphToChar.setdefault(gid, []).append(code)
        # from our own metrics: ReportLab's face.hmetrics holds already-scaled values for the
        # glyphs past numberOfHMetrics, which would halve these widths
        face.charWidths[code] = 1000.0 * metrics.advance_em(chr(code))
    return {key: (bytes(value) if key in _NAMES else value)
            for key, value in vars(face).items() if key not in _NOT_CACHED}


def _face_entry(path: Path, metrics: FontMetrics) -> dict[str, Any]:
    """`_face_state` as the cache stores it: the big tables packed (see the module docstring)."""
    state = _face_state(path, metrics)
    state["charToGlyph"] = pack_codes(state["charToGlyph"])
    state["widths"] = pack_codes(state["charWidths"])
    state["charWidths"] = marshal.dumps(state["charWidths"])
    state["hmetrics"] = pack_pairs(state["hmetrics"])
    state["glyphPos"] = pack_ints(state["glyphPos"])
    state["glyphToChar"] = marshal.dumps(state["glyphToChar"])
    return state


def _mapped(path: Path) -> mmap.mmap:
    with path.open("rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class _GlyphTable:
    """The ``glyf`` table read in place: the subsetter slices one glyph at a time, so each slice copies that
    glyph's bytes from the mapped file — never the whole table (40 MB for IPAmj明朝) once per document."""

    def __init__(self, data: mmap.mmap, pos: int, length: int) -> None:
        self.data, self.pos, self.length = data, pos, length

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self.length)
        return self.data[self.pos + start:self.pos + max(start, stop)]

    def __len__(self) -> int:
        return self.length


class _MappedFace(TTFontFace):  # type: ignore[misc]
    """A ReportLab face whose file is mapped, not read: its glyph table is sliced in place (`_GlyphTable`);
    its widths are read from a packed table, ``charWidths`` and ``glyphToChar`` made on first use."""

    def __getattr__(self, name: str) -> Any:   # only for attributes not set yet
        lazy = self.__dict__.get("_lazy")
        if lazy is None or name not in lazy:
            raise AttributeError(name)
        value = lazy.pop(name)()
        setattr(self, name, value)
        return value

    def getCharWidth(self, code: int) -> Any:
        widths = self.__dict__.get("charWidths")
        return (self._widths if widths is None else widths).get(code, self.defaultWidth)

    def get_table(self, tag: str) -> Any:
        if tag == "glyf":
            pos, length = self.get_table_pos(tag)
            return _GlyphTable(self._ttf_data, pos, length)
        return super().get_table(tag)


def load_font(family: str, file: FontFile, metrics: FontMetrics, cache: FontCache) -> TTFont:
    """A ReportLab `TTFont` for `file` knowing our private-use codes, its face rebuilt from the cached tables
    (parsed once per machine)."""
    state = cache.load("reportlab-face", file.path, file.sha256, FACE_VERSION,
                       lambda: _face_entry(file.path, metrics))
    face = _MappedFace.__new__(_MappedFace)
    pdfmetrics.TypeFace.__init__(face, None)
    face.__dict__.update(state)
    del face.charWidths, face.glyphToChar, face.widths
    widths: bytes = state["charWidths"]
    glyph_to_char: bytes = state["glyphToChar"]
    face._widths = unpack_codes(state["widths"])
    face._lazy = {"charWidths": lambda: marshal.loads(widths), "glyphToChar": lambda: marshal.loads(glyph_to_char)}
    face.charToGlyph = unpack_codes(state["charToGlyph"])
    face.hmetrics = unpack_pairs(state["hmetrics"])
    face.glyphPos = unpack_ints(state["glyphPos"])
    for key in _NAMES:
        setattr(face, key, TTFNameBytes(state[key]))
    face.filename = str(file.path)
    face._ttf_data = _mapped(file.path)
    units = int(state["unitsPerEm"])
    face._pdfScale = (lambda x: x) if units == 1000 else (lambda x, m=1000 / units: x * m)
    font = TTFont.__new__(TTFont)
    font.fontName = family
    font.face = face
    font.encoding = ttfonts.TTEncoding()
    font.state = weakref.WeakKeyDictionary()
    font._asciiReadable = rl_config.ttfAsciiReadable
    font.shapable = not any(fnmatch(family, glob) for glob in rl_config.unShapedFontGlob)   # as TTFont.__init__
    return font


def register_fonts(fonts: FontSet, families: set[str]) -> None:
    """Register each family once per process, with its private-use codes."""
    with _lock:
        ttfonts.makeToUnicodeCMap = _to_unicode_cmap
        registered = set(pdfmetrics.getRegisteredFontNames())
        for family in sorted(families):
            if family in registered:
                continue
            metrics = fonts.metrics(family)
            font = load_font(family, fonts.files[family], metrics, fonts.cache)
            face = font.face
            _SOURCES.setdefault(face.name.decode("latin-1") + face.subfontNameX.decode("latin-1"), []).insert(
                0, metrics.pua_source)
            pdfmetrics.registerFont(font)

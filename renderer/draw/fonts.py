"""Register the vendored fonts with ReportLab, with our private-use drawing codes and honest ToUnicode.

In: the `FontSet` (fontTools view) and the families a document uses. Out: ReportLab `TTFont`s registered
once per process under their family names, each knowing the font's private-use codes for IVS variants
and vertical forms (`FontMetrics.pua`), and a ToUnicode writer that
- maps those codes back to their source sequence (base + variation selector, or the horizontal form), and
- writes characters outside the BMP (e.g. 𠮷 U+20BB7, plane-16 行政事務標準文字) as UTF-16 surrogate pairs
  (ReportLab's own writer emits them as invalid 5-digit codes),
so text extraction and copy/paste return what the data said.
"""

from __future__ import annotations

import threading

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

from renderer.fonts import FontSet

_lock = threading.Lock()
_SOURCES: dict[str, dict[int, str]] = {}    # PostScript name → drawing code → source text


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
    sources = _SOURCES.get(fontname.split("+", 1)[-1], {})
    cmap += [f"<{i:02X}> <{_utf16_hex(sources.get(code, chr(code)))}>" for i, code in enumerate(subset)]
    cmap += ["endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(cmap)


def register_fonts(fonts: FontSet, families: set[str]) -> None:
    """Register each family once per process, with its private-use codes."""
    with _lock:
        ttfonts.makeToUnicodeCMap = _to_unicode_cmap
        registered = set(pdfmetrics.getRegisteredFontNames())
        for family in sorted(families):
            if family in registered:
                continue
            font = TTFont(family, str(fonts.files[family].path))
            metrics = fonts.metrics(family)
            face = font.face
            sources = _SOURCES.setdefault(face.name.decode("latin-1") + face.subfontNameX.decode("latin-1"), {})
            for code, source in sorted(metrics.pua_source.items()):
                gid = metrics.glyph_id(metrics.glyph_for_code(code) or ".notdef")
                face.charToGlyph[code] = gid
                face.glyphToChar.setdefault(gid, []).append(code)
                # from our own metrics: ReportLab's face.hmetrics holds already-scaled values for the
                # glyphs past numberOfHMetrics, which would halve these widths
                face.charWidths[code] = 1000.0 * metrics.advance_em(chr(code))
                sources[code] = source
            pdfmetrics.registerFont(font)

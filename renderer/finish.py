"""Finish: the last gate before PDF bytes leave the renderer.

In: the bytes `renderer.draw` wrote (title, author, subject, producer, ``/Lang (ja-JP)`` and the fixed
creation date are set on the canvas there) and whether they were drawn as PDF/A-2 (`renderer.draw.pdfa`).
Out: the same bytes, once these invariants hold; otherwise an internal error (exit 1) and nothing is
delivered:
- the file is a complete PDF (header and ``%%EOF``);
- the catalog carries ``/Lang (ja-JP)``;
- no standard-14 font (Helvetica & co.) is referenced: every font is one of ours, embedded;
- never encrypted (``/Encrypt``);
- PDF/A-2 only: the header says PDF 1.7; the catalog has the unfiltered XMP metadata stream claiming
  ``pdfaid:part`` 2 and the sRGB ``GTS_PDFA1`` OutputIntent; every ``endstream`` follows an end-of-line;
  no ``/Trapped`` without an XMP twin. These are byte-level checks of what the writer promises (cheap enough
  for every render); the clause-by-clause self-check (`renderer.pdfa_check`) runs in the tests over every
  golden case and in ``chohyo verify``.
"""

from __future__ import annotations

import re

from renderer.errors import ChohyoError

_STANDARD_FONT = re.compile(rb"/BaseFont\s*/(Helvetica|Times|Courier|Symbol|ZapfDingbats)")
_ENDSTREAM_WITHOUT_EOL = re.compile(rb"[^\r\n]endstream")
_PDFA_MARKS = (
    (b"/Metadata ", "the XMP metadata stream"),
    (b"/OutputIntents ", "the OutputIntent"),
    (b"/S /GTS_PDFA1", "the GTS_PDFA1 output intent"),
    (b"<pdfaid:part>2</pdfaid:part>", "the pdfaid:part 2 claim"),
    (b"/Subtype /XML", "the metadata stream's /Subtype /XML"),
)


def finish(pdf: bytes, *, pdfa_2: bool = False) -> bytes:
    if not pdf.startswith(b"%PDF-") or b"%%EOF" not in pdf[-64:]:
        raise ChohyoError("the PDF writer produced an incomplete file; nothing was delivered")
    if b"/Lang (ja-JP)" not in pdf:
        raise ChohyoError("the PDF lacks /Lang (ja-JP); nothing was delivered")
    if _STANDARD_FONT.search(pdf):
        raise ChohyoError("the PDF references a non-embedded standard font; nothing was delivered")
    if b"/Encrypt" in pdf:
        raise ChohyoError("the PDF is encrypted; nothing was delivered")
    if pdfa_2:
        _pdfa_invariants(pdf)
    return pdf


def _pdfa_invariants(pdf: bytes) -> None:
    if not pdf.startswith(b"%PDF-1.7\n"):
        raise ChohyoError("PDF/A: the header is not %PDF-1.7; nothing was delivered")
    for mark, what in _PDFA_MARKS:
        if mark not in pdf:
            raise ChohyoError(f"PDF/A: {what} is missing; nothing was delivered")
    if b"/Trapped" in pdf:
        raise ChohyoError("PDF/A: the Info dictionary carries /Trapped without an XMP twin; nothing was delivered")
    if _ENDSTREAM_WITHOUT_EOL.search(pdf):
        raise ChohyoError("PDF/A: a stream ends without an end-of-line before endstream; nothing was delivered")

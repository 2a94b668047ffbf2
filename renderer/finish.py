"""Finish: the last gate before PDF bytes leave the renderer.

In: the bytes `renderer.draw` wrote (title, author, subject, producer, ``/Lang (ja-JP)`` and the fixed
creation date are set on the canvas there). Out: the same bytes, once these invariants hold; otherwise an
internal error (exit 1) and nothing is delivered:
- the file is a complete PDF (header and ``%%EOF``);
- the catalog carries ``/Lang (ja-JP)``;
- no standard-14 font (Helvetica & co.) is referenced: every font is one of ours, embedded.
"""

from __future__ import annotations

import re

from renderer.errors import ChohyoError

_STANDARD_FONT = re.compile(rb"/BaseFont\s*/(Helvetica|Times|Courier|Symbol|ZapfDingbats)")


def finish(pdf: bytes) -> bytes:
    if not pdf.startswith(b"%PDF-") or b"%%EOF" not in pdf[-64:]:
        raise ChohyoError("the PDF writer produced an incomplete file; nothing was delivered")
    if b"/Lang (ja-JP)" not in pdf:
        raise ChohyoError("the PDF lacks /Lang (ja-JP); nothing was delivered")
    if _STANDARD_FONT.search(pdf):
        raise ChohyoError("the PDF references a non-embedded standard font; nothing was delivered")
    return pdf

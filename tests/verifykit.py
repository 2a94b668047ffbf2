"""Helpers of the tests of `chohyo verify` and ``POST /v1/verify`` (found by a hostile review).

In: the bundled layouts. Out:
- `same_name_layouts`: a copy of the layouts with two tenants named 府中市 — 132063 (東京都) and 342084 (広島県),
  real codes whose 発行番号 print the same 市区町村名 — copied from the sample 122122 (its officials are
  fictitious);
- hand-built hostile PDFs (no text at all):
  - `stream_bomb`: a page whose content stream inflates to 80 MB of spaces (pypdf stops at its 75 MB limit with
    ``LimitReachedError``), about 80 KB on disk;
  - `signature_v_integer`: a one-page PDF whose signature field ``/Sig`` has ``/V 42`` (an integer where the
    signature dictionary belongs: pyHanko raised ``AttributeError``).
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: two real municipalities named 府中市 (their 発行番号 print 府中市 alone, no prefecture)
FUCHU = {"132063": "東京都", "342084": "広島県"}


def same_name_layouts(tmp: Path) -> Path:
    """A copy of the bundled layouts with tenants 132063 and 342084 (both 府中市), copied from 122122."""
    layouts = tmp / "layouts"
    shutil.copytree(ROOT / "layouts", layouts)
    sample = (layouts / "tenants" / "122122.yaml").read_text(encoding="utf-8")
    for code, prefecture in FUCHU.items():
        text = (sample.replace('code: "122122"', f'code: "{code}"')
                .replace("prefecture: 千葉県", f"prefecture: {prefecture}")
                .replace("municipality: 佐倉市", "municipality: 府中市"))
        assert f'code: "{code}"' in text and f"prefecture: {prefecture}" in text and "municipality: 府中市" in text
        (layouts / "tenants" / f"{code}.yaml").write_text(text, encoding="utf-8")
    return layouts


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of `objects` (1 is the catalog) with a correct xref table."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(data), extra, data)


def stream_bomb() -> bytes:
    content = zlib.compress(b" " * (80 * 1024 * 1024), 9)
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
                 _stream(content, b"/Filter /FlateDecode ")])


def signature_v_integer() -> bytes:
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Annots [5 0 R] >>",
                 _stream(b"BT 72 720 Td ET"),
                 b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sig1) /V 42 /Rect [0 0 0 0] /P 3 0 R >>"])

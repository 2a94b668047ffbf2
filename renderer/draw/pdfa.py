"""PDF/A-2 output for the ReportLab canvas of `renderer.draw.canvas` (claimed as PDF/A-2u: every text mapped).

In: the canvas just created (`prepare`: its document info is already set) and, after ``save()``, the bytes it
wrote (`finalize`). Out: a PDF 1.7 file with
- an XMP metadata stream (unfiltered, no ``bytes``/``encoding`` attributes in its packet header) whose
  ``pdfaid`` schema claims part 2, conformance U, and whose ``dc``/``pdf``/``xmp`` properties are the twins of
  every entry of the Info dictionary (Title ↔ dc:title, Author ↔ dc:creator, Subject ↔ dc:description,
  Keywords ↔ pdf:Keywords, Creator ↔ xmp:CreatorTool, Producer ↔ pdf:Producer, CreationDate ↔
  xmp:CreateDate, ModDate ↔ xmp:ModifyDate); ReportLab's ``/Trapped`` is left out of the Info dictionary
  (optional, and pdf:Trapped is not in every validator's predefined schema list);
- one OutputIntent ``/S /GTS_PDFA1`` with the sRGB IEC61966-2.1 profile shipped in ``renderer/icc/`` (ICC
  v2.3, Zlib licence beside it) — the pages draw in DeviceGray only, which an OutputIntent makes allowed;
- every stream's data followed by an end-of-line before ``endstream`` (ReportLab writes none; PDF/A-2
  6.1.7.1), the cross-reference table rewritten for the shifted offsets.
Fonts (embedded TrueType subsets with ToUnicode), the document ID and the dates are ReportLab's and the
canvas's own, deterministic as for every PDF. What is checked, and what cannot be, is listed by
`renderer.pdfa_check` and the README.

ReportLab has no PDF/A API; the two traps met (engineering notes): its catalog writes only whitelisted keys
(``OutputIntents`` is added to this catalog object's list, never the class's) and a stream with
``filters=[]`` still writes ``/Filter []`` (`_RawStream` writes its dictionary itself).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from importlib import resources
from typing import Any

from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFCatalog,
    PDFDate,
    PDFDictionary,
    PDFInfo,
    PDFName,
    PDFObject,
    PDFString,
    format,
)
from reportlab.pdfgen.canvas import Canvas

from renderer.display import DocumentInfo
from renderer.errors import ChohyoError

#: the PDF version PDF/A-2 output declares in its header
PDF_VERSION = (1, 7)
PART = "2"
CONFORMANCE = "U"
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
ICC_NAME = "sRGB.icc"
#: the XMP packet id every XMP packet carries (XMP specification part 1, 7.3.2)
XPACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"


def icc_profile() -> bytes:
    """The shipped sRGB ICC profile (``renderer/icc/sRGB.icc``)."""
    return resources.files("renderer").joinpath("icc", ICC_NAME).read_bytes()


class _RawStream(PDFObject):   # type: ignore[misc]
    """A stream written as given: its dictionary and ``Length``, no ``Filter`` key at all."""

    __RefOnly__ = 1

    def __init__(self, entries: dict[str, Any], content: bytes) -> None:
        self.entries = entries
        self.content = content

    def format(self, document: Any) -> bytes:
        dictionary = PDFDictionary({**self.entries, "Length": len(self.content)})
        return bytes(format(dictionary, document)) + b"\nstream\n" + self.content + b"endstream\n"


class _InfoWithoutTrapped(PDFInfo):   # type: ignore[misc]
    """ReportLab's Info dictionary minus ``/Trapped`` (it always writes ``/Trapped /False``)."""

    def format(self, document: Any) -> bytes:
        entries = {
            "Title": PDFString(self.title), "Author": PDFString(self.author),
            "ModDate": PDFDate(ts=document._timeStamp, dateFormatter=self._dateFormatter),
            "CreationDate": PDFDate(ts=document._timeStamp, dateFormatter=self._dateFormatter),
            "Producer": PDFString(self.producer), "Creator": PDFString(self.creator),
            "Subject": PDFString(self.subject), "Keywords": PDFString(self.keywords)}
        return bytes(PDFDictionary(entries).format(document))


def xmp_date(when: dt.datetime) -> str:
    """An aware datetime as XMP writes it, to the second: ``2026-11-27T00:00:00+09:00``."""
    return when.replace(microsecond=0).isoformat()


def xml_text(value: str) -> str:
    """`value` as XML character data: ``&``, ``<`` and ``>`` escaped, as ``xml.sax.saxutils.escape`` does (whose
    import pulls in urllib, http and ssl: ≈ 10 ms of every cold render)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xmp_packet(*, title: str, author: str, subject: str, keywords: str, creator: str, producer: str,
               created: dt.datetime) -> bytes:
    """The XMP packet: pdfaid (part 2, conformance U) and the twin of every Info entry."""
    e = xml_text
    stamp = xmp_date(created)
    xml = (
        f'<?xpacket begin="\ufeff" id="{XPACKET_ID}"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">\n'
        f'   <pdfaid:part>{PART}</pdfaid:part>\n'
        f'   <pdfaid:conformance>{CONFORMANCE}</pdfaid:conformance>\n'
        '  </rdf:Description>\n'
        '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        '   <dc:format>application/pdf</dc:format>\n'
        f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:title>\n'
        f'   <dc:creator><rdf:Seq><rdf:li>{e(author)}</rdf:li></rdf:Seq></dc:creator>\n'
        f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(subject)}</rdf:li></rdf:Alt>'
        '</dc:description>\n'
        '  </rdf:Description>\n'
        '  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">\n'
        f'   <pdf:Producer>{e(producer)}</pdf:Producer>\n'
        f'   <pdf:Keywords>{e(keywords)}</pdf:Keywords>\n'
        '  </rdf:Description>\n'
        '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">\n'
        f'   <xmp:CreatorTool>{e(creator)}</xmp:CreatorTool>\n'
        f'   <xmp:CreateDate>{stamp}</xmp:CreateDate>\n'
        f'   <xmp:ModifyDate>{stamp}</xmp:ModifyDate>\n'
        '  </rdf:Description>\n'
        ' </rdf:RDF>\n'
        '</x:xmpmeta>\n'
        '<?xpacket end="w"?>')
    return xml.encode("utf-8")


def prepare(c: Canvas, info: DocumentInfo) -> None:
    """Make the canvas's document PDF/A-2: Info without /Trapped, XMP metadata, the sRGB OutputIntent.
    Call it after the canvas's title, author, subject, creator, producer and keywords are set."""
    doc = c._doc
    doc._pdfVersion = max(doc._pdfVersion, PDF_VERSION)   # the header ReportLab writes at save()
    plain = doc.info
    replaced = _InfoWithoutTrapped()
    replaced.__dict__.update(plain.__dict__)
    doc.info = replaced
    catalog = doc.Catalog
    catalog.__NoDefault__ = [*PDFCatalog.__NoDefault__, "OutputIntents"]   # this catalog only
    catalog.Metadata = _RawStream({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}, xmp_packet(
        title=plain.title, author=plain.author, subject=plain.subject, keywords=plain.keywords,
        creator=plain.creator, producer=plain.producer, created=info.created))
    profile = _RawStream({"N": 3}, icc_profile())
    intent = PDFDictionary({"Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFA1"),
                            "OutputConditionIdentifier": PDFString(OUTPUT_CONDITION),
                            "Info": PDFString(OUTPUT_CONDITION), "RegistryName": PDFString("http://www.color.org"),
                            "DestOutputProfile": doc.Reference(profile)})
    catalog.OutputIntents = PDFArray([intent])


_XREF = re.compile(rb"\nxref\n0 (\d+)\n")
_STARTXREF = re.compile(rb"startxref\n(\d+)\n%%EOF\n?$")
_OBJ = re.compile(rb"(\d+) 0 obj\n")
_LENGTH = re.compile(rb"/Length (\d+)\b")


def finalize(pdf: bytes) -> bytes:
    """An end-of-line before every ``endstream`` (after exactly ``/Length`` bytes of data) and the
    cross-reference table and ``startxref`` rewritten for the new offsets. Raises `ChohyoError` when the
    file is not laid out as ReportLab writes it (nothing half-converted is delivered)."""
    found = _XREF.search(pdf)
    tail = _STARTXREF.search(pdf)
    if found is None or tail is None or int(tail.group(1)) != found.start() + 1:
        raise ChohyoError("PDF/A: the PDF writer's cross-reference table was not found; nothing was delivered")
    count = int(found.group(1))
    table = pdf[found.end():found.end() + 20 * count].split(b"\n")
    offsets = [int(line[:10]) for line in table[1:count]]
    if len(offsets) != count - 1 or offsets != sorted(offsets):
        raise ChohyoError("PDF/A: the PDF writer's cross-reference table is not in object order; nothing was delivered")
    bounds = [*offsets, found.start() + 1]
    out = [pdf[:offsets[0]]]
    new_offsets: list[int] = []
    size = len(out[0])
    for number, (start, end) in enumerate(itertools.pairwise(bounds), start=1):
        chunk = pdf[start:end]
        head = _OBJ.match(chunk)
        if head is None or int(head.group(1)) != number:
            raise ChohyoError(f"PDF/A: object {number} is not where the cross-reference table says; "
                              f"nothing was delivered")
        chunk = _eol_before_endstream(chunk, number)
        new_offsets.append(size)
        out.append(chunk)
        size += len(chunk)
    xref = [b"xref\n", f"0 {count}\n".encode(), b"0000000000 65535 f \n"]
    xref.extend(f"{offset:010d} 00000 n \n".encode() for offset in new_offsets)
    trailer_start = found.end() + 20 * count
    trailer = pdf[trailer_start:tail.start()]
    out.extend([*xref, trailer, f"startxref\n{size}\n%%EOF\n".encode()])
    return b"".join(out)


def _eol_before_endstream(chunk: bytes, number: int) -> bytes:
    at = chunk.find(b"\nstream\n")
    if at < 0:
        return chunk
    length = _LENGTH.search(chunk, 0, at)
    if length is None:
        raise ChohyoError(f"PDF/A: stream object {number} has no direct /Length; nothing was delivered")
    end = at + len(b"\nstream\n") + int(length.group(1))
    if not chunk.startswith(b"endstream", end):
        raise ChohyoError(f"PDF/A: stream object {number} does not end at its /Length; nothing was delivered")
    return chunk[:end] + b"\n" + chunk[end:]

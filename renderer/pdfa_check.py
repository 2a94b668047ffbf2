"""PDF/A-2 conformance self-check: the clauses of ISO 19005-2 that can be checked here with pypdf and the bytes.

In: PDF bytes (ours, or a file handed back to `chohyo verify`). Out: a `Conformance` report — the file's PDF/A
claim (``pdfaid`` part and conformance from its XMP, None when it claims none) and one `Clause` per checked
requirement (clause number, what it requires, passed or not, and why not). veraPDF, the reference
validator, cannot be installed on these machines; this module is the in-repository substitute for the
structural clauses and is NOT a full validator. What it does not check is `NOT_CHECKED` (also in the README).

Clause numbers are those of ISO 19005-2:2011 (as veraPDF's rule ids use them). Checked:

- 6.1.2 header ``%PDF-1.[0-7]`` at byte 0, then a comment of at least four bytes > 127;
- 6.1.3 trailer: ``/ID`` of two strings, no ``/Encrypt``, nothing after ``%%EOF`` but one end-of-line;
- 6.1.4 cross-reference table: ``startxref`` points at it and every in-use entry at its ``N G obj``;
- 6.1.7.1 streams: ``stream`` + EOL, an EOL before ``endstream``, ``/Length`` exact, no ``/F``, ``/FFilter``,
  ``/FDecodeParms``; 6.1.7.2: no LZWDecode, no Crypt filter;
- 6.2.3 output intents: every ``GTS_PDFA1`` intent has an ICC DestOutputProfile (version 2 or 4, class
  mntr/prtr/scnr/spac, N matching its colour space), all the same profile;
- 6.2.4.3 device colours: DeviceRGB only with an RGB intent, DeviceCMYK only with a CMYK one, DeviceGray
  with any intent (operators of every content stream and form, and images);
- 6.2.5 ExtGState: no ``/TR``, no ``/TR2`` other than Default, no ``/HTP``, no ``/HTO``;
- 6.2.8 images: no ``/Interpolate true``, no ``/Alternates``, no ``/OPI``;
- 6.2.9 XObjects: no PostScript XObjects, no reference XObjects (``/Ref``), no ``/OPI``;
- 6.2.11.4.1 every font (Type 3 aside) embedded; 6.2.11.5 ``/Widths`` equal to the embedded program's
  advances for every used code; 6.2.11.6 a symbolic TrueType font has no ``/Encoding`` and one cmap
  subtable or (3,0); 6.2.11.7.2 (level U) every used code maps through ``/ToUnicode`` to a value other than
  0, U+FEFF, U+FFFE; 6.2.11.8 no used code selects ``.notdef``;
- 6.3 annotations: no forbidden subtypes, the Print flag set and Hidden/Invisible/NoView clear;
- 6.4 forms: no ``NeedAppearances true``, no XFA; 6.5 actions: no JavaScript, Launch and the other
  forbidden actions, no ``/AA`` on the catalog or pages; 6.8 no embedded files; 6.9 optional content only
  with a default configuration; 6.10 no AlternatePresentations;
- 6.6.2.1 the catalog's metadata stream: ``/Type /Metadata /Subtype /XML``, no ``/Filter``, an xpacket header
  without ``bytes`` or ``encoding``, well-formed XML without a DOCTYPE; 6.6.2.3.1 only the predefined schemas
  ``dc``, ``xmp``, ``pdf``, ``pdfaid``, ``xmpMM`` are used (no extension schemas here);
- 6.6.3 every Info entry (Title, Author, Subject, Keywords, Creator, Producer, CreationDate, ModDate)
  equals its XMP twin; 6.6.4 ``pdfaid:part`` 2 and ``pdfaid:conformance`` A, B or U.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, IndirectObject, NameObject, StreamObject

#: what this module does not check (the README lists the same)
NOT_CHECKED = (
    "the embedded font programs themselves beyond their cmap and advance widths (glyph outlines, legal "
    "restrictions 6.2.11.4.1 fsType)",
    "ICC profile contents beyond the header (tag table validity)",
    "implementation limits 6.1.13 (sizes of names, strings, arrays, nesting)",
    "transparency groups 6.2.10 beyond the presence of an output intent",
    "XMP value types of each property (6.6.2.3.1 types) and extension schema definitions (none are written)",
    "digital signatures 6.4.3 (byte ranges, PAdES profile): `chohyo verify`'s signature section reports them",
    "content stream operator validity 6.2.2 (only colour and text operators are read)",
    "level A (tagged structure): not claimed",
)

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
}
PREDEFINED = frozenset({NS["dc"], NS["xmp"], NS["pdf"], NS["pdfaid"], NS["xmpMM"], NS["rdf"], NS["x"],
                        "http://www.w3.org/XML/1998/namespace"})
FORBIDDEN_ANNOTS = frozenset({"/3D", "/Sound", "/Screen", "/Movie"})
FORBIDDEN_ACTIONS = frozenset({"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Hide",
                               "/SetOCGState", "/Rendition", "/Trans", "/GoTo3DView", "/JavaScript"})
_XREF = re.compile(rb"(?:^|[\r\n])xref\r?\n")


@dataclass(frozen=True)
class Clause:
    clause: str
    requirement: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"clause": self.clause, "requirement": self.requirement, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Conformance:
    """A file's PDF/A claim and the checked clauses (all of them, passed or not)."""

    claim: str | None                 # "2U", "2B", "1B" … as pdfaid says; None = no claim
    clauses: tuple[Clause, ...]

    @property
    def ok(self) -> bool:
        return self.claim is not None and all(c.ok for c in self.clauses)

    @property
    def failed(self) -> list[Clause]:
        return [c for c in self.clauses if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "ok": self.ok, "clauses": [c.as_dict() for c in self.clauses],
                "not_checked": list(NOT_CHECKED)}


class NotAPdf(ValueError):
    """The bytes are not a PDF this module can read."""


@dataclass
class _Report:
    clauses: list[Clause] = field(default_factory=list)

    def add(self, clause: str, requirement: str, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f"; … {len(problems) - 5} more" if len(problems) > 5 else "")
        self.clauses.append(Clause(clause, requirement, not problems, shown))


def check(pdf: bytes) -> Conformance:
    """Check `pdf` against the clauses above. Raises `NotAPdf` when it cannot be read at all."""
    if not pdf.startswith(b"%PDF-"):
        raise NotAPdf("the file does not start with %PDF-")
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        root = reader.trailer["/Root"].get_object()
        pages = list(reader.pages)
        if not isinstance(root, DictionaryObject):
            raise NotAPdf("the PDF has no catalog")
    except (PdfReadError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise NotAPdf(f"the PDF cannot be read ({exc.__class__.__name__})") from None
    r = _Report()
    _file_structure(pdf, reader, r)
    xmp, claim = _metadata(root, reader, r)
    components = _output_intents(root, r)
    _page_content(pages, components, r)
    _interactive(root, pages, r)
    _info_twins(reader, xmp, r)
    return Conformance(claim=claim, clauses=tuple(r.clauses))


# ------------------------------------------------------------------------------------------ file structure


def _file_structure(pdf: bytes, reader: PdfReader, r: _Report) -> None:
    first, _, rest = pdf.partition(b"\n")
    header = first.rstrip(b"\r")
    comment = rest.split(b"\n", 1)[0]
    problems = []
    if not re.fullmatch(rb"%PDF-1\.[0-7]", header):
        problems.append(f"header is {header[:12]!r}")
    if not (comment.startswith(b"%") and len(comment) >= 5 and all(b > 127 for b in comment[1:5])):
        problems.append("the second line is not a comment of four bytes > 127")
    r.add("6.1.2", "file header %PDF-1.n and a binary comment", problems)

    problems = []
    trailer = reader.trailer
    ids = trailer.get("/ID")
    if not isinstance(ids, ArrayObject) or len(ids) != 2:
        problems.append("no /ID of two strings in the trailer")
    if "/Encrypt" in trailer:
        problems.append("the file is encrypted (/Encrypt)")
    end = pdf.rfind(b"%%EOF")
    if end < 0 or pdf[end + 5:] not in (b"", b"\n", b"\r\n", b"\r"):
        problems.append("data after the last %%EOF")
    r.add("6.1.3", "trailer: /ID, no /Encrypt, nothing after %%EOF", problems)

    r.add("6.1.4", "cross-reference table consistent with the objects", _xref_problems(pdf))
    problems, filters = _stream_problems(pdf, reader)
    r.add("6.1.7.1", "streams: EOL after stream and before endstream, exact /Length, no external file keys",
          problems)
    r.add("6.1.7.2", "no LZWDecode or Crypt filter", filters)


def _xref_problems(pdf: bytes) -> list[str]:
    tail = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf[-1024:])
    if tail is None:
        return ["no startxref at the end of the file"]
    start = int(tail.group(1))
    if not pdf.startswith(b"xref", start):
        stream = re.match(rb"\d+ \d+ obj\s*<<", pdf[start:start + 64])
        if stream is not None and b"/XRef" in pdf[start:start + 4096]:
            return []   # a cross-reference stream (allowed in PDF/A-2; a signature's update may write one)
        return ["startxref does not point at a cross-reference table or stream"]
    problems: list[str] = []
    at = start + 4
    lines = iter(pdf[at:].split(b"\n"))
    next(lines, None)
    for line in lines:
        head = line.strip().split()
        if not head or head[0] == b"trailer":
            break
        if len(head) != 2:
            problems.append("malformed subsection header")
            break
        first, count = int(head[0]), int(head[1])
        for number in range(first, first + count):
            entry = next(lines, b"").strip().split()
            if len(entry) != 3:
                problems.append(f"entry of object {number} is malformed")
                continue
            if entry[2] == b"n":
                offset, gen = int(entry[0]), int(entry[1])
                if not re.match(rb"%d %d obj\b" % (number, gen), pdf[offset:offset + 32]):
                    problems.append(f"object {number} is not at offset {offset}")
    return problems


def _stream_problems(pdf: bytes, reader: PdfReader) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    filters: list[str] = []
    for number, obj in _objects(reader):
        if not isinstance(obj, StreamObject):
            continue
        for key in ("/F", "/FFilter", "/FDecodeParms"):
            if key in obj:
                problems.append(f"object {number}: {key} (external stream data)")
        names = obj.get("/Filter")
        names = list(names) if isinstance(names, ArrayObject) else [names] if names is not None else []
        filters.extend(f"object {number}: {n}" for n in names if n in ("/LZWDecode", "/Crypt"))
    for m in re.finditer(rb"(\d+) (\d+) obj\s*<<", pdf):
        stream_at = pdf.find(b"stream", m.end(), m.end() + 65536)
        next_obj = pdf.find(b"endobj", m.end())
        if stream_at < 0 or next_obj < stream_at or pdf[stream_at - 3:stream_at] == b"end":
            continue
        number = int(m.group(1))
        dictionary = pdf[m.start():stream_at]
        length = re.search(rb"/Length (\d+)(?! \d+ R)", dictionary)
        data_at = stream_at + 6
        if pdf.startswith(b"\r\n", data_at):
            data_at += 2
        elif pdf.startswith(b"\n", data_at):
            data_at += 1
        else:
            problems.append(f"object {number}: 'stream' is not followed by an EOL")
            continue
        if length is not None:   # the data is exactly /Length bytes: an EOL, then 'endstream', must follow them
            problem = _end_problem(pdf, data_at, int(length.group(1)))
            if problem:
                problems.append(f"object {number}: {problem}")
            continue
        end = pdf.find(b"endstream", data_at)   # /Length given indirectly: the EOL before 'endstream' only
        if pdf[end - 1:end] not in (b"\n", b"\r"):
            problems.append(f"object {number}: no EOL before 'endstream'")
    return problems, filters


def _end_problem(pdf: bytes, data_at: int, length: int) -> str:
    """What is wrong at the end of a stream whose data starts at `data_at` and is declared `length` bytes long
    ("" nothing). Judged from /Length, not by searching back from 'endstream': data may itself end in CR or LF
    (compressed data does, one stream in 256), and that byte is data, not the EOL before 'endstream'."""
    after = data_at + length
    eol = 2 if pdf.startswith(b"\r\n", after) else 1 if pdf[after:after + 1] in (b"\n", b"\r") else 0
    if eol and pdf.startswith(b"endstream", after + eol):
        return ""
    end = pdf.find(b"endstream", data_at)
    if end < 0:
        return "no 'endstream'"
    if end == after or pdf[end - 1:end] not in (b"\n", b"\r"):
        return "no EOL before 'endstream'"
    return f"/Length {length}, but 'endstream' is {end - data_at} bytes after the data starts"


def _objects(reader: PdfReader) -> Iterator[tuple[int, Any]]:
    xref = reader.xref
    for gen, numbers in xref.items():
        for number in numbers:
            try:
                yield number, reader.get_object(IndirectObject(number, gen, reader))
            except (PdfReadError, ValueError, KeyError):
                continue


# ------------------------------------------------------------------------------------------ metadata


def _metadata(root: DictionaryObject, reader: PdfReader, r: _Report) -> tuple[ET.Element | None, str | None]:
    problems: list[str] = []
    stream = root.get("/Metadata")
    stream = stream.get_object() if stream is not None else None
    xmp: ET.Element | None = None
    if not isinstance(stream, StreamObject):
        problems.append("the catalog has no /Metadata stream")
    else:
        if stream.get("/Type") != "/Metadata" or stream.get("/Subtype") != "/XML":
            problems.append("the metadata stream is not /Type /Metadata /Subtype /XML")
        if "/Filter" in stream:
            problems.append("the metadata stream is filtered")
        raw = stream.get_data()
        header = re.search(rb"<\?xpacket begin=[^?]*\?>", raw)
        if header is None:
            problems.append("no xpacket header")
        elif b"bytes=" in header.group(0) or b"encoding=" in header.group(0):
            problems.append("the xpacket header carries bytes= or encoding=")
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            problems.append("the XMP has a DOCTYPE or entity declarations")
        else:
            try:
                xmp = ET.fromstring(raw)
            except ET.ParseError as exc:
                problems.append(f"the XMP is not well-formed XML ({exc})")
    r.add("6.6.2.1", "an unfiltered XMP metadata stream in the catalog, xpacket header without bytes/encoding",
          problems)
    unknown: set[str] = set()
    if xmp is not None:
        for el in xmp.iter():
            for name in (el.tag, *el.attrib):
                if name.startswith("{") and name[1:name.index("}")] not in PREDEFINED:
                    unknown.add(name[1:name.index("}")])
    r.add("6.6.2.3.1", "XMP properties only from predefined schemas (no extension schemas written here)",
          [f"namespace {u}" for u in sorted(unknown)])
    part = _xmp_text(xmp, "pdfaid", "part")
    level = _xmp_text(xmp, "pdfaid", "conformance")
    claim = f"{part}{level}" if part and level else None
    problems = []
    if part != "2":
        problems.append(f"pdfaid:part is {part!r}")
    if level not in ("A", "B", "U"):
        problems.append(f"pdfaid:conformance is {level!r}")
    r.add("6.6.4", "pdfaid:part 2 and pdfaid:conformance A, B or U", problems)
    return xmp, claim


def _xmp_text(xmp: ET.Element | None, prefix: str, name: str) -> str | None:
    """A simple XMP property, as an element or an attribute of an rdf:Description; lists joined."""
    if xmp is None:
        return None
    tag = f"{{{NS[prefix]}}}{name}"
    for desc in xmp.iter(f"{{{NS['rdf']}}}Description"):
        if tag in desc.attrib:
            return desc.attrib[tag]
        found = desc.find(tag)
        if found is not None:
            items = found.findall(f".//{{{NS['rdf']}}}li")
            if items:
                return "; ".join(i.text or "" for i in items)
            return found.text or ""
    return None


def _pdf_date(value: str) -> dt.datetime | None:
    m = re.fullmatch(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?", value.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else d for g, d in
                                              zip(m.groups()[:6], (0, 1, 1, 0, 0, 0), strict=True))
    zone = m.group(7)
    tz = dt.UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace("'", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)


def _info_twins(reader: PdfReader, xmp: ET.Element | None, r: _Report) -> None:
    info = reader.trailer.get("/Info")
    info = info.get_object() if info is not None else {}
    twins = {"/Title": ("dc", "title"), "/Author": ("dc", "creator"), "/Subject": ("dc", "description"),
             "/Keywords": ("pdf", "Keywords"), "/Creator": ("xmp", "CreatorTool"),
             "/Producer": ("pdf", "Producer"), "/CreationDate": ("xmp", "CreateDate"),
             "/ModDate": ("xmp", "ModifyDate")}
    problems = []
    for key, (prefix, name) in twins.items():
        if key not in info:
            continue
        value = str(info[key])
        twin = _xmp_text(xmp, prefix, name)
        if key.endswith("Date"):
            same = twin is not None and _pdf_date(value) is not None and _iso(twin) == _pdf_date(value)
        else:
            same = twin == value
        if not same:
            problems.append(f"Info {key[1:]} has no equal XMP {prefix}:{name}")
    r.add("6.6.3", "every Info dictionary entry equals its XMP twin", problems)


def _iso(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------ colour


def _output_intents(root: DictionaryObject, r: _Report) -> int | None:
    """Check the intents; returns the number of components of the PDF/A intent's profile (None: no intent)."""
    problems: list[str] = []
    intents = root.get("/OutputIntents")
    intents = intents.get_object() if intents is not None else None
    profiles: list[Any] = []
    components: int | None = None
    for intent in intents if isinstance(intents, ArrayObject) else []:
        intent = intent.get_object()
        if intent.get("/S") != "/GTS_PDFA1":
            continue
        ref = intent.get("/DestOutputProfile")
        profile = ref.get_object() if ref is not None else None
        if not isinstance(profile, StreamObject):
            problems.append("a GTS_PDFA1 intent without a DestOutputProfile")
            continue
        profiles.append(ref.idnum if isinstance(ref, IndirectObject) else id(profile))
        data = profile.get_data()
        if len(data) < 128 or data[36:40] != b"acsp":
            problems.append("the DestOutputProfile is not an ICC profile")
            continue
        version, klass, space = data[8], data[12:16], data[16:20]
        n = {b"RGB ": 3, b"CMYK": 4, b"GRAY": 1}.get(space)
        if version not in (2, 4):
            problems.append(f"ICC version {version}")
        if klass not in (b"mntr", b"prtr", b"scnr", b"spac"):
            problems.append(f"ICC profile class {klass!r}")
        if n is None or int(profile.get("/N", 0)) != n:
            problems.append(f"ICC colour space {space!r} does not match /N {profile.get('/N')}")
        components = n
    if not profiles:
        problems.append("no GTS_PDFA1 output intent")
    elif len(set(profiles)) > 1:
        problems.append("GTS_PDFA1 intents with different profiles")
    r.add("6.2.3", "a GTS_PDFA1 output intent with a valid ICC profile (one profile for all)", problems)
    return components


@dataclass
class _Usage:
    """What the pages' content streams use: device colour spaces, text codes per font, graphics states."""

    spaces: set[str] = field(default_factory=set)
    codes: dict[int, tuple[DictionaryObject, set[int]]] = field(default_factory=dict)
    states: list[DictionaryObject] = field(default_factory=list)
    images: list[tuple[str, DictionaryObject]] = field(default_factory=list)
    xobjects: list[tuple[str, DictionaryObject]] = field(default_factory=list)


_COLOUR_OPS = {b"rg": "DeviceRGB", b"RG": "DeviceRGB", b"k": "DeviceCMYK", b"K": "DeviceCMYK",
               b"g": "DeviceGray", b"G": "DeviceGray"}


def _page_content(pages: list[Any], components: int | None, r: _Report) -> None:
    usage = _Usage()
    seen: set[int] = set()
    for page in pages:
        _walk(page.get_contents(), page.get("/Resources"), usage, seen, page.pdf)
    problems = []
    allowed = {1: {"DeviceGray"}, 3: {"DeviceGray", "DeviceRGB"}, 4: {"DeviceGray", "DeviceCMYK"}}.get(
        components or 0, set())
    for space in sorted(usage.spaces - allowed):
        problems.append(f"{space} used {'without an output intent' if components is None else 'against the intent'}")
    r.add("6.2.4.3", "device colour spaces only as the output intent allows", problems)
    problems = []
    for state in usage.states:
        if "/TR" in state:
            problems.append("an ExtGState with /TR")
        if state.get("/TR2") not in (None, "/Default"):
            problems.append("an ExtGState with /TR2 other than Default")
        if "/HTP" in state or "/HTO" in state:
            problems.append("an ExtGState with /HTP or /HTO")
    r.add("6.2.5", "no transfer functions or halftone origins in graphics states", sorted(set(problems)))
    problems = []
    for name, image in usage.images:
        if image.get("/Interpolate") is True:
            problems.append(f"image {name}: /Interpolate true")
        for key in ("/Alternates", "/OPI"):
            if key in image:
                problems.append(f"image {name}: {key}")
    r.add("6.2.8", "images without Interpolate, Alternates or OPI", problems)
    problems = []
    for name, xobject in usage.xobjects:
        if xobject.get("/Subtype") == "/PS" or "/PS" in xobject:
            problems.append(f"XObject {name}: PostScript")
        for key in ("/Ref", "/OPI"):
            if key in xobject:
                problems.append(f"XObject {name}: {key}")
    r.add("6.2.9", "no PostScript or reference XObjects", problems)
    _fonts(usage, r)


def _walk(content: Any, resources: Any, usage: _Usage, seen: set[int], pdf: Any) -> None:
    """Read one content stream (a page's or a form's), recursing into the forms it draws."""
    if content is None:
        return
    resources = resources.get_object() if resources is not None else DictionaryObject()
    fonts = resources.get("/Font")
    fonts = fonts.get_object() if fonts is not None else {}
    xobjects = resources.get("/XObject")
    xobjects = xobjects.get_object() if xobjects is not None else {}
    states = resources.get("/ExtGState")
    states = states.get_object() if states is not None else {}
    stream = content if isinstance(content, ContentStream) else ContentStream(content, pdf)
    font: Any = None
    for operands, op in stream.operations:
        if op in _COLOUR_OPS:
            usage.spaces.add(_COLOUR_OPS[op])
        elif op in (b"cs", b"CS") and operands:
            name = str(operands[0])[1:]
            if name in ("DeviceRGB", "DeviceCMYK", "DeviceGray"):
                usage.spaces.add(name)
        elif op == b"Tf" and operands:
            ref = fonts.get(operands[0])
            font = ref
        elif op in (b"Tj", b"'", b'"', b"TJ") and font is not None:
            _note_codes(font, operands, usage)
        elif op == b"gs" and operands and operands[0] in states:
            usage.states.append(states[operands[0]].get_object())
        elif op == b"Do" and operands and operands[0] in xobjects:
            _draw_xobject(str(operands[0]), xobjects[operands[0]], usage, seen, pdf)


def _note_codes(font: Any, operands: list[Any], usage: _Usage) -> None:
    key = font.idnum if isinstance(font, IndirectObject) else id(font)
    entry = usage.codes.setdefault(key, (font.get_object(), set()))
    for operand in operands:
        items = operand if isinstance(operand, ArrayObject) else [operand]
        for item in items:
            if isinstance(item, bytes | str) and not isinstance(item, NameObject):
                raw = item.original_bytes if hasattr(item, "original_bytes") else \
                    item if isinstance(item, bytes) else item.encode("latin-1")
                entry[1].update(raw)


def _draw_xobject(name: str, ref: Any, usage: _Usage, seen: set[int], pdf: Any) -> None:
    xobject = ref.get_object()
    key = ref.idnum if isinstance(ref, IndirectObject) else id(xobject)
    if xobject.get("/Subtype") == "/Image":
        usage.images.append((name, xobject))
        space = xobject.get("/ColorSpace")
        if isinstance(space, NameObject) and space in ("/DeviceRGB", "/DeviceCMYK", "/DeviceGray"):
            usage.spaces.add(space[1:])
        mask = xobject.get("/SMask")
        if mask is not None:
            usage.images.append((f"{name} SMask", mask.get_object()))
        return
    usage.xobjects.append((name, xobject))
    if key in seen:
        return
    seen.add(key)
    if xobject.get("/Subtype") == "/Form":
        _walk(xobject, xobject.get("/Resources"), usage, seen, pdf)


# ------------------------------------------------------------------------------------------ fonts


def _fonts(usage: _Usage, r: _Report) -> None:
    embedded: list[str] = []
    widths: list[str] = []
    encodings: list[str] = []
    unicode: list[str] = []
    notdef: list[str] = []
    for font, codes in usage.codes.values():
        name = str(font.get("/BaseFont", "?"))
        subtype = font.get("/Subtype")
        if subtype == "/Type3":
            continue
        descriptor = font.get("/FontDescriptor")
        if subtype == "/Type0":
            descendants = font.get("/DescendantFonts")
            descendant = descendants[0].get_object() if descendants else None
            descriptor = descendant.get("/FontDescriptor") if descendant is not None else None
        descriptor = descriptor.get_object() if descriptor is not None else None
        program = None
        if descriptor is not None:
            for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                if key in descriptor:
                    program = descriptor[key].get_object()
        if program is None:
            embedded.append(f"{name} is not embedded")
            continue
        mapping = _to_unicode(font)
        bad = sorted(c for c in codes if mapping.get(c) in (None, "\x00", "\ufeff", "\ufffe"))
        if bad:
            unicode.append(f"{name}: code(s) {', '.join(f'{c:#04x}' for c in bad[:8])} not mapped to Unicode")
        if subtype == "/TrueType" and descriptor is not None:
            _truetype(font, descriptor, program, codes, name, widths, encodings, notdef)
    r.add("6.2.11.4.1", "every font embedded", embedded)
    r.add("6.2.11.5", "/Widths equal to the embedded font program's advance widths", widths)
    r.add("6.2.11.6", "symbolic TrueType: no /Encoding, one cmap subtable or (3,0)", encodings)
    r.add("6.2.11.7.2", "level U: every used character code maps to Unicode (ToUnicode)", unicode)
    r.add("6.2.11.8", "no used character code selects .notdef", notdef)


def _truetype(font: DictionaryObject, descriptor: DictionaryObject, program: StreamObject, codes: set[int],
              name: str, widths: list[str], encodings: list[str], notdef: list[str]) -> None:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        tt = TTFont(io.BytesIO(program.get_data()), lazy=True)
        tables = tt["cmap"].tables
        hmtx = tt["hmtx"]
        units = tt["head"].unitsPerEm
        order = tt.getGlyphOrder()
    except (TTLibError, KeyError, AssertionError, ValueError, IndexError, OSError):
        notdef.append(f"{name}: the embedded TrueType program cannot be read")
        return
    symbolic = int(descriptor.get("/Flags", 0)) & 4
    if symbolic:
        if "/Encoding" in font:
            encodings.append(f"{name}: symbolic with /Encoding")
        if len(tables) != 1 and not any((t.platformID, t.platEncID) == (3, 0) for t in tables):
            encodings.append(f"{name}: {len(tables)} cmap subtables and no (3,0)")
    cmap: dict[int, str] = {}
    for t in tables:
        if (t.platformID, t.platEncID) in ((1, 0), (3, 0)):
            cmap.update({code & 0xFF: glyph for code, glyph in t.cmap.items()})
    first = int(font.get("/FirstChar", 0))
    declared = font.get("/Widths")
    declared = declared.get_object() if declared is not None else []
    for code in sorted(codes):
        glyph = cmap.get(code)
        if glyph is None or glyph == order[0]:
            notdef.append(f"{name}: code {code:#04x} selects .notdef")
            continue
        if 0 <= code - first < len(declared):
            advance = hmtx[glyph][0] * 1000 / units
            if abs(float(declared[code - first]) - advance) > 1:
                widths.append(f"{name}: code {code:#04x} width {float(declared[code - first]):g} vs {advance:g}")
        else:
            widths.append(f"{name}: code {code:#04x} outside /Widths")


def _to_unicode(font: DictionaryObject) -> dict[int, str]:
    """code → text of a simple font's ToUnicode CMap (bfchar and bfrange; one-byte codes)."""
    ref = font.get("/ToUnicode")
    if ref is None:
        return {}
    try:
        text = ref.get_object().get_data().decode("latin-1")
    except (PdfReadError, ValueError, AttributeError):
        return {}
    out: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            out[int(src, 16)] = _utf16(dst)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            base = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = _utf16(f"{base + i:04X}")
    return out


def _utf16(hex_text: str) -> str:
    try:
        return bytes.fromhex(hex_text).decode("utf-16-be")
    except ValueError:
        return ""


# ------------------------------------------------------------------------------------------ interactive


def _interactive(root: DictionaryObject, pages: list[Any], r: _Report) -> None:
    _annotations(pages, r)
    _actions(root, pages, r)


def _annotations(pages: list[Any], r: _Report) -> None:
    problems = []
    for n, page in enumerate(pages, start=1):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            subtype = annot.get("/Subtype")
            flags = int(annot.get("/F", 0))
            if subtype in FORBIDDEN_ANNOTS:
                problems.append(f"page {n}: {subtype} annotation")
            if subtype != "/Popup" and not flags & 4:
                problems.append(f"page {n}: a {subtype} annotation without the Print flag")
            if flags & (1 | 2 | 32):
                problems.append(f"page {n}: a {subtype} annotation hidden, invisible or NoView")
    r.add("6.3", "annotations: allowed types, Print flag set, not hidden", problems)


def _actions(root: DictionaryObject, pages: list[Any], r: _Report) -> None:
    problems = []
    form = root.get("/AcroForm")
    form = form.get_object() if form is not None else None
    if form is not None:
        if form.get("/NeedAppearances") is True:
            problems.append("AcroForm NeedAppearances true")
        if "/XFA" in form:
            problems.append("AcroForm with XFA")
    r.add("6.4", "interactive forms: no NeedAppearances, no XFA", problems)
    problems = []
    if "/AA" in root:
        problems.append("the catalog has /AA")
    problems.extend(f"page {n} has /AA" for n, page in enumerate(pages, start=1) if "/AA" in page)
    names = root.get("/Names")
    names = names.get_object() if names is not None else {}
    if "/JavaScript" in names:
        problems.append("a JavaScript name tree")
    action = root.get("/OpenAction")
    action = action.get_object() if action is not None else None
    if isinstance(action, DictionaryObject) and action.get("/S") in FORBIDDEN_ACTIONS:
        problems.append(f"an OpenAction {action.get('/S')}")
    for n, page in enumerate(pages, start=1):
        for annot in page.get("/Annots") or []:
            act = annot.get_object().get("/A")
            act = act.get_object() if act is not None else None
            if isinstance(act, DictionaryObject) and act.get("/S") in FORBIDDEN_ACTIONS:
                problems.append(f"page {n}: an annotation action {act.get('/S')}")
    r.add("6.5", "no forbidden actions (JavaScript, Launch, …), no /AA", problems)
    r.add("6.8", "no embedded files", ["an EmbeddedFiles name tree"] if "/EmbeddedFiles" in names else [])
    problems = []
    oc = root.get("/OCProperties")
    oc = oc.get_object() if oc is not None else None
    if oc is not None and "/D" not in oc:
        problems.append("optional content without a default configuration")
    r.add("6.9", "optional content only with a default configuration", problems)
    r.add("6.10", "no AlternatePresentations",
          ["an AlternatePresentations name tree"] if "/AlternatePresentations" in names else [])

"""Shared helpers for the DV, omission and issue-log tests: renderers with a fixed clock, registry records,
a notice layout with the ``redact_address`` policy, and a thorough "never appears" PDF inspector.

In: the committed layouts, tenants and the fictitious sample envelope. Out: helpers; nothing here touches
the repository (state and scratch layouts go to pytest's tmp_path).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
import shutil
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject, NameObject, StreamObject
from sqlalchemy import Connection, CursorResult

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.settings import Settings
from renderer.state.db import open_database
from renderer.state.registry import parse_lines

ROOT = Path(__file__).resolve().parents[1]
SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text(encoding="utf-8"))
SAMPLE["request"]["issued_on"] = "2026-11-27"   # the bundled sample is issued "today"; tests pin the date
TENANT = "122122"
JST = dt.timezone(dt.timedelta(hours=9))
#: 2026-11-27 10:00 in Tokyo: the sample's 交付年月日
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=JST)
NOTICE_ID = "dv-notice-test"
#: a caller that checked identity documents (CLI --identity-verified / an identity-verified API key)
VERIFIED = Caller.local("cli", identity_verified=True)
#: a caller that did not
PLAIN = Caller.local("cli")


class Clock:
    """A settable server clock."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + dt.timedelta(**delta)


def make_renderer(state: Path, clock: Clock, layouts_dir: Path | None = None,
                  database_url: str | None = None) -> Renderer:
    """A renderer on `state`; `database_url` None = the state directory's SQLite file (the conftest's
    ``database_url`` fixture gives None or a fresh PostgreSQL database)."""
    return Renderer(Settings(layouts_dir=layouts_dir or ROOT / "layouts", fonts_dir=ROOT / "fonts",
                             state_dir=state, clock=clock, database_url=database_url))


def sample(layout: str | None = None, **request: Any) -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(SAMPLE)
    env["request"].update(request)
    if layout is not None:
        env["layout"] = layout
    return env


def upsert(person_id: str, version: int = 1, *, case_id: str = "C-1", role: str = "applicant",
           adversaries: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"op": "upsert", "person_id": person_id, "version": version, "case_id": case_id,
                           "role": role, "adversaries": list(adversaries), "period": {"start": "2026-04-01",
                                                                                      "end": "2027-03-31"}}
    rec.update(extra)
    return rec


def release(person_id: str, version: int) -> dict[str, Any]:
    return {"op": "release", "person_id": person_id, "version": version}


def load(renderer: Renderer, *records: dict[str, Any], tenant: str = TENANT) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    renderer.registry.import_records(tenant, parse_lines(lines), renderer.settings.now())


def notice_layouts(tmp: Path) -> Path:
    """A scratch copy of layouts/ plus a notice-kind layout (redact_address) built from juminhyo-setai.

    The real notice layouts belong to another issue; this one only exists to exercise the policy."""
    dest = tmp / "layouts"
    if dest.exists():
        return dest
    shutil.copytree(ROOT / "layouts" / "tenants", dest / "tenants")
    text = (ROOT / "layouts" / "juminhyo-setai.yaml").read_text(encoding="utf-8")
    for name in ("juminhyo-setai.yaml", "juminhyo-kojin.yaml"):
        shutil.copy(ROOT / "layouts" / name, dest / name)
    text = text.replace("id: juminhyo-setai", f"id: {NOTICE_ID}", 1)
    text = text.replace("kind: certificate", "kind: notice", 1)
    text = text.replace("dv_policy: block", "dv_policy: redact_address", 1)
    assert f"id: {NOTICE_ID}" in text and "kind: notice" in text and "redact_address" in text
    (dest / f"{NOTICE_ID}.yaml").write_text(text, encoding="utf-8")
    return dest


# --------------------------------------------------------------------------- looking inside a PDF


def strings_in(node: Any) -> set[str]:
    """Every string value (not key) in a JSON document, for "never echoed" assertions."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, str):
            out.add(n)
        elif isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass
class PdfText:
    """Every place text can hide in a PDF, each squashed (no whitespace)."""

    extracted: str          # pypdf's text extraction
    decoded: str            # content-stream strings decoded through each font's ToUnicode map
    raw_streams: bytes      # every decompressed stream, as bytes
    tounicode: str          # the Unicode targets of every ToUnicode map, in map order
    actual_text: str        # every /ActualText
    info: str               # the Info dictionary's values
    xmp: str                # XMP metadata, if any

    def places(self) -> dict[str, str]:
        return {"extracted text": self.extracted, "decoded content streams": self.decoded,
                "ToUnicode maps": self.tounicode, "ActualText": self.actual_text, "Info dictionary": self.info,
                "XMP": self.xmp}

    def where(self, needle: str) -> list[str]:
        """The places `needle` (squashed) appears in, including raw stream bytes in UTF-8/UTF-16."""
        n = squash(needle)
        found = [name for name, text in self.places().items() if n in text]
        for enc in ("utf-8", "utf-16-be"):
            if n.encode(enc) in self.raw_streams:
                found.append(f"raw streams ({enc})")
        return found


_CMAP_PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_CMAP_RANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


def _tounicode(stream: bytes) -> dict[int, str]:
    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
        for src, dst in _CMAP_PAIR.findall(block):
            out[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be", errors="replace")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
        for lo, hi, dst in _CMAP_RANGE.findall(block):
            base = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(base + i)
    return out


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def inspect_pdf(pdf: bytes) -> PdfText:
    reader = PdfReader(io.BytesIO(pdf))
    extracted = "".join(page.extract_text() for page in reader.pages)
    raw: list[bytes] = []
    for chunk in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            raw.append(zlib.decompress(chunk))
        except zlib.error:
            raw.append(chunk)
    decoded: list[str] = []
    maps_text: list[str] = []
    for page in reader.pages:
        resources = _resolve(page.get("/Resources")) or DictionaryObject()
        fonts = _resolve(resources.get("/Font")) or DictionaryObject()
        maps: dict[str, dict[int, str]] = {}
        for name, ref in fonts.items():
            font = _resolve(ref)
            tu = _resolve(font.get("/ToUnicode"))
            cmap = _tounicode(tu.get_data()) if isinstance(tu, StreamObject) else {}
            maps[str(name)] = cmap
            maps_text.append("".join(cmap[k] for k in sorted(cmap)))
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
        current: dict[int, str] = {}
        for match in _TEXT_OPS.finditer(data):
            if match.group("font") is not None:
                current = maps.get("/" + match.group("font").decode("latin-1"), {})
            else:
                decoded.append("".join(current.get(b, "") for b in _literal(match.group("string"))))
    actual = [bytes.fromhex(h.decode()).decode("utf-16-be", errors="replace")[1:]
              for h in re.findall(rb"/ActualText\s*<([0-9A-Fa-f]+)>", b"".join(raw))]
    info: dict[str, Any] = dict(reader.metadata or {})
    root = _resolve(reader.trailer["/Root"])
    xmp_obj = _resolve(root.get(NameObject("/Metadata")))
    xmp = xmp_obj.get_data().decode("utf-8", errors="replace") if isinstance(xmp_obj, StreamObject) else ""
    return PdfText(extracted=squash(extracted), decoded=squash("".join(decoded)), raw_streams=b"".join(raw),
                   tounicode=squash("".join(maps_text)), actual_text=squash("".join(actual)),
                   info=squash("".join(str(v) for v in info.values())), xmp=squash(xmp))


# ReportLab's content streams: ``/F1+0 9 Tf`` selects a font, ``(…) Tj`` shows a literal string.
_TEXT_OPS = re.compile(rb"/(?P<font>[^\s/()<>\[\]]+)\s+[-\d.]+\s+Tf|\((?P<string>(?:\\.|[^\\)])*)\)\s*Tj", re.S)
_ESCAPES = {b"n": 10, b"r": 13, b"t": 9, b"b": 8, b"f": 12}


def _literal(raw: bytes) -> bytes:
    """The bytes of a PDF literal string body (escapes and octal codes resolved)."""
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        nxt = raw[i + 1:i + 2]
        if nxt.isdigit():
            digits = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            assert digits is not None
            out.append(int(digits.group(), 8) & 0xFF)
            i += 1 + len(digits.group())
        else:
            out.append(_ESCAPES.get(nxt, nxt[0] if nxt else 92))
            i += 2
    return bytes(out)


class _Raw:
    """Plain SQL on a renderer's database, ``?`` placeholders on every backend (tests that tamper)."""

    def __init__(self, conn: Connection, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> CursorResult[*tuple[Any, ...]]:
        return self.conn.exec_driver_sql(sql.replace("?", "%s") if self.postgres else sql, params)


@contextmanager
def raw_db(renderer: Renderer) -> Iterator[_Raw]:
    """One committed transaction of plain SQL on the renderer's database (SQLite or PostgreSQL), outside
    the renderer's locks: what an attacker with the database would do."""
    db = open_database(renderer.settings)
    with db.engine.begin() as conn:
        yield _Raw(conn, not db.is_sqlite)

"""What a PDF handed back says about itself and about this server: signatures, PDF/A, 発行番号 in the issue log.

In: the bytes of a PDF (a certificate a clerk is shown, an upload to ``POST /v1/verify``) and a `Renderer`
(its database and log key). Out: a `VerifyReport` —
- ``file``: sha256, size, pages;
- ``signatures``: `renderer.signing.inspect.describe_signatures` (signer, signing time, timestamp, coverage,
  LTV), or ``"not inspected"`` with the reason when the signing package is not installed;
- ``pdfa``: the claim and every checked clause (`renderer.pdfa_check`), with what is not checked;
- ``issue_numbers``: every 発行番号 printed on the pages (read from the text layer), each looked up in this
  server's issue log: issued and rendered here (the render record's seq, MAC checked), voided, or unknown;
  and whether this exact file is the one the render record names (its ``pdf_sha256``, or the signed file's).
``ok`` is true when at least one 発行番号 is found and every one is a rendered number of this log whose render
record passes its MAC and names this very file (sha256 of the delivered or signed bytes), the PDF/A claim (if
any) passes
every checked clause and every signature (if any) is valid. A file that is not a PDF raises `InputError`
(exit 2). Nothing here writes to the log; nothing personal is read (the text layer is scanned for the
発行番号 pattern only, and only that is reported).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from renderer.errors import ChohyoError, InputError
from renderer.pdfa_check import Conformance, NotAPdf, check

if TYPE_CHECKING:
    from renderer.api import Renderer

#: YYYYMMDD 市区町村名 [端末] [プリンタ] NNNNNN n/N — as `renderer.compose.compose.issue_number` prints it
_NUMBER = re.compile(r"(\d{8}(?: [^\s/]+){1,3} \d{6}) (\d+)/(\d+)")
MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class FoundNumber:
    printed: str
    page: int
    status: str                       # rendered | void | open | unknown
    tenant: str | None = None
    serial: int | None = None
    render_record: int | None = None
    record_mac_ok: bool | None = None
    file_matches_record: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"printed": self.printed, "page": self.page, "status": self.status, "tenant": self.tenant,
                "serial": self.serial, "render_record": self.render_record, "record_mac_ok": self.record_mac_ok,
                "file_matches_record": self.file_matches_record}


@dataclass(frozen=True)
class VerifyReport:
    sha256: str
    size: int
    pages: int
    pdfa: Conformance
    signatures: list[dict[str, Any]] | str
    numbers: list[FoundNumber] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = number_problems([n.as_dict() for n in self.numbers])
        if self.pdfa.claim is not None and not self.pdfa.ok:
            out.append(f"claims PDF/A-{self.pdfa.claim} but fails clause(s) "
                       f"{', '.join(c.clause for c in self.pdfa.failed)}")
        if isinstance(self.signatures, list):
            out.extend(f"signature {s.get('field', i)}: integrity fails (the file was changed after signing)"
                       for i, s in enumerate(self.signatures, 1) if s.get("integrity_ok") is False)
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems,
                "file": {"sha256": self.sha256, "bytes": self.size, "pages": self.pages},
                "signatures": self.signatures, "pdfa": self.pdfa.as_dict(),
                "issue_numbers": [n.as_dict() for n in self.numbers]}


#: every problem about the 発行番号 starts with this word (the service rewrites them for its tenant's view)
NUMBER_PROBLEM = "発行番号"


def number_problems(numbers: list[dict[str, Any]]) -> list[str]:
    """The problems of the 発行番号 found (`FoundNumber.as_dict` each): a number not rendered in this log, a
    render record that fails its MAC (the log was edited), a file that is not the one its record names — and
    none found at all (a preview, a re-typed copy, a forgery: nothing here can vouch for it)."""
    if not numbers:
        return [f"{NUMBER_PROBLEM}: none found on the pages, so nothing ties this file to a document issued here"]
    out = [f"{NUMBER_PROBLEM} {n['printed']} (page {n['page']}): {n['status']} in this server's issue log"
           for n in numbers if n["status"] != "rendered"]
    out.extend(f"{NUMBER_PROBLEM} {n['printed']} (page {n['page']}): its render record fails its MAC (the issue "
               f"log was edited)" for n in numbers if n["status"] == "rendered" and n["record_mac_ok"] is False)
    out.extend(f"{NUMBER_PROBLEM} {n['printed']}: this file is not the one its render record names (changed "
               f"after issue, or re-saved)" for n in numbers if n["file_matches_record"] is False)
    return out


def verify_pdf(renderer: Renderer, pdf: bytes) -> VerifyReport:
    """See the module docstring. `InputError` (exit 2) for anything that is not a readable PDF."""
    if len(pdf) > MAX_BYTES:
        raise InputError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", field="file")
    try:
        conformance = check(pdf)
    except NotAPdf as exc:
        raise InputError(f"the file is not a PDF ({exc})", field="file") from None
    texts = _page_texts(pdf)
    sha = hashlib.sha256(pdf).hexdigest()
    numbers = [_look_up(renderer, printed, page, sha) for page, printed in _printed_numbers(texts)]
    return VerifyReport(sha256=sha, size=len(pdf), pages=len(texts), pdfa=conformance,
                        signatures=_signatures(pdf), numbers=numbers)


def _page_texts(pdf: bytes) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf), strict=False).pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the file's pages cannot be read ({exc.__class__.__name__})", field="file") from None


def _printed_numbers(texts: list[str]) -> list[tuple[int, str]]:
    """(page, 発行番号 without n/N) of every 発行番号 on the pages, in order, each once per page."""
    found: list[tuple[int, str]] = []
    for n, text in enumerate(texts, start=1):
        flat = " ".join(unicodedata.normalize("NFKC", text).split())
        for m in _NUMBER.finditer(flat):
            if (n, m.group(1)) not in found:
                found.append((n, m.group(1)))
    return found


def _look_up(renderer: Renderer, printed: str, page: int, sha: str) -> FoundNumber:
    from renderer.cli.audit import _matches, find_numbers, parse_number, read_records

    try:
        query = parse_number(printed)
        numbers = find_numbers(renderer, query, tenant=None, day=None)
        records = read_records(renderer, {s for n in numbers for s in (n.reserved_by, n.closed_by) if s is not None})
    except ChohyoError:
        return FoundNumber(printed, page, "unknown")
    numbers = [n for n in numbers if _matches(renderer, query, n, records)]
    if not numbers:
        return FoundNumber(printed, page, "unknown")
    number = numbers[0]
    record = records.get(number.closed_by) if number.closed_by is not None else None
    body = (record or {}).get("body") or {}
    matches = None
    if number.outcome == "rendered":
        matches = sha in (body.get("pdf_sha256"), body.get("signed_sha256"))
    return FoundNumber(printed, page, number.outcome or "open", tenant=number.tenant, serial=number.serial,
                       render_record=number.closed_by if number.outcome == "rendered" else None,
                       record_mac_ok=(record or {}).get("mac_ok"), file_matches_record=matches)


def _signatures(pdf: bytes) -> list[dict[str, Any]] | str:
    try:
        from renderer.signing.inspect import describe_signatures
    except ImportError as exc:   # the signing extra (pyHanko) is not installed here
        return f"not inspected ({exc.__class__.__name__}: the signing package is not available)"
    try:
        return describe_signatures(pdf)
    except ChohyoError as exc:
        return f"not inspected ({exc.message})"

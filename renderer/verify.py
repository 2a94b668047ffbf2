"""What a PDF handed back says about itself and about this server: signatures, PDF/A, 発行番号 in the issue log.

In: the bytes of a PDF (a certificate a clerk is shown, an upload to ``POST /v1/verify``) and a `Renderer`
(its database and log key). Out: a `VerifyReport` —
- ``file``: sha256, size, pages;
- ``signatures``: `renderer.signing.inspect.describe_signatures` (signer, signing time, timestamp, coverage,
  LTV), or ``"not inspected"`` with the reason when the signing package is not installed;
- ``pdfa``: the claim and every checked clause (`renderer.pdfa_check`), with what is not checked;
- ``issue_numbers``: every 発行番号 printed on the pages (read from the text layer), each looked up in this
  server's issue log (``tenant``: one tenant's numbers only, as ``POST /v1/verify`` asks for its key's):
  issued and rendered here (the render record's seq, MAC checked), voided, or unknown; and whether this
  exact file is the one the render record names — the delivered file: ``signed_sha256`` when the render was
  signed (its ``pdf_sha256``, the drawing before signing, was never delivered and is reported as such),
  else ``pdf_sha256``. Two tenants with the same 市区町村名 print the same 発行番号 (it names no prefecture):
  every record of the number is a candidate, and the verdict is given by the one that names this file.
``ok`` is true when at least one 発行番号 is found and every one is a rendered number of this log whose render
record passes its MAC (a MAC that cannot be checked — no log key here, the record missing — is a problem,
never a pass) and names this very file, the PDF/A claim (if any) passes every checked clause and every
signature (if any) can be read and is intact. A file that is not a PDF, or whose structure or streams cannot
be read (a decompression bomb, a broken object graph), raises `InputError` (exit 2, HTTP 422). Nothing here
writes to the log; nothing personal is read (the text layer is scanned for the 発行番号 pattern only, and only
that is reported).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pypdf.errors import PyPdfError

from renderer.errors import ChohyoError, InputError
from renderer.pdfa_check import Conformance, NotAPdf, check

if TYPE_CHECKING:
    from renderer.api import Renderer
    from renderer.cli.audit import ShownNumber

#: YYYYMMDD 市区町村名 [端末] [プリンタ] NNNNNN n/N — as `renderer.compose.compose.issue_number` prints it
_NUMBER = re.compile(r"(\d{8}(?: [^\s/]+){1,3} \d{6}) (\d+)/(\d+)")
MAX_BYTES = 20 * 1024 * 1024
#: what pypdf raises on a file it cannot read (PyPdfError covers PdfReadError and LimitReachedError: a stream
#: that decompresses beyond pypdf's limits); a verify of a hostile file is an input error, never a 500
UNREADABLE: tuple[type[Exception], ...] = (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError,
                                           RecursionError, AssertionError, ZeroDivisionError)


@dataclass(frozen=True)
class FoundNumber:
    printed: str
    page: int
    status: str                       # rendered | void | open | unknown
    tenant: str | None = None
    serial: int | None = None
    render_record: int | None = None
    record_mac_ok: bool | None = None
    #: why the render record's MAC was not checked (no log key here, the record missing): itself a problem
    record_mac_unchecked: str | None = None
    file_matches_record: bool | None = None
    #: the render was signed and this file is the drawing before signing (its pdf_sha256): never delivered
    unsigned_drawing: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"printed": self.printed, "page": self.page, "status": self.status, "tenant": self.tenant,
                "serial": self.serial, "render_record": self.render_record, "record_mac_ok": self.record_mac_ok,
                "record_mac_unchecked": self.record_mac_unchecked, "file_matches_record": self.file_matches_record,
                "unsigned_drawing": self.unsigned_drawing}


def unknown_number(printed: str, page: int) -> dict[str, Any]:
    """`FoundNumber.as_dict` of a number this log (or this key's tenant) does not know."""
    return FoundNumber(printed, page, "unknown").as_dict()


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
        for i, s in enumerate(self.signatures if isinstance(self.signatures, list) else [], 1):
            name = s.get("field") or i
            if s.get("readable") is False:
                out.append(f"signature {name}: cannot be checked ({'; '.join(s.get('problems') or [])})")
            elif s.get("integrity_ok") is False:
                out.append(f"signature {name}: integrity fails (the file was changed after signing)")
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
    render record that fails its MAC (the log was edited) or whose MAC cannot be checked here (no log key, the
    record missing: nothing vouches for the record), the unsigned drawing of a signed file (never delivered), a
    file that is not the one its record names — and none found at all (a preview, a re-typed copy, a forgery:
    nothing here can vouch for it). The one wording of these problems, for the CLI and the service."""
    if not numbers:
        return [f"{NUMBER_PROBLEM}: none found on the pages, so nothing ties this file to a document issued here"]
    out: list[str] = []
    for n in numbers:
        where = f"{NUMBER_PROBLEM} {n['printed']} (page {n['page']})"
        if n["status"] != "rendered":
            out.append(f"{where}: {n['status']} in this server's issue log")
            continue
        if n.get("record_mac_ok") is False:
            out.append(f"{where}: its render record fails its MAC (the issue log was edited)")
        elif n.get("record_mac_ok") is not True:
            out.append(f"{where}: its render record's MAC cannot be checked here "
                       f"({n.get('record_mac_unchecked') or 'no reason given'}), so nothing vouches for the record")
        if n.get("unsigned_drawing"):
            out.append(f"{where}: issued signed; this copy has no signature: it is the drawing before signing, "
                       f"never delivered")
        elif n.get("file_matches_record") is False:
            out.append(f"{NUMBER_PROBLEM} {n['printed']}: this file is not the one its render record names "
                       f"(changed after issue, or re-saved)")
    return out


def verify_pdf(renderer: Renderer, pdf: bytes, *, tenant: str | None = None) -> VerifyReport:
    """See the module docstring. `InputError` (exit 2) for anything that is not a readable PDF; `tenant`: look
    the 発行番号 up in this tenant's series only (another tenant's reads ``unknown``)."""
    if len(pdf) > MAX_BYTES:
        raise InputError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", field="file")
    try:
        conformance = check(pdf)
        texts = _page_texts(pdf)
    except NotAPdf as exc:
        raise InputError(f"the file is not a PDF ({exc})", field="file") from None
    except UNREADABLE as exc:   # pypdf on a hostile file: a stream bomb (LimitReachedError), a broken graph
        raise InputError(f"the file's structure or streams cannot be read ({exc.__class__.__name__})",
                         field="file") from None
    sha = hashlib.sha256(pdf).hexdigest()
    printed = _printed_numbers(texts)
    key_problem = _log_key_problem(renderer) if printed else None
    numbers = [_look_up(renderer, text, page, sha, tenant, key_problem) for page, text in printed]
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


def _log_key_problem(renderer: Renderer) -> str | None:
    """Why this server cannot check records' MACs (its log key is missing, refused or unreadable), naming the
    source (``CHOHYO_LOG_KEY`` or the key file, the state directory's path left out); None when it can."""
    from renderer.state.issue_log import KEY_FILE, IssueLogError

    try:
        renderer.issue_log.key(create=False)
    except IssueLogError as exc:
        path = str(renderer.settings.state_dir / KEY_FILE)
        return f"no usable issue-log key: {exc.message.replace(path, f'<state dir>/{KEY_FILE}')}"
    return None


def _look_up(renderer: Renderer, printed: str, page: int, sha: str, tenant: str | None,
             key_problem: str | None) -> FoundNumber:
    from renderer.cli.audit import _matches, find_numbers, parse_number, read_records

    try:
        query = parse_number(printed)
        numbers = find_numbers(renderer, query, tenant=tenant, day=None)
        records = read_records(renderer, {s for n in numbers for s in (n.reserved_by, n.closed_by) if s is not None})
    except ChohyoError:
        return FoundNumber(printed, page, "unknown")
    candidates = [n for n in numbers if _matches(renderer, query, n, records)]
    if not candidates:
        return FoundNumber(printed, page, "unknown")
    found = [_found(printed, page, n, records, sha, key_problem) for n in candidates]
    # the record that names this file gives the verdict; else its unsigned drawing's; else the first (by seq)
    return min(found, key=lambda f: (not f.file_matches_record, not f.unsigned_drawing, f.record_mac_ok is not True))


def _found(printed: str, page: int, number: ShownNumber, records: dict[int, dict[str, Any]], sha: str,
           key_problem: str | None) -> FoundNumber:
    """What one issued number (one tenant's series) says of this file."""
    status = number.outcome or "open"
    if status != "rendered" or number.closed_by is None:
        return FoundNumber(printed, page, status, tenant=number.tenant, serial=number.serial)
    record = records.get(number.closed_by)
    body = (record or {}).get("body") or {}
    mac_ok = (record or {}).get("mac_ok")
    unchecked = None
    if record is None:
        unchecked = f"record {number.closed_by} is missing from the issue log"
    elif mac_ok is None:
        unchecked = key_problem or "no issue-log key here"
    signed, drawn = body.get("signed_sha256") or None, body.get("pdf_sha256") or None
    delivered = signed or drawn
    return FoundNumber(printed, page, status, tenant=number.tenant, serial=number.serial,
                       render_record=number.closed_by, record_mac_ok=mac_ok, record_mac_unchecked=unchecked,
                       file_matches_record=sha == delivered,
                       unsigned_drawing=signed is not None and sha == drawn and sha != signed)


def _signatures(pdf: bytes) -> list[dict[str, Any]] | str:
    try:
        from renderer.signing.inspect import describe_signatures, unreadable
    except ImportError as exc:   # the signing extra (pyHanko) is not installed here
        return f"not inspected ({exc.__class__.__name__}: the signing package is not available)"
    try:
        return describe_signatures(pdf)
    except ChohyoError as exc:   # pypdf read the file, pyHanko cannot: its signatures are not known to be none
        return [unreadable(None, f"the file's signatures cannot be read ({exc.message})")]
    except Exception as exc:   # a hostile file the signature checker trips on: reported, never a 500
        return [unreadable(None, f"the signature checker failed on this file ({exc.__class__.__name__})")]

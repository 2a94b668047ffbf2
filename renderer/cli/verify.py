"""`chohyo verify FILE.pdf [--json]`: check a PDF handed back (`renderer.verify`).

In: a PDF file and this server's state (database, log key). Out: on stdout, the file's sha256, its signatures
(signer, signing time, timestamp, coverage, LTV — or "not inspected" without the signing package), its PDF/A
claim with every checked clause, and each 発行番号 printed on it with what this server's issue log says of it;
``--json`` prints the same as one object. Exit 0 when every check passes, 1 when one fails (a 発行番号 unknown
here or voided, a render record whose MAC fails or cannot be checked here, a file that is not the one issued
— the unsigned drawing of a signed certificate included —, a failed PDF/A clause of a file that claims PDF/A, a
signature that cannot be read or whose integrity fails), 2 when the file cannot be read or is not a readable
PDF (the error names the file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from renderer.cli.common import Cli, command, out
from renderer.errors import InputError, UsageError

if TYPE_CHECKING:
    from renderer.verify import FoundNumber


@command(json_help="print the report as one JSON object (errors as problem+json on stderr)")
def verify(
    cli: Cli,
    file: Annotated[Path, typer.Argument(metavar="FILE.pdf", help="the PDF to check")],
) -> int:
    """Check a PDF handed back: signatures, PDF/A claim and clauses, 発行番号 in this server's issue log."""
    from renderer.verify import MAX_BYTES, verify_pdf

    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise UsageError(f"{file}: larger than {MAX_BYTES // (1024 * 1024)} MB", field="FILE")
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.__class__.__name__}", field="FILE") from None
    try:
        report = verify_pdf(cli.renderer(), data)
    except InputError as exc:
        raise InputError(f"{file}: {exc.message}", field=exc.field) from None
    if cli.as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
        return 0 if report.ok else 1

    def p(text: str) -> None:
        out.print(text, markup=False)

    p(f"file: {file} ({report.size} bytes, {report.pages} page(s), sha256 {report.sha256})")
    if isinstance(report.signatures, str):
        p(f"signatures: {report.signatures}")
    elif not report.signatures:
        p("signatures: none")
    for s in report.signatures if isinstance(report.signatures, list) else []:
        p(_signature_line(s))
    pdfa = report.pdfa
    if pdfa.claim is None:
        p("PDF/A: no claim (a plain PDF)")
    else:
        p(f"PDF/A: claims PDF/A-{pdfa.claim}; {len(pdfa.clauses) - len(pdfa.failed)} of {len(pdfa.clauses)} "
          f"checked clauses pass (not a full validation: see README)")
        for c in pdfa.failed:
            p(f"  FAILS {c.clause} {c.requirement}: {c.detail}")
    if not report.numbers:
        p("発行番号: none found on the pages")
    for n in report.numbers:
        p(_number_line(n))
    for problem in report.problems:
        p(f"problem: {problem}")
    return 0 if report.ok else 1


def _signature_line(s: dict[str, Any]) -> str:
    if s.get("readable") is False:
        return f"signature {s.get('field') or '(unnamed)'}: CANNOT BE CHECKED: {'; '.join(s.get('problems') or [])}"
    ts = s.get("timestamp") or {}
    ltv = s.get("ltv") or {}
    return (f"signature {s.get('field')}: signer {s.get('signer_subject')}, signed {s.get('signing_time')}, "
            f"timestamp {ts.get('time') or 'none'}, coverage {s.get('coverage')}, integrity "
            f"{'ok' if s.get('integrity_ok') else 'FAILS'}, level {s.get('level')}, LTV "
            f"{'embedded' if ltv.get('present') else 'none'}")


def _number_line(n: FoundNumber) -> str:
    line = f"発行番号 {n.printed} (page {n.page}): {n.status} in this server's issue log"
    if n.status != "rendered":
        return line
    if n.unsigned_drawing:
        same = "the unsigned drawing of the signed file issued, never delivered"
    elif n.file_matches_record:
        same = ("this exact file was issued" if n.record_mac_ok else
                "the file is the one its record names, but the record is not authenticated")
    else:
        same = "the file differs from the one issued" if n.file_matches_record is False else ""
    return f"{line} (render record {n.render_record}{', ' + same if same else ''})"

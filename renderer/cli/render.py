"""`chohyo render LAYOUT_ID INPUT.json -o OUT.pdf`: one envelope to one PDF (written atomically).

In: the envelope — or, with ``--rows ROWS.jsonl``, a list's header envelope (its data without the rows) and
the rows one per line (`renderer.rows`: every line is validated before anything is drawn; a bad line is exit
2 naming its line number and field). Out: the PDF, written to a temp file and renamed into place only when
everything succeeded (a failed render leaves no file), plus the optional report and display list.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from renderer.api import RenderResult
from renderer.caller import Caller
from renderer.cli.common import MAILING_HELP, Cli, command, read_json, say
from renderer.files import write_atomic
from renderer.fonts import altered_chars
from renderer.rows import RowsFile


@command()
def render(
    cli: Cli,
    layout_id: Annotated[str, typer.Argument(help="layout id, e.g. juminhyo-setai")],
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.json",
                                               help="the envelope {layout, tenant, request, data}")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF to write")],
    rows: Annotated[Path | None, typer.Option(
        "--rows", metavar="ROWS.jsonl", help="a list's rows, one JSON object per line (INPUT.json is then the "
                                             "header envelope, its data without the rows): drawn as they are "
                                             "read, never all held")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="write the render report (JSON) here")] = None,
    display: Annotated[Path | None, typer.Option("--display", help="write the display list text here")] = None,
    identity_verified: Annotated[bool, typer.Option(
        "--identity-verified", help="the requester's identity documents were checked at the counter: a `self` "
                                    "claim for a DV-protected person is honoured (recorded in the issue log)")] = False,
    mailing: Annotated[bool, typer.Option("--mailing", help=MAILING_HELP)] = False,
) -> int:
    """Render one envelope to a PDF."""
    renderer = cli.renderer()
    caller = Caller.local("cli", identity_verified=identity_verified, mailing=mailing)
    header = read_json(input_path)
    with RowsFile(rows) if rows is not None else contextlib.nullcontext() as rows_file:
        result = renderer.render(header, layout_id=layout_id, caller=caller, rows=rows_file)
        try:
            if rows_file is not None:
                rows_file.check_unchanged()   # the bytes drawn are the bytes validated, or nothing is delivered
            return deliver(result, layout_id, output, report=report, display=display)
        except BaseException:   # the PDF was made but not delivered: its numbers are spoiled (処分)
            renderer.spoil(result.numbers, result.issue_numbers, layout=layout_id,
                           tenant=result.numbers[0].tenant if result.numbers else "", caller=caller,
                           reason="not-written")
            raise


def deliver(result: RenderResult, layout_id: str, output: Path, *, report: Path | None, display: Path | None) -> int:
    """Write the reports, the overflow sidecar and the PDF (last), then say what was written."""
    summary = {
        "layout": layout_id,
        "pages": result.pages,
        "sheets_per_copy": result.sheets_per_copy,
        "issue_numbers": result.issue_numbers,
        "seal_printed": result.seal_printed,
        "my_number_printed": result.my_number_printed,
        "overflow": result.overflow,
        "chars": result.chars,
        "lifts_used": result.lifts_used,
        "warnings": result.warnings,
        "pdf_sha256": result.pdf_sha256,
        **({"signed_sha256": result.signed_sha256, "signer_fingerprint": result.signer_fingerprint}
           if result.signed_sha256 else {}),   # a signed PDF (renderer.signing): the delivered file's sha256
    }
    if report is not None:
        write_atomic(report, json.dumps(summary, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    if display is not None:
        write_atomic(display, result.display.encode("utf-8"))
    sidecar = output.with_name(output.stem + ".overflow.json")
    if result.overflow:
        # Nothing is ever cut without a record: the overflow report always travels with the PDF.
        body = {"layout": layout_id, "overflow": result.overflow}
        write_atomic(sidecar, json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    else:
        sidecar.unlink(missing_ok=True)   # never leave a stale report next to a new PDF
    write_atomic(output, result.pdf)
    numbers = f"発行番号 {', '.join(result.issue_numbers)}" if result.issue_numbers else \
        "no 発行番号: the layout prints none, so none was spent"
    signed = f", signed (sha256 {result.signed_sha256[:16]}…)" if result.signed_sha256 else ""
    say(f"wrote {output} ({result.pages} page(s), {numbers}{signed})")
    for warning in result.warnings:   # DV 支援措置: period ended etc. (protection continues)
        say(f"warning: {warning}")
    if result.overflow:
        say(f"overflow: {len(result.overflow)} field(s) needed their overflow policy (see {sidecar.name})")
    altered = altered_chars(result.chars)
    if altered:   # never silent: the page shows something other than the data (field paths only, no values)
        fields = sorted({str(c["field"]) for c in result.chars if c.get("kind") in altered})
        what = ", ".join(f"{k}={v}" for k, v in altered.items())
        more = f" and {len(fields) - 5} more field(s)" if len(fields) > 5 else ""
        say(f"warning: {sum(altered.values())} character(s) printed other than given in {', '.join(fields[:5])}{more}: "
            f"{what} (ivs_fallback: a 異体字 the fonts lack, printed as its base character; substitute: the field's "
            f"declared substitute); `chohyo chars check` lists them")
    return 0

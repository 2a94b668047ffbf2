"""`chohyo print LAYOUT_ID INPUT.json --printer ID -o OUT.pdf`: render one envelope and print it over IPP.

In: a layout id, an envelope, a printer id the envelope's tenant declares (with an IPP URI and a tray for the
layout's `printing` purpose), the path of the archived PDF. Out: the PDF written (the archived copy, exactly
the bytes sent), one IPP job (media, media-source, sides, copies 1 — each requested copy is already a copy of
its own with its own 発行番号 — job-name ``chohyo-<layout>-<first serial>-<random>``, application/pdf) watched to its
final state, an issue-log ``print`` record (printer, job id, state, 発行番号), and a summary on stderr.

Order: the printer is checked against the layout (tenant file) and asked whether it can take the job
(Get-Printer-Attributes) before anything is spent; a printer that cannot is exit 2, one that does not answer
exit 1. The envelope's ``request.printer`` (the name the 発行番号 prints) must be this printer: absent, it is
set to it; another id is exit 2. Exit 0 the job completed; 1 it was aborted or canceled, or the printer did
not finish it within ``--wait`` (the PDF and its 発行番号 are kept: print the file again by hand or reissue).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from renderer.caller import Caller
from renderer.cli.common import MAILING_HELP, Cli, command, err, layout_argument, read_json
from renderer.cli.render import deliver
from renderer.errors import ChohyoError, UsageError
from renderer.printing.run import PrintFile, PrintRun
from renderer.printing.target import preflight, resolve


@command()
def print_(
    cli: Cli,
    layout_id: Annotated[str, typer.Argument(help="layout id, e.g. juminhyo-setai")],
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.json",
                                               help="the envelope {layout, tenant, request, data}")],
    printer: Annotated[str, typer.Option("--printer", help="printer id declared in the tenant file (with a uri)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the archived PDF: the bytes sent to the printer")],
    wait: Annotated[float, typer.Option("--wait", min=1, help="seconds to wait for the job to finish")] = 600.0,
    identity_verified: Annotated[bool, typer.Option(
        "--identity-verified", help="the requester's identity documents were checked at the counter")] = False,
    mailing: Annotated[bool, typer.Option("--mailing", help=MAILING_HELP)] = False,
) -> int:
    """Render one envelope and print it on a declared IPP printer (one job, watched to its end)."""
    layout_id = layout_argument(layout_id, cli.settings.layouts_dir)
    renderer = cli.renderer()
    envelope = read_json(input_path)
    spec = renderer.layout(layout_id)
    tenant = renderer.tenant(_tenant_code(envelope))
    target = resolve(tenant, printer, spec)
    _name_printer(envelope, printer)
    preflight(target)   # asks the printer: nothing is spent when it cannot take the job
    caller = Caller.local("cli", identity_verified=identity_verified, mailing=mailing)
    result = renderer.render(envelope, layout_id=layout_id, caller=caller)
    try:
        deliver(result, layout_id, output, report=None, display=None)
    except BaseException:
        renderer.spoil(result.numbers, result.issue_numbers, layout=layout_id, tenant=tenant.code, caller=caller,
                       reason="not-written")
        raise
    first = min((n.serial for n in result.numbers), default=0)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    run_id = f"{stamp}{first:06d}"
    journal = output.with_name(output.name + ".print.jsonl")
    journal.unlink(missing_ok=True)   # a new render is a new document: its own journal
    copies = tempfile.TemporaryDirectory(prefix="chohyo-print-")   # a calibrated print copy, deleted after
    job = PrintRun(output.parent, [PrintFile(output.name, _sha(output), tuple(result.issue_numbers))],
                   target, journal_path=journal, run_id=run_id, layout=layout_id, issue_log=renderer.issue_log,
                   say=lambda m: err.print(m, markup=False), wait_seconds=wait, report_every=10.0,
                   # never the file's name (it may name a person); unique to this print: serials restart in every
                   # series, and a job looked up by name after a cut connection must be this one's, never another's
                   job_label=f"chohyo-{layout_id}-{first:06d}-{uuid.uuid4().hex[:12]}",
                   copies_dir=Path(copies.name))
    try:
        with copies:
            report = job.run()
    except ChohyoError as exc:
        raise ChohyoError(f"{exc.message}; the PDF and its 発行番号 are kept at {output}") from None
    except Exception as exc:   # the PDF was delivered: say so, never "nothing was delivered"
        raise ChohyoError(f"printing failed ({exc.__class__.__name__}); the PDF and its 発行番号 are kept at "
                          f"{output}") from None
    state = job.journal.state(output.name)
    err.print(f"printer {printer}: job {state.job_id} {state.state or state.status} "
              f"(tray {target.purpose} = {target.tray.source}, {target.sides}, {target.paper})", markup=False)
    if report.needs_operator:
        raise ChohyoError(f"printer {printer}: {report.needs_operator[output.name]}; the PDF is kept at {output}")
    return 0


def _sha(path: Path) -> str:
    """The archived file's sha256 (a signed PDF differs from the drawing's `pdf_sha256`)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tenant_code(envelope: Any) -> str:
    code = envelope.get("tenant") if isinstance(envelope, dict) else None
    if not isinstance(code, str):
        raise UsageError("tenant: the envelope names no tenant, so no printer can be looked up", field="tenant")
    return code


def _name_printer(envelope: dict[str, Any], printer: str) -> None:
    request = envelope.get("request")
    if not isinstance(request, dict):
        return   # the envelope's own validation names the problem
    named = request.get("printer")
    if named in (None, ""):
        request["printer"] = printer   # the 発行番号 names the printer that prints it
    elif named != printer:
        raise UsageError(f"request.printer: the envelope names printer {named!r}, but --printer is {printer!r}; "
                         f"the 発行番号 must name the printer that prints it", field="request.printer")

"""`chohyo calibrate PRINTER --tray PURPOSE [--tenant CODE] [-o SHEET.pdf] [--wait S] [--no-print]`: print the
calibration sheet of one tray of a declared IPP printer.

In: a printer id, a tray purpose, the tenant declaring the printer (``--tenant``; absent: the only tenant file
declaring that printer id), where to keep the sheet (``-o``). Out: the calibration sheet of the tray's paper
(`renderer.printing.sheet`: rulers, crosses with their nominal coordinates, the printer, tray and calibration
declared, instructions for the operator; the same printer, tray and calibration give the same bytes) written
to ``-o`` when given, and — unless ``--no-print`` — one IPP job of that sheet with the tray's calibration
applied to the print copy (exactly as a document on that tray would be printed: the point of the sheet is to
show where this tray puts marks with the calibration declared now), media-source = the tray, one-sided,
job-name ``chohyo-calibrate-<printer>-<tray>-a1``, watched to its end (`renderer.printing.run.PrintRun`, with no
issue log). No 発行番号 is spent and nothing is written to the issue log or the state directory; the job's
journal and print copy live in a temporary directory removed afterwards.

Exit 0: the sheet was written / the job completed. 2: an unknown printer (``PRINTER``) or tray (``--tray``), a
printer declared by several tenants without ``--tenant``, a printer without ``uri``, a printer that cannot take
the job (Get-Printer-Attributes), ``--no-print`` without ``-o``. 1: the printer does not answer, the job was
aborted or canceled, or did not finish within ``--wait`` seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from renderer.cli.common import Cli, command, err
from renderer.errors import ChohyoError, LayoutError, UsageError
from renderer.settings import Settings
from renderer.tenants import Tenant, load_tenant

SHEET_NAME = "calibration-sheet.pdf"


@command(("--layouts-dir", "--fonts-dir", "--json"))
def calibrate(
    cli: Cli,
    printer: Annotated[str, typer.Argument(metavar="PRINTER", help="printer id declared in a tenant file")],
    tray: Annotated[str, typer.Option("--tray", help="the tray's purpose, e.g. security_paper or plain")],
    tenant: Annotated[str | None, typer.Option(
        "--tenant", help="団体コード of the tenant declaring the printer (default: the only one that does)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="keep the sheet (the drawing, before the "
                                                                         "calibration is applied) here")] = None,
    wait: Annotated[float, typer.Option("--wait", min=1, help="seconds to wait for the job to finish")] = 600.0,
    no_print: Annotated[bool, typer.Option("--no-print", help="only write the sheet (-o), send nothing")] = False,
) -> int:
    """Print the calibration sheet of a printer's tray (rulers and crosses, with the tray's calibration applied)."""
    from renderer.files import write_atomic
    from renderer.fonts import FontSet
    from renderer.printing.sheet import SheetFacts, calibration_sheet

    if no_print and output is None:
        raise UsageError("--no-print: give -o SHEET.pdf, or nothing would be done", field="--no-print")
    settings = cli.settings
    owner = find_tenant(settings, printer, tenant)
    device = owner.printer(printer)
    chosen = device.trays.get(tray)
    if chosen is None:
        raise UsageError(f"--tray: printer {printer} of tenant {owner.code} has no tray {tray!r} (its trays: "
                         f"{', '.join(device.trays) or 'none'})", field="--tray")
    if device.uri is None and not no_print:
        raise UsageError(f"PRINTER: printer {printer} of tenant {owner.code} declares no uri: it names a printer "
                         f"for the 発行番号 only and cannot be sent jobs (--no-print writes the sheet only)",
                         field="PRINTER")
    sheet = calibration_sheet(SheetFacts.of(owner.code, device, tray, chosen), FontSet(settings.fonts_dir))
    if output is not None:
        write_atomic(output, sheet)
        err.print(f"wrote {output} (calibration sheet, {chosen.paper}, printer {printer}, tray {tray})", markup=False)
    if no_print:
        return 0
    return send(owner, printer, tray, sheet, wait=wait)


def find_tenant(settings: Settings, printer: str, code: str | None) -> Tenant:
    """The tenant named by ``--tenant``, else the only tenant file declaring `printer` (exit 2 otherwise)."""
    if code is not None:
        try:
            found = load_tenant(settings.tenants_dir, code)
        except ChohyoError as exc:
            raise UsageError(f"--tenant: {exc.message}", field="--tenant") from None
        if all(p.id != printer for p in found.file.printers):
            known = ", ".join(p.id for p in found.file.printers) or "none"
            raise UsageError(f"PRINTER: {printer!r} is not a printer of tenant {code} (declared: {known})",
                             field="PRINTER")
        return found
    owners: list[Tenant] = []
    unreadable: list[str] = []
    for path in sorted(settings.tenants_dir.glob("*.yaml")):
        try:
            candidate = load_tenant(settings.tenants_dir, path.stem)
        except (LayoutError, ChohyoError):
            unreadable.append(path.name)
            continue
        if any(p.id == printer for p in candidate.file.printers):
            owners.append(candidate)
    if len(owners) > 1:
        raise UsageError(f"--tenant: printer {printer} is declared by tenants {', '.join(t.code for t in owners)}; "
                         f"say which with --tenant", field="--tenant")
    if not owners:
        skipped = f" (tenant files not readable: {', '.join(unreadable)})" if unreadable else ""
        raise UsageError(f"PRINTER: no tenant declares a printer {printer!r}{skipped}", field="PRINTER")
    return owners[0]


def send(owner: Tenant, printer: str, purpose: str, sheet: bytes, *, wait: float) -> int:
    """One job of `sheet` on the tray (its calibration applied to the print copy), watched to its end."""
    import hashlib

    from renderer.printing.run import PrintFile, PrintRun, PrintStopped
    from renderer.printing.target import PrintTarget, preflight

    device = owner.printer(printer)
    tray = device.trays[purpose]
    target = PrintTarget(tenant=owner.code, printer=device, purpose=purpose, tray=tray, sides="one-sided",
                         paper=tray.paper)
    preflight(target, field="PRINTER")   # the printer takes PDF, has the tray's media-source
    with tempfile.TemporaryDirectory(prefix="chohyo-calibrate-") as tmp:
        base = Path(tmp)
        (base / SHEET_NAME).write_bytes(sheet)
        run = PrintRun(base, [PrintFile(SHEET_NAME, hashlib.sha256(sheet).hexdigest(), ())], target,
                       journal_path=base / "print-journal.jsonl", run_id="calibrate", layout="calibration-sheet",
                       issue_log=None, say=lambda m: err.print(m, markup=False), wait_seconds=wait,
                       report_every=10.0, job_label=f"chohyo-calibrate-{printer}-{purpose}",
                       copies_dir=base / "print-copies")
        try:
            report = run.run()
        except PrintStopped:   # nothing to resume: a calibration sheet is simply printed again
            raise ChohyoError(f"printer {printer}: the calibration sheet did not finish within --wait {wait:g} s "
                              f"(the printer holds the job, is stopped or does not answer); check the printer and "
                              f"run chohyo calibrate again") from None
        state = run.journal.state(SHEET_NAME)
    cal = tray.calibration
    err.print(f"printer {printer}: job {state.job_id} {state.state or state.status} (calibration sheet, tray "
              f"{purpose} = {tray.source}, {tray.paper}, calibration dx_mm {cal.dx_mm:g} dy_mm {cal.dy_mm:g} "
              f"scale {cal.scale:g})", markup=False)
    if report.needs_operator:
        raise ChohyoError(f"printer {printer}: the calibration sheet's job {state.job_id} ended "
                          f"{state.state or state.status}{f' ({state.reason})' if state.reason else ''}; check the "
                          f"printer and run chohyo calibrate again")
    return 0

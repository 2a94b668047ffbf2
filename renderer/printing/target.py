"""Can this printer serve this layout? Decided before anything is spent.

In: a tenant, a printer id and a layout. Out: a `PrintTarget` — the printer, the tray chosen by the layout's
purpose, the sides and the media — or a `UsageError` (exit 2) naming the field and the reason: the printer is
not declared, has no IPP URI, has no tray for the purpose, the tray holds other paper, or the layout needs
two-sided printing and the printer is not duplex. `preflight` then asks the printer itself (Get-Printer-
Attributes) whether it takes PDF, has that media-source and those sides: a printer that says no is refused the
same way, one that does not answer is `PrinterUnreachable` (exit 1) — still before any 発行番号 is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.errors import UsageError
from renderer.printing.ipp import IppClient, JobTicket, PrinterInfo
from renderer.spec.model import LayoutSpec, PrintNeeds
from renderer.tenants import PrinterDevice, Tenant, Tray

#: paper size → PWG media name and media-size in hundredths of a millimetre (portrait)
MEDIA: dict[str, tuple[str, int, int]] = {
    "A3": ("iso_a3_297x420mm", 29700, 42000),
    "A4": ("iso_a4_210x297mm", 21000, 29700),
    "A5": ("iso_a5_148x210mm", 14800, 21000),
    "B4": ("jis_b4_257x364mm", 25700, 36400),
    "B5": ("jis_b5_182x257mm", 18200, 25700),
}


@dataclass(frozen=True)
class PrintTarget:
    tenant: str
    printer: PrinterDevice
    purpose: str
    tray: Tray
    sides: str
    paper: str

    @property
    def uri(self) -> str:
        assert self.printer.uri is not None
        return self.printer.uri

    def client(self, *, timeout: float = 10.0) -> IppClient:
        return IppClient(self.uri, timeout=timeout)

    def ticket(self, job_name: str, *, copies: int = 1) -> JobTicket:
        media, width, height = MEDIA[self.paper]
        return JobTicket(job_name=job_name, media=media, width=width, height=height,
                         media_source=self.tray.source, sides=self.sides, copies=copies)


def resolve(tenant: Tenant, printer_id: str, spec: LayoutSpec, *, field: str = "--printer") -> PrintTarget:
    """The printer and tray for `spec`, or `UsageError` (exit 2) saying why this printer cannot serve it."""
    declared = {p.id: p for p in tenant.file.printers}
    printer = declared.get(printer_id)
    if printer is None:
        known = ", ".join(declared) or "none"
        raise UsageError(f"{field}: {printer_id!r} is not a printer of tenant {tenant.code} (declared: {known})",
                         field=field)
    if printer.uri is None:
        raise UsageError(f"{field}: printer {printer_id} of tenant {tenant.code} declares no uri: it names a "
                         f"printer for the 発行番号 only and cannot be sent jobs", field=field)
    needs = spec.printing or PrintNeeds()
    tray = printer.trays.get(needs.tray)
    if tray is None:
        have = ", ".join(printer.trays) or "none"
        raise UsageError(f"{field}: printer {printer_id} has no tray for {needs.tray!r}, which layout {spec.id} "
                         f"needs (its trays: {have})", field=field)
    if tray.paper != spec.paper.size:
        raise UsageError(f"{field}: the {needs.tray} tray of printer {printer_id} holds {tray.paper}, layout "
                         f"{spec.id} prints on {spec.paper.size}", field=field)
    if needs.sides != "one-sided" and not printer.duplex:
        raise UsageError(f"{field}: layout {spec.id} prints {needs.sides}, printer {printer_id} is not duplex",
                         field=field)
    return PrintTarget(tenant=tenant.code, printer=printer, purpose=needs.tray, tray=tray, sides=needs.sides,
                       paper=spec.paper.size)


def preflight(target: PrintTarget, info: PrinterInfo | None = None, *, field: str = "--printer") -> PrinterInfo:
    """Ask the printer whether it can take the job as declared (PDF, the tray's media-source, the sides)."""
    info = info or target.client().printer_info()
    pid = target.printer.id
    if "application/pdf" not in info.formats:
        raise UsageError(f"{field}: printer {pid} does not accept application/pdf (it takes: "
                         f"{', '.join(info.formats) or 'nothing'})", field=field)
    if info.sources and target.tray.source not in info.sources:
        raise UsageError(f"{field}: printer {pid} has no media-source {target.tray.source!r} (the {target.purpose} "
                         f"tray in the tenant file); it reports: {', '.join(info.sources)}", field=field)
    if info.sides and target.sides not in info.sides:
        raise UsageError(f"{field}: printer {pid} cannot print {target.sides} (it reports: {', '.join(info.sides)})",
                         field=field)
    return info


__all__ = ["MEDIA", "PrintTarget", "preflight", "resolve"]

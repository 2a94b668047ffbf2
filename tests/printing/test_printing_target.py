"""Can a printer serve a layout? The tenant file's printers and the layout's `printing` needs, decided before
anything is spent (no printer needed for these), and the print journal's folding of a cut last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from renderer.api import Renderer
from renderer.errors import UsageError
from renderer.printing.ipp import IppClient, JobTicket, PrinterInfo, PrinterUnreachable
from renderer.printing.journal import PrintJournal
from renderer.printing.target import preflight, resolve
from renderer.settings import PROJECT_ROOT, Settings
from renderer.spec.model import PrintNeeds
from renderer.tenants import PrinterDevice


def renderer(tmp_path: Path) -> Renderer:
    return Renderer(Settings(layouts_dir=PROJECT_ROOT / "layouts", fonts_dir=PROJECT_ROOT / "fonts",
                             state_dir=tmp_path / "state"))


def test_the_sample_tenant_declares_loopback_printers_with_trays(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    tenant = r.tenant("122122")
    target = resolve(tenant, "prn-001", r.layout("juminhyo-setai"))
    assert (target.purpose, target.tray.source, target.sides, target.paper) == (
        "security_paper", "by-pass-tray", "one-sided", "A4")
    assert target.uri.startswith("ipp://localhost:")
    ticket = target.ticket("chohyo-juminhyo-setai-000001")
    assert (ticket.media, ticket.width, ticket.height, ticket.copies) == ("iso_a4_210x297mm", 21000, 29700, 1)
    # every sample printer URI is loopback
    for code in ("122122", "131016", "281107", "281000"):
        for p in r.tenant(code).file.printers:
            assert p.uri is None or p.uri.startswith(("ipp://localhost:", "ipp://127.0.0.1:")), p.uri


@pytest.mark.parametrize(("printer", "layout", "reason"), [
    ("prn-009", "juminhyo-setai", "is not a printer of tenant 122122 (declared: prn-001, prn-002, prn-003, prn-004)"),
    ("prn-003", "juminhyo-setai", "declares no uri"),
    ("prn-002", "juminhyo-setai", "has no tray for 'security_paper'"),
])
def test_a_printer_that_cannot_serve_the_layout_is_refused_naming_why(tmp_path: Path, printer: str, layout: str,
                                                                     reason: str) -> None:
    r = renderer(tmp_path)
    with pytest.raises(UsageError) as caught:
        resolve(r.tenant("122122"), printer, r.layout(layout))
    assert reason in str(caught.value) and caught.value.field == "--printer" and caught.value.exit_code == 2


def test_two_sided_needs_duplex_and_the_tray_must_hold_the_layouts_paper(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    tenant = r.tenant("122122")
    spec = r.layout("tsuchisho-kyufu-kettei")
    duplex = spec.model_copy(update={"printing": PrintNeeds(tray="plain", sides="two-sided-long-edge")})
    assert resolve(tenant, "prn-001", duplex).sides == "two-sided-long-edge"   # prn-001 is duplex
    with pytest.raises(UsageError, match="prints two-sided-long-edge, printer prn-002 is not duplex"):
        resolve(tenant, "prn-002", duplex)
    a3 = spec.model_copy(update={"paper": spec.paper.model_copy(update={"size": "A3"})})
    with pytest.raises(UsageError, match="the plain tray of printer prn-001 holds A4, layout tsuchisho-kyufu-kettei "
                                         "prints on A3"):
        resolve(tenant, "prn-001", a3)


def test_the_printers_own_answer_is_checked_before_anything_is_spent(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    target = resolve(r.tenant("122122"), "prn-001", r.layout("juminhyo-setai"))
    fine = PrinterInfo("idle", (), ("application/pdf",), ("main", "by-pass-tray"), ("one-sided",), True)
    assert preflight(target, fine) is fine
    with pytest.raises(UsageError, match="does not accept application/pdf"):
        preflight(target, PrinterInfo("idle", (), ("image/pwg-raster",), ("by-pass-tray",), ("one-sided",), True))
    with pytest.raises(UsageError, match="has no media-source 'by-pass-tray'"):
        preflight(target, PrinterInfo("idle", (), ("application/pdf",), ("main",), ("one-sided",), True))


@pytest.mark.parametrize("uri", ["http://localhost/x", "ipp://host/x y", "ipp://host/$(reboot)", "file:///dev/lp0"])
def test_a_printer_uri_must_be_ipp(uri: str) -> None:
    with pytest.raises(ValidationError):
        PrinterDevice.model_validate({"id": "p", "name": "p", "uri": uri})


def test_a_tray_source_must_be_an_ipp_keyword() -> None:
    with pytest.raises(ValidationError):
        PrinterDevice.model_validate({"id": "p", "name": "p", "trays": {"plain": {"source": "Tray 1"}}})


def test_the_journal_drops_a_last_line_cut_by_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = PrintJournal(path)
    j.append({"ev": "intent", "file": "a.pdf", "at": "2026-01-01T00:00:00.000000Z", "attempt": 1,
              "job_name": "chohyo-x-a1", "printer": "p"})
    j.append({"ev": "accepted", "file": "a.pdf", "at": "2026-01-01T00:00:01.000000Z", "attempt": 1, "job_id": 7})
    with path.open("ab") as fh:
        fh.write(json.dumps({"ev": "final", "file": "a.pdf"}).encode()[:15])   # the kill cut it here
    again = PrintJournal(path)
    state = again.state("a.pdf")
    assert (state.status, state.job_id, state.attempt) == ("accepted", 7, 1)
    again.append({"ev": "final", "file": "a.pdf", "at": "2026-01-01T00:00:02.000000Z", "attempt": 1, "job_id": 7,
                  "state": "completed"})
    assert PrintJournal(path).state("a.pdf").state == "completed"
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_print_job_answer_that_names_no_job_is_an_unreachable_printer(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection cut while the document is sent: ipptool still says successful-ok, with no attributes. That is
    "the printer did not answer" (the run then asks the printer what it got, by this print's own job-name), never
    an internal KeyError that leaves the journal at its intent (found by a hostile review)."""
    client = IppClient("ipp://127.0.0.1:9/ipp/print")
    monkeypatch.setattr(client, "_run", lambda test, document=None: {})   # ipptool's answer, as parsed
    ticket = JobTicket("chohyo-x-000001-0123456789ab-a1", "iso_a4_210x297mm", 21000, 29700, "main", "one-sided")
    with pytest.raises(PrinterUnreachable, match="names no job"):
        client.print_job(tmp_path / "x.pdf", ticket)

"""Printing to real IPP printers on loopback (ippeveprinter): `chohyo print` and `chohyo batch --print-to`.

What arrives is checked at the printer: the received documents are byte-identical to the archived PDF / the
manifest's files, each file arrived exactly once, and the job attributes (media-source = the tray, sides,
copies, media size, job-name without personal data) are those the tenant file and the layout declare. A
failing printer aborts jobs (listed, resent only with the operator's flag), a stopped printer makes the run
wait and report and then stop with everything resumable."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from printing.conftest import Chohyo
from printing.ippkit import Printers
from renderer.samples import sample_notices
from renderer.settings import PROJECT_ROOT

NOTICE = "tsuchisho-kyufu-kettei"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def log_events(state: Path, event: str) -> list[dict[str, Any]]:
    with sqlite3.connect(state / "chohyo.sqlite3") as db:
        bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM issue_log ORDER BY seq")]
    return [b for b in bodies if b.get("event") == event]


def notices(tmp_path: Path, n: int, printer: str | None = "lp-good") -> Path:
    """`n` sample notices naming `printer` (None: naming none, so the run gives each its file's printer)."""
    path = tmp_path / "notices.jsonl"
    lines = []
    for e in sample_notices(n):
        envelope = json.loads(json.dumps(e))   # a plain JSON object: the 発行番号 names the printing printer
        envelope["request"].pop("printer", None)
        if printer is not None:
            envelope["request"]["printer"] = printer
        lines.append(json.dumps(envelope, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def certificate(tmp_path: Path, printer: str | None) -> Path:
    """The sample 住民票の写し naming `printer` (None: naming none, so `chohyo print` names its own)."""
    envelope = json.loads((PROJECT_ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text(encoding="utf-8"))
    envelope["request"].pop("printer", None)
    if printer is not None:
        envelope["request"]["printer"] = printer
    path = tmp_path / f"envelope-{printer}.json"
    path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    return path


def test_print_sends_the_archived_pdf_with_the_declared_tray_and_sides(tmp_path: Path, ipp: Printers,
                                                                        chohyo: Chohyo) -> None:
    envelope = certificate(tmp_path, None)
    out = tmp_path / "住民票の写し.pdf"
    done = chohyo("print", "juminhyo-setai", str(envelope), "--printer", "lp-good", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "completed (tray security_paper = by-pass-tray, one-sided, A4)" in done.stderr
    [doc] = ipp.good.printed()
    assert doc.read_bytes() == out.read_bytes()   # the printer got exactly the archived bytes
    attrs = ipp.good.attributes(doc)
    assert "media-source=by-pass-tray" in attrs["IPP_MEDIA_COL"]
    assert "media-size={x-dimension=21000 y-dimension=29700}" in attrs["IPP_MEDIA_COL"]
    assert "media-size-name=iso_a4_210x297mm" in attrs["IPP_MEDIA_COL"]
    assert (attrs["IPP_SIDES"], attrs["IPP_COPIES"]) == ("one-sided", "1")
    assert attrs["IPP_DOCUMENT_FORMAT_SUPPLIED"] == "application/pdf"
    assert attrs["IPP_JOB_NAME"].startswith("chohyo-juminhyo-setai-") and attrs["IPP_JOB_NAME"].isascii()
    # the 発行番号 names the printer that printed it, and the issue log says which printer printed which number
    [record] = log_events(tmp_path / "state", "print")
    assert record["printer"] == "lp-good" and record["print_state"] == "completed"
    numbers = record["issue_numbers"]
    assert isinstance(numbers, list) and len(numbers) == 1 and "試験機1" in numbers[0]
    assert record["file_sha256"] == sha(out)


def test_two_prints_with_the_same_serial_never_share_a_job_name(tmp_path: Path, ipp: Printers,
                                                                 chohyo: Chohyo) -> None:
    """Serials restart in every series: 000001 from two terminals. A print whose connection is cut looks its
    job up by name, so two prints must never share one (found by a hostile review: the second certificate
    adopted the first one's completed job, exit 0 and a print record, and never reached the paper)."""
    names = []
    for terminal in ("honcho-1", "shisho-1"):
        envelope = json.loads(certificate(tmp_path, None).read_text(encoding="utf-8"))
        envelope["request"]["terminal"] = terminal
        path = tmp_path / f"{terminal}.json"
        path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
        out = tmp_path / f"{terminal}.pdf"
        done = chohyo("print", "juminhyo-setai", str(path), "--printer", "lp-good", "-o", str(out))
        assert done.returncode == 0, done.stderr
    for doc in ipp.good.printed():
        names.append(ipp.good.attributes(doc)["IPP_JOB_NAME"])
    assert len(names) == 2 and len(set(names)) == 2, names
    assert all(n.startswith("chohyo-juminhyo-setai-000001-") for n in names), names


def test_a_printer_that_cannot_serve_the_layout_is_refused_before_a_number_is_spent(
        tmp_path: Path, ipp: Printers, chohyo: Chohyo) -> None:
    envelope = certificate(tmp_path, "lp-flaky")
    out = tmp_path / "out.pdf"
    # the envelope's printer (the one its 発行番号 would name) is not the one asked to print
    done = chohyo("print", "juminhyo-setai", str(envelope), "--printer", "lp-good", "-o", str(out))
    assert done.returncode == 2 and "the 発行番号 must name the printer that prints it" in done.stderr
    # the tenant file: lp-flaky has no security_paper tray
    done = chohyo("print", "juminhyo-setai", str(envelope), "--printer", "lp-flaky", "-o", str(out), "--json")
    assert done.returncode == 2
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "--printer" and "no tray for 'security_paper'" in problem["detail"]
    # the printer itself: lp-notray's tray-9 is not a media-source the printer has
    envelope = certificate(tmp_path, None)
    done = chohyo("print", "juminhyo-setai", str(envelope), "--printer", "lp-notray", "-o", str(out))
    assert done.returncode == 2 and "has no media-source 'tray-9'" in done.stderr, done.stderr
    assert not out.exists() and ipp.good.received() == [] and ipp.flaky.received() == []
    assert not (tmp_path / "state" / "chohyo.sqlite3").exists() or not log_events(tmp_path / "state", "reserve")


def test_batch_print_to_prints_every_file_once_and_records_the_jobs(tmp_path: Path, ipp: Printers,
                                                                     chohyo: Chohyo) -> None:
    src = notices(tmp_path, 24)
    run = tmp_path / "run"
    done = chohyo("batch", NOTICE, str(src), "-o", str(run), "--workers", "1", "--pages-per-file", "5",
                  "--print-to", "lp-good", "--quiet")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    assert len(files) == 5
    printed = ipp.good.printed()
    assert [sha(p) for p in printed] == [f["sha256"] for f in files]   # each file once, in order, byte-identical
    for f, doc in zip(files, printed, strict=True):
        assert f["print"]["job_state"] == "completed" and f["print"]["printer"] == "lp-good"
        assert doc.name.startswith(f"{f['print']['job_id']}-")
        attrs = ipp.good.attributes(doc)
        assert "media-source=main" in attrs["IPP_MEDIA_COL"] and attrs["IPP_SIDES"] == "one-sided"
    assert manifest["printing"] == [{"printer": "lp-good", "tray": "plain", "media_source": "main",
                                     "sides": "one-sided", "paper": "A4"}]
    records = log_events(tmp_path / "state", "print")
    assert [r["file"] for r in records] == [f["name"] for f in files]
    serials = [n for r in records for n in r["issue_numbers"]]
    assert len(serials) == len(set(serials)) == 24
    # resuming a printed run sends nothing
    again = chohyo("batch", NOTICE, str(src), "-o", str(run), "--workers", "1", "--pages-per-file", "5",
                   "--print-to", "lp-good", "--quiet", "--resume")
    assert again.returncode == 0 and "5 file(s) printed (0 sent now)" in again.stderr, again.stderr
    assert len(ipp.good.received()) == 5


def test_aborted_jobs_are_listed_and_resent_only_when_the_operator_says(tmp_path: Path, ipp: Printers,
                                                                          chohyo: Chohyo) -> None:
    src = notices(tmp_path, 6, "lp-flaky")
    run = tmp_path / "run"
    args = ["batch", NOTICE, str(src), "-o", str(run), "--workers", "1", "--pages-per-file", "3",
            "--print-to", "lp-flaky", "--quiet"]
    ipp.flaky.set("fail", "1")
    done = chohyo(*args)
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("needs the operator") == 2 and "aborted" in done.stderr
    assert len(ipp.flaky.received()) == 2 and ipp.flaky.printed() == []
    ipp.flaky.set("fail", None)   # the jam is cleared
    still = chohyo(*args, "--resume")   # without the flag nothing is resent
    assert still.returncode == 4 and len(ipp.flaky.received()) == 2
    fixed = chohyo(*args, "--resume", "--resubmit-aborted")
    assert fixed.returncode == 0, fixed.stderr
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert [sha(p) for p in ipp.flaky.printed()] == [f["sha256"] for f in manifest["files"]]
    assert [f["print"]["attempts"] for f in manifest["files"]] == [2, 2]
    states = [r["print_state"] for r in log_events(tmp_path / "state", "print")]
    assert states == ["aborted", "aborted", "completed", "completed"]


def test_a_stopped_printer_makes_the_run_wait_report_and_stop_resumably(tmp_path: Path, ipp: Printers,
                                                                          chohyo: Chohyo) -> None:
    src = notices(tmp_path, 4)
    run = tmp_path / "run"
    args = ["batch", NOTICE, str(src), "-o", str(run), "--workers", "1", "--pages-per-file", "2",
            "--print-to", "lp-good", "--quiet"]
    ipp.good.set("hold", "1")   # the printer takes the job and does not finish it
    done = chohyo(*args, "--print-wait", "3")
    assert done.returncode == 1, done.stderr
    assert "is processing" in done.stderr and "--resume" in done.stderr
    assert len(ipp.good.received()) == 1   # waited on the first job: sent nothing else, lost nothing
    ipp.good.set("hold", None)
    resumed = chohyo(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 file(s) printed (1 sent now)" in resumed.stderr
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert [sha(p) for p in ipp.good.printed()] == [f["sha256"] for f in manifest["files"]]
    assert [f["print"]["attempts"] for f in manifest["files"]] == [1, 1]


def test_a_file_drawn_before_a_person_on_it_was_protected_is_held_for_the_operator(tmp_path: Path, ipp: Printers,
                                                                                   chohyo: Chohyo) -> None:
    """The printer stops the run after its first file; a person on the second file comes under a DV 支援措置
    meanwhile. --resume prints the first file and holds the second (drawn knowing nothing of it) until the
    operator has looked at it: --resubmit sends it (found by a hostile review: it was sent as drawn)."""
    src = notices(tmp_path, 4)
    run = tmp_path / "run"
    args = ["batch", NOTICE, str(src), "-o", str(run), "--workers", "1", "--pages-per-file", "2",
            "--print-to", "lp-good", "--quiet"]
    ipp.good.set("hold", "1")
    assert chohyo(*args, "--print-wait", "3").returncode == 1
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    second = manifest["files"][1]["name"]
    envelopes = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    on_second = [r["record"] for r in manifest["records"] if r.get("file") == second]
    person = envelopes[on_second[0] - 1]["data"]["addressee"]["person_id"]
    delta = tmp_path / "dv.jsonl"
    delta.write_text(json.dumps({"op": "upsert", "person_id": person, "version": 1, "case_id": "C-HOLD",
                                 "role": "applicant", "adversaries": [], "period": {"start": "2026-04-01"}}) + "\n",
                     encoding="utf-8")
    tenant = envelopes[0]["tenant"]
    assert chohyo("suppressions", "import", "--tenant", tenant, str(delta)).returncode == 0
    ipp.good.set("hold", None)
    resumed = chohyo(*args, "--resume")
    assert resumed.returncode == 4, resumed.stderr   # the run is not done: a file waits for the operator
    assert "1 file(s) printed" in resumed.stderr and f"{second}: 1 person(s) on it came under" in resumed.stderr
    assert person in resumed.stderr and f"--resubmit {second}" in resumed.stderr
    assert [sha(p) for p in ipp.good.printed()] == [manifest["files"][0]["sha256"]]   # the second was not sent
    sent = chohyo(*args, "--resume", "--resubmit", second)   # the operator looked at it
    assert sent.returncode == 0, sent.stderr
    assert [sha(p) for p in ipp.good.printed()] == [f["sha256"] for f in manifest["files"]]


def ink_top_left(pdf: Path, scale: float = 4.0) -> tuple[float, float]:
    """The top-left corner of the ink on page 1, in millimetres from the sheet's top-left corner."""
    import numpy as np
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        pixels = np.asarray(doc[0].render(scale=scale, grayscale=True).to_pil())
    finally:
        doc.close()
    rows, cols = np.nonzero(pixels < 128)
    px_per_mm = scale * 72 / 25.4
    return float(cols.min()) / px_per_mm, float(rows.min()) / px_per_mm


def test_calibration_moves_the_printed_marks_and_never_the_archive(tmp_path: Path, ipp: Printers,
                                                                    chohyo: Chohyo) -> None:
    out = tmp_path / "archive.pdf"
    done = chohyo("print", "juminhyo-setai", str(certificate(tmp_path, None)), "--printer", "lp-cal", "-o", str(out))
    assert done.returncode == 0, done.stderr
    [doc] = ipp.good.printed()
    assert doc.read_bytes() != out.read_bytes()   # the print copy is calibrated; the archive is the drawing
    [record] = log_events(tmp_path / "state", "print")
    assert record["file_sha256"] == sha(out)
    (x0, y0), (x1, y1) = ink_top_left(out), ink_top_left(doc)
    assert abs((x1 - x0) - 5.0) < 0.2 and abs((y1 - y0) - 3.0) < 0.2, ((x0, y0), (x1, y1))
    assert not list(tmp_path.glob("print-copies"))   # no print copy left next to the archive

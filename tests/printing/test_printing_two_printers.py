"""One print run on two loopback printers: 1,000 notices, files dealt to the printers in turn, each record's
発行番号 naming the printer its file prints on; the run is killed while printing, one printer jams (aborts every
job) until the operator clears it, and in the end every file was received exactly once by the printer it was
dealt to — checked from the printers' spools — with the tray and sides the layout declares. A record naming a
printer the run does not print on is refused before a number is spent; records naming a printer of the run go
to that printer's files."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printing.conftest import Chohyo
from printing.ippkit import Printers
from printing.test_printing_loopback import NOTICE, log_events, notices

PRINTERS = {"lp-good": "試験機1", "lp-flaky": "試験機2"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_thousand_notices_on_two_printers_survive_kills_and_a_jam_exactly_once(
        tmp_path: Path, ipp: Printers, chohyo_env: dict[str, str]) -> None:
    src = notices(tmp_path, 1000, printer=None)   # no record names a printer: each gets its file's
    run = tmp_path / "run"
    args = [sys.executable, "-m", "renderer", "batch", NOTICE, str(src), "-o", str(run), "--workers", "2",
            "--pages-per-file", "50", "--print-to", "lp-good", "--print-to", "lp-flaky", "--quiet"]
    ipp.good.set("delay", "0.2")
    ipp.flaky.set("delay", "0.2")
    ipp.flaky.set("fail", "1")   # jammed: every job it takes ends aborted
    rng = random.Random(20)
    kills, first, err = 0, True, b""
    for _ in range(8):
        proc = subprocess.Popen(args + ([] if first else ["--resume"]), env=chohyo_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        first = False
        if kills < 3:
            # the kill lands while jobs are sent and watched: once the files are drawn and this run has sent
            # 1-3 more documents (never by the clock alone: a faster renderer would finish first; 20 documents
            # are sent in all before the operator's resubmission, so every run still has some to send)
            sent = len(ipp.good.received()) + len(ipp.flaky.received())
            target = sent + rng.randint(1, 3)
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline and (
                    not (run / "manifest.json").exists()
                    or len(ipp.good.received()) + len(ipp.flaky.received()) < target):
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.15))   # within the job just sent (each printer takes 0.2 s a job)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
        _, err = proc.communicate(timeout=600)
        if proc.returncode != -signal.SIGKILL:
            break
    assert kills >= 2, err.decode()
    # the run finished what it could: the jammed printer's files wait for the operator (exit 4)
    assert proc.returncode == 4, err.decode()
    assert "needs the operator" in err.decode() and "aborted" in err.decode()
    assert ipp.flaky.printed() == []
    ipp.flaky.set("fail", None)   # the operator clears the jam and says: send the aborted files again
    done = subprocess.run([*args, "--resume", "--resubmit-aborted"], env=chohyo_env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr

    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    assert len(files) == 20 and sum(f["pages"] for f in files) == 1000
    dealt = {name: [f for i, f in enumerate(files) if i % 2 == k] for k, name in enumerate(PRINTERS)}
    for printer, mine in dealt.items():
        assert all(f["printers"] == [printer] and f["print"]["printer"] == printer for f in mine)
        assert all(f["print"]["job_state"] == "completed" for f in mine)
    # from the spools: each printer printed exactly its files, each once, byte-identical to the manifest
    good, flaky = ipp.good.printed(), ipp.flaky.printed()
    assert sorted(sha(p) for p in good) == sorted(f["sha256"] for f in dealt["lp-good"])
    assert sorted(sha(p) for p in flaky) == sorted(f["sha256"] for f in dealt["lp-flaky"])
    assert len(ipp.good.received()) == 10                     # the printer that never failed: nothing sent twice
    assert len({sha(p) for p in ipp.flaky.received()}) == 10  # the jammed one: only its own files, resent
    for doc in good + flaky:   # the tray and sides the layout declares (plain tray = main, one-sided)
        attrs = ipp.good.attributes(doc)
        assert "media-source=main" in attrs["IPP_MEDIA_COL"] and attrs["IPP_SIDES"] == "one-sided"
        assert "iso_a4_210x297mm" in attrs["IPP_MEDIA_COL"] or "21000" in attrs["IPP_MEDIA_COL"]
    # every notice's 発行番号 names the printer its file printed on; the issue log says who printed which
    by_file = {f["name"]: f["print"]["printer"] for f in files}
    records = [r for r in manifest["records"] if r["status"] == "rendered"]
    assert len(records) == 1000
    for r in records:
        assert all(PRINTERS[by_file[r["file"]]] in n for n in r["issue_numbers"]), r
    completed = [e for e in log_events(tmp_path / "state", "print") if e["print_state"] == "completed"]
    assert sorted(e["file"] for e in completed) == sorted(by_file)
    assert {e["file"]: e["printer"] for e in completed} == by_file
    numbers = [n for e in completed for n in e["issue_numbers"]]
    assert len(numbers) == len(set(numbers)) == 1000


def test_each_record_names_a_printer_of_the_run(tmp_path: Path, ipp: Printers, chohyo: Chohyo) -> None:
    lines = (tmp_path / "mixed.jsonl")
    envelopes = [json.loads(line) for line in notices(tmp_path, 6, printer=None).read_text().splitlines()]
    for i, e in enumerate(envelopes):
        e["request"]["printer"] = {1: "lp-flaky", 2: "lp-flaky", 3: "lp-good", 4: "prn-001"}.get(i, "")
    lines.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in envelopes) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    done = chohyo("batch", NOTICE, str(lines), "-o", str(run), "--workers", "1", "--pages-per-file", "10",
                  "--print-to", "lp-good", "--print-to", "lp-flaky", "--quiet")
    assert done.returncode == 4, done.stderr   # one record refused, the rest printed
    errors = json.loads((run / "errors.json").read_text(encoding="utf-8"))
    [bad] = errors["errors"]
    assert bad["field"] == "request.printer" and "prn-001" in bad["message"]
    assert "unused_issue_numbers" not in bad                  # refused before a number was spent
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    # a file holds one printer's records: a record naming the other printer starts a new file
    assert [f["printers"] for f in manifest["files"]] == [["lp-good"], ["lp-flaky"], ["lp-good"]]
    assert [f["print"]["printer"] for f in manifest["files"]] == ["lp-good", "lp-flaky", "lp-good"]
    assert [f["pages"] for f in manifest["files"]] == [1, 2, 2]
    assert len(ipp.good.printed()) == 2 and len(ipp.flaky.printed()) == 1


def test_a_two_sided_run_gives_every_record_sheets_of_its_own(tmp_path: Path, ipp: Printers, chohyo: Chohyo,
                                                               layouts: Path) -> None:
    """Printed duplex, a one-page notice gets a blank back: the next person's notice never lands on the back of
    another's sheet (checked in the documents the printer received)."""
    from pypdf import PdfReader

    path = layouts / f"{NOTICE}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nprinting: {tray: plain, sides: two-sided-long-edge}\n",
                    encoding="utf-8")
    run = tmp_path / "run"
    refused = chohyo("batch", NOTICE, str(notices(tmp_path, 5, printer=None)), "-o", str(run), "--print-to",
                     "lp-flaky", "--quiet")   # not duplex: refused before anything is planned
    assert refused.returncode == 2 and "is not duplex" in refused.stderr, refused.stderr
    done = chohyo("batch", NOTICE, str(notices(tmp_path, 5, printer=None)), "-o", str(run), "--workers", "1",
                  "--pages-per-file", "6", "--print-to", "lp-good", "--quiet")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert [f["pages"] for f in manifest["files"]] == [6, 4]
    assert [(r["first_page"], r["pages"]) for r in manifest["records"]] == [(1, 2), (3, 2), (5, 2), (1, 2), (3, 2)]
    printed = ipp.good.printed()
    assert [sha(p) for p in printed] == [f["sha256"] for f in manifest["files"]]
    for doc in printed:
        assert ipp.good.attributes(doc)["IPP_SIDES"] == "two-sided-long-edge"
        pages = PdfReader(doc).pages
        assert all(pages[i].extract_text().strip() for i in range(0, len(pages), 2))       # fronts: a notice
        assert not any(pages[i].extract_text().strip() for i in range(1, len(pages), 2))   # backs: blank

"""A print run killed (SIGKILL) at random moments while it sends and watches jobs, then resumed until it
finishes: every file reaches the printer's spool exactly once (checked from the documents the loopback
printer kept), byte-identical to the manifest's file, and nothing is sent twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from printing.conftest import Chohyo
from printing.ippkit import Printers
from printing.test_printing_loopback import NOTICE, notices
from renderer.api import Renderer
from renderer.printing.journal import JOURNAL_FILE, PrintJournal
from renderer.printing.run import Decisions, manifest_files, print_batch
from renderer.printing.target import resolve
from renderer.settings import PROJECT_ROOT, Settings

KILLS = 4


def test_kills_while_printing_then_resume_print_every_file_exactly_once(tmp_path: Path, ipp: Printers,
                                                                         chohyo_env: dict[str, str]) -> None:
    src = notices(tmp_path, 36)
    run = tmp_path / "run"
    args = [sys.executable, "-m", "renderer", "batch", NOTICE, str(src), "-o", str(run), "--workers", "1",
            "--pages-per-file", "3", "--print-to", "lp-good", "--quiet"]
    ipp.good.set("delay", "0.15")   # a printer that takes a moment per job: kills land in every state
    rng = random.Random(17)
    killed = 0
    first = True
    for _ in range(KILLS + 6):
        proc = subprocess.Popen(args + ([] if first else ["--resume"]), env=chohyo_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        first = False
        if killed < KILLS:
            # the kill lands in the print phase: once the drawing is done and this run has sent 1-2 more
            # documents (never by the clock alone: a faster renderer would finish first); 12 are sent in all
            target = len(ipp.good.received()) + rng.randint(1, 2)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and (
                    not (run / "manifest.json").exists() or len(ipp.good.received()) < target):
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.12))   # within the job just sent (the printer takes 0.15 s a job)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed += 1
        _, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err.decode()
    assert proc.returncode == 0 and killed >= 2, (killed, err.decode())
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    want = [f["sha256"] for f in manifest["files"]]
    assert len(want) == 12
    got = [hashlib.sha256(p.read_bytes()).hexdigest() for p in ipp.good.printed()]
    assert got == want                                   # each file printed exactly once, in order
    assert len(ipp.good.received()) == len(want)         # and never sent twice
    assert all(f["print"]["job_state"] == "completed" for f in manifest["files"])


def test_a_kill_between_intent_and_answer_is_settled_by_asking_the_printer(tmp_path: Path, ipp: Printers,
                                                                           chohyo: Chohyo, layouts: Path) -> None:
    """The narrowest window, made on purpose: the intent is in the journal and the printer either got the job
    (it is adopted, not resent) or did not (it is sent once); an intent older than the printer's job history
    is `unknown` and waits for the operator."""
    run = tmp_path / "run"
    done = chohyo("batch", NOTICE, str(notices(tmp_path, 9)), "-o", str(run), "--workers", "1",
                  "--pages-per-file", "3", "--quiet")
    assert done.returncode == 0, done.stderr
    manifest, files = manifest_files(run)
    r = Renderer(Settings(layouts_dir=layouts, fonts_dir=PROJECT_ROOT / "fonts",
                          state_dir=tmp_path / "state"))
    target = resolve(r.tenant("122122"), "lp-good", r.layout(NOTICE))
    journal = PrintJournal(run / ".chohyo-batch" / JOURNAL_FILE)
    label = f"chohyo-{manifest['run_id'][:12]}"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for f, sent in ((files[0], True), (files[1], False)):
        name = f"{label}-{f.name.rsplit('-', 1)[-1][:-4]}-a1"
        journal.append({"ev": "intent", "file": f.name, "at": now, "attempt": 1, "job_name": name,
                        "printer": "lp-good", "sha256": f.sha256})
        if sent:   # the printer got it, then the run was killed before it wrote the job id
            target.client().print_job(run / f.name, target.ticket(name))
    journal.append({"ev": "intent", "file": files[2].name, "at": "2020-01-01T00:00:00.000000Z", "attempt": 1,
                    "job_name": f"{label}-00003-a1", "printer": "lp-good", "sha256": files[2].sha256})
    report = print_batch(run, target, issue_log=r.issue_log)
    assert report.sent == [files[1].name]                       # the one the printer never got
    assert report.printed == [files[0].name, files[1].name]
    assert "no longer covers it" in report.needs_operator[files[2].name]
    got = [hashlib.sha256(p.read_bytes()).hexdigest() for p in ipp.good.received()]
    assert got == [files[0].sha256, files[1].sha256]            # nothing twice, the unknown one not guessed
    settled = PrintJournal(run / ".chohyo-batch" / JOURNAL_FILE)
    assert [e["ev"] for e in settled.state(files[1].name).history][:3] == ["intent", "not-received", "intent"]
    # the operator checked the tray: the third file did not print
    report = print_batch(run, target, issue_log=r.issue_log, decisions=Decisions(resubmit=frozenset({files[2].name})))
    assert report.needs_operator == {} and report.sent == [files[2].name]
    assert len(ipp.good.received()) == 3


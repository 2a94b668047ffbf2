"""Helpers for the batch tests: sample inputs, a renderer on a tmp state dir, reading what a run wrote,
killing a run with SIGKILL at random moments and checking exactly-once afterwards.

In: fictitious notices from `renderer.samples.sample_notices` (unique 文書番号 佐福第N号 per record).
Out: JSONL files, renderers, the text of every page of a run's files (pypdfium2) and the journal rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from renderer.api import Renderer
from renderer.settings import PROJECT_ROOT, Settings
from renderer.state.issue_log import IssueLog

LAYOUT = "tsuchisho-kyufu-kettei"
DOC_NUMBER = re.compile(r"佐福第(\d+)号")


def settings(state: Path, database_url: str | None = None) -> Settings:
    """Settings on `state`; `database_url` None = the state directory's SQLite file."""
    return Settings(layouts_dir=PROJECT_ROOT / "layouts", fonts_dir=PROJECT_ROOT / "fonts", state_dir=state,
                    database_url=database_url)


def renderer(state: Path, database_url: str | None = None) -> Renderer:
    return Renderer(settings(state, database_url))


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return data


def page_texts(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        texts = []
        for i in range(len(doc)):
            page = doc[i]
            tp = page.get_textpage()
            texts.append(tp.get_text_range())
            tp.close()
            page.close()
        return texts
    finally:
        doc.close()


def printed_numbers(out: Path, files: Iterable[str]) -> Counter[int]:
    """How many times each 文書番号 N (佐福第N号) is printed across the given files."""
    seen: Counter[int] = Counter()
    for name in files:
        for text in page_texts(out / name):
            seen.update(int(n) for n in DOC_NUMBER.findall(text))
    return seen


def journal_rows(state: Path) -> dict[int, tuple[str, str | None]]:
    """position → (status, serials JSON) from the runtime database (read-only, outside the API)."""
    con = sqlite3.connect(f"file:{state / 'chohyo.sqlite3'}?mode=ro", uri=True)
    try:
        created = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'batch_records'").fetchone()
        # a run killed before it created its tables (a slow start on a loaded machine) has journaled nothing
        rows = con.execute("SELECT position, status, serials FROM batch_records").fetchall() if created else []
    finally:
        con.close()
    return {int(p): (str(s), ser) for p, s, ser in rows}


# --------------------------------------------------------------------------- kill -9 and resume

def start(inp: Path, out: Path, state: Path, *, resume: bool, workers: int = 2) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-c", "from renderer.cli import main; main()", "batch", LAYOUT, str(inp), "-o", str(out),
            "--state-dir", str(state), "--workers", str(workers), "--pages-per-file", "100", "--quiet"]
    if resume:
        args.append("--resume")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def run_with_kills(inp: Path, out: Path, state: Path, *, kills: int, seed: int,
                   window: tuple[float, float]) -> list[dict[int, tuple[str, str | None]]]:
    """Start, kill at random moments (re-starting with --resume once a run exists); returns the journal
    after each kill. The run is left unfinished or finished, whichever came first."""
    rng = random.Random(seed)
    snapshots = []
    for _ in range(kills):
        proc = start(inp, out, state, resume=(out / ".chohyo-batch" / "run.json").exists())
        deadline = time.monotonic() + rng.uniform(*window)
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if proc.poll() is not None:   # finished before the kill
            _, stderr = proc.communicate()
            assert proc.returncode == 0, stderr.decode()
            break
        _kill_group(proc)
        if (state / "chohyo.sqlite3").exists():
            snapshots.append(journal_rows(state))
    return snapshots


def check_exactly_once(out: Path, state: Path, n: int, snapshots: list[dict[int, tuple[str, str | None]]]) -> None:
    m = manifest(out)
    assert m["totals"]["records"] == n and m["totals"]["rendered"] == n, m["totals"]
    names = [f["name"] for f in m["files"]]
    on_disk = sorted(p.name for p in out.iterdir() if p.suffix == ".pdf")
    assert on_disk == sorted(names)
    assert not [p for p in out.rglob("*.tmp")], "temp files left behind"
    assert printed_numbers(out, names) == {i: 1 for i in range(1, n + 1)}
    assert sum(f["pages"] for f in m["files"]) == n
    # serials: a record keeps the serials it was first given, across every kill and resume
    final = journal_rows(state)
    run_positions = {r["position"] for r in m["records"]}
    first: dict[int, str | None] = {}
    for snap in snapshots:
        for pos, (_, serials) in snap.items():
            if pos in run_positions and serials is not None:
                first.setdefault(pos, serials)
    assert all(final[pos][1] == serials for pos, serials in first.items())
    numbers = [x for r in m["records"] for x in r["issue_numbers"]]
    assert len(numbers) == len(set(numbers)) == n
    # the issue log: exactly one render record per record, and the chain verifies
    log = IssueLog(settings(state))
    renders = [json.loads(r["body"]) for r in log.records() if r["event"] == "render"]
    run_id = m["run_id"]
    lines = sorted(b["record"] for b in renders if b.get("batch") == run_id)
    assert lines == list(range(1, n + 1))
    assert log.verify().ok

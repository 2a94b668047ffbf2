"""Crash safety: a print run killed with SIGKILL at random moments finishes with --resume, exactly once.

`chohyo batch` runs in its own session (coordinator, forkserver and pool workers in one process group)
and the whole group is killed with SIGKILL at up to 5 random moments — during the index, a planning
transaction, a drawing, a rename or a completion commit. Then ``--resume`` runs to the end. Checked:
every record is printed exactly once across the files the manifest lists (by extracting the printed
文書番号), no other PDF or temp file is left, each record keeps the serials it was first given (journal
snapshots after every kill), the issue log holds one render record per record and verifies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from batchkit import check_exactly_once, run_with_kills, start, write_jsonl

from renderer.samples import sample_notices

RECORDS = 2000
KILLS = 5


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_prints_every_record_exactly_once(tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(RECORDS))
    out, state = tmp_path / "out", tmp_path / "state"
    snapshots = run_with_kills(inp, out, state, kills=KILLS, seed=20261127, window=(1.0, 7.0))
    assert snapshots, "no kill happened: the run finished before the first kill"
    proc = start(inp, out, state, resume=(out / ".chohyo-batch" / "run.json").exists())
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr.decode()
    check_exactly_once(out, state, RECORDS, snapshots)

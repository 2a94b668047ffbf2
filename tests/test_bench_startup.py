"""`chohyo bench startup` runs end to end and reports consistent figures (never timing assertions).

In: one run of each figure. Out: assertions on the report's shape: every figure measured, positive, and the
table printed by the command names the baseline and the targets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_startup_reports_every_figure_against_the_canvas_script() -> None:
    done = subprocess.run([sys.executable, "-m", "renderer", "bench", "startup", "--runs", "1", "--warm", "2"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for label in ("python -c pass", "canvas script (baseline)", "chohyo --help", "cold (machine caches filled)",
                  "cold in a new state dir", "first on a machine (empty caches",
                  "warm render in one process (median)", "≤ 1.5 s (#16)"):
        assert label in done.stdout, label
    baseline = next(line for line in done.stdout.splitlines() if "canvas script (baseline)" in line)
    assert "1.00" in baseline

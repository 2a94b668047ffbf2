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


def test_stale_bytecode_is_reported_not_called_compiled(tmp_path: Path) -> None:
    """The startup figures say whether every module had fresh bytecode: one edited module without its .pyc
    rewritten (a checkout under PYTHONDONTWRITEBYTECODE=1) is compiled on every start and slows the cold render."""
    import os
    import py_compile

    from renderer.benchmarks.startup import bytecode_is_fresh

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in ("__init__.py", "a.py"):
        (pkg / name).write_text("X = 1\n", encoding="utf-8")
        py_compile.compile(str(pkg / name))
    assert bytecode_is_fresh(pkg)
    later = (pkg / "a.py").stat().st_mtime + 10
    os.utime(pkg / "a.py", (later, later))   # edited after it was compiled
    assert not bytecode_is_fresh(pkg)

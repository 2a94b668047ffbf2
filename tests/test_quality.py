"""The code base stays ruff- and mypy-clean, and ReportLab's canvas stays inside renderer/draw/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.prefix) / "bin" / "ruff").exists(),
                    reason="ruff is not installed (it is in the test extras)")
def test_ruff_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_only_the_draw_package_imports_reportlab_pdfgen() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+reportlab\.pdfgen", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "renderer").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8")) and "draw" not in p.relative_to(ROOT).parts]
    assert offenders == []


def test_no_print_calls_in_the_renderer() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "renderer").rglob("*.py")
                 if re.search(r"^\s*print\(", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []

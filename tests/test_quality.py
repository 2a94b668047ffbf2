"""The code base stays ruff- and mypy-clean, no function in renderer/ is too complex, ReportLab's canvas
stays inside renderer/draw/ (and the benchmark's floor), and the runtime never imports the benchmarks.

In: the source tree (ruff, mypy and the CLI run in subprocesses or in-process). Out: pass/fail.
"""

from __future__ import annotations

import ast
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


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.prefix) / "bin" / "ruff").exists(),
                    reason="ruff is not installed (it is in the test extras)")
def test_no_function_in_the_renderer_is_too_complex() -> None:
    """McCabe complexity at most 15 (ruff's C901) in renderer/: split a function before it gets there."""
    result = run(sys.executable, "-m", "ruff", "check", "renderer", "--select", "C901",
                 "--config", "lint.mccabe.max-complexity=15", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


# the benchmark's floor is plain ReportLab by definition: it is what the pipeline is measured against
FLOOR = Path("renderer", "benchmarks", "floor.py")


def test_only_the_draw_package_imports_reportlab_pdfgen() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+reportlab\.pdfgen", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "renderer").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8")) and "draw" not in p.relative_to(ROOT).parts
                 and p.relative_to(ROOT) != FLOOR]
    assert offenders == []


BENCHMARKS = re.compile(r"^\s*(from\s+renderer\.benchmarks\b|from\s+renderer\s+import\s+.*\bbenchmarks\b"
                        r"|import\s+renderer\.benchmarks\b)", re.M)
CLI_BENCH = Path("renderer", "cli", "bench.py")


def test_no_runtime_module_imports_the_benchmarks() -> None:
    """Only the benchmarks themselves and `chohyo bench` (inside its commands) import renderer.benchmarks."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "renderer").rglob("*.py")
                 if BENCHMARKS.search(p.read_text(encoding="utf-8"))
                 and "benchmarks" not in p.relative_to(ROOT).parts and p.relative_to(ROOT) != CLI_BENCH]
    assert offenders == []
    top_level = [node.lineno for node in ast.parse((ROOT / CLI_BENCH).read_text(encoding="utf-8")).body
                 if isinstance(node, ast.Import | ast.ImportFrom) and BENCHMARKS.search(ast.unparse(node))]
    assert top_level == [], f"{CLI_BENCH} imports renderer.benchmarks at module level (lines {top_level})"
    loaded = run(sys.executable, "-c", "import sys, renderer.cli, renderer.service.app, renderer.batch; "
                 "print(sorted(m for m in sys.modules if m.startswith('renderer.benchmarks')))")
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


def test_chohyo_bench_help_still_works() -> None:
    from typer.testing import CliRunner

    from renderer.cli import app

    for args in (["bench", "--help"], ["bench", "pipeline", "--help"], ["bench", "list", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    assert "pipeline" in CliRunner().invoke(app, ["bench", "--help"]).output


def test_no_print_calls_in_the_renderer() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "renderer").rglob("*.py")
                 if re.search(r"^\s*print\(", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


def test_the_visual_diff_does_not_import_the_golden_cases() -> None:
    """renderer.golden uses renderer.goldendiff (describing each case as a Pair), never the other way round."""
    pattern = re.compile(r"^\s*(from\s+renderer\s+import\s+.*\bgolden\b|from\s+renderer\.golden\s+import"
                         r"|import\s+renderer\.golden\b(?!diff))", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "renderer" / "goldendiff").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_a_failing_property_test_reports_its_example(tmp_path: Path) -> None:
    """Under the strict warning filter, a failing hypothesis test must fail with its falsifying example, not
    as a pytest INTERNALERROR (hypothesis's report hook imports a module that warns on import)."""
    (tmp_path / "test_property.py").write_text(
        "from hypothesis import given, strategies as st\n\n\n"
        "@given(st.integers())\n"
        "def test_small(x: int) -> None:\n"
        "    assert x < 5\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
                             str(tmp_path), "-p", "no:cacheprovider", "-q", str(tmp_path / "test_property.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    out = result.stdout + result.stderr
    assert "INTERNALERROR" not in out, out[-3000:]
    assert result.returncode == 1, out[-3000:]
    assert "Falsifying example" in out and "1 failed" in out, out[-3000:]

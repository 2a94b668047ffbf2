"""The CLI starts without the heavy parts (issue 16, item 6): `renderer.cli` and ``chohyo --help`` import
Typer only; a command's module is imported when it runs. Timings are measured by ``chohyo bench startup``,
never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from renderer.cli import app
from renderer.cli.lazy import LAZY, load

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "uvicorn", "sqlalchemy", "pypdfium2", "pypdf", "reportlab", "distributed", "renderer.api",
         "renderer.batch", "typer.rich_utils")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m for m in done.stdout.strip().split(",") if m]


def test_importing_the_cli_imports_no_heavy_module() -> None:
    assert loaded_after("import renderer.cli") == []


def test_help_imports_no_heavy_module() -> None:
    code = ("import contextlib, io, sys\nsys.argv = ['chohyo', '--help']\nfrom renderer.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main()")
    assert loaded_after(code) == []


def test_the_help_lists_every_command_with_its_own_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, entry in LAZY.items():
        assert name in result.output
        command = load(name, entry)
        assert (command.help or "").strip().splitlines()[0] == entry.help, name


@pytest.mark.parametrize("name", list(LAZY))
def test_every_command_loads_on_use(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output


def test_the_render_path_imports_signing_only_when_asked() -> None:
    """`renderer.api` (every render) leaves the signing configuration and pyHanko unloaded; resolving a
    request that asks for a signature loads the configuration module."""
    probe = ("import sys\nimport renderer.api\nfrom renderer.signing.policy import SignOption, resolve\n"
             "before = [m for m in ('renderer.signing.config', 'pyhanko') if m in sys.modules]\n"
             "try:\n    resolve(SignOption(), None, output='file', tenant_code='122122', signing_dir=None)\n"
             "except Exception as exc:\n    error = type(exc).__name__\n"
             "print(before, 'renderer.signing.config' in sys.modules, error)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "True", "SigningConfigError"]

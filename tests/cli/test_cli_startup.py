"""The CLI starts without the heavy parts (issue 16, item 6): `renderer.cli` and ``chohyo --help`` import
Typer only; a command's module is imported when it runs. Timings are measured by ``chohyo bench startup``,
never asserted here."""

from __future__ import annotations

import os
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


#: what a render from the machine caches (layout, tenant, fonts) never needs: the YAML parser, fontTools (font
#: files are read only to build a cache entry), rich (a render says one plain line), xml.sax (its import pulls in
#: urllib, http and ssl)
NOT_ON_A_CACHED_RENDER = ("yaml", "fontTools", "rich", "xml.sax")
#: models whose validators a cached render never builds (defer_build): the layout's, the tenant file's, the
#: signing policy's (built when a request asks to sign), the DV registry import's
UNBUILT_ON_A_CACHED_RENDER = ("renderer.spec.model:LayoutSpec", "renderer.spec.model:Paper",
                              "renderer.spec.model:IssuedOnWindow", "renderer.tenants:TenantFile",
                              "renderer.tenants:Calibration", "renderer.signing.policy:TenantSigningPolicy",
                              "renderer.state.registry:UpsertRecord")


def test_a_render_from_the_machine_caches_parses_no_yaml_and_builds_no_layout_validator(tmp_path: Path) -> None:
    """The second render in a fresh process (the first filled the layout and tenant caches) imports none of
    `NOT_ON_A_CACHED_RENDER` and leaves the validators of `UNBUILT_ON_A_CACHED_RENDER` unbuilt; the PDF is
    the first's, byte for byte, but for the 発行番号 each render spends."""
    cache, state = tmp_path / "cache", tmp_path / "state"
    cache.mkdir(mode=0o700)
    state.mkdir(mode=0o700)
    sample = ROOT / "layouts" / "samples" / "juminhyo-setai.json"
    probe = (
        "import contextlib, importlib, io, sys\n"
        f"sys.argv = ['chohyo', 'render', 'juminhyo-setai', {str(sample)!r}, '-o', sys.argv[1], '--state-dir', "
        f"{str(state)!r}]\n"
        "from renderer.cli import main\n"
        "with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):\n    main()\n"
        f"print(','.join(m for m in {NOT_ON_A_CACHED_RENDER!r} if m in sys.modules))\n"
        "built = []\n"
        f"for name in {UNBUILT_ON_A_CACHED_RENDER!r}:\n"
        "    module, cls = name.split(':')\n"
        "    if getattr(importlib.import_module(module), cls).__pydantic_complete__:\n        built.append(name)\n"
        "print(','.join(built))\n")
    env = {**os.environ, "CHOHYO_CACHE_DIR": str(cache)}
    runs = [subprocess.run([sys.executable, "-c", probe, str(tmp_path / f"{n}.pdf")], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True) for n in (1, 2)]
    first, second = (run.stdout.split("\n") for run in runs)
    assert "yaml" in first[0].split(",")   # the first render filled the caches: it read the YAML files
    assert second[0] == "", f"a cached render imported {second[0]}"
    assert second[1] == "", f"a cached render built the validators of {second[1]}"
    assert (cache / "tenants").is_dir() and any((cache / "layouts").iterdir())
    assert (tmp_path / "1.pdf").stat().st_size == (tmp_path / "2.pdf").stat().st_size

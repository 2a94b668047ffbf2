"""Fixtures of the printing tests: two loopback IPP printers for the session, a layouts directory whose
sample tenant 122122 declares them, and a way to run ``chohyo`` as a separate process.

In: `ippkit` (ippeveprinter, ipptool, dbus-daemon). Out: ``printers`` (session-scoped: started once, their
spools cleared before each test that asks for ``ipp``), ``layouts`` (a copy of layouts/ with printers
``lp-good`` — duplex, trays plain = main, security_paper = by-pass-tray — and ``lp-flaky`` — one-sided, plain =
main — pointing at them), ``chohyo`` (runs the CLI with that layouts dir and a temp state dir). Without the
binaries the tests skip locally and FAIL under CI (``CI=true``), like the PostgreSQL cases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from printing.ippkit import Printers, unavailable
from renderer.golden import is_ci
from renderer.settings import PROJECT_ROOT

Chohyo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def printers() -> Iterator[Printers | str]:
    reason = unavailable()
    if reason is not None:
        yield reason
        return
    try:
        started = Printers.start()
    except (RuntimeError, OSError) as exc:
        yield f"the loopback IPP printers did not start: {exc}"
        return
    yield started
    started.stop()


@pytest.fixture
def ipp(printers: Printers | str) -> Printers:
    """The printers with empty spools and no fault switched on; skip locally / fail under CI without them."""
    if isinstance(printers, str):
        if is_ci():
            pytest.fail(f"ippeveprinter is required under CI: {printers}", pytrace=False)
        pytest.skip(printers)
    for p in (printers.good, printers.flaky):
        p.clear()
    return printers


def tenant_printers(good_uri: str, flaky_uri: str) -> list[dict[str, object]]:
    return [
        {"id": "lp-good", "name": "試験機1", "uri": good_uri, "duplex": True,
         "trays": {"plain": {"source": "main", "paper": "A4"},
                   "security_paper": {"source": "by-pass-tray", "paper": "A4"}}},
        {"id": "lp-flaky", "name": "試験機2", "uri": flaky_uri,
         "trays": {"plain": {"source": "main", "paper": "A4"}}},
        {"id": "lp-notray", "name": "試験機3", "uri": good_uri,
         "trays": {"plain": {"source": "tray-9", "paper": "A4"}, "security_paper": {"source": "tray-9"}}},
        {"id": "lp-cal", "name": "試験機4", "uri": good_uri,
         "trays": {"security_paper": {"source": "by-pass-tray", "paper": "A4",
                                      "calibration": {"dx_mm": 5.0, "dy_mm": 3.0, "scale": 1.0}}}},
        {"id": "prn-001", "name": "プリンタ001"},
        {"id": "prn-002", "name": "プリンタ002"},
    ]


@pytest.fixture
def layouts(tmp_path: Path, ipp: Printers) -> Path:
    """layouts/ copied, tenant 122122 declaring the loopback printers."""
    out = tmp_path / "layouts"
    shutil.copytree(PROJECT_ROOT / "layouts", out)
    path = out / "tenants" / "122122.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["printers"] = tenant_printers(ipp.good.uri, ipp.flaky.uri)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


@pytest.fixture
def chohyo_env(tmp_path: Path, layouts: Path) -> dict[str, str]:
    """The environment of a ``chohyo`` process: the layouts with the loopback printers, a temp state dir."""
    env = {**os.environ, "CHOHYO_LAYOUTS_DIR": str(layouts), "CHOHYO_STATE_DIR": str(tmp_path / "state")}
    env.pop("CHOHYO_DATABASE_URL", None)
    return env


@pytest.fixture
def chohyo(tmp_path: Path, chohyo_env: dict[str, str]) -> Chohyo:
    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = chohyo_env
        return subprocess.run([sys.executable, "-m", "renderer", *args], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=tmp_path, check=False)

    return run

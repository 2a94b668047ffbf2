"""The installable package: build the wheel, install it into a fresh virtual environment outside the
repository and, from another directory, print the version and render the bundled sample 住民票の写し.

Slow (about 30–60 s: the wheel carries 58 MB of fonts), so `-m "not slow"` leaves it out; CI runs every test
and this one has no skip condition — a missing build backend or a broken wheel fails it. The virtual
environment sees the global site-packages (``--system-site-packages``) for the dependencies only: the test
checks that `renderer`, its layouts and its fonts come from the installed wheel, not from this checkout.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pypdf
import pytest

import renderer

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.packaging]

#: what the wheel must carry besides the code (paths inside the wheel)
BUNDLED = [
    "renderer/py.typed",
    "renderer/CHANGELOG.md",
    "renderer/bundled/fonts/manifest.toml",
    "renderer/bundled/fonts/IPA_Font_License_Agreement_v1.0.txt",
    "renderer/bundled/fonts/ipaexm.ttf",
    "renderer/bundled/fonts/ipaexg.ttf",
    "renderer/bundled/fonts/ipamjm.ttf",
    "renderer/bundled/layouts/schema.json",
    "renderer/bundled/layouts/juminhyo-setai.yaml",
    "renderer/bundled/layouts/parts/nofusho-3ren.yaml",
    "renderer/bundled/layouts/tenants/122122.yaml",
    "renderer/bundled/layouts/tenants/seals/122122-sample.png",
    "renderer/bundled/layouts/samples/juminhyo-setai.json",
    "renderer/bundled/layouts/input-schemas/juminhyo-setai.json",
]


def run(*cmd: str | Path, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_the_wheel_installs_and_renders_outside_the_repository(tmp_path: Path) -> None:
    assert not str(tmp_path).startswith(str(REPO))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHOHYO_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, REPO, cwd=tmp_path, env=env)
    (wheel,) = dist.glob("chohyo_renderer-*.whl")
    assert wheel.name.startswith(f"chohyo_renderer-{renderer.__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"chohyo_renderer-{renderer.__version__}.dist-info/METADATA").decode()
    assert [name for name in BUNDLED if name not in names] == []
    assert not [n for n in names if n.startswith(("layouts/", "fonts/", "tests/", "golden/")) or n.endswith(".pyc")]
    assert f"Version: {renderer.__version__}" in metadata and "License-Expression: Apache-2.0 AND IPA" in metadata

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path, env=env)
    python, chohyo = venv / "bin" / "python", venv / "bin" / "chohyo"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", wheel, cwd=tmp_path, env=env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["CHOHYO_STATE_DIR"] = str(tmp_path / "state")
    where = json.loads(run(python, "-c", "import json, renderer; from renderer.settings import resource_dir; "
                                         "print(json.dumps([renderer.__file__, str(resource_dir('layouts')), "
                                         "str(resource_dir('fonts'))]))", cwd=elsewhere, env=env).stdout)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert where == [str(site / "renderer" / "__init__.py"), str(site / "renderer" / "bundled" / "layouts"),
                     str(site / "renderer" / "bundled" / "fonts")]
    layouts = Path(where[1])

    assert run(chohyo, "--version", cwd=elsewhere, env=env).stdout.strip() == f"chohyo {renderer.__version__}"
    run(chohyo, "render", "juminhyo-setai", layouts / "samples" / "juminhyo-setai.json", "-o", "out.pdf",
        cwd=elsewhere, env=env)
    pdf = (elsewhere / "out.pdf").read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1 and "住民票" in reader.pages[0].extract_text()
    assert b"/FontFile2" in pdf and b"+IPA" in pdf   # the vendored fonts, embedded as subsets

    # the issue log cites the installed files and version
    shown = json.loads(run(chohyo, "audit", "show", "1", "--json", cwd=elsewhere, env=env).stdout)
    body = shown["records"][-1]["body"]
    assert body["event"] == "render" and body["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert body["layout_sha256"] == hashlib.sha256((layouts / "juminhyo-setai.yaml").read_bytes()).hexdigest()
    assert body["font_manifest_sha256"] == hashlib.sha256(
        (Path(where[2]) / "manifest.toml").read_bytes()).hexdigest()
    assert body["renderer_version"] == renderer.__version__

    # CHOHYO_LAYOUTS_DIR still overrides the bundled layouts
    bundled_ids = [e["id"] for e in json.loads(run(chohyo, "layouts", "--json", cwd=elsewhere, env=env).stdout)]
    assert "juminhyo-setai" in bundled_ids and len(bundled_ids) > 1
    own = tmp_path / "own-layouts"
    shutil.copytree(layouts, own)
    for path in own.glob("*.yaml"):
        if path.stem != "juminhyo-setai":
            path.unlink()
    env["CHOHYO_LAYOUTS_DIR"] = str(own)
    listed = json.loads(run(chohyo, "layouts", "--json", cwd=elsewhere, env=env).stdout)
    assert [e["id"] for e in listed] == ["juminhyo-setai"]

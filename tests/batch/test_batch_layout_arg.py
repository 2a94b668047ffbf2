"""`chohyo batch LAYOUT_ID`: the layout comes from the layouts directory, never from a path outside it.

A LAYOUT_ID that is a path resolving outside the layouts directory (``../x``, an absolute path, ``layouts/../..``)
exits 2 with a message naming LAYOUT_ID, before the output directory or the runtime state is created. The
dangerous case is proved with a real, valid layout copied outside the directory: before the check, a path to
it (without ``.yaml``: the renderer appends it) was loaded and printed. Plain ids keep working, and so does
a path to a layout file that is in the layouts directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from batchkit import LAYOUT, write_jsonl
from typer.testing import CliRunner

from renderer.cli import app
from renderer.cli.common import layout_argument
from renderer.errors import UsageError
from renderer.samples import sample_notices
from renderer.settings import PROJECT_ROOT

LAYOUTS = PROJECT_ROOT / "layouts"


def invoke(tmp_path: Path, layout: str, out: str = "out") -> tuple[int, str]:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(1))
    res = CliRunner().invoke(app, ["batch", layout, str(inp), "-o", str(tmp_path / out), "--state-dir",
                                   str(tmp_path / "state"), "--layouts-dir", str(LAYOUTS), "--workers", "1",
                                   "--quiet", "--json"])
    return res.exit_code, res.output


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A valid copy of the notice layout outside the layouts directory (same id, so it would load)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return Path(shutil.copy(LAYOUTS / f"{LAYOUT}.yaml", elsewhere / f"{LAYOUT}.yaml"))


def outside_values(outside: Path) -> list[str]:
    relative = os.path.relpath(outside.with_suffix(""), LAYOUTS)
    return [
        str(outside.with_suffix("")),                 # absolute, the renderer would add .yaml
        str(outside),                                 # absolute .yaml
        relative,                                     # ../../…/elsewhere/<id>: relative to the layouts dir
        "../x",
        "/tmp/evil.yaml",
        "layouts/../../etc",
        f"{LAYOUTS}/../{LAYOUT}.yaml",
        "..",
        "Tsuchisho",
    ]


def test_a_layout_outside_the_layouts_directory_is_refused_before_anything_is_created(
        tmp_path: Path, outside: Path) -> None:
    for value in outside_values(outside):
        code, output = invoke(tmp_path, value)
        assert code == 2, (value, output)
        problem = json.loads(output.strip().splitlines()[-1])
        assert problem["field"] == "LAYOUT_ID", (value, problem)
        assert "LAYOUT_ID" in problem["detail"] and "Traceback" not in output
        assert not (tmp_path / "out").exists(), value
        assert not (tmp_path / "state").exists(), value


def test_a_path_outside_names_the_layouts_directory(tmp_path: Path, outside: Path) -> None:
    code, output = invoke(tmp_path, str(outside))
    assert code == 2
    problem = json.loads(output.strip().splitlines()[-1])
    assert "resolves outside the layouts directory" in problem["detail"]


def test_a_plain_id_and_a_path_inside_the_directory_still_print(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, LAYOUT, out="by-id")
    assert code == 0, output
    code, output = invoke(tmp_path, str(LAYOUTS / f"{LAYOUT}.yaml"), out="by-path")
    assert code == 0, output
    manifest = json.loads((tmp_path / "by-path" / "manifest.json").read_text(encoding="utf-8"))
    assert LAYOUT in json.dumps(manifest)
    assert all(f["name"].startswith(f"{LAYOUT}-") for f in manifest["files"])


def test_layout_argument_directly(tmp_path: Path) -> None:
    assert layout_argument(LAYOUT, LAYOUTS) == LAYOUT
    assert layout_argument(f"{LAYOUTS}/./{LAYOUT}.yaml", LAYOUTS) == LAYOUT
    link = tmp_path / "link.yaml"
    link.symlink_to(LAYOUTS / f"{LAYOUT}.yaml")
    # a symlink outside that points in is resolved to the file in the directory (and named by it)
    assert layout_argument(str(link), LAYOUTS) == LAYOUT
    # a symlink in a copy of the directory that points out is not
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "evil-layout.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(UsageError) as info:
        layout_argument(str(layouts / "evil-layout.yaml"), layouts)
    assert info.value.field == "LAYOUT_ID"

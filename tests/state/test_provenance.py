"""Provenance in the issue log: every record of a render (reserve, render, void; single and batch) cites the
sha256 of the layout file as loaded and of each part it uses, of the tenant file and of the font manifest,
and the renderer version — and nothing about a person."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from batchkit import write_jsonl
from dvkit import ROOT, TENANT, Clock, make_renderer, sample

import renderer
from renderer.api import Renderer
from renderer.batch import BatchOptions, run_batch
from renderer.samples import sample_notices
from renderer.settings import Settings

PROVENANCE = ("layout_sha256", "layout_parts_sha256", "tenant_sha256", "font_manifest_sha256", "renderer_version")
FORBIDDEN = ["見本", "ミホン", "見本町", "123456789018", "2850000"]   # names, addresses, numbers of the sample


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bodies(r: Renderer) -> list[dict[str, Any]]:
    return [json.loads(row["body"]) for row in r.issue_log.records()]


def expected(layout: str, parts: dict[str, str] | None = None, *, root: Path = ROOT) -> dict[str, Any]:
    return {"layout_sha256": sha(root / "layouts" / f"{layout}.yaml"), "layout_parts_sha256": parts or {},
            "tenant_sha256": sha(root / "layouts" / "tenants" / f"{TENANT}.yaml"),
            "font_manifest_sha256": sha(ROOT / "fonts" / "manifest.toml"), "renderer_version": renderer.__version__}


def test_a_render_cites_the_files_that_drew_it(tmp_path: Path, database_url: str | None) -> None:
    r = make_renderer(tmp_path / "state", Clock(), database_url=database_url)
    r.render(sample(), layout_id="juminhyo-setai")
    records = bodies(r)
    assert [b["event"] for b in records] == ["reserve", "render"]
    for body in records:
        assert {k: body[k] for k in PROVENANCE} == expected("juminhyo-setai")
        assert all(value not in json.dumps(body, ensure_ascii=False) for value in FORBIDDEN)
    assert r.issue_log.verify().ok


def test_the_hashes_are_of_the_files_as_loaded_not_as_they_are_later(tmp_path: Path, database_url: str | None) -> None:
    layouts = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", layouts)
    r = make_renderer(tmp_path / "state", Clock(), layouts_dir=layouts, database_url=database_url)
    before = expected("juminhyo-setai", root=tmp_path)
    r.render(sample(), layout_id="juminhyo-setai")
    with (layouts / "juminhyo-setai.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# edited after it was loaded\n")
    r.render(sample(), layout_id="juminhyo-setai")   # the same process draws with what it loaded
    renders = [b for b in bodies(r) if b["event"] == "render"]
    assert [b["layout_sha256"] for b in renders] == [before["layout_sha256"]] * 2
    fresh = make_renderer(tmp_path / "state", Clock(), layouts_dir=layouts, database_url=database_url)
    fresh.render(sample(), layout_id="juminhyo-setai")
    assert bodies(fresh)[-1]["layout_sha256"] == sha(layouts / "juminhyo-setai.yaml") != before["layout_sha256"]


def test_a_layout_with_parts_cites_each_part_file(tmp_path: Path, database_url: str | None) -> None:
    r = make_renderer(tmp_path / "state", Clock(), database_url=database_url)
    spec = r.layout("tsuchisho-nozei")
    tenant = r.tenant(TENANT)
    part = ROOT / "layouts" / "parts" / "nofusho-3ren.yaml"
    assert r.provenance(spec, tenant) == expected("tsuchisho-nozei", {"nofusho-3ren": sha(part)})


def test_a_void_record_cites_them_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      database_url: str | None) -> None:
    r = make_renderer(tmp_path / "state", Clock(), database_url=database_url)

    def broken(*_: object, **__: object) -> bytes:
        raise RuntimeError("drawing failed after the reservation")

    monkeypatch.setattr("renderer.api.finish", broken)
    with pytest.raises(RuntimeError):
        r.render(sample(), layout_id="juminhyo-setai")
    records = bodies(r)
    assert [b["event"] for b in records] == ["reserve", "void"]
    assert {k: records[1][k] for k in PROVENANCE} == expected("juminhyo-setai")
    assert r.issue_log.verify().ok


def test_batch_render_records_cite_them(tmp_path: Path, database_url: str | None) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(3))
    state = tmp_path / "state"
    r = Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state,
                          database_url=database_url))
    summary = run_batch(r, BatchOptions(layout="tsuchisho-kyufu-kettei", input=inp, out_dir=tmp_path / "out",
                                        workers=1, progress=False))
    assert summary.exit_code == 0
    renders = [b for b in bodies(r) if b["event"] == "render"]
    assert len(renders) == 3
    for body in renders:
        assert {k: body[k] for k in PROVENANCE} == expected("tsuchisho-kyufu-kettei")

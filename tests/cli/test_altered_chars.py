"""A character printed other than given is never silent on the CLI (hostile review: a 異体字 the fonts lack
printed as its base character with only ``wrote …``). In: the sample 住民票 with an IVS no font here maps.
Out: exit 0, the PDF, and a warning naming the field (never the value)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from renderer.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CHOHYO_CACHE_DIR", "off")
    return tmp_path


def test_an_ivs_the_fonts_lack_is_a_warning_naming_the_field(state: Path) -> None:
    env = json.loads((ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text(encoding="utf-8"))
    member = env["data"]["household"]["members"][0]
    name = member["name"]
    member["name"] = name[0] + "\U000E01EF" + name[1:]
    src = state / "in.json"
    src.write_text(json.dumps(env, ensure_ascii=False), encoding="utf-8")
    out = state / "out.pdf"
    result = CliRunner().invoke(app, ["render", "juminhyo-setai", str(src), "-o", str(out), "--identity-verified"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    warning = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "ivs_fallback=1" in warning[0], result.output
    assert "data.household.members[0].name" in warning[0] and name not in warning[0]


def test_no_warning_when_every_character_prints_as_given(state: Path) -> None:
    out = state / "out.pdf"
    result = CliRunner().invoke(app, ["render", "juminhyo-setai", str(ROOT / "layouts" / "samples" /
                                                                     "juminhyo-setai.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "printed other than given" not in result.output

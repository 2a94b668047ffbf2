"""`chohyo audit show SERIAL`: the issue-log records of one 発行番号 (by serial or as printed), their MACs
checked, the provenance of the render, no personal data; exit 2 when there is none."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from dvkit import TENANT, Clock, make_renderer, sample
from typer.testing import CliRunner, Result

import renderer
from renderer.api import Renderer
from renderer.cli import app
from renderer.state.db import DB_FILE

FORBIDDEN = ["見本", "ミホン", "見本町", "123456789018", "2850000"]   # names, addresses, numbers of the sample


@pytest.fixture
def rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Renderer, list[str]]:
    for name in ("CHOHYO_LOG_KEY", "CHOHYO_DATABASE_URL", "CHOHYO_LAYOUTS_DIR", "CHOHYO_FONTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    r = make_renderer(tmp_path / "state", Clock())
    numbers = [n for _ in range(2) for n in r.render(sample(), layout_id="juminhyo-setai").issue_numbers]
    return r, numbers


def show(r: Renderer, *args: str) -> Result:
    return CliRunner().invoke(app, ["audit", "show", *args, "--state-dir", str(r.settings.state_dir)])


def test_a_serial_shows_its_reserve_and_render_records_with_provenance(rendered: tuple[Renderer, list[str]]) -> None:
    r, numbers = rendered
    result = show(r, "000002")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"発行番号 000002 of tenant {TENANT}" in text and "rendered (record 4)" in text
    assert "record 3: reserve" in text and "record 4: render" in text and text.count("MAC ok") == 2
    assert numbers[1] in text
    for key in ("layout_sha256", "tenant_sha256", "font_manifest_sha256"):
        assert f"  {key}: " in text
    assert f"  renderer_version: {renderer.__version__}" in text
    for value in FORBIDDEN:
        assert value not in result.output


def test_the_whole_printed_number_as_on_the_sheet(rendered: tuple[Renderer, list[str]]) -> None:
    r, numbers = rendered
    printed = numbers[0].replace(" ", "　", 1) + " 1/1"   # a full-width space and the sheet's n/N, as typed
    result = show(r, printed, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [(n["serial"], n["outcome"], n["reserved_by"], n["closed_by"]) for n in shown["numbers"]] == [
        (1, "rendered", 1, 2)]
    assert [(rec["seq"], rec["mac_ok"], rec["body"]["event"]) for rec in shown["records"]] == [
        (1, True, "reserve"), (2, True, "render")]
    assert shown["records"][1]["body"]["issue_numbers"] == [numbers[0]]


def test_not_found_exits_2_with_a_clear_message(rendered: tuple[Renderer, list[str]]) -> None:
    r, numbers = rendered
    result = show(r, "000009")
    assert result.exit_code == 2 and "no issue-log record of 発行番号 serial 000009" in result.stderr
    other_terminal = numbers[0].replace("本庁1", "本庁9")
    result = show(r, other_terminal)
    assert result.exit_code == 2 and f"no issue-log record of 発行番号 {other_terminal}" in result.stderr
    result = show(r, "1", "--tenant", "131016")
    assert result.exit_code == 2
    result = show(r, "not a number", "--json")
    assert result.exit_code == 2 and json.loads(result.stderr)["exit_code"] == 2


def test_an_edited_record_is_shown_as_failing_its_mac(rendered: tuple[Renderer, list[str]]) -> None:
    r, _ = rendered
    with sqlite3.connect(r.settings.state_dir / DB_FILE) as con:
        body = con.execute("SELECT body FROM issue_log WHERE seq = 2").fetchone()[0]
        con.execute("UPDATE issue_log SET body = ? WHERE seq = 2",
                    (body.replace('"seal_printed":true', '"seal_printed":false'),))
    result = show(r, "1")
    assert result.exit_code == 1 and "record 2: render" in result.stdout and "MAC FAILS" in result.stdout

"""Previews issue nothing: `renderer.preview` and `chohyo preview` (PDF, PNG, --outline, --watch).

In: the golden inputs and the bundled sample (fictitious 見本 data), a scratch state directory per test. Out:
checks that a preview moves no counter, reserves and renders no number, writes one ``preview`` record without
personal data (and `audit verify` stays clean); that every sheet prints 「プレビュー」 and no 発行番号; that DV and
the omission rules apply as for a print (a protected address reads 記載省略 for a third party, a certificate
with a protected person is refused and the refusal logged); that PNG output decodes; and the watch loop.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.cli.preview import watch_loop
from renderer.errors import RefusedError
from renderer.golden import DEFAULT_CLOCK, GOLDEN_DIR, default_settings, load_fixtures
from renderer.preview import PREVIEW_TEXT, preview
from renderer.state.db import issue_log, issued_numbers, number_outcomes, reservations, serials
from renderer.state.registry import seed_registry

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "layouts" / "samples" / "juminhyo-setai.json"
NUMBER = re.compile(r"\d{8} [^\s/]+ .*\d{6} \d+/\d+")


def renderer_at(tmp: Path, clock: Any = DEFAULT_CLOCK) -> Renderer:
    when = clock
    return Renderer(dataclasses.replace(default_settings(), state_dir=tmp / "state", clock=lambda: when))


def case_input(case: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((GOLDEN_DIR / case / "input.json").read_text(encoding="utf-8"))
    return raw


def tables(r: Renderer) -> dict[str, list[Any]]:
    with r.db.read() as conn:
        return {t.name: [tuple(row) for row in conn.execute(select(t)).all()]
                for t in (serials, issued_numbers, number_outcomes, reservations, issue_log)}


def texts(pdf: bytes) -> list[str]:
    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages]


def test_a_preview_spends_nothing_and_logs_one_record_without_personal_data(tmp_path: Path) -> None:
    r = renderer_at(tmp_path)
    r.render(case_input("juminhyo-setai/setai-4nin"), layout_id="juminhyo-setai")   # something to compare with
    before = tables(r)
    result = preview(r, case_input("juminhyo-setai/setai-6nin-2mai"), layout_id="juminhyo-setai")
    after = tables(r)
    for name in ("serials", "issued_numbers", "number_outcomes", "reservations"):
        assert after[name] == before[name], name
    added = after["issue_log"][len(before["issue_log"]):]
    assert after["issue_log"][:len(before["issue_log"])] == before["issue_log"]
    assert len(added) == 1 and added[0][2] == "preview"
    body = json.loads(r.issue_log.records()[-1]["body"])
    assert body["event"] == "preview" and body["pages"] == result.pages == 2 and "serials" not in body
    for key in ("person_ids", "requester_person_id", "acting_for", "issue_numbers", "lifts"):
        assert key not in body
    raw = r.issue_log.records()[-1]["body"]
    envelope = case_input("juminhyo-setai/setai-6nin-2mai")
    for member in envelope["data"]["household"]["members"]:
        assert member["person_id"] not in raw and member["name"] not in raw
    assert r.issue_log.verify().ok


def test_every_sheet_says_preview_and_none_prints_a_number(tmp_path: Path) -> None:
    r = renderer_at(tmp_path)
    result = preview(r, case_input("juminhyo-setai/setai-6nin-2mai"), layout_id="juminhyo-setai")
    pages = texts(result.pdf)
    assert len(pages) == 2
    for n, text in enumerate(pages, start=1):
        assert f"発行番号 {PREVIEW_TEXT} {n}/2" in text
        assert text.count(PREVIEW_TEXT) >= 2          # the 発行番号 slot and the mark across the sheet
        assert NUMBER.search(text) is None
    printed = r.render(case_input("juminhyo-setai/setai-6nin-2mai"), layout_id="juminhyo-setai")
    assert NUMBER.search(texts(printed.pdf)[0]) is not None   # the pattern does find a real 発行番号


def test_a_protected_address_reads_kisai_shoryaku_in_a_preview_for_an_agent(tmp_path: Path) -> None:
    case = GOLDEN_DIR / "tsuchisho-kyufu-kettei" / "dv-dairinin-madoguchi"
    fixtures = load_fixtures(case)
    assert fixtures.clock is not None
    r = renderer_at(tmp_path, fixtures.clock)
    raw = case_input("tsuchisho-kyufu-kettei/dv-dairinin-madoguchi")
    assert raw["request"]["requester"]["relation"] == "agent"   # acting for the addressee, not the addressee
    seed_registry(r.settings, raw["tenant"], fixtures.suppressions, fixtures.lifts)
    result = preview(r, raw, layout_id="tsuchisho-kyufu-kettei")
    text = " ".join(texts(result.pdf))
    assert "記載省略" in text
    address = raw["data"]["addressee"]["address"]
    for part in (address.get("town"), address.get("block"), address.get("building"), address.get("postal_code")):
        if part:
            assert part not in text, "the protected address reached the preview"
    assert PREVIEW_TEXT in text


def test_a_certificate_a_print_would_refuse_is_refused_and_logged(tmp_path: Path) -> None:
    case = GOLDEN_DIR / "juminhyo-setai" / "dv-setai-kyohi"
    fixtures = load_fixtures(case)
    r = renderer_at(tmp_path, fixtures.clock or DEFAULT_CLOCK)
    raw = case_input("juminhyo-setai/dv-setai-kyohi")
    seed_registry(r.settings, raw["tenant"], fixtures.suppressions, fixtures.lifts)
    before = tables(r)
    with pytest.raises(RefusedError) as refused:
        preview(r, raw, layout_id="juminhyo-setai")
    assert refused.value.rule == "dv-block"
    after = tables(r)
    assert after["serials"] == before["serials"] and after["issued_numbers"] == before["issued_numbers"]
    body = json.loads(r.issue_log.records()[-1]["body"])
    assert body["event"] == "refusal" and body["output"] == "preview" and body["rule"] == "dv-block"


def test_outline_draws_boxes_with_paths(tmp_path: Path) -> None:
    r = renderer_at(tmp_path)
    plain = preview(r, case_input("juminhyo-setai/setai-4nin"), layout_id="juminhyo-setai")
    outlined = preview(r, case_input("juminhyo-setai/setai-4nin"), layout_id="juminhyo-setai", outline=True)
    text = texts(outlined.pdf)[0]
    assert "elements[0]" in text and "elements[0]" not in texts(plain.pdf)[0]
    assert re.search(r"grid elements\[\d+\]", text) and re.search(r"image elements\[\d+\]\.elements\[\d+\]", text)


def test_cli_writes_pdf_and_png_and_spends_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    state = tmp_path / "state"
    out_pdf, out_png = tmp_path / "p.pdf", tmp_path / "p.png"
    for out, extra in ((out_pdf, []), (out_png, ["--page", "1", "--outline"])):
        result = runner.invoke(app, ["preview", "juminhyo-setai", str(SAMPLE), "-o", str(out), *extra,
                                     "--state-dir", str(state)])
        assert result.exit_code == 0, result.output
    assert out_pdf.read_bytes().startswith(b"%PDF-")
    image = Image.open(out_png)
    image.load()
    assert image.format == "PNG" and image.width > 500 and image.height > 700
    r = Renderer(dataclasses.replace(default_settings(), state_dir=state))
    assert [row["event"] for row in r.issue_log.records()] == ["preview", "preview"]
    assert tables(r)["serials"] == [] and tables(r)["issued_numbers"] == []


def test_cli_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["preview", "juminhyo-setai", str(SAMPLE), "--state-dir", str(tmp_path / "s")]
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "p.txt")]).exit_code == 2
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "p.png"), "--page", "9"]).exit_code == 2
    assert not (tmp_path / "p.png").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["preview", "juminhyo-setai", str(bad), "-o", str(tmp_path / "p.pdf"),
                                 "--state-dir", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 2


def test_watch_loop_previews_again_on_a_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    watched = tmp_path / "input.json"
    watched.write_text("{}", encoding="utf-8")
    made: list[float] = []

    def once() -> str:
        made.append(time.time())
        return f"round {len(made)}"

    def touch() -> None:
        time.sleep(0.5)
        watched.write_text('{"changed": true}', encoding="utf-8")

    threading.Thread(target=touch, daemon=True).start()
    assert watch_loop(once, [watched], as_json=False, rounds=1) == 0
    assert len(made) == 2
    assert re.search(r"round 2; \d+ ms from save to output", capsys.readouterr().err)

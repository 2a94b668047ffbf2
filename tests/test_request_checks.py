"""Requests are checked before anything is spent: declared terminals and printers, JSON integers only, the
issue date a layout allows; and every record says who asked (the authenticated caller beside the typed
operator and the requester's claim)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from dvkit import Clock, make_renderer, sample

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.errors import ChohyoError
from renderer.state.db import DB_FILE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return make_renderer(tmp_path / "state", Clock())


def nothing_spent(renderer: Renderer) -> None:
    path = renderer.settings.state_dir / DB_FILE
    if not path.exists():
        return
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT COUNT(*) FROM serials").fetchone()[0] == 0, "a serial counter moved"
        assert con.execute("SELECT COUNT(*) FROM issued_numbers").fetchone()[0] == 0


@pytest.mark.parametrize(("terminal", "printer"), [
    ("本庁T", "prn-001"),                # a printed name, not an id
    ("本庁T\u200b", "prn-001"),
    ("honcho-1\r\n", "prn-001"),
    ("honcho-1\x00", "prn-001"),
    ("honcho-9", "prn-001"),             # well-formed, but not declared by the tenant
    ("honcho-1", "prn-999"),
])
def test_an_undeclared_terminal_or_printer_is_refused_before_a_serial_is_spent(
        renderer: Renderer, terminal: str, printer: str) -> None:
    with pytest.raises(ChohyoError) as info:
        renderer.render(sample(terminal=terminal, printer=printer), layout_id="juminhyo-setai")
    assert info.value.exit_code == 2
    assert info.value.field in ("request.terminal", "request.printer")
    nothing_spent(renderer)


def test_two_declared_series_never_print_the_same_number(renderer: Renderer) -> None:
    a = renderer.render(sample(terminal="honcho-1"), layout_id="juminhyo-setai").issue_numbers[0]
    b = renderer.render(sample(terminal="shisho-1"), layout_id="juminhyo-setai").issue_numbers[0]
    assert a == "20261127 佐倉市 本庁1 プリンタ001 000001" and b == "20261127 佐倉市 支所1 プリンタ001 000001"


@pytest.mark.parametrize(("field", "value"), [
    ("copies", "20"), ("copies", "2"), ("copies", 2.0), ("copies", True), ("seal", "false"), ("seal", 0),
])
def test_integers_and_booleans_are_json_integers_and_booleans_only(renderer: Renderer, field: str,
                                                                   value: Any) -> None:
    with pytest.raises(ChohyoError) as info:
        renderer.render(sample(**{field: value}), layout_id="juminhyo-setai")
    assert info.value.exit_code == 2 and info.value.field == f"request.{field}"
    nothing_spent(renderer)


@pytest.mark.parametrize("layout", ["juminhyo-setai", "juminhyo-kojin"])
def test_a_certificate_of_no_one_is_refused_before_a_serial_is_spent(renderer: Renderer, layout: str) -> None:
    """``request.members: []`` selected nobody: the 認証文 and the 公印 stood under an address and no person
    (found by a hostile review, exit 0). Absent means the whole household; an empty list is invalid."""
    env = sample(members=[])
    env["layout"] = layout
    with pytest.raises(ChohyoError) as info:
        renderer.render(env, layout_id=layout)
    assert info.value.exit_code == 2 and info.value.field == "request.members"
    nothing_spent(renderer)


def test_integers_in_the_data_are_json_integers_only(renderer: Renderer) -> None:
    env = json.loads((ROOT / "layouts" / "samples" / "tsuchisho-kyufu-kettei.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = "2026-11-27"
    env["data"]["household_size"] = "3"
    with pytest.raises(ChohyoError) as info:
        renderer.render(env, layout_id="tsuchisho-kyufu-kettei")
    assert info.value.exit_code == 2 and info.value.field == "data.household_size"
    nothing_spent(renderer)


@pytest.mark.parametrize("issued_on", ["9999-12-31", "2026-09-01", "2027-06-01"])
def test_a_notice_outside_its_window_is_refused_before_a_serial_is_spent(renderer: Renderer,
                                                                         issued_on: str) -> None:
    env = json.loads((ROOT / "layouts" / "samples" / "tsuchisho-kyufu-kettei.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = issued_on
    with pytest.raises(ChohyoError) as info:
        renderer.render(env, layout_id="tsuchisho-kyufu-kettei")
    assert info.value.exit_code == 3 and info.value.rule == "issued-on-window"
    nothing_spent(renderer)
    env["request"]["issued_on"] = "2027-01-15"   # inside: 60 days back, 180 ahead of 2026-11-27
    assert renderer.render(env, layout_id="tsuchisho-kyufu-kettei").pages >= 1


def test_every_record_names_the_authenticated_caller_beside_the_typed_operator(renderer: Renderer) -> None:
    caller = Caller.api_key("0123456789ab", frozenset({"render"}))
    renderer.render(sample(operator="mayor"), layout_id="juminhyo-setai", caller=caller)
    for row in renderer.issue_log.records():
        body = json.loads(row["body"])
        assert body["operator"] == "mayor"   # free text, as typed...
        assert body["caller"] == {"kind": "api-key", "id": "key:0123456789ab", "identity_verified": False,
                              "mailing": False}
        assert body["relation"] == "self" and body["requester_person_id"] == "100000001"
        assert body["terminal"] == "honcho-1" and body["printer"] == "prn-001"


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "tenants/122122", "x", "Juminhyo-setai"])
def test_a_layout_name_that_is_not_an_id_is_never_loaded(renderer: Renderer, tmp_path: Path, name: str) -> None:
    (tmp_path / "evil.yaml").write_text("id: evil\n", encoding="utf-8")   # would be found by a path join
    with pytest.raises(ChohyoError) as info:
        renderer.layout(name)
    assert info.value.exit_code == 2 and "known: ichiran-idosha" in info.value.message


def _layout_sample(layout: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{layout}.json").read_text(encoding="utf-8"))
    return raw


@pytest.mark.parametrize(("layout", "requester", "channel", "rule", "field"), [
    # a notice is its addressee's: a third party never gets it (地方税法22条 / 個人情報保護法69条)
    ("tsuchisho-nozei", {"relation": "third_party", "purpose": "見本"}, "counter", "requester-relation",
     "request.requester.relation"),
    ("tokusokujo-hagaki", {"relation": "third_party", "purpose": "見本"}, "mail", "requester-relation",
     "request.requester.relation"),
    # … nor is it a コンビニ交付 or a 広域交付
    ("tsuchisho-kyufu-kettei", {"relation": "public_office"}, "convenience_store", "requester-channel",
     "request.channel"),
    ("tsuchisho-nozei", {"relation": "public_office"}, "wide_area", "requester-channel", "request.channel"),
    # a self or agent request is about the addressee
    ("tsuchisho-kyufu-kettei", {"relation": "self", "person_id": "999999999"}, "counter", "requester-subject",
     "request.requester.person_id"),
    ("tokusokujo-hagaki", {"relation": "agent", "acting_for": "999999999"}, "counter", "requester-subject",
     "request.requester.acting_for"),
    # a 確認用の一覧表 is the municipality's own, handed over at the office
    ("ichiran-kyufu", {"relation": "third_party", "purpose": "見本"}, "counter", "requester-relation",
     "request.requester.relation"),
    ("ichiran-idosha", {"relation": "self", "person_id": "100000001"}, "counter", "requester-relation",
     "request.requester.relation"),
    ("ichiran-idosha", {"relation": "public_office"}, "convenience_store", "requester-channel", "request.channel"),
    # the 所得・課税証明書 has no 広域交付 (住基法12条の4 is the 住民票's)
    ("shotoku-kazei", {"relation": "public_office"}, "wide_area", "requester-channel", "request.channel"),
])
def test_notices_and_staff_lists_go_only_to_whom_and_how_the_layout_says(
        renderer: Renderer, layout: str, requester: dict[str, Any], channel: str, rule: str, field: str) -> None:
    raw = _layout_sample(layout)
    raw["request"].update(requester=requester, channel=channel)
    with pytest.raises(ChohyoError) as info:
        renderer.render(raw, layout_id=layout, caller=Caller.local("cli", identity_verified=True))
    assert (info.value.exit_code, info.value.rule, info.value.field) == (3, rule, field), info.value.message
    nothing_spent(renderer)


@pytest.mark.parametrize(("layout", "relation"), [
    ("tsuchisho-nozei", "same_household"), ("tsuchisho-kyufu-kettei", "agent"), ("tokusokujo-hagaki", "self"),
    ("ichiran-kyufu", "public_office"),
])
def test_the_addressee_their_household_and_agent_and_the_office_are_issued_notices(
        renderer: Renderer, layout: str, relation: str) -> None:
    raw = _layout_sample(layout)
    addressee = raw["data"].get("addressee", {}).get("person_id")
    requester: dict[str, Any] = {"relation": relation}
    if relation in ("self", "same_household"):
        requester["person_id"] = addressee
    if relation == "agent":
        requester["acting_for"] = addressee
    raw["request"].update(requester=requester, channel="counter")
    result = renderer.render(raw, layout_id=layout, caller=Caller.local("cli", identity_verified=True))
    assert result.pages >= 1

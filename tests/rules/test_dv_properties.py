"""Property tests (hypothesis) of the standard's rules over random households, requesters, channels,
registry states, lifts and clock times:

(a) no PDF contains a protected address when it must not (``redact_address``);
(b) no ``block`` layout renders without a valid lift for each protected person, and a lifted one prints in full;
(c) withheld items (optional items not asked for, a 転出届 before its 転出予定日) never appear;
(d) every printed domestic address starts with its 都道府県 and 市区町村 (郡, 政令市の区).

"Never appears" is checked in the extracted text, the decompressed content streams (decoded through each
font's ToUnicode map, and raw in UTF-8/UTF-16), the ToUnicode maps themselves, ActualText, the Info
dictionary and XMP (`dvkit.inspect_pdf`). Every secret is spelt with characters that nothing else on the
page uses, so "not in the ToUnicode maps" is checked per character; and every negative check has a
positive control in the same example: the same document rendered for the person themself (or with the
item asked for) does contain it, so a broken extraction cannot pass. One Renderer per layout set is
reused; the registry is cleared between examples.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from dvkit import (
    JST,
    NOTICE_ID,
    SAMPLE,
    TENANT,
    Clock,
    inspect_pdf,
    make_renderer,
    notice_layouts,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.errors import RefusedError
from renderer.state.db import lifts, suppression_adversaries, suppressions
from renderer.state.registry import parse_lines

EXAMPLES = int(os.environ.get("CHOHYO_PROPERTY_EXAMPLES", "200"))
#: derandomized (reproducible in CI); CHOHYO_PROPERTY_RANDOM=1 explores new examples locally
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    derandomize=not os.environ.get("CHOHYO_PROPERTY_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
#: characters used by no layout, tenant, sample or label: secrets are spelt with them only
POOL = "鰐鰻鱒鱚鱈鯰鯱鯖鮫鮪鮭鮎鯛鰹鰯鰤鱗鴎鴛鴦鵜鵬鶯鷲鷺鸚鵡麒麟獅狛貘狸狐狢猪猿狼羚駱駝鴇鷗"
PLACES = [("北海道", None, "札幌市", "北区"), ("東京都", None, "千代田区", None),
          ("神奈川県", None, "横浜市", "中区"), ("長野県", "北佐久郡", "軽井沢町", None),
          ("千葉県", None, "佐倉市", None), ("兵庫県", None, "神戸市", "中央区")]
MY_NUMBERS = ["123456789018", "000000000019", "111111111118"]
RELATIONS = ["妻", "子", "長男", "長女", "同居人"]
DAY = dt.date(2026, 11, 27)


class Secrets:
    """Hands out distinct tokens of pool characters (one per address or item of an example)."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.order = draw(st.permutations(POOL))
        self.next = 0

    def token(self) -> str:
        out = "".join(self.order[self.next:self.next + 2])
        self.next += 2
        return out


@dataclass
class Addr:
    owner: str | None          # person_id, or None for the household's shared address
    kind: str                  # current | previous
    token: str                 # the secret part (town)
    full: str                  # the full printed form (domestic: starts with 都道府県+市区町村)
    domestic: bool


@dataclass
class Scenario:
    env: dict[str, Any]
    addresses: list[Addr]
    records: list[dict[str, Any]]
    lift_specs: list[dict[str, Any]]
    clock: dt.datetime
    verified: bool = False     # the caller checked identity documents
    my_numbers: dict[str, str] = field(default_factory=dict)
    moving: dict[str, tuple[str, dt.date]] = field(default_factory=dict)   # person → (token, planned_on)
    mails: bool = False        # the caller holds the mailing grant (CLI --mailing)


def domestic(draw: st.DrawFn, s: Secrets) -> tuple[dict[str, Any], str, str]:
    pref, county, muni, ward = draw(st.sampled_from(PLACES))
    token = s.token()
    town = f"{token}町"
    block = f"{draw(st.integers(1, 30))}番地"
    addr: dict[str, Any] = {"prefecture": pref, "municipality": muni, "town": town, "block": block}
    if county:
        addr["county"] = county
    if ward:
        addr["ward"] = ward
    full = "".join(p for p in (pref, county, muni, ward, town, block) if p)
    return addr, token, full


@st.composite
def scenarios(draw: st.DrawFn, layout: str, with_registry: bool = True) -> Scenario:
    s = Secrets(draw)
    env: dict[str, Any] = json.loads(json.dumps(SAMPLE))
    env["layout"] = layout
    n = draw(st.integers(1, 3))
    ids = [f"70000000{i}" for i in range(n)]
    home, home_token, home_full = domestic(draw, s)
    home["postal_code"] = "2850000"
    addresses = [Addr(None, "current", home_token, home_full, True)]
    members: list[dict[str, Any]] = []
    my_numbers: dict[str, str] = {}
    moving: dict[str, tuple[str, dt.date]] = {}
    head_name = f"見本　{s.token()}"
    for i, pid in enumerate(ids):
        name = head_name if i == 0 else f"見本　{'一二三四'[i]}郎"
        m: dict[str, Any] = {"person_id": pid, "name": name, "birth_date": f"19{70 + i}-01-0{i + 1}",
                             "sex": "男", "relationship": "世帯主" if i == 0 else RELATIONS[i]}
        if draw(st.booleans()):
            my_numbers[pid] = m["my_number"] = draw(st.sampled_from(MY_NUMBERS))
        if draw(st.booleans()):
            if draw(st.integers(0, 3)) == 0:
                token = s.token()
                m["moved_in_from"] = {"kind": "overseas", "country": "オーストラリア", "text": f"{token}通り1番"}
                addresses.append(Addr(pid, "previous", token, f"オーストラリア{token}通り1番", False))
            else:
                addr, token, full = domestic(draw, s)
                m["moved_in_from"] = addr
                addresses.append(Addr(pid, "previous", token, full, True))
        if draw(st.integers(0, 3)) == 0:
            addr, token, full = domestic(draw, s)
            planned = DAY + dt.timedelta(days=draw(st.integers(-3, 3)))
            m["moving_out"] = {"planned_on": planned.isoformat(), "notified_on": "2026-11-20", "destination": addr}
            moving[pid] = (token, planned)
            addresses.append(Addr(pid, "current", token, full, True))
        members.append(m)
    env["data"]["household"] = {"address": home, "head_name": head_name, "members": members}
    outsider = "900000001"
    who = draw(st.sampled_from([*ids, outsider]))
    relation = draw(st.sampled_from(["self", "same_household", "third_party", "agent", "public_office"]))
    requester: dict[str, Any] = {"relation": relation, "person_id": who}
    if relation == "agent":
        requester["acting_for"] = draw(st.sampled_from(ids))
    if relation == "third_party":
        requester["purpose"] = "見本の請求事由"
    env["request"]["requester"] = requester
    env["request"]["channel"] = draw(st.sampled_from(["counter", "mail", "wide_area", "convenience_store"]))
    env["request"]["seal"] = draw(st.booleans())   # irrelevant to the rules; no seal image draws faster
    env["request"]["include"] = draw(st.one_of(st.none(), st.lists(
        st.sampled_from(["head_and_relationship", "honseki", "my_number", "resident_code"]), unique=True)))
    if draw(st.booleans()):
        env["request"]["members"] = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    records: list[dict[str, Any]] = []
    lift_specs: list[dict[str, Any]] = []
    if with_registry:
        for pid in ids:
            if draw(st.integers(0, 2)) == 0:
                continue
            records.append({"op": "upsert", "person_id": pid, "version": 1, "case_id": draw(st.sampled_from("AB")),
                            "role": draw(st.sampled_from(["applicant", "joint"])),
                            "adversaries": [outsider] if draw(st.integers(0, 4)) == 0 else [],
                            "period": {"start": "2026-04-01"},
                            "processes": draw(st.sampled_from([["certificate", "notice", "list"], ["certificate"],
                                                               ["notice"]])),
                            "addresses": draw(st.sampled_from([["current", "previous"], ["current"], ["previous"]]))})
            if draw(st.integers(0, 4)) == 0:
                records.append({"op": "release", "person_id": pid, "version": 2})
            if draw(st.booleans()):
                lift_specs.append({"person_id": pid, "layout": draw(st.sampled_from([layout, "juminhyo-kojin"])),
                                   "minutes": draw(st.integers(1, 30)), "ago": draw(st.integers(0, 40)),
                                   "revoked": draw(st.integers(0, 5)) == 0})
    clock = dt.datetime.combine(DAY, dt.time(9, 0), tzinfo=JST) + dt.timedelta(minutes=draw(st.integers(0, 600)))
    verified = draw(st.booleans())
    return Scenario(env, addresses, records, lift_specs, clock, verified, my_numbers, moving,
                    mails=draw(st.booleans()))


# --------------------------------------------------------------------------- running a scenario


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Renderer, Clock]]:
    tmp = tmp_path_factory.mktemp("dv-properties")
    clock = Clock()
    yield make_renderer(tmp / "state", clock, notice_layouts(tmp)), clock


def prepare(renderer: Renderer, clock: Clock, sc: Scenario) -> dict[str, list[dict[str, Any]]]:
    with renderer.db.write("test") as conn:
        for table in (suppression_adversaries, suppressions, lifts):
            conn.execute(delete(table))
    clock.now = sc.clock
    renderer.registry.import_records(TENANT, parse_lines(json.dumps(r) for r in sc.records), sc.clock)
    active = {r["person_id"]: r for r in sc.records if r["op"] == "upsert"}
    for r in sc.records:
        if r["op"] == "release":
            active.pop(r["person_id"], None)
    granted: dict[str, list[dict[str, Any]]] = {}
    for spec in sc.lift_specs:
        if spec["person_id"] not in active:
            continue
        at = sc.clock - dt.timedelta(minutes=spec["ago"])
        lift = renderer.registry.lift(TENANT, spec["person_id"], spec["layout"], minutes=spec["minutes"],
                                      max_minutes=30, reason="property test", reviewer="hypothesis", now=at)
        if spec["revoked"]:
            renderer.registry.revoke(TENANT, lift.id, reviewer="hypothesis", now=at)
        valid = not spec["revoked"] and spec["ago"] < spec["minutes"]
        granted.setdefault(spec["person_id"], []).append({"layout": spec["layout"], "valid": valid})
    return {"active": list(active.values()), **{f"lift:{k}": v for k, v in granted.items()}}


def covers(rec: dict[str, Any], kind: str) -> bool:
    return kind in rec["processes"]


def expected_refusal(sc: Scenario, state: dict[str, list[dict[str, Any]]], layout: str, kind: str) -> str | None:
    """The rule that must refuse this scenario, by an oracle written independently of renderer/rules."""
    active = {r["person_id"]: r for r in state["active"]}
    req = sc.env["request"]["requester"]
    if any("900000001" in r["adversaries"] for r in active.values()) and "900000001" in (
            req.get("person_id"), req.get("acting_for")):
        return "dv-adversary"
    if req["relation"] in ("self", "same_household") and req.get("person_id") in active and not sc.verified:
        return "dv-unverified-claim"
    include = sc.env["request"]["include"]
    for item in include or []:   # the first forbidden item asked for names the rule
        if req["relation"] == "third_party" and item in ("my_number", "resident_code"):
            return "third-party-no-my-number"
        if sc.env["request"]["channel"] == "wide_area" and item == "honseki":
            return "wide-area-no-honseki"
    # "the municipality mails this" with anyone protected on the notice: only from a caller granted mailing
    on_it = {m["person_id"] for m in members(sc)}
    if kind == "notice" and req["relation"] == "public_office" and sc.env["request"]["channel"] == "mail" \
            and not sc.mails and any(pid in on_it and covers(rec, kind) for pid, rec in active.items()):
        return "dv-unverified-claim"
    if kind != "certificate":
        return None
    selected = set(sc.env["request"].get("members") or [m["person_id"] for m in members(sc)])
    # the tenant's default (head_and_relationship) is for 本人等 (住基法12条) only: a third party (12条の3) and a
    # 公用請求 (option public_office_tenant_defaults, off by default) get only what they name
    if include is not None:
        included = set(include)
    else:
        included = set() if req["relation"] in ("third_party", "public_office") else {"head_and_relationship"}
    if req["relation"] == "third_party" or sc.env["request"]["channel"] == "wide_area":
        included -= {"my_number", "resident_code"} if req["relation"] == "third_party" else set()
    head = members(sc)[0]["person_id"]
    for pid, rec in active.items():
        if not covers(rec, kind):
            continue
        printed = pid in selected or (pid == head and "head_and_relationship" in included)
        if printed or "current" in rec["addresses"]:
            lifts_ok = any(g["valid"] and g["layout"] == layout for g in state.get(f"lift:{pid}", []))
            if not lifts_ok:
                return "dv-block"
    return None


def members(sc: Scenario) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = sc.env["data"]["household"]["members"]
    return result


def render(renderer: Renderer, env: dict[str, Any], layout: str, verified: bool,
           mails: bool = False) -> tuple[Any, str | None]:
    try:
        return renderer.render(env, layout_id=layout, with_display=False,
                               caller=Caller.local("cli", identity_verified=verified, mailing=mails)), None
    except RefusedError as exc:
        return None, exc.rule


def assert_absent(pdf: Any, token: str, what: str) -> None:
    assert pdf.where(token) == [], f"{what} {token!r} found in {pdf.where(token)}"
    assert not set(token) & set(pdf.tounicode), f"{what}: a character of {token!r} is in a ToUnicode map"


# --------------------------------------------------------------------------- (b) block


@PROPERTY
@given(data=st.data())
def test_b_no_block_layout_renders_without_a_valid_lift(world: tuple[Renderer, Clock], data: st.DataObject) -> None:
    renderer, clock = world
    layout = data.draw(st.sampled_from(["juminhyo-setai", "juminhyo-kojin"]))
    sc = data.draw(scenarios(layout))
    state = prepare(renderer, clock, sc)
    result, rule = render(renderer, sc.env, layout, sc.verified, sc.mails)
    expected = expected_refusal(sc, state, layout, "certificate")
    assert rule == expected, f"refusal {rule!r}, oracle says {expected!r}"
    if result is None:
        return
    pdf = inspect_pdf(result.pdf)
    # (d) and "a lifted certificate prints in full": every printed domestic address, whole, from its 都道府県
    assert pdf.where(sc.addresses[0].full), "the household's address is printed in full"
    for pid in result.person_ids:
        for a in sc.addresses:
            if a.owner == pid and a.kind == "previous":
                assert pdf.where(a.full), f"{a.full} of {pid} printed in full"


# --------------------------------------------------------------------------- (a) redact_address + (d)


@PROPERTY
@given(data=st.data())
def test_a_no_pdf_shows_a_protected_address_when_it_must_not(world: tuple[Renderer, Clock],
                                                             data: st.DataObject) -> None:
    renderer, clock = world
    sc = data.draw(scenarios(NOTICE_ID))
    state = prepare(renderer, clock, sc)
    result, rule = render(renderer, sc.env, NOTICE_ID, sc.verified, sc.mails)
    assert rule == expected_refusal(sc, state, NOTICE_ID, "notice")
    if result is None:
        return
    pdf = inspect_pdf(result.pdf)
    active = {r["person_id"]: r for r in state["active"] if covers(r, "notice")}
    req = sc.env["request"]["requester"]
    # only the person themself, identity verified, reads their protected data
    viewer = req["person_id"] if req["relation"] == "self" and sc.verified else None
    all_ids = [m["person_id"] for m in members(sc)]
    selected = set(sc.env["request"].get("members") or all_ids)
    for a in sc.addresses:
        if a.owner is not None and a.owner not in selected:
            continue   # that person is not on this document
        owners = [a.owner] if a.owner else all_ids
        protecting = [active[o] for o in owners if o in active and a.kind in active[o]["addresses"]]
        hidden = any(r["person_id"] != viewer for r in protecting)
        if hidden:
            assert_absent(pdf, a.token, f"protected {a.kind} address")
            if a.owner is not None and len(protecting) == 1:
                # positive control: the same document for the person themself shows it
                env = json.loads(json.dumps(sc.env))
                env["request"]["requester"] = {"relation": "self", "person_id": a.owner}
                mine, _ = render(renderer, env, NOTICE_ID, True)
                if mine is not None:
                    assert inspect_pdf(mine.pdf).where(a.full), "positive control: the person sees their address"
        else:
            # (d) printed, whole, starting with its 都道府県 and 市区町村 (overseas: as given)
            assert pdf.where(a.full), f"{a.full} printed in full"


# --------------------------------------------------------------------------- (c) withheld items


@PROPERTY
@given(data=st.data())
def test_c_withheld_items_never_appear(world: tuple[Renderer, Clock], data: st.DataObject) -> None:
    renderer, clock = world
    layout = data.draw(st.sampled_from(["juminhyo-setai", "juminhyo-kojin"]))
    sc = data.draw(scenarios(layout, with_registry=False))
    state = prepare(renderer, clock, sc)
    result, rule = render(renderer, sc.env, layout, sc.verified, sc.mails)
    assert rule == expected_refusal(sc, state, layout, "certificate")
    if result is None:
        return
    pdf = inspect_pdf(result.pdf)
    include = sc.env["request"]["include"]
    # the tenant's default is for 本人等 (住基法12条); a third party or 公用請求 gets only what it names
    relation = sc.env["request"]["requester"]["relation"]
    default = set() if relation in ("third_party", "public_office") else {"head_and_relationship"}
    asked = set(include) if include is not None else default
    selected = set(sc.env["request"].get("members") or [m["person_id"] for m in members(sc)])
    for pid, number in sc.my_numbers.items():
        if pid not in selected:
            continue
        grouped = f"{number[:4]}{number[4:8]}{number[8:]}"
        if "my_number" in asked:
            assert grouped in pdf.extracted, "positive control: an asked-for 個人番号 is printed"
        else:
            assert pdf.where(grouped) == [] and pdf.where(number) == [], "a withheld 個人番号 appears"
    assert result.my_number_printed == bool("my_number" in asked and set(sc.my_numbers) & selected)
    for pid, (token, planned) in sc.moving.items():
        if pid not in selected:
            continue
        if planned > DAY:
            assert_absent(pdf, token, "a 転出先 before the 転出予定日")
        else:
            assert pdf.where(token), "positive control: on or after the 転出予定日 the 転出先 is printed"
    head = members(sc)[0]
    head_token = head["name"].split("\u3000")[1]
    if "head_and_relationship" in asked or head["person_id"] in selected:
        assert pdf.where(head_token), "positive control: the 世帯主's name is printed"
    else:
        assert_absent(pdf, head_token, "a withheld 世帯主氏名")

"""DV 支援措置, 転出予定 omission and the server clock, end to end through `Renderer.render`.

Each rule of renderer/rules/dv.py and renderer/state/registry.py has a test here named after it. Every
"is not printed" check has a positive control: the same document for the person themself (or under a
lift) does contain the address. All data is the fictitious 見本 family of layouts/samples/.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from dvkit import (
    NOTICE_ID,
    NOW,
    PLAIN,
    TENANT,
    VERIFIED,
    Clock,
    inspect_pdf,
    load,
    make_renderer,
    notice_layouts,
    release,
    sample,
    squash,
    upsert,
)

from renderer.api import Renderer
from renderer.caller import Caller
from renderer.errors import InputError, RefusedError, UsageError
from renderer.state.registry import parse_lines

HOME = "見本町一丁目2番地3"               # the household's address (千葉県佐倉市…)
WIFE_BEFORE = "神奈川県横浜市中区見本町3番地"  # 100000002's 転入前住所
HEAD, WIFE, SON, LODGER = "100000001", "100000002", "100000003", "100000004"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def renderer(tmp_path: Path, clock: Clock, database_url: str | None) -> Renderer:
    return make_renderer(tmp_path / "state", clock, database_url=database_url)


def text_of(renderer: Renderer, env: dict[str, Any], layout: str = "juminhyo-setai") -> str:
    return inspect_pdf(renderer.render(env, layout_id=layout).pdf).extracted


def refused(renderer: Renderer, env: dict[str, Any], layout: str = "juminhyo-setai") -> RefusedError:
    with pytest.raises(RefusedError) as info:
        renderer.render(env, layout_id=layout)
    return info.value


def log_events(renderer: Renderer) -> list[dict[str, Any]]:
    import json
    return [json.loads(r["body"]) for r in renderer.issue_log.records()]


# --------------------------------------------------------------------------- block (certificates)


def test_block_refuses_a_household_with_a_protected_member(renderer: Renderer) -> None:
    load(renderer, upsert(WIFE))
    exc = refused(renderer, sample())
    assert exc.rule == "dv-block" and exc.exit_code == 3
    assert WIFE in exc.message and exc.field == "data.household.members[2]"
    assert "見本" not in exc.message   # never a name or an address
    last = log_events(renderer)[-1]
    assert last["event"] == "refusal" and last["rule"] == "dv-block" and WIFE in last["person_ids"]


def test_block_covers_the_shared_address_of_an_unselected_member(renderer: Renderer) -> None:
    """一部の世帯員: the son's certificate still prints the household's address, which the wife's protection covers."""
    load(renderer, upsert(WIFE))
    assert refused(renderer, sample(members=[SON])).rule == "dv-block"
    load(renderer, upsert(WIFE, 2, addresses=["previous"]))   # only her 転入前住所 is protected now
    assert HOME in text_of(renderer, sample(members=[SON]))


def test_lift_prints_in_full_and_is_logged(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    lift = renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=10, max_minutes=30, reason="本人確認済み",
                                  reviewer="reviewer1", now=clock())
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    text = inspect_pdf(result.pdf).extracted
    assert HOME in text and squash(WIFE_BEFORE) in text      # printed in full (the review decided)
    assert result.lifts_used == [lift.id]
    record = log_events(renderer)[-1]
    assert record["event"] == "render" and record["lifts"] == [lift.id] and record["pdf_sha256"] == result.pdf_sha256
    # a lift covers any number of renders within its window
    assert renderer.render(sample(), layout_id="juminhyo-setai").lifts_used == [lift.id]


def test_each_protected_person_needs_their_own_lift(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE), upsert(SON, role="joint"))
    renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=10, max_minutes=30, reason="r", reviewer="x",
                           now=clock())
    exc = refused(renderer, sample())
    assert exc.rule == "dv-block" and SON in exc.message and WIFE not in exc.message.split(":")[0]


def test_lift_expires_by_itself(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=5, max_minutes=30, reason="r", reviewer="x",
                           now=clock())
    clock.advance(minutes=4, seconds=59)
    renderer.render(sample(), layout_id="juminhyo-setai")
    clock.advance(seconds=1)
    assert refused(renderer, sample()).rule == "dv-block"


def test_lift_is_judged_by_the_server_clock_not_issued_on(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=5, max_minutes=30, reason="r", reviewer="x",
                           now=clock() - dt.timedelta(hours=1))   # granted an hour ago: expired
    assert refused(renderer, sample()).rule == "dv-block"


def test_revoked_lift_no_longer_covers(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    lift = renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=30, max_minutes=30, reason="r",
                                  reviewer="x", now=clock())
    renderer.registry.revoke(TENANT, lift.id, reviewer="y", now=clock())
    assert refused(renderer, sample()).rule == "dv-block"


def test_lift_covers_only_its_layout(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    renderer.registry.lift(TENANT, WIFE, "juminhyo-kojin", minutes=30, max_minutes=30, reason="r", reviewer="x",
                           now=clock())
    assert refused(renderer, sample()).rule == "dv-block"
    renderer.render(sample(layout="juminhyo-kojin"), layout_id="juminhyo-kojin")


def test_lift_minutes_are_capped_and_need_a_protected_person(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    with pytest.raises(UsageError, match="maximum of 30"):
        renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=31, max_minutes=30, reason="r",
                               reviewer="x", now=clock())
    with pytest.raises(UsageError, match="no active suppression"):
        renderer.registry.lift(TENANT, SON, "juminhyo-setai", minutes=5, max_minutes=30, reason="r",
                               reviewer="x", now=clock())
    with pytest.raises(UsageError, match="reason"):
        renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=5, max_minutes=30, reason=" ",
                               reviewer="x", now=clock())


@pytest.mark.parametrize("change", ["release then a new case", "new version of the case"])
def test_a_lift_ends_when_its_persons_record_changes(renderer: Renderer, clock: Clock, change: str) -> None:
    """A lift was reviewed for the record it lifted: a release, a new case or a new version of the case (an
    adversary added) ends it, never carried over (found by a hostile review: a lift granted for case C-1
    printed the address in full under a new case C-2 after a release)."""
    load(renderer, upsert(WIFE))
    lift = renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=30, max_minutes=30, reason="本人確認済み",
                                  reviewer="x", now=clock())
    assert renderer.render(sample(), layout_id="juminhyo-setai").lifts_used == [lift.id]
    deltas = [release(WIFE, 2), upsert(WIFE, 3, case_id="C-2")] if change.startswith("release") \
        else [upsert(WIFE, 2, adversaries=["900000001"])]
    report = renderer.registry.import_records(TENANT, parse_lines([json.dumps(d) for d in deltas]), clock())
    assert report.lifts_ended == 1
    assert refused(renderer, sample()).rule == "dv-block"
    listing = renderer.registry.list(TENANT, clock())
    assert [(x["id"], x["active"]) for x in listing["lifts"]] == [(lift.id, False)], listing["lifts"]


def test_a_lift_is_never_a_release(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE))
    renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=5, max_minutes=30, reason="r", reviewer="x",
                           now=clock())
    listing = renderer.registry.list(TENANT, clock())
    assert [r["status"] for r in listing["suppressions"]] == ["active"]
    clock.advance(minutes=6)
    assert refused(renderer, sample()).rule == "dv-block"


def test_record_scoped_to_other_processes_or_layouts_does_not_block(renderer: Renderer) -> None:
    load(renderer, upsert(WIFE, processes=["notice", "list"]))
    renderer.render(sample(), layout_id="juminhyo-setai")
    load(renderer, upsert(WIFE, 2, layouts=["juminhyo-kojin"]))
    renderer.render(sample(), layout_id="juminhyo-setai")
    assert refused(renderer, sample(layout="juminhyo-kojin"), "juminhyo-kojin").rule == "dv-block"


# --------------------------------------------------------------------------- sync: versions, release, absence


def test_release_ends_protection_and_absence_never_does(renderer: Renderer) -> None:
    load(renderer, upsert(WIFE), upsert(SON))
    load(renderer, upsert(SON, 2))                 # a later file without the wife: she stays protected
    assert refused(renderer, sample()).rule == "dv-block"
    load(renderer, release(WIFE, 2), release(SON, 3))
    renderer.render(sample(), layout_id="juminhyo-setai")


def test_older_versions_are_ignored(renderer: Renderer) -> None:
    load(renderer, upsert(WIFE, 5))
    report = renderer.registry.import_records(TENANT, parse_lines(['{"op": "release", "person_id": "100000002", '
                                                                   '"version": 4}']), NOW)
    assert report.ignored == 1 and report.released == 0
    assert refused(renderer, sample()).rule == "dv-block"
    load(renderer, release(WIFE, 6))
    load(renderer, upsert(WIFE, 3))                # a stale upsert after the release: ignored
    renderer.render(sample(), layout_id="juminhyo-setai")


def test_a_bad_line_rejects_the_whole_file(renderer: Renderer) -> None:
    lines = ['{"op": "upsert", "person_id": "100000002", "version": 1, "case_id": "C", "role": "applicant", '
             '"period": {"start": "2026-04-01"}}',
             '{"op": "upsert", "person_id": "100000003", "version": 1, "case_id": "C", "role": "victim", '
             '"period": {"start": "2026-04-01"}}']
    with pytest.raises(InputError) as info:
        renderer.registry.import_records(TENANT, parse_lines(lines), NOW)
    assert info.value.exit_code == 2 and "line 2" in info.value.message
    assert info.value.field is not None and info.value.field.startswith("line 2")
    with pytest.raises(InputError, match="line 1: not JSON"):
        parse_lines(["{oops"])
    renderer.render(sample(), layout_id="juminhyo-setai")   # nothing of the file was applied


def test_period_end_warns_but_protection_continues(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(WIFE, period={"start": "2025-04-01", "end": "2026-03-31"}))
    assert refused(renderer, sample()).rule == "dv-block"
    renderer.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=5, max_minutes=30, reason="r", reviewer="x",
                           now=clock())
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    assert any("support period ended on 2026-03-31" in w for w in result.warnings)


def test_a_render_during_an_import_sees_old_or_new_never_a_gap(tmp_path: Path, clock: Clock,
                                                               database_url: str | None) -> None:
    """A writer re-imports the wife's record (delete + insert inside one transaction) again and again, moving
    her between cases; readers in other threads take snapshots meanwhile: she is protected in every one."""
    writer = make_renderer(tmp_path / "state", clock, database_url=database_url)
    load(writer, upsert(WIFE))
    stop = threading.Event()
    versions: list[int] = []

    def imports() -> None:
        v = 1
        while not stop.is_set() and v < 400:
            v += 1
            load(writer, upsert(WIFE, v, case_id=f"C-{v % 3}"))
            versions.append(v)

    seen: list[bool] = []

    def reads() -> None:
        reader = make_renderer(tmp_path / "state", clock, database_url=database_url)
        while not stop.is_set():
            snap = reader.registry.snapshot(TENANT, [HEAD, WIFE, SON], [], "juminhyo-setai", clock())
            seen.append(WIFE in snap.suppressions)

    threads = [threading.Thread(target=imports), *(threading.Thread(target=reads) for _ in range(2))]
    for t in threads:
        t.start()
    threads[0].join(timeout=60)
    # a full render while the writer may still be working: refused, never printed
    assert refused(make_renderer(tmp_path / "state", clock, database_url=database_url), sample()).rule == "dv-block"
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(versions) > 50 and len(seen) > 50
    assert all(seen), f"{seen.count(False)} snapshot(s) saw the wife unprotected"


# --------------------------------------------------------------------------- 相手方


@pytest.mark.parametrize("layout", ["juminhyo-setai", "juminhyo-kojin"])
def test_a_registered_adversary_is_refused_on_every_layout_and_logged(renderer: Renderer, layout: str) -> None:
    load(renderer, upsert(WIFE, adversaries=["900000001"]))
    env = sample(layout=layout, requester={"relation": "third_party", "person_id": "900000001",
                                           "purpose": "見本の請求事由"})
    exc = refused(renderer, env, layout)
    assert exc.rule == "dv-adversary" and exc.field == "request.requester.person_id"
    last = log_events(renderer)[-1]
    assert last["event"] == "refusal" and last["rule"] == "dv-adversary" and last["layout"] == layout


def test_an_agent_acting_for_an_adversary_is_refused(renderer: Renderer) -> None:
    load(renderer, upsert(WIFE, adversaries=["900000001"]))
    exc = refused(renderer, sample(requester={"relation": "agent", "acting_for": "900000001"}))
    assert exc.rule == "dv-adversary" and exc.field == "request.requester.acting_for"


def test_adversary_refused_even_for_a_household_without_protected_members(renderer: Renderer) -> None:
    load(renderer, upsert("555000001", adversaries=["900000001"]))   # a victim elsewhere in the tenant
    env = sample(requester={"relation": "self", "person_id": "900000001"})
    assert refused(renderer, env).rule == "dv-adversary"


def test_a_released_case_no_longer_refuses_its_adversary(renderer: Renderer) -> None:
    load(renderer, upsert("555000001", adversaries=["900000001"]))
    load(renderer, release("555000001", 2))
    renderer.render(sample(requester={"relation": "self", "person_id": "900000001"}), layout_id="juminhyo-setai")


# --------------------------------------------------------------------------- redact_address (notices, lists)


@pytest.fixture
def notice(tmp_path: Path, clock: Clock) -> Renderer:
    return make_renderer(tmp_path / "state-notice", clock, notice_layouts(tmp_path))


def notice_env(**request: Any) -> dict[str, Any]:
    return sample(layout=NOTICE_ID, **request)


def test_redact_prints_kisai_shoryaku_for_anyone_else(notice: Renderer) -> None:
    control = inspect_pdf(notice.render(notice_env(), layout_id=NOTICE_ID).pdf)
    assert control.where(HOME) and control.where(WIFE_BEFORE)        # positive control: no protection yet
    load(notice, upsert(WIFE))
    third = notice_env(requester={"relation": "third_party", "purpose": "見本の請求事由"})
    pdf = inspect_pdf(notice.render(third, layout_id=NOTICE_ID).pdf)
    assert pdf.where(HOME) == [] and pdf.where(WIFE_BEFORE) == []
    assert pdf.where("千葉県佐倉市見本町") == [] and pdf.where("2850000") == [] and pdf.where("見本ハイツ") == []
    assert "記載省略" in pdf.extracted
    assert pdf.where("東京都千代田区見本一丁目1番1号")   # the head's own 転入前住所 is not protected


def test_redact_shows_a_protected_address_to_the_person_themself_only(notice: Renderer) -> None:
    load(notice, upsert(WIFE), upsert(SON, role="joint"), upsert(HEAD, case_id="C-2"))
    for relation, requester, visible in [("self", WIFE, True), ("self", SON, False), ("same_household", WIFE, False),
                                         ("self", HEAD, False)]:
        env = notice_env(requester={"relation": relation, "person_id": requester})
        pdf = inspect_pdf(notice.render(env, layout_id=NOTICE_ID, caller=VERIFIED).pdf)
        # the wife's 転入前住所: shown to the wife herself only — not to the 併せて支援を求める者 of her case
        # (seed: 「支援対象者本人以外からの請求」 → 記載省略), nor to a household member
        assert bool(pdf.where(WIFE_BEFORE)) is visible, (relation, requester)
        # the shared address also belongs to the son and the head: nobody sees it alone
        assert pdf.where(HOME) == []


def test_an_unverified_self_claim_for_a_protected_person_is_refused_and_logged(notice: Renderer) -> None:
    load(notice, upsert(WIFE))
    for relation in ("self", "same_household"):
        env = notice_env(requester={"relation": relation, "person_id": WIFE})
        with pytest.raises(RefusedError) as info:
            notice.render(env, layout_id=NOTICE_ID, caller=PLAIN)
        assert info.value.rule == "dv-unverified-claim" and info.value.exit_code == 3
        body = json.loads(notice.issue_log.records()[-1]["body"])
        assert body["event"] == "refusal" and body["rule"] == "dv-unverified-claim"
        assert body["requester_person_id"] == WIFE and body["caller"]["identity_verified"] is False
    # a claim about someone who is not protected needs no verification
    notice.render(notice_env(requester={"relation": "self", "person_id": SON}), layout_id=NOTICE_ID, caller=PLAIN)


def test_redact_agent_counts_as_another_person(notice: Renderer) -> None:
    load(notice, upsert(WIFE))
    env = notice_env(requester={"relation": "agent", "person_id": WIFE, "acting_for": WIFE})
    pdf = inspect_pdf(notice.render(env, layout_id=NOTICE_ID).pdf)
    assert pdf.where(WIFE_BEFORE) == [] and pdf.where(HOME) == []
    own = inspect_pdf(notice.render(notice_env(requester={"relation": "self", "person_id": WIFE}),
                                    layout_id=NOTICE_ID, caller=VERIFIED).pdf)
    assert own.where(WIFE_BEFORE) and own.where(HOME)    # positive control: the person themself


def test_redact_precedence_withheld_then_protected_then_empty(notice: Renderer) -> None:
    """The son has no 転入前住所: protected, it prints 記載省略 (not 【空欄】), so even its absence is hidden."""
    load(notice, upsert(SON))
    result = notice.render(notice_env(requester={"relation": "third_party", "purpose": "見本"}),
                           layout_id=NOTICE_ID)
    lines = [line for line in result.display.splitlines() if "'記載省略'" in line]
    assert len(lines) == 2     # the shared address and the son's empty 転入前住所
    assert "'【空欄】'" in result.display


def test_redact_registry_address_kinds(notice: Renderer) -> None:
    load(notice, upsert(WIFE, addresses=["current"]))
    pdf = inspect_pdf(notice.render(notice_env(requester={"relation": "third_party", "purpose": "見本"}),
                                    layout_id=NOTICE_ID).pdf)
    assert pdf.where(HOME) == [] and pdf.where(WIFE_BEFORE)   # only current addresses are protected


# --------------------------------------------------------------------------- 転出予定 and the clock


def moving(planned: str) -> dict[str, Any]:
    env = sample()
    for m in env["data"]["household"]["members"]:
        if m["person_id"] == SON:
            m["moving_out"] = {"planned_on": planned, "notified_on": "2026-11-20",
                               "destination": {"prefecture": "北海道", "municipality": "札幌市", "ward": "北区",
                                               "town": "鰐鰻町", "block": "5番地"}}
    return env


def test_moving_out_is_omitted_before_the_planned_date(renderer: Renderer) -> None:
    before = inspect_pdf(renderer.render(moving("2026-12-01"), layout_id="juminhyo-setai").pdf)
    assert before.where("鰐鰻町") == [] and "転出" not in before.extracted
    assert not set("鰐鰻") & set(before.tounicode)
    on = inspect_pdf(renderer.render(moving("2026-11-27"), layout_id="juminhyo-setai").pdf)
    assert on.where("北海道札幌市北区鰐鰻町5番地") and "転出予定" in on.extracted     # positive control


def test_moving_out_destination_is_a_protected_address(renderer: Renderer, clock: Clock) -> None:
    load(renderer, upsert(SON, addresses=["current"]))
    assert refused(renderer, moving("2026-11-27")).rule == "dv-block"


def test_certificate_must_be_issued_today_in_tokyo(renderer: Renderer, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 11, 26, 14, 59, tzinfo=dt.UTC)    # 23:59 on the 26th in Tokyo
    exc = refused(renderer, sample())
    assert exc.rule == "issued-on-today" and exc.field == "request.issued_on"
    clock.now = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)     # 00:00 on the 27th in Tokyo
    renderer.render(sample(), layout_id="juminhyo-setai")
    assert refused(renderer, sample(issued_on="2026-11-28")).rule == "issued-on-today"


def test_a_notice_may_carry_another_date(notice: Renderer) -> None:
    notice.render(notice_env(issued_on="2026-11-20"), layout_id=NOTICE_ID)


# --------------------------------------------------------------------------- addresses always in full


@pytest.mark.parametrize(("address", "prefix"), [
    ({"prefecture": "兵庫県", "municipality": "神戸市", "ward": "中央区", "town": "見本通", "block": "1番"},
     "兵庫県神戸市中央区見本通1番"),
    ({"prefecture": "東京都", "municipality": "千代田区", "town": "見本町", "block": "2番"}, "東京都千代田区見本町2番"),
    ({"prefecture": "長野県", "county": "北佐久郡", "municipality": "軽井沢町", "town": "見本", "block": "3番"},
     "長野県北佐久郡軽井沢町見本3番"),
])
def test_every_printed_domestic_address_starts_with_prefecture_and_municipality(
        renderer: Renderer, address: dict[str, str], prefix: str) -> None:
    env = sample()
    env["data"]["household"]["members"][1]["moved_in_from"] = address
    assert prefix in text_of(renderer, env)


@pytest.mark.parametrize("part", ["prefecture", "municipality"])
def test_an_address_without_prefecture_or_municipality_is_invalid(renderer: Renderer, part: str) -> None:
    env = sample()
    env["data"]["household"]["members"][1]["moved_in_from"] = {"prefecture": "東京都", "municipality": "千代田区"}
    del env["data"]["household"]["members"][1]["moved_in_from"][part]
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert info.value.exit_code == 2
    assert any(d.path.endswith(f"moved_in_from.{part}") or d.path.endswith("moved_in_from.domestic." + part)
               for d in info.value.diagnostics)


def test_a_co_owner_at_a_protected_co_owners_address_does_not_print_it(renderer: Renderer) -> None:
    """On the municipality's mailing of a 納税通知書 the addressee reads their own address; a protected 共有者's
    reads 「記載省略」 — and so does another 共有者's when it is the same address (their household): printed there it
    would undo the 「記載省略」 one line above (hostile review, on a list; the rule is the same on a notice)."""
    root = Path(__file__).resolve().parents[2]
    env = json.loads((root / "golden" / "tsuchisho-nozei" / "dv-kyoyusha" / "input.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = NOW.date().isoformat()
    protected, same_home = env["data"]["co_owners"]
    same_home["address"] = dict(protected["address"])
    load(renderer, upsert(protected["person_id"]))
    mailer = Caller.local("cli", mailing=True)
    result = renderer.render(env, layout_id="tsuchisho-nozei", caller=mailer)
    text = squash(inspect_pdf(result.pdf).extracted)
    home = protected["address"]["town"] + protected["address"]["block"]
    assert home not in text and text.count("記載省略") == 2
    addressee = env["data"]["addressee"]["address"]
    assert addressee["town"] in text   # the addressee's own address, on their own mailing
    # nothing shared, nothing more hidden: the other 共有者's own address prints
    same_home["address"] = {**protected["address"], "block": "99番99号"}
    text = squash(inspect_pdf(renderer.render(env, layout_id="tsuchisho-nozei", caller=mailer).pdf).extracted)
    assert text.count("記載省略") == 1 and protected["address"]["town"] + "99番99号" in text


def test_the_addressee_living_with_a_protected_co_owner_still_gets_the_letter(renderer: Renderer) -> None:
    """The hidden-elsewhere rule never hides the reader's own value: on the municipality's mailing, an addressee
    at the protected 共有者's address gets the letter at that address (the 共有者's line reads 「記載省略」)."""
    root = Path(__file__).resolve().parents[2]
    env = json.loads((root / "golden" / "tsuchisho-nozei" / "dv-kyoyusha" / "input.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = NOW.date().isoformat()
    protected = env["data"]["co_owners"][0]
    home = dict(env["data"]["addressee"]["address"])
    protected["address"] = dict(home)
    load(renderer, upsert(protected["person_id"]))
    result = renderer.render(env, layout_id="tsuchisho-nozei", caller=Caller.local("cli", mailing=True))
    text = squash(inspect_pdf(result.pdf).extracted)
    assert home["town"] + home["block"] in text and "285-0014" in text   # the window: postcode and address
    assert text.count("記載省略") == 1   # the protected 共有者's own line only

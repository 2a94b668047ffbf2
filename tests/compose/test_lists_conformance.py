"""The 一覧表 (ichiran-idosha, ichiran-kyufu) and the 支給決定通知書 as a municipal reviewer reads them.

In: the committed layouts, tenants, samples (layouts/samples/) and golden inputs of the three layouts, and the
fictitious generators of `renderer.samples`; rendered with a fixed clock (2026-11-27, the golden cases' day).
Out: assertions on the display list (text runs with their PDF coordinates: points, origin bottom-left) and on
the data itself. One block per reviewer finding:
1. a 転出 row prints its 転出先 in full from 都道府県 (異動後住所), and a 転出 without one is refused;
2. no 「記載省略」 where no address exists (a 死亡 row's 異動後住所) — only on addresses that exist;
3. 同一値の省略 prints 「〃」, never a blank, and the full value on every page's first row (tests/compose/
   test_table.py);
4. no empty strip above the 頁計 band (tests/compose/test_table.py);
5. sample and golden data a clerk would send back: 支給額 = 50,000 + X, 出生 rows of newborns, 振り仮名 that
   read the name, the issuing tenant's own 文書番号 prefix, no resident named like a signer, full-width 伏字;
6. other things on the pages: a 対象期間 that ends before the 作成日, 決定日 on business days, bank branches
   named as branches, a 支給予定日 not before the 決定日.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from renderer.api import Renderer, RenderResult
from renderer.datamodels.lists import IDOSHA_ADDRESSES
from renderer.errors import InputError
from renderer.samples import READINGS, sample_idosha_rows, sample_kyufu_rows, sample_notices
from renderer.settings import Settings
from renderer.state.registry import parse_lines

ROOT = Path(__file__).resolve().parents[2]
ISSUED = dt.date(2026, 11, 27)          # the golden cases' clock: 2026-11-27 in Tokyo
MM = 72 / 25.4
LAYOUTS = ("ichiran-idosha", "ichiran-kyufu", "tsuchisho-kyufu-kettei")
TENANTS: dict[str, dict[str, Any]] = {
    p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "layouts" / "tenants").glob("*.yaml")}
SIGNERS = {s["name"] for t in TENANTS.values() for s in t["signers"]}
# ichiran-idosha columns (mm from the sheet's left edge): 異動前住所 from 133, 異動後住所（転出先） from 210
BEFORE_X, AFTER_X = 133 * MM, 210 * MM
#: 2026年11月 business days (no Saturday, Sunday, 文化の日 3日, 勤労感謝の日 23日)
HOLIDAYS = {dt.date(2026, 11, 3), dt.date(2026, 11, 23)}


def envelopes(layout: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, envelope) of the layout's sample and of each of its golden cases."""
    sample = ROOT / "layouts" / "samples" / f"{layout}.json"
    yield "sample", json.loads(sample.read_text(encoding="utf-8"))
    for p in sorted((ROOT / "golden" / layout).glob("*/input.json")):
        yield p.parent.name, json.loads(p.read_text(encoding="utf-8"))


def all_envelopes() -> Iterator[tuple[str, dict[str, Any]]]:
    for layout in LAYOUTS:
        for where, env in envelopes(layout):
            yield f"{layout}/{where}", env


def renderer_for(tmp: Path) -> Renderer:
    now = dt.datetime.combine(ISSUED, dt.time(10, 0), tzinfo=ZoneInfo("Asia/Tokyo"))
    return Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp,
                             clock=lambda: now))


def render(tmp: Path, env: dict[str, Any], *protected: str) -> RenderResult:
    r = renderer_for(tmp)
    if protected:
        lines = [json.dumps({"op": "upsert", "person_id": pid, "version": 1, "case_id": "DV-TEST", "role": "applicant",
                             "adversaries": ["900000099"], "period": {"start": "2026-04-01", "end": "2027-03-31"}})
                 for pid in protected]
        r.registry.import_records(env["tenant"], parse_lines(lines), r.settings.now())
    return r.render(copy.deepcopy(env), layout_id=env["layout"])


_TEXT = re.compile(r"^\s*text (?P<x>[0-9.]+) (?P<y>[0-9.]+) \S+ [0-9.]+ '(?P<t>.*)'$")


def pages(display: str) -> list[list[tuple[float, float, str]]]:
    """The text runs of every page: (x, y, text) in points."""
    out: list[list[tuple[float, float, str]]] = []
    for line in display.splitlines():
        if line.startswith("page "):
            out.append([])
            continue
        m = _TEXT.match(line)
        if m and out:
            text = m["t"].encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\u" in m["t"] else m["t"]
            out[-1].append((float(m["x"]), float(m["y"]), text))
    return out


def row_cells(display: str, person_id: str) -> list[tuple[float, str]]:
    """(x, text) of every run on the row of `person_id` (the runs whose baseline band holds its 宛名番号;
    wrapped address lines below the baseline included)."""
    for runs in pages(display):
        found = [y for x, y, t in runs if t == person_id]
        if found:
            y = found[0]
            return sorted((x, t) for x, yy, t in runs if y - 12 <= yy <= y + 4)
    raise AssertionError(f"{person_id} is not printed")


def column_text(cells: list[tuple[float, str]], x0: float, x1: float) -> str:
    return "".join(t for x, t in cells if x0 <= x < x1)


def idosha_env() -> dict[str, Any]:
    return dict(next(envelopes("ichiran-idosha"))[1])


# --------------------------------------------------------------------------- 1. 転出先


def test_a_tenshutsu_row_prints_its_destination_in_full(tmp_path: Path) -> None:
    env = idosha_env()
    tenshutsu = [r for r in env["data"]["rows"] if r["reason"] == "転出"]
    assert tenshutsu
    result = render(tmp_path, env)
    for row in tenshutsu:
        dest = row["address_after"]
        assert dest["prefecture"] != "兵庫県" or dest["municipality"] != "神戸市"   # another municipality
        after = column_text(row_cells(result.display, row["person_id"]), AFTER_X, 10_000)
        assert after.startswith(dest["prefecture"] + dest["municipality"] + dest.get("ward", "")), after
        assert dest["block"] in after


def test_a_tenshutsu_row_without_its_destination_is_refused(tmp_path: Path) -> None:
    env = idosha_env()
    row = next(r for r in env["data"]["rows"] if r["reason"] == "転出")
    del row["address_after"]
    with pytest.raises(InputError) as info:
        render(tmp_path, env)
    assert info.value.exit_code == 2 and "address_after" in str(info.value.diagnostics)


@pytest.mark.parametrize(("reason", "side"), [("死亡", "address_after"), ("出生", "address_before"),
                                               ("職権消除", "address_after")])
def test_a_row_carrying_an_address_its_reason_has_not_is_refused(tmp_path: Path, reason: str, side: str) -> None:
    env = idosha_env()
    row = env["data"]["rows"][0]
    row.update(reason=reason, birth_date=row["moved_on"],
               address_before={"prefecture": "兵庫県", "municipality": "神戸市", "ward": "中央区", "town": "見本町"},
               address_after={"prefecture": "兵庫県", "municipality": "神戸市", "ward": "中央区", "town": "試験通"})
    with pytest.raises(InputError) as info:
        render(tmp_path, env)
    assert side in str(info.value.diagnostics)


# --------------------------------------------------------------------------- 2. 記載省略 only where an address exists


def test_kisai_shoryaku_only_where_an_address_exists(tmp_path: Path) -> None:
    """A protected person's existing addresses print 「記載省略」; the address its 異動事由 does not have (a 死亡
    row's 異動後住所, a 出生 row's 異動前住所) prints 「―」, never 「記載省略」."""
    env = idosha_env()
    rows = env["data"]["rows"]
    picked = {reason: next(r for r in rows if r["reason"] == reason) for reason in ("死亡", "出生", "転出")}
    result = render(tmp_path, env, *(r["person_id"] for r in picked.values()))
    for reason, row in picked.items():
        cells = row_cells(result.display, row["person_id"])
        before, after = column_text(cells, BEFORE_X, AFTER_X), column_text(cells, AFTER_X, 10_000)
        has = IDOSHA_ADDRESSES[reason]
        assert before == ("記載省略" if has.has("before") else "―"), (reason, before)
        assert after == ("記載省略" if has.has("after") else "―"), (reason, after)


def test_the_golden_dv_case_prints_no_kisai_shoryaku_for_the_missing_address() -> None:
    case = ROOT / "golden" / "ichiran-idosha" / "dv-kisai-shoryaku"
    env = json.loads((case / "input.json").read_text(encoding="utf-8"))
    protected = {s["person_id"] for s in json.loads((case / "fixtures.json").read_text("utf-8"))["suppressions"]}
    display = (case / "display.txt").read_text(encoding="utf-8")
    for row in env["data"]["rows"]:
        if row["person_id"] in protected:
            cells = row_cells(display, row["person_id"])
            for has, text in ((IDOSHA_ADDRESSES[row["reason"]].has("before"), column_text(cells, BEFORE_X, AFTER_X)),
                              (IDOSHA_ADDRESSES[row["reason"]].has("after"), column_text(cells, AFTER_X, 10_000))):
                assert text == ("記載省略" if has else "―")


# --------------------------------------------------------------------------- 5. data a clerk would send back


def tenant_x(tenant: str) -> int:
    params = TENANTS[tenant].get("defaults", {}).get("parameters", {}).get("tsuchisho-kyufu-kettei", {})
    return int(params.get("x") or 0)


def test_every_list_amount_is_50000_plus_x() -> None:
    for where, env in envelopes("ichiran-kyufu"):
        x = tenant_x(env["tenant"])
        assert {r["amount"] for r in env["data"]["rows"]} == {50_000 + x}, where
    assert {r["amount"] for r in sample_kyufu_rows(300, seed=3)} == {50_000}
    assert {r["amount"] for r in sample_kyufu_rows(30, seed=4, x=30_000)} == {80_000}


def test_the_notice_prints_50000_plus_the_tenants_x(tmp_path: Path) -> None:
    for where, env in envelopes("tsuchisho-kyufu-kettei"):
        if where in ("dv-honnin-mikakunin", "dv-daisansha-madoguchi"):      # refused by design
            continue
        text = "".join(t for runs in pages(render(tmp_path / where, env).display) for _, _, t in runs)
        assert f"{50_000 + tenant_x(env['tenant']):,}円" in text, where


def test_a_birth_row_is_a_newborn() -> None:
    rows = [r for _, env in envelopes("ichiran-idosha") for r in env["data"]["rows"]]
    rows += sample_idosha_rows(500, seed=9, wards=9)
    births = [r for r in rows if r["reason"] == "出生"]
    assert births
    for r in births:
        assert r["birth_date"] == r["moved_on"], r["person_id"]   # a 出生's 異動日 is the day of birth
    assert all(r["birth_date"] <= r["moved_on"] for r in rows)


def names(env: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(氏名, 振り仮名 or None) of every resident in an envelope's data."""
    data = env["data"]
    for r in data.get("rows", []):
        yield r["name"], r.get("name_kana")
    if "addressee" in data:
        yield data["addressee"]["name"], data["account"]["holder_kana"]


def reads(name: str, kana: str) -> bool:
    family, given = name.split("\u3000")
    return kana == f"{READINGS[family]}\u3000{READINGS[given]}"


def test_furigana_is_the_reading_of_the_name() -> None:
    checked = 0
    for where, env in all_envelopes():
        for name, kana in names(env):
            if kana is not None:
                assert reads(name, kana), (where, name, kana)
                checked += 1
    for r in sample_idosha_rows(300, seed=2):
        assert reads(str(r["name"]), str(r["name_kana"]))
    for env in sample_notices(100, seed=5):
        data: Any = env["data"]
        assert reads(data["addressee"]["name"], data["account"]["holder_kana"])
    assert checked > 50


def test_no_resident_shares_a_signers_name() -> None:
    assert "見本\u3000一郎" in SIGNERS      # 佐倉市長 (the sample tenant's)
    for where, env in all_envelopes():
        for name, _ in names(env):
            assert name not in SIGNERS, (where, name)
    generated = [str(r["name"]) for r in sample_idosha_rows(2000, seed=1, wards=9)]
    generated += [str(r["name"]) for r in sample_kyufu_rows(2000, seed=1)]
    generated += [e["data"]["addressee"]["name"] for e in sample_notices(500)]   # type: ignore[index]
    assert not set(generated) & SIGNERS


def issuer_names(tenant: dict[str, Any]) -> list[str]:
    return [n for n in (tenant.get("ward"), tenant["municipality"]) if n]


def test_a_document_number_belongs_to_the_issuing_tenant() -> None:
    """The 文書番号's prefix (before 第) starts with the issuing body's name (the 区 of a 政令市 ward tenant),
    and no other tenant's prefix stands on a notice."""
    prefixes: dict[str, set[str]] = {}
    for where, env in envelopes("tsuchisho-kyufu-kettei"):
        prefix = env["data"]["document_number"].split("第")[0]
        issuer = issuer_names(TENANTS[env["tenant"]])[0]
        assert prefix[:1] == issuer[:1], (where, prefix, issuer)
        prefixes.setdefault(prefix, set()).add(env["tenant"])
    assert all(len(tenants) == 1 for tenants in prefixes.values()), prefixes
    for env in sample_notices(5):
        assert str(env["data"]["document_number"]).startswith("佐") and env["tenant"] == "122122"  # type: ignore[index]


def test_masked_account_numbers_use_the_full_width_mark(tmp_path: Path) -> None:
    for where, env in all_envelopes():
        accounts = [r.get("account") or "" for r in env["data"].get("rows", [])]
        if "account" in env["data"]:
            accounts.append(env["data"]["account"]["number_masked"])
        assert all("*" not in a for a in accounts), where
    assert all("*" not in str(r["account"]) for r in sample_kyufu_rows(100))
    # a business system's half-width * still prints as 「＊」 on the list and on the notice
    lst = dict(next(envelopes("ichiran-kyufu"))[1])
    lst["data"] = {**lst["data"], "rows": [{**lst["data"]["rows"][0], "account": "見本銀行 佐倉支店 普通 ****567"}]}
    notice = copy.deepcopy(next(envelopes("tsuchisho-kyufu-kettei"))[1])
    notice["data"]["account"]["number_masked"] = "****567"
    for i, env in enumerate((lst, notice)):
        text = "".join(t for runs in pages(render(tmp_path / str(i), env).display) for _, _, t in runs)
        assert "＊＊＊＊567" in text and "*" not in text


# --------------------------------------------------------------------------- 6. other things on the pages


def test_the_period_ends_before_the_list_is_made() -> None:
    for where, env in envelopes("ichiran-idosha"):
        period = env["data"]["period"]
        assert period["from"] <= period["to"] < ISSUED.isoformat(), where
        assert all(period["from"] <= r["moved_on"] <= period["to"] for r in env["data"]["rows"]), where


def test_decisions_are_dated_on_business_days() -> None:
    dates = [r["decided_on"] for _, env in envelopes("ichiran-kyufu") for r in env["data"]["rows"]]
    dates += [str(r["decided_on"]) for r in sample_kyufu_rows(500, seed=8)]
    dates += [env["data"]["decided_on"] for _, env in envelopes("tsuchisho-kyufu-kettei")]
    for d in map(dt.date.fromisoformat, dates):
        assert d.weekday() < 5 and d not in HOLIDAYS, d


def test_bank_branches_are_named_like_branches() -> None:
    accounts = [r["account"] for _, env in envelopes("ichiran-kyufu") for r in env["data"]["rows"]]
    accounts += [str(r["account"]) for r in sample_kyufu_rows(200, seed=6)]
    for a in accounts:
        bank, branch, kind, number = a.split(" ")
        assert bank == "見本銀行" and not re.match(r"^[0-9]", branch) and kind == "普通", a
        assert re.fullmatch(r"＊{4}[0-9]{3}", number), a   # 7 digits, as the notices mask them


def test_a_payment_before_the_decision_is_refused(tmp_path: Path) -> None:
    env = copy.deepcopy(next(envelopes("tsuchisho-kyufu-kettei"))[1])
    env["data"]["payment_on"] = "2026-11-19"
    with pytest.raises(InputError) as info:
        render(tmp_path, env)
    assert info.value.exit_code == 2 and "payment_on" in str(info.value.diagnostics)

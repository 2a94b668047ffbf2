"""所得・課税証明書 (layouts/shotoku-kazei.yaml, renderer/datamodels/shotoku.py).

In: the committed layout and its fictitious sample, renderers on a fixed clock with state in tmp_path (`dvkit`).
Out: assertions on
- what prints: 年度 and income year in 和暦 (era boundaries), the taxes' names from the tenant (市・県, 特別区・都),
  the 賦課期日 in the address label, 扶養控除 with its count, losses with △, 非課税 wording in every 税額 cell;
- the declared `checks:`: each broken figure refused with exit 2, naming the check, the figures and both values,
  with nothing numbered or logged;
- the data model's own refusals (a 非課税 certificate with amounts, a taxable one without, 総所得金額等 above
  合計所得金額);
- who may be issued it (`requesters:`): a third party refused (requester-relation), a self or agent request for
  another person refused (requester-subject), household members and 公用請求 issued — all before a number is spent.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from dvkit import ROOT, Clock, make_renderer

from renderer.api import Renderer
from renderer.errors import InputError, RefusedError

LAYOUT = "shotoku-kazei"
SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts/samples/shotoku-kazei.json").read_text(encoding="utf-8"))
_TEXT = re.compile(r"^\s*text \S+ \S+ \S+ \S+ ('.*')$")


def envelope(**request: Any) -> dict[str, Any]:
    env = copy.deepcopy(SAMPLE)
    env["request"]["issued_on"] = "2026-11-27"
    env["request"].update(request)
    return env


def renderer(tmp_path: Path) -> Renderer:
    return make_renderer(tmp_path / "state", Clock())


def texts(display: str) -> list[str]:
    return [ast.literal_eval(m.group(1)) for line in display.splitlines() if (m := _TEXT.match(line))]


def render_texts(tmp_path: Path, env: dict[str, Any]) -> list[str]:
    return texts(renderer(tmp_path).render(env, layout_id=LAYOUT).display)


def test_the_sample_prints_the_year_the_address_date_and_the_figures(tmp_path: Path) -> None:
    found = render_texts(tmp_path, envelope())
    assert "令和8年度（令和7年分所得）\u3000市民税・県民税" in found
    assert "住所" in found and "令和8年1月1日現在" in found
    assert "千葉県佐倉市見本町一丁目2番地3\u3000見本ハイツ101号" in found
    assert "扶養控除（1人）" in found
    for figure in ("3,200,000円", "2,060,000円", "2,160,000円", "522,000円", "1,638,000円", "28,300円", "17,800円",
                   "47,100円"):
        assert figure in found, figure
    assert "非課税" not in found


@pytest.mark.parametrize(("tax_year", "expected"), [
    (2019, "平成31年度（平成30年分所得）"),    # 4月1日 of 2019 is 平成31年 (as the 納税通知書 prints it)
    (2020, "令和2年度（令和元年分所得）"),      # 2019年分: 12月31日 is 令和元年
    (2026, "令和8年度（令和7年分所得）"),
])
def test_the_year_in_wareki(tmp_path: Path, tax_year: int, expected: str) -> None:
    env = envelope()
    env["data"]["tax_year"] = tax_year
    assert any(t.startswith(expected) for t in render_texts(tmp_path, env))


def test_a_loss_prints_with_a_triangle(tmp_path: Path) -> None:
    env = envelope()
    income = env["data"]["income"]
    income["real_estate"] = -160_000
    income["total"] = income["aggregate"] = 2_000_000
    env["data"]["taxable_income"] = 362_000          # 2,000,000 − 1,638,000
    assert "△160,000円" in render_texts(tmp_path, env)


def nontaxable() -> dict[str, Any]:
    env = envelope()
    data = env["data"]
    data["income"] = {"pension_revenue": 1_500_000, "pension": 400_000, "total": 400_000, "aggregate": 400_000}
    data["deductions"] = {"social_insurance": 120_000, "basic": 430_000, "total": 550_000}
    data["dependents"] = {}
    data["taxable_income"] = 0
    data["nontaxable"] = True
    data.pop("tax")
    return env


def test_nontaxable_prints_its_own_wording(tmp_path: Path) -> None:
    found = render_texts(tmp_path, nontaxable())
    assert found.count("非課税") == 8                   # 均等割・所得割・税額 × 2, 森林環境税, 合計
    assert "上記の年度の市民税・県民税は課税されていません。" in found


def test_a_special_ward_names_its_taxes(tmp_path: Path) -> None:
    env = nontaxable()
    env["tenant"] = "131016"
    env["data"]["taxpayer"]["address"] = {"prefecture": "東京都", "municipality": "千代田区", "town": "見本町",
                                          "block": "1番1号"}
    found = render_texts(tmp_path, env)
    assert "令和8年度（令和7年分所得）\u3000特別区民税・都民税" in found
    assert {"特別区民税", "都民税"} <= set(found)
    assert "上記の年度の特別区民税・都民税は課税されていません。" in found


# --------------------------------------------------------------------------- declared checks (exit 2)


def refused_figures(tmp_path: Path, env: dict[str, Any]) -> dict[str, str]:
    r = renderer(tmp_path)
    with pytest.raises(InputError) as info:
        r.render(env, layout_id=LAYOUT)
    assert info.value.exit_code == 2
    assert r.issue_log.records() == []          # nothing reserved, nothing logged
    return {d.path: d.message for d in info.value.diagnostics}


def test_kinds_that_do_not_add_up_to_the_total(tmp_path: Path) -> None:
    env = envelope()
    env["data"]["income"]["salary"] = 2_050_000
    found = refused_figures(tmp_path, env)
    assert list(found) == ["data.income.total"]
    assert found["data.income.total"].startswith("check '合計所得金額': data.income.salary + data.income.pension + ")
    assert found["data.income.total"].endswith("is 2,150,000, but data.income.total is 2,160,000")


def test_deductions_that_do_not_add_up(tmp_path: Path) -> None:
    env = envelope()
    env["data"]["deductions"]["medical"] = 45_000          # Σ 1,648,000 ≠ 控除合計 (unchanged)
    found = refused_figures(tmp_path, env)
    assert found["data.deductions.total"].endswith("is 1,648,000, but data.deductions.total is 1,638,000")
    assert list(found) == ["data.deductions.total"]


def test_a_taxable_income_that_is_not_the_difference(tmp_path: Path) -> None:
    env = envelope()
    env["data"]["taxable_income"] = 523_000
    assert refused_figures(tmp_path, env) == {"data.taxable_income": (
        "check '課税標準額': data.income.aggregate − data.deductions.total is 522,000 (floor to a multiple of "
        "1,000: 522,000), but data.taxable_income is 523,000")}


def test_a_negative_difference_must_be_zero(tmp_path: Path) -> None:
    env = nontaxable()
    env["data"]["taxable_income"] = 1_000
    found = refused_figures(tmp_path, env)
    assert found["data.taxable_income"] == (
        "check '課税標準額': data.income.aggregate − data.deductions.total is -150,000 (at least 0: 0) (floor to a "
        "multiple of 1,000: 0), but data.taxable_income is 1,000")


@pytest.mark.parametrize(("levy", "name", "label"), [("city", "市町村民税額", "tax.city"),
                                                      ("prefecture", "道府県民税額", "tax.prefecture")])
def test_per_capita_plus_income_levy_is_the_tax(tmp_path: Path, levy: str, name: str, label: str) -> None:
    env = envelope()
    env["data"]["tax"][levy]["income_levy"] += 100
    found = refused_figures(tmp_path, env)
    assert list(found) == [f"data.{label}.total"]
    assert found[f"data.{label}.total"].startswith(
        f"check '{name}': data.{label}.per_capita + data.{label}.income_levy is ")


def test_the_taxes_add_up_to_the_total(tmp_path: Path) -> None:
    env = envelope()
    env["data"]["tax"]["total"] = 46_100                  # without the 森林環境税
    assert refused_figures(tmp_path, env) == {"data.tax.total": (
        "check '税額合計': data.tax.city.total + data.tax.prefecture.total + data.tax.forest_environment is 47,100, "
        "but data.tax.total is 46,100")}


# --------------------------------------------------------------------------- the data model's refusals


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(nontaxable=True), "a 非課税 (nontaxable) certificate carries no tax amounts"),
    (lambda d: d["tax"]["city"].pop("income_levy"), "missing: tax.city.income_levy"),
    (lambda d: d["income"].update(aggregate=2_200_000), "aggregate (総所得金額等) cannot exceed total"),
    (lambda d: d["income"].update(pension_revenue=90_000), "pension (公的年金等に係る雑所得) cannot exceed"),
    (lambda d: d.update(taxable_income=522_500), "multiple of 1000"),
])
def test_the_data_model_refuses_what_cannot_be(tmp_path: Path, change: Any, message: str) -> None:
    env = envelope()
    change(env["data"])
    with pytest.raises(InputError) as info:
        renderer(tmp_path).render(env, layout_id=LAYOUT)
    assert info.value.exit_code == 2
    assert any(message in d.message for d in info.value.diagnostics), info.value.diagnostics


# --------------------------------------------------------------------------- who may be issued it


@pytest.mark.parametrize(("requester", "rule", "field"), [
    ({"relation": "third_party", "purpose": "債権回収"}, "requester-relation", "request.requester.relation"),
    ({"relation": "self", "person_id": "100000009"}, "requester-subject", "request.requester.person_id"),
    ({"relation": "self"}, "requester-subject", "request.requester.person_id"),
    ({"relation": "agent", "acting_for": "100000009"}, "requester-subject", "request.requester.acting_for"),
])
def test_requesters_the_form_is_not_issued_to(tmp_path: Path, requester: dict[str, Any], rule: str,
                                              field: str) -> None:
    r = renderer(tmp_path)
    with pytest.raises(RefusedError) as info:
        r.render(envelope(requester=requester), layout_id=LAYOUT)
    assert (info.value.exit_code, info.value.rule, info.value.field) == (3, rule, field)
    if rule == "requester-relation":
        assert "地方税法22条" in str(info.value)
    # nothing was spent: the next certificate gets the first serial
    assert r.render(envelope(), layout_id=LAYOUT).issue_numbers[0].endswith("000001")


@pytest.mark.parametrize("requester", [
    {"relation": "self", "person_id": "100000001"},
    {"relation": "agent", "acting_for": "100000001"},
    {"relation": "same_household", "person_id": "100000002"},
    {"relation": "public_office"},
])
def test_requesters_the_form_is_issued_to(tmp_path: Path, requester: dict[str, Any]) -> None:
    assert renderer(tmp_path).render(envelope(requester=requester), layout_id=LAYOUT).pages == 1

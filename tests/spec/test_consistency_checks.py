"""Declared consistency checks (`checks:` in a layout): figures that must agree.

A check is validated when the layout loads (a unique name, paths that exist in the data model and are
numbers, declared numeric parameters) and evaluated when the data is bound: input breaking one is refused
with exit 2 (`InputError` naming the fields and both values) before anything is drawn or any 発行番号 spent.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.errors import InputError, LayoutError
from renderer.fonts import FontSet
from renderer.settings import Settings
from renderer.spec.load import load_yaml_text
from renderer.spec.model import ConsistencyCheck, Rounding
from renderer.spec.validate import load_layout, validate_loaded

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = "tsuchisho-nozei"
LAYOUT_FILE = ROOT / "layouts" / f"{LAYOUT}.yaml"
SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{LAYOUT}.json").read_text(encoding="utf-8"))
ISSUED = dt.date(2027, 4, 9)
CLOCK = dt.datetime.combine(ISSUED, dt.time(9, 0), tzinfo=ZoneInfo("Asia/Tokyo"))
FONTS = FontSet(ROOT / "fonts")


def renderer_for(state: Path, layouts: Path | None = None) -> Renderer:
    return Renderer(Settings(layouts_dir=layouts or ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state,
                             clock=lambda: CLOCK))


def envelope(**data: Any) -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(SAMPLE)
    env["request"]["issued_on"] = ISSUED.isoformat()
    env["data"].update(data)
    return env


def refused(tmp_path: Path, env: dict[str, Any], layouts: Path | None = None) -> InputError:
    """Render `env` and return the refusal, checking that nothing was drawn, logged or numbered."""
    renderer = renderer_for(tmp_path / "state", layouts)
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id=LAYOUT)
    assert info.value.exit_code == 2
    assert renderer.issue_log.records() == []   # no 発行番号 reserved, no record written
    return info.value


def messages(error: InputError) -> dict[str, str]:
    return {d.path: d.message for d in error.diagnostics}


# --------------------------------------------------------------------------- refused input, one per kind


def test_a_sum_that_does_not_match_is_refused_naming_the_fields_and_both_values(tmp_path: Path) -> None:
    env = envelope()
    env["data"]["installments"][3]["amount"] -= 100            # Σ期別 = 154,400 ≠ 年税額 154,500
    error = refused(tmp_path, env)
    assert messages(error) == {"data.annual_tax": "check '期別合計': the sum of data.installments[].amount is "
                                                  "154,400, but data.annual_tax is 154,500"}
    assert error.field == "data.annual_tax"


def test_a_product_with_rounding_that_does_not_match_is_refused(tmp_path: Path) -> None:
    # 8,743,000 × 1.4 % = 122,402 → 122,400 (100円未満切捨て); 122,500 is wrong, and so is the 年税額 then
    env = envelope(fixed_asset_tax=122500, annual_tax=154600)
    error = refused(tmp_path, env)
    found = messages(error)
    assert found["data.fixed_asset_tax"] == (
        "check '固定資産税額': data.tax_base × params.tax_rate × 0.01 is 122,402 (floor to a multiple of 100: "
        "122,400), but data.fixed_asset_tax is 122,500")
    # the 期別 still add up to the old 年税額: that check fails too, and every failure is reported at once
    assert "data.installments[].amount is 154,500, but data.annual_tax is 154,600" in found["data.annual_tax"]


def test_an_addition_that_does_not_match_is_refused(tmp_path: Path) -> None:
    env = envelope(city_planning_tax_base=10_760_000, city_planning_tax=32200)   # 32,280 → 32,200 ✓
    error = refused(tmp_path, env)
    assert messages(error) == {"data.annual_tax": "check '年税額': data.fixed_asset_tax + data.city_planning_tax "
                                                  "is 154,600, but data.annual_tax is 154,500"}


def test_the_cli_refuses_with_exit_2_and_names_the_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("renderer.settings.system_clock", lambda: CLOCK.astimezone(dt.UTC))
    env = envelope()
    env["data"]["installments"][0]["amount"] += 100            # Σ期別 = 154,600 ≠ 年税額 154,500
    source = tmp_path / "input.json"
    source.write_text(json.dumps(env, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.pdf"
    result = CliRunner().invoke(app, ["render", LAYOUT, str(source), "-o", str(out)],
                                env={"CHOHYO_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 2, result.output
    assert "data.annual_tax" in result.stderr and "data.installments[].amount" in result.stderr
    assert "154,600" in result.stderr and "154,500" in result.stderr
    assert not out.exists()


def test_null_counts_as_zero(tmp_path: Path) -> None:
    """A notice without 都市計画税 (base and tax null) passes its check; a base without its tax does not."""
    data = {"city_planning_tax_base": None, "city_planning_tax": None, "annual_tax": 122400}
    installments = copy.deepcopy(SAMPLE["data"]["installments"])
    for inst, amount in zip(installments, (30600, 30600, 30600, 30600), strict=True):
        inst["amount"] = amount
    assets = [{k: v for k, v in a.items() if not k.startswith("city_planning")} for a in SAMPLE["data"]["assets"]]
    renderer_for(tmp_path / "a").render(envelope(**data, installments=installments, assets=assets), layout_id=LAYOUT)
    error = refused(tmp_path / "b", envelope(**{**data, "city_planning_tax_base": 10_726_000},
                                             installments=installments, assets=assets))
    assert messages(error)["data.city_planning_tax"].endswith("(floor to a multiple of 100: 32,100), but "
                                                              "data.city_planning_tax is 0")


def test_the_rate_is_the_tenants_parameter(tmp_path: Path) -> None:
    """A tenant with a 超過税率 of 1.7 %: the sample (computed at 1.4 %) no longer agrees with it."""
    layouts = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", layouts)
    tenant = layouts / "tenants" / "122122.yaml"
    doc = yaml.safe_load(tenant.read_text(encoding="utf-8"))
    doc["defaults"].setdefault("parameters", {})[LAYOUT] = {"tax_rate": "1.7"}
    tenant.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    error = refused(tmp_path, envelope(), layouts)
    assert "data.tax_base × params.tax_rate × 0.01 is 148,631" in messages(error)["data.fixed_asset_tax"]
    # 8,743,000 × 1.7 % = 148,631 → 148,600: the same figures computed at 1.7 % print
    installments = copy.deepcopy(SAMPLE["data"]["installments"])
    for inst, amount in zip(installments, (45400, 45100, 45100, 45100), strict=True):
        inst["amount"] = amount
    ok = envelope(fixed_asset_tax=148600, annual_tax=180700, installments=installments)
    assert renderer_for(tmp_path / "ok", layouts).render(ok, layout_id=LAYOUT).pages == 3
    # a tenant's rate that is not a number is refused when the tenant's parameters are read
    doc["defaults"]["parameters"][LAYOUT] = {"tax_rate": "1.4%"}
    tenant.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(LayoutError) as info:
        renderer_for(tmp_path / "bad", layouts).render(envelope(), layout_id=LAYOUT)
    assert "must match" in str(info.value) and "tax_rate" in str(info.value)


# --------------------------------------------------------------------------- declarations checked at load


def _with_checks(checks: str) -> LayoutError:
    text = LAYOUT_FILE.read_text(encoding="utf-8")
    start, end = text.index("\nchecks:\n"), text.index("\nstyles:\n")
    changed = text[:start] + "\nchecks:\n" + checks + text[end:]
    with pytest.raises(LayoutError) as info:
        validate_loaded(load_yaml_text(changed, source="changed.yaml"), FONTS)
    return info.value


def problems(error: LayoutError) -> dict[str, str]:
    return {d.path: d.message for d in error.diagnostics}


def test_a_check_on_an_unknown_path_is_refused_at_load() -> None:
    error = _with_checks('  - {name: 期別合計, sum: "installments[].amout", equals: annual_taxes}\n')
    found = problems(error)
    assert "'amout' is not a field of Installment" in found["checks[0].sum"]
    assert "'annual_taxes' is not a field of NozeiNotice" in found["checks[0].equals"]
    assert all(d.line is not None for d in error.diagnostics)   # the problems point at the file's line


@pytest.mark.parametrize(("checks", "path", "message"), [
    ('  - {name: a, sum: "installments[].amount", equals: annual_tax}\n'
     '  - {name: a, add: [fixed_asset_tax, city_planning_tax], equals: annual_tax}\n',
     "checks[1].name", "check name 'a' is used twice"),
    ('  - {name: a, sum: "installments.amount", equals: annual_tax}\n',
     "checks[0].sum", "'installments' is a list; write installments[]"),
    ('  - {name: a, sum: annual_tax, equals: tax_base}\n',
     "checks[0].sum", "a sum adds every item of a list"),
    ('  - {name: a, add: ["installments[].amount", 1], equals: annual_tax}\n',
     "checks[0].add[0]", "only a sum goes through a list"),
    ('  - {name: a, sum: "installments[].period", equals: annual_tax}\n',
     "checks[0].sum", "not a number field of NozeiNotice"),
    ('  - {name: a, product: [tax_base, params.tax_rat], equals: fixed_asset_tax}\n',
     "checks[0].product[1]", "the layout declares no parameter 'tax_rat'"),
    ('  - {name: a, product: [tax_base, params.contact], equals: fixed_asset_tax}\n',
     "checks[0].product[1]", "a string parameter read as a number must declare a pattern"),
    ('  - {name: a, add: [fixed_asset_tax, 1], equals: params.tax_rate}\n',
     "checks[0].equals", "sum and equals name data, not a parameter"),
    ('  - {name: a, sum: "installments[].amount", add: [tax_base, 1], equals: annual_tax}\n',
     "checks[0]", "give exactly one of sum, product, add, subtract (given: sum, add)"),
    ('  - {name: a, add: [tax_base, true], equals: annual_tax}\n',
     "checks[0].add", "an operand is a path or a number, not true/false"),
])
def test_an_invalid_check_declaration_is_refused_at_load(checks: str, path: str, message: str) -> None:
    found = problems(_with_checks(checks))
    assert path in found and message in found[path], found


def test_the_shipped_layouts_declare_valid_checks() -> None:
    spec = load_layout(LAYOUT_FILE, FONTS)
    assert [c.name for c in spec.checks] == ["固定資産税額", "都市計画税額", "年税額", "期別合計"]
    # 支給決定通知書: the 支給額 (50,000 円 + X) is computed by the template from the tenant's parameter; the
    # data holds no amount, so there is no figure to check
    kettei = load_layout(ROOT / "layouts" / "tsuchisho-kyufu-kettei.yaml", FONTS)
    assert kettei.checks == [] and "amount" not in json.dumps(SAMPLE_KETTEI["data"])


SAMPLE_KETTEI = json.loads((ROOT / "layouts" / "samples" / "tsuchisho-kyufu-kettei.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(("mode", "value", "expected"), [
    ("floor", "122402", "122400"), ("floor", "122499.99", "122400"), ("ceil", "122401", "122500"),
    ("half_up", "122450", "122500"), ("half_up", "122449.9", "122400"), ("floor", "-1", "-100"),
])
def test_rounding_to_a_unit(mode: str, value: str, expected: str) -> None:
    assert Rounding(unit=100, mode=mode).apply(Decimal(value)) == Decimal(expected)


class _Figures(BaseModel):
    tax_base: int
    fixed_asset_tax: int | None = None


def test_decimal_arithmetic_is_exact() -> None:
    """1.4 % of 10,726,000 is 150,164 exactly (in floats, 10726000 * 1.4 * 0.01 is 150163.99999999997)."""
    check = ConsistencyCheck.model_validate({"name": "x", "product": ["tax_base", "params.rate", 0.01],
                                             "equals": "fixed_asset_tax"})
    assert check.failure(_Figures(tax_base=10_726_000, fixed_asset_tax=150_164), {"rate": "1.4"}) is None
    assert 10_726_000 * 1.4 * 0.01 != 150_164
    failure = check.failure(_Figures(tax_base=10_726_000), {"rate": "1.4"})   # null counts as 0
    assert failure is not None and failure.field == "data.fixed_asset_tax"
    assert failure.message.endswith("is 150,164, but data.fixed_asset_tax is 0")

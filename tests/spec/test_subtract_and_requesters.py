"""Two general additions to the layout language, tested apart from any one form.

In: `ConsistencyCheck` values and tiny data models; the committed shotoku-kazei layout text, changed in memory to
break its declarations; bound documents built by rendering. Out: assertions that
- `subtract` (the first operand minus the others) and `at_least` (a floor applied before rounding) compute
  exactly, name the figures in the refusal, and are validated at load like the other operations;
- `requesters:` (the relations a form is issued to, and the person it is about) is validated at load (a subject
  that is not a person_id of the data model, a relation listed twice) and refuses other requesters with exit 3
  (rules requester-relation, requester-subject) before a 発行番号 is spent;
- the `amount` formatter's `negative: △` argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel, ValidationError

from renderer.envelope import Request, Requester
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.formats.registry import check_args, fmt_amount
from renderer.spec.load import load_yaml_text
from renderer.spec.model import Channel, ConsistencyCheck, Relation, RequesterPolicy
from renderer.spec.validate import validate_loaded

ROOT = Path(__file__).resolve().parents[2]
LAYOUT_FILE = ROOT / "layouts" / "shotoku-kazei.yaml"
FONTS = FontSet(ROOT / "fonts")


class _Figures(BaseModel):
    aggregate: int
    deductions: int | None = None
    taxable: int


def _taxable_check() -> ConsistencyCheck:
    return ConsistencyCheck.model_validate({"name": "課税標準額", "subtract": ["aggregate", "deductions"],
                                            "at_least": 0, "rounding": {"unit": 1000, "mode": "floor"},
                                            "equals": "taxable"})


@pytest.mark.parametrize(("aggregate", "deductions", "taxable"), [
    (2_160_000, 1_638_000, 522_000),     # 522,000
    (2_160_999, 1_638_000, 522_000),     # 522,999 → 522,000 (1,000円未満切捨て)
    (400_000, 550_000, 0),               # negative → 0
    (550_000, 550_000, 0),
    (550_999, 550_000, 0),               # 999 → 0
    (100_000, None, 100_000),            # null counts as 0
])
def test_subtract_floors_at_least_then_rounds(aggregate: int, deductions: int | None, taxable: int) -> None:
    assert _taxable_check().failure(_Figures(aggregate=aggregate, deductions=deductions, taxable=taxable), {}) is None


def test_subtract_names_the_figures_and_the_floor() -> None:
    failure = _taxable_check().failure(_Figures(aggregate=400_000, deductions=550_000, taxable=1_000), {})
    assert failure is not None and failure.field == "data.taxable"
    assert failure.message == ("check '課税標準額': data.aggregate − data.deductions is -150,000 (at least 0: 0) "
                               "(floor to a multiple of 1,000: 0), but data.taxable is 1,000")
    failure = _taxable_check().failure(_Figures(aggregate=2_160_500, deductions=1_638_000, taxable=523_000), {})
    assert failure is not None
    assert failure.message == ("check '課税標準額': data.aggregate − data.deductions is 522,500 (floor to a multiple "
                               "of 1,000: 522,000), but data.taxable is 523,000")


def test_subtract_several_operands_and_numbers() -> None:
    check = ConsistencyCheck.model_validate({"name": "x", "subtract": ["aggregate", "deductions", 1000],
                                             "equals": "taxable"})
    assert check.failure(_Figures(aggregate=10_000, deductions=2_000, taxable=7_000), {}) is None
    assert check.operation() == ("subtract", ["aggregate", "deductions", 1000])


def test_exactly_one_operation_including_subtract() -> None:
    with pytest.raises(ValidationError, match="give exactly one of sum, product, add, subtract"):
        ConsistencyCheck.model_validate({"name": "x", "add": ["a", "b"], "subtract": ["a", "b"], "equals": "c"})
    with pytest.raises(ValidationError, match="not true/false"):
        ConsistencyCheck.model_validate({"name": "x", "subtract": ["a", True], "equals": "c"})


def _changed(old: str, new: str) -> LayoutError:
    text = LAYOUT_FILE.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    with pytest.raises(LayoutError) as info:
        validate_loaded(load_yaml_text(text.replace(old, new), source="changed.yaml"), FONTS)
    return info.value


def _problems(error: LayoutError) -> dict[str, str]:
    return {d.path: d.message for d in error.diagnostics}


def test_subtract_operands_are_checked_at_load() -> None:
    error = _changed("subtract: [income.aggregate, deductions.total]", "subtract: [income.aggregat, taxpayer.name]")
    found = _problems(error)
    assert any(p.endswith("subtract[0]") for p in found), found
    assert any(p.endswith("subtract[1]") and "not a number field" in m for p, m in found.items()), found


def test_requester_subject_is_checked_at_load() -> None:
    found = _problems(_changed("subject: taxpayer.person_id", "subject: taxpayer.persn_id"))
    assert "requesters.subject" in found
    found = _problems(_changed("subject: taxpayer.person_id", "subject: taxpayer.name"))
    assert "person_id" in found["requesters.subject"]
    found = _problems(_changed("relations: [self, same_household, agent, public_office]", "relations: [self, self]"))
    assert found == {"requesters.relations": "a relation is listed twice"}
    found = _problems(_changed("relations: [self, same_household, agent, public_office]",
                               "relations: [self, stranger]"))
    assert list(found) == ["requesters.relations[1]"]


def test_relations_are_the_envelopes() -> None:
    """The layout language's relations are exactly those a request may name."""
    assert set(get_args(Relation)) == set(get_args(Requester.model_fields["relation"].annotation))
    policy = RequesterPolicy(relations=["self"], reason="x")
    assert policy.subject is None


def test_amount_negative_sign() -> None:
    assert fmt_amount(-1_234_567, {"unit": "円", "negative": "△"}, None) == "△1,234,567円"
    assert fmt_amount(-5, {}, None) == "-5"
    assert fmt_amount(0, {"negative": "△"}, None) == "0"
    assert check_args("amount", {"negative": "▲"}) == ["`amount` argument 'negative' must be one of -, △"]


def test_requester_channels_are_checked_at_load() -> None:
    found = _problems(_changed("channels: [counter, mail, convenience_store]", "channels: [counter, counter]"))
    assert found == {"requesters.channels": "a channel is listed twice"}
    found = _problems(_changed("channels: [counter, mail, convenience_store]", "channels: [counter, post]"))
    assert list(found) == ["requesters.channels[1]"]
    assert set(get_args(Channel)) == set(get_args(Request.model_fields["channel"].annotation))

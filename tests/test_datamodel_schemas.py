"""Schemas a data model states by hand admit what the model accepts.

In: `renderer.datamodels.notices.AREA_SCHEMA` (the 地積 / 床面積 schema, stated so that the exported input schema
does not change with the installed pydantic release: 2.13 and 2.14 export a constrained Decimal differently,
and 2.13's pattern admits '1.234') and `TaxedAsset`'s validation of `area`. Out: assertions, over generated
decimal-looking strings and numbers of two places and hand-picked edges, that the schema admits such a value if
and only if the model accepts it, and that a refusal names the field. (A number of more places is in the
schema's range but refused by the model; the description says "up to 2 decimals", see AREA_SCHEMA.)
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from pydantic import ValidationError

from renderer.datamodels.notices import AREA_SCHEMA, TaxedAsset

SCHEMA = Draft202012Validator(AREA_SCHEMA, format_checker=None)


def _asset(area: object) -> dict[str, object]:
    return {"kind": "土地", "location": "栄町", "number": "1-2", "category": "宅地", "area": area,
            "value": 1, "tax_base": 1, "tax": 0}


def _accepted(area: object) -> bool:
    try:
        TaxedAsset.model_validate(_asset(area))
    except ValidationError as error:
        assert [e["loc"] for e in error.errors()] == [("area",)], error
        return False
    return True


def _admitted(area: object) -> bool:
    """What a JSON Schema validator decides with AREA_SCHEMA."""
    return bool(SCHEMA.is_valid(area))


decimal_strings = st.builds(
    lambda sign, zeros, whole, point, frac, tail: f"{sign}{zeros}{whole}{point}{frac}{tail}",
    st.sampled_from(["", "+", "-"]), st.sampled_from(["", "0", "00"]),
    st.text("0123456789", max_size=11), st.sampled_from(["", ".", "."]),
    st.text("0123456789", max_size=4), st.sampled_from(["", "0", "000"]),
)


@given(decimal_strings)
def test_a_string_is_admitted_exactly_when_accepted(text: str) -> None:
    assert _admitted(text) == _accepted(text), text


@given(st.decimals(min_value=Decimal("-1"), max_value=Decimal("1e10"), places=2, allow_nan=False))
def test_a_number_of_two_places_is_admitted_exactly_when_accepted(value: Decimal) -> None:
    number = float(value)
    assert _admitted(number) == _accepted(number), number


@pytest.mark.parametrize(("area", "ok"), [
    ("123.45", True), ("999999999.99", True), ("1234567890", False), ("1234567890.5", False), ("1.234", False),
    ("1.230", True), ("0", False), ("0.00", False), ("0.01", True), ("-1", False), ("+12", True), ("12.", True),
    (".5", True), (".", False), ("", False), ("00000000001.5", True), ("1e2", False), (" 12", False),
    ("１２", False), ("12\n", False), (5, True), (0, False), (0.5, True), (999_999_999.99, True),
    (1_000_000_000, False),
])
def test_edges(area: object, ok: bool) -> None:
    assert _accepted(area) is ok
    assert _admitted(area) is ok


def test_the_refusal_says_what_is_wanted() -> None:
    with pytest.raises(ValidationError, match="plain decimal notation") as caught:
        TaxedAsset.model_validate(_asset("1e2"))
    assert caught.value.errors()[0]["loc"] == ("area",)


def test_a_long_run_of_zeros_is_judged_at_once() -> None:
    """A hostile 地積 of 200,000 zeros (and one with a stray letter after them): the pattern has one way to match
    each character, so this takes milliseconds; the earlier pattern, a lookahead after `0*`, took time quadratic in
    the length (1.6 s for 20,000 zeros, about 160 s for these). The timeout is a hang detector, not a speed
    figure: 60 s is a thousand times what the judgement needs."""
    code = ("from renderer.datamodels.notices import _AREA_TEXT\n"
            "print([bool(_AREA_TEXT.match(s)) for s in ('0' * 200_000, '0' * 200_000 + 'x', '0' * 200_000 + '1')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[False, False, True]", out.stderr

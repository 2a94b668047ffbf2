"""Tests for renderer.formats.codes: 地方公共団体コード, 個人番号 and 住民票コード checks."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.formats.codes import (
    CodeError,
    lg_check_digit,
    my_number_check_digit,
    validate_lg_code,
    validate_my_number,
    validate_resident_code,
)

KNOWN_LG_CODES = [
    "010006",
    "011002",
    "131016",
    "131130",
    "012131",
    "470007",
    "271403",
    "141500",
    "122122",
    "281107",
]

# The published sample 個人番号; every other number in these tests is made up.
SAMPLE_MY_NUMBER = "123456789018"


def _other_digits(digit: str) -> list[str]:
    return [d for d in "0123456789" if d != digit]


def _assert_no_personal_digits(message: str, value: str) -> None:
    """The message may state a length (11, 12) but holds no run of the value's digits."""
    if value:
        assert value not in message
    assert set(re.findall(r"[0-9]+", message)) <= {"11", "12"}


# ---- 全国地方公共団体コード ---------------------------------------------------------------


@pytest.mark.parametrize("code", KNOWN_LG_CODES)
def test_known_lg_codes_are_valid(code: str) -> None:
    assert validate_lg_code(code) == code
    assert lg_check_digit(code[:5]) == code[5]


@pytest.mark.parametrize("code", KNOWN_LG_CODES)
def test_lg_code_with_any_wrong_check_digit_is_refused(code: str) -> None:
    for wrong in _other_digits(code[5]):
        with pytest.raises(CodeError, match=f"check digit is {wrong}, expected {code[5]}"):
            validate_lg_code(code[:5] + wrong)


def test_lg_check_digit_covers_remainders_zero_and_one() -> None:
    # r = 0 → (11 - 0) mod 10 = 1; r = 1 → 10 mod 10 = 0.
    assert lg_check_digit("00000") == "1"
    assert lg_check_digit("00003") == "5"  # 3*2 = 6 → 11 - 6 = 5
    assert lg_check_digit("10001") == "3"  # 6 + 2 = 8 → 11 - 8 = 3
    assert lg_check_digit("00100") == "7"  # 4 → 7
    assert lg_check_digit("20000") == "0"  # 12 mod 11 = 1 → 10 mod 10 = 0


@pytest.mark.parametrize(
    "code", ["", "13101", "1310166", "13101a", "１３１０１６", "131 016", " 131016", "٠١٠٠٠٦"]
)
def test_lg_code_of_wrong_shape_is_refused(code: str) -> None:
    with pytest.raises(CodeError, match="must be 6 digits"):
        validate_lg_code(code)


@pytest.mark.parametrize("body", ["", "1310", "131016", "1310a"])
def test_lg_check_digit_needs_five_digits(body: str) -> None:
    with pytest.raises(CodeError, match="must be 5 digits"):
        lg_check_digit(body)


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
@settings(database=None)
def test_lg_check_digit_makes_a_valid_code(body: str) -> None:
    code = body + lg_check_digit(body)
    assert validate_lg_code(code) == code
    weighted = sum(int(c) * w for c, w in zip(body, (6, 5, 4, 3, 2), strict=True))
    assert int(code[5]) == (11 - weighted % 11) % 10


# ---- 個人番号 -----------------------------------------------------------------------------


def _oracle_my_number_check_digit(first11: str) -> str:
    """Same rule, written from the left: weights 6,5,4,3,2,7,6,5,4,3,2."""
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    r = sum(int(c) * w for c, w in zip(first11, weights, strict=True)) % 11
    return "0" if r <= 1 else str(11 - r)


def test_sample_my_number_is_valid() -> None:
    assert validate_my_number(SAMPLE_MY_NUMBER) == SAMPLE_MY_NUMBER
    assert my_number_check_digit(SAMPLE_MY_NUMBER[:11]) == "8"


def test_my_number_with_wrong_check_digit_is_refused_without_echo() -> None:
    for wrong in _other_digits("8"):
        number = SAMPLE_MY_NUMBER[:11] + wrong
        with pytest.raises(CodeError, match="check digit does not match") as info:
            validate_my_number(number)
        _assert_no_personal_digits(str(info.value), number)
        _assert_no_personal_digits(repr(info.value), number)


@pytest.mark.parametrize(
    "number",
    ["", "12345678901", "1234567890180", "12345678901a", "１２３４５６７８９０１８", "1234 5678 9018"],
)
def test_my_number_of_wrong_shape_is_refused_without_echo(number: str) -> None:
    with pytest.raises(CodeError, match="must be 12 digits") as info:
        validate_my_number(number)
    _assert_no_personal_digits(str(info.value), number)


@pytest.mark.parametrize("body", ["", "1234567890", "123456789012", "1234567890a"])
def test_my_number_check_digit_needs_eleven_digits_without_echo(body: str) -> None:
    with pytest.raises(CodeError, match="must be 11 digits") as info:
        my_number_check_digit(body)
    _assert_no_personal_digits(str(info.value), body)


def test_my_number_check_digit_remainders_zero_and_one() -> None:
    assert my_number_check_digit("00000000000") == "0"  # r = 0 → 0
    assert my_number_check_digit("00000000006") == "0"  # P1 = 6: 6*2 = 12, r = 1 → 0
    assert my_number_check_digit("00000000001") == "9"  # P1 = 1: 2, r = 2 → 9
    assert my_number_check_digit("00000000003") == "5"  # P1 = 3: 6 → 5
    assert my_number_check_digit("00000100000") == "4"  # P6 = 1: weight 7 → 4
    assert my_number_check_digit("00001000000") == "9"  # P7 = 1: weight 2 → 9
    assert my_number_check_digit("10000000000") == "5"  # P11 = 1: weight 6 → 5


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
@settings(database=None, max_examples=300)
def test_my_number_check_digit_matches_oracle(body: str) -> None:
    check = my_number_check_digit(body)
    assert check == _oracle_my_number_check_digit(body)
    assert validate_my_number(body + check) == body + check
    for wrong in _other_digits(check):
        with pytest.raises(CodeError) as info:
            validate_my_number(body + wrong)
        _assert_no_personal_digits(str(info.value), body + wrong)


# ---- 住民票コード -------------------------------------------------------------------------


def test_resident_code_shape_only() -> None:
    assert validate_resident_code("01234567890") == "01234567890"
    assert validate_resident_code("98765432109") == "98765432109"


@pytest.mark.parametrize("code", ["", "0123456789", "012345678901", "0123456789a", "０１２３４５６７８９０"])
def test_resident_code_of_wrong_shape_is_refused_without_echo(code: str) -> None:
    with pytest.raises(CodeError, match="must be 11 digits") as info:
        validate_resident_code(code)
    _assert_no_personal_digits(str(info.value), code)


def test_code_error_is_a_value_error() -> None:
    assert issubclass(CodeError, ValueError)

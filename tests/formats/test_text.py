"""Tests for renderer.formats.text: full-width digits, digit grouping and kanji numerals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.formats.text import group_digits, kanji_number, to_fullwidth_digits

_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNIT = {"十": 10, "百": 100, "千": 1000}


def _parse_kanji(text: str) -> int:
    """Independent reader of the kanji numerals written by kanji_number (test oracle)."""
    if text == "〇":
        return 0
    total = 0
    pending: int | None = None
    for ch in text:
        if ch in _DIGIT:
            assert pending is None, f"two digits in a row in {text!r}"
            pending = _DIGIT[ch]
        else:
            total += (1 if pending is None else pending) * _UNIT[ch]
            pending = None
    return total + (pending or 0)


def test_fullwidth_digits_replaces_only_ascii_digits() -> None:
    assert to_fullwidth_digits("令和7年11月27日") == "令和７年１１月２７日"
    assert to_fullwidth_digits("0123456789") == "０１２３４５６７８９"
    assert to_fullwidth_digits("abc-／ 元") == "abc-／ 元"
    assert to_fullwidth_digits("") == ""


def test_fullwidth_digits_is_idempotent() -> None:
    once = to_fullwidth_digits("No. 42")
    assert to_fullwidth_digits(once) == once == "No. ４２"


def test_group_digits_my_number_layout() -> None:
    assert group_digits("123456789018") == "1234 5678 9018"


@pytest.mark.parametrize(
    ("text", "size", "sep", "expected"),
    [
        ("12345", 2, " ", "12 34 5"),
        ("123", 4, " ", "123"),
        ("", 4, " ", ""),
        ("12345678", 4, "-", "1234-5678"),
        ("123456", 1, "", "123456"),
        ("１２３４５６", 3, "　", "１２３　４５６"),
    ],
)
def test_group_digits_variants(text: str, size: int, sep: str, expected: str) -> None:
    assert group_digits(text, size, sep) == expected


@pytest.mark.parametrize("size", [0, -1])
def test_group_digits_rejects_size_below_one(size: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        group_digits("1234", size)


@given(st.text(alphabet="0123456789", max_size=40), st.integers(min_value=1, max_value=8))
@settings(database=None)
def test_group_digits_round_trip(text: str, size: int) -> None:
    grouped = group_digits(text, size, " ")
    assert grouped.replace(" ", "") == text
    assert all(1 <= len(part) <= size for part in grouped.split(" ")) or text == ""


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "〇"),
        (1, "一"),
        (7, "七"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (27, "二十七"),
        (31, "三十一"),
        (64, "六十四"),
        (99, "九十九"),
        (100, "百"),
        (101, "百一"),
        (110, "百十"),
        (305, "三百五"),
        (1000, "千"),
        (1111, "千百十一"),
        (2025, "二千二十五"),
        (9999, "九千九百九十九"),
    ],
)
def test_kanji_number_known_values(n: int, expected: str) -> None:
    assert kanji_number(n) == expected


def test_kanji_number_round_trips_over_whole_range() -> None:
    for n in range(10000):
        assert _parse_kanji(kanji_number(n)) == n


@pytest.mark.parametrize("n", [-1, 10000, 123456])
def test_kanji_number_rejects_out_of_range(n: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.9999"):
        kanji_number(n)


def test_kanji_number_rejects_bool() -> None:
    with pytest.raises(ValueError, match="int"):
        kanji_number(True)


def test_a_postcode_prints_with_the_hyphen_after_the_third_digit() -> None:
    from renderer.formats.registry import FORMATTERS, FormatError

    assert FORMATTERS["postcode"]("2850014", {}, None) == "285-0014"
    for bad in ("285001", "285-0014", "２８５００１４", "28500145"):
        with pytest.raises(FormatError):
            FORMATTERS["postcode"](bad, {}, None)

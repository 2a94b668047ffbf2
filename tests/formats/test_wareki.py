"""Tests for renderer.formats.wareki: era boundaries, 元年, digit styles, pre-1873 dates, ISO parsing."""

from __future__ import annotations

import importlib
import importlib.util
import re
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.formats.wareki import (
    ERAS,
    GREGORIAN_ADOPTION,
    DateFormatError,
    Digits,
    era_of,
    parse_iso_date,
    to_seireki,
    to_wareki,
)

# Written out independently of the module's table: (era, first day, last day).
_ERA_SPANS = (
    ("明治", date(1873, 1, 1), date(1912, 7, 29)),
    ("大正", date(1912, 7, 30), date(1926, 12, 24)),
    ("昭和", date(1926, 12, 25), date(1989, 1, 7)),
    ("平成", date(1989, 1, 8), date(2019, 4, 30)),
    ("令和", date(2019, 5, 1), date.max),
)
_ERA_FIRST_YEAR = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
_PRINTED = re.compile(r"(明治|大正|昭和|平成|令和)(元|[0-9]+)年([0-9]+)月([0-9]+)日")


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(1873, 1, 1), "明治6年1月1日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 12, 31), "令和元年12月31日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        (date(2025, 11, 27), "令和7年11月27日"),
    ],
)
def test_era_boundaries(d: date, expected: str) -> None:
    assert to_wareki(d) == expected


def test_eras_table_matches_known_first_days() -> None:
    assert [(name, first.isoformat()) for name, first in ERAS] == [
        ("明治", "1868-10-23"),
        ("大正", "1912-07-30"),
        ("昭和", "1926-12-25"),
        ("平成", "1989-01-08"),
        ("令和", "2019-05-01"),
    ]


@pytest.mark.parametrize(
    ("d", "digits", "gannen", "expected"),
    [
        (date(2025, 11, 27), "fullwidth", True, "令和７年１１月２７日"),
        (date(2025, 11, 27), "kanji", True, "令和七年十一月二十七日"),
        (date(2019, 5, 1), "ascii", False, "令和1年5月1日"),
        (date(2019, 5, 1), "fullwidth", False, "令和１年５月１日"),
        (date(2019, 5, 1), "kanji", False, "令和一年五月一日"),
        (date(2019, 5, 1), "fullwidth", True, "令和元年５月１日"),
        (date(2019, 5, 1), "kanji", True, "令和元年五月一日"),
        (date(1989, 1, 7), "kanji", True, "昭和六十四年一月七日"),
        (date(2010, 10, 10), "kanji", True, "平成二十二年十月十日"),
        (date(1912, 7, 29), "fullwidth", True, "明治４５年７月２９日"),
    ],
)
def test_digit_styles_and_gannen(d: date, digits: Digits, gannen: bool, expected: str) -> None:
    assert to_wareki(d, digits=digits, gannen=gannen) == expected


@pytest.mark.parametrize("d", [date(1872, 12, 31), date(1868, 10, 23), date(1800, 1, 1), date.min])
def test_dates_before_gregorian_adoption_are_refused(d: date) -> None:
    with pytest.raises(DateFormatError, match="lunisolar") as info:
        to_wareki(d)
    # The message names the adoption day but never the date passed (it may be a birth date).
    assert set(re.findall(r"[0-9]+", str(info.value))) <= {"1873", "01"}


def test_gregorian_adoption_day() -> None:
    assert GREGORIAN_ADOPTION.isoformat() == "1873-01-01"
    assert era_of(GREGORIAN_ADOPTION) == ("明治", 6)
    with pytest.raises(DateFormatError):
        era_of(GREGORIAN_ADOPTION - timedelta(days=1))


def test_unknown_digits_style_is_refused() -> None:
    with pytest.raises(DateFormatError, match="digits style"):
        to_wareki(date(2020, 1, 1), digits="roman")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("d", "digits", "expected"),
    [
        (date(1990, 4, 1), "ascii", "1990年4月1日"),
        (date(1990, 4, 1), "fullwidth", "１９９０年４月１日"),
        (date(1990, 4, 1), "kanji", "一九九〇年四月一日"),
        (date(2025, 11, 27), "kanji", "二〇二五年十一月二十七日"),
        (date(1850, 6, 15), "ascii", "1850年6月15日"),
    ],
)
def test_to_seireki(d: date, digits: Digits, expected: str) -> None:
    assert to_seireki(d, digits=digits) == expected


def test_seireki_never_shows_an_era() -> None:
    printed = to_seireki(date(2019, 5, 1))
    assert not any(name in printed for name, _ in ERAS)


@given(st.dates(min_value=GREGORIAN_ADOPTION, max_value=date(2200, 12, 31)), st.booleans())
@settings(database=None, max_examples=500)
def test_wareki_reads_back_to_the_same_day(d: date, gannen: bool) -> None:
    printed = to_wareki(d, gannen=gannen)
    match = _PRINTED.fullmatch(printed)
    assert match is not None, printed
    era, year_text, month, day = match.groups()
    year = 1 if year_text == "元" else int(year_text)
    assert (year_text == "元") == (gannen and year == 1)
    assert date(_ERA_FIRST_YEAR[era] + year - 1, int(month), int(day)) == d
    (first, last) = next((f, la) for name, f, la in _ERA_SPANS if name == era)
    assert first <= d <= last


@given(st.dates(min_value=GREGORIAN_ADOPTION, max_value=date(2200, 12, 31)))
@settings(database=None, max_examples=200)
def test_digit_styles_agree(d: date) -> None:
    ascii_text = to_wareki(d, gannen=False)
    assert to_wareki(d, digits="fullwidth", gannen=False) == ascii_text.translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    assert not re.search(r"[0-9０-９]", to_wareki(d, digits="kanji"))


def _japanera() -> Any:
    if importlib.util.find_spec("japanera") is None:
        pytest.skip("japanera is not installed; it is only an optional test oracle, not a dependency")
    return importlib.import_module("japanera")


@given(st.dates(min_value=GREGORIAN_ADOPTION, max_value=date(2100, 12, 31)))
@settings(database=None, max_examples=300)
def test_agrees_with_japanera(d: date) -> None:
    japanera = _japanera()
    era_date = japanera.EraDate.from_date(d)
    name, year = era_of(d)
    assert era_date.era.kanji == name
    year_text = era_date.strftime("%-y")
    assert (1 if year_text == "元" else int(year_text)) == year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("1873-01-01", date(1873, 1, 1)),
        ("0001-01-01", date(1, 1, 1)),
        ("9999-12-31", date(9999, 12, 31)),
    ],
)
def test_parse_iso_date_accepts_strict_form(text: str, expected: date) -> None:
    assert parse_iso_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "0000-01-01",
        "2024-2-29",
        "2024/02/29",
        "20240229",
        " 2024-02-29",
        "2024-02-29 ",
        "2024-02-29\n",
        "2024-02-29T00:00",
        "２０２４-０２-２９",
        "٢٠٢٤-٠٢-٢٩",
        "+2024-02-29",
        "令和6年2月29日",
    ],
)
def test_parse_iso_date_refuses_anything_else(text: str) -> None:
    with pytest.raises(DateFormatError) as info:
        parse_iso_date(text)
    if text.strip():
        assert text.strip() not in str(info.value)


def test_parse_iso_date_refuses_non_strings() -> None:
    with pytest.raises(DateFormatError, match="string"):
        parse_iso_date(20240229)  # type: ignore[arg-type]


def test_date_format_error_is_a_value_error() -> None:
    assert issubclass(DateFormatError, ValueError)

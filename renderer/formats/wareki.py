"""Japanese era (和暦) and Gregorian (西暦) date formatting, and strict ISO date parsing.

In: ``datetime.date`` values (or, for :func:`parse_iso_date`, a ``YYYY-MM-DD`` string).
Out: printed date strings such as 「令和元年5月1日」 or 「1990年4月1日」, in ASCII, full-width
or kanji digits; or a ``datetime.date``.  Anything that cannot be converted honestly raises
:class:`DateFormatError` with a message saying why; messages never repeat the date itself (it
may be a birth date).

Era dates are given only from 1873-01-01 (明治6年1月1日), the day Japan adopted the Gregorian
calendar.  Before that day dates were kept in the lunisolar calendar, so a Gregorian date has no
era date that a form could print truthfully, and no rule for them is invented here.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final, Literal

from renderer.formats.text import kanji_number, to_fullwidth_digits

__all__ = [
    "ERAS",
    "GREGORIAN_ADOPTION",
    "DateFormatError",
    "Digits",
    "era_of",
    "parse_iso_date",
    "to_seireki",
    "to_wareki",
]

Digits = Literal["ascii", "fullwidth", "kanji"]


class DateFormatError(ValueError):
    """A date that cannot be formatted or parsed as asked."""


# (era name, first day in the Gregorian calendar), oldest first.  明治 began on 1868-10-23 (明治元年
# 9月8日 in the old calendar); its dates are only printed from GREGORIAN_ADOPTION on.
ERAS: Final[tuple[tuple[str, date], ...]] = (
    ("明治", date(1868, 10, 23)),
    ("大正", date(1912, 7, 30)),
    ("昭和", date(1926, 12, 25)),
    ("平成", date(1989, 1, 8)),
    ("令和", date(2019, 5, 1)),
)

# 明治5年12月3日 of the old calendar became 明治6年1月1日 = 1873-01-01.
GREGORIAN_ADOPTION: Final[date] = date(1873, 1, 1)

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _number(n: int, digits: Digits) -> str:
    if digits == "ascii":
        return str(n)
    if digits == "fullwidth":
        return to_fullwidth_digits(str(n))
    if digits == "kanji":
        return kanji_number(n)
    raise DateFormatError(f"unknown digits style {digits!r}; expected 'ascii', 'fullwidth' or 'kanji'")


def era_of(d: date) -> tuple[str, int]:
    """Return ``(era name, era year)`` for ``d``, e.g. 2019-05-01 → ``("令和", 1)``.

    Raises :class:`DateFormatError` for dates before 1873-01-01 (see the module docstring).
    """
    if d < GREGORIAN_ADOPTION:
        raise DateFormatError(
            "the date is before 1873-01-01, when Japan adopted the Gregorian calendar; "
            "earlier dates were kept in the lunisolar calendar and have no honest era date"
        )
    name, first_day = next((n, f) for n, f in reversed(ERAS) if f <= d)
    return name, d.year - first_day.year + 1


def to_wareki(d: date, *, digits: Digits = "ascii", gannen: bool = True) -> str:
    """Format ``d`` as an era date: 2019-05-01 → 「令和元年5月1日」, 2019-04-30 → 「平成31年4月30日」.

    ``digits`` chooses the numerals: ``"ascii"`` (令和7年11月27日), ``"fullwidth"``
    (令和７年１１月２７日) or ``"kanji"`` (令和七年十一月二十七日).  With ``gannen=True`` the first
    year of an era is written 元年; with ``gannen=False`` it is 1年 (１年, 一年).  Month and day
    have no leading zero.  Dates before 1873-01-01 raise :class:`DateFormatError`.
    """
    name, year = era_of(d)
    year_text = "元" if year == 1 and gannen else _number(year, digits)
    return f"{name}{year_text}年{_number(d.month, digits)}月{_number(d.day, digits)}日"


def to_seireki(d: date, *, digits: Digits = "ascii") -> str:
    """Format ``d`` as a Gregorian date only: 1990-04-01 → 「1990年4月1日」 (never both calendars).

    ``digits="fullwidth"`` gives 「１９９０年４月１日」.  ``digits="kanji"`` writes the year digit
    by digit (「一九九〇年四月一日」, the usual way to write a Gregorian year in kanji) and the
    month and day as numbers (十一月二十七日).  Month and day have no leading zero.
    """
    if digits == "kanji":
        year_text = "".join(kanji_number(int(c)) for c in str(d.year))
    else:
        year_text = _number(d.year, digits)
    return f"{year_text}年{_number(d.month, digits)}月{_number(d.day, digits)}日"


def parse_iso_date(value: str) -> date:
    """Parse a strict ``YYYY-MM-DD`` string (ASCII digits, nothing before or after) to a ``date``.

    Anything else — other separators, missing zero padding, times, whitespace, full-width digits,
    impossible dates such as 2023-02-29 — raises :class:`DateFormatError`.
    """
    if not isinstance(value, str):
        raise DateFormatError(f"expected a YYYY-MM-DD string, got {type(value).__name__}")
    match = _ISO_DATE.fullmatch(value)
    if match is None:
        raise DateFormatError("expected a date written as YYYY-MM-DD (ASCII digits, nothing else)")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateFormatError(f"not a calendar date ({exc})") from None

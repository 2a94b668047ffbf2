"""Formatters a layout may name in `format:` (and use as Jinja filters).

In: a value from the bound data (date, str, address model …), the formatter's declared args, and the
subject (the person a repeat block is about, for calendar choice). Out: the printed text.
Unknown names are rejected when the layout is validated (`FORMATTERS` is the closed list).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from renderer.datamodels.address import DomesticAddress, OverseasAddress
from renderer.formats.address import compose_address
from renderer.formats.text import group_digits, to_fullwidth_digits
from renderer.formats.wareki import to_seireki, to_wareki

Args = Mapping[str, str | int | bool]
Formatter = Callable[[Any, Args, Any], str]

Digits = Literal["ascii", "fullwidth", "kanji"]


class FormatError(ValueError):
    """A value of the wrong kind for its formatter (the message names the formatter, never the value)."""


def _digits(args: Args) -> Digits:
    value = str(args.get("digits", "ascii"))
    if value not in ("ascii", "fullwidth", "kanji"):
        raise FormatError(f"digits must be ascii, fullwidth or kanji, not {value!r}")
    return cast(Digits, value)


def _date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    raise FormatError(f"`{name}` formats a date, got a {type(value).__name__}")


def fmt_wareki(value: Any, args: Args, subject: Any) -> str:
    return to_wareki(_date(value, "wareki"), digits=_digits(args))


def fmt_seireki(value: Any, args: Args, subject: Any) -> str:
    return to_seireki(_date(value, "seireki"), digits=_digits(args))


def fmt_resident_date(value: Any, args: Args, subject: Any) -> str:
    """和暦, except 西暦 for a foreign resident (生年月日, 在留期間の満了の日): never both calendars."""
    date = _date(value, "resident_date")
    if getattr(subject, "foreign", None) is not None:
        return to_seireki(date, digits=_digits(args))
    return to_wareki(date, digits=_digits(args))


def fmt_address(value: Any, args: Args, subject: Any) -> str:
    if isinstance(value, DomesticAddress | OverseasAddress):
        return compose_address(value)
    raise FormatError(f"`address` formats a structured address, got a {type(value).__name__}")


def fmt_digits(value: Any, args: Args, subject: Any) -> str:
    """Digits in groups (個人番号 → 1234 5678 9018); `group` sets the group size, 0 = none."""
    text = str(value)
    size = int(args.get("group", 4))
    out = group_digits(text, size=size, sep=str(args.get("sep", " "))) if size else text
    return to_fullwidth_digits(out) if args.get("digits") == "fullwidth" else out


def fmt_postcode(value: Any, args: Args, subject: Any) -> str:
    """A 郵便番号 as Japan Post writes it: three digits, a hyphen, four digits (285-0014), with no 〒 mark
    or 郵便番号 label in front (郵便番号・バーコードマニュアル p04: such marks hinder machine reading)."""
    text = str(value)
    if len(text) != 7 or not text.isascii() or not text.isdigit():
        raise FormatError(f"`postcode` formats 7 ASCII digits, got {len(text)} character(s)")
    return f"{text[:3]}-{text[3:]}"


def fmt_amount(value: Any, args: Args, subject: Any) -> str:
    """An integer amount with thousands separators (12,345); `unit` appends e.g. 円; `negative` is the sign
    of a negative amount: "-" (default, -12,345) or "△" (△12,345, the accounting style of tax forms)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"`amount` formats an integer, got a {type(value).__name__}")
    sign = args.get("negative", "-") if value < 0 else ""
    text = f"{sign}{abs(value):,}{args.get('unit', '')}"
    return to_fullwidth_digits(text) if args.get("digits") == "fullwidth" else text


def fmt_text(value: Any, args: Args, subject: Any) -> str:
    return str(value)


FORMATTERS: dict[str, Formatter] = {
    "wareki": fmt_wareki,
    "seireki": fmt_seireki,
    "resident_date": fmt_resident_date,
    "address": fmt_address,
    "digits": fmt_digits,
    "postcode": fmt_postcode,
    "amount": fmt_amount,
    "text": fmt_text,
}


# The arguments each formatter accepts: name → allowed values (a tuple) or a type. Anything else is a
# layout error (so, for example, no argument can ask `address` to drop its 都道府県).
DIGIT_STYLES = ("ascii", "fullwidth", "kanji")
FORMAT_ARGS: dict[str, dict[str, tuple[str, ...] | type]] = {
    "wareki": {"digits": DIGIT_STYLES},
    "seireki": {"digits": DIGIT_STYLES},
    "resident_date": {"digits": DIGIT_STYLES},
    "address": {},
    "digits": {"group": int, "sep": str, "digits": ("ascii", "fullwidth")},
    "postcode": {},
    "amount": {"unit": ("", "円"), "digits": ("ascii", "fullwidth"), "negative": ("-", "△")},
    "text": {},
}


def check_args(name: str, args: Args) -> list[str]:
    """Problems with a formatter's declared args (empty when they are fine)."""
    allowed = FORMAT_ARGS.get(name, {})
    problems = []
    for key, value in args.items():
        spec = allowed.get(key)
        if spec is None:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(f"`{name}` takes no argument {key!r} (arguments: {known})")
        elif isinstance(spec, tuple):
            if value not in spec:
                problems.append(f"`{name}` argument {key!r} must be one of {', '.join(spec)}")
        elif not isinstance(value, spec) or (isinstance(value, bool) and spec is not bool):
            problems.append(f"`{name}` argument {key!r} must be a {spec.__name__}")
        elif spec is int and not 0 <= int(value) <= 12:
            problems.append(f"`{name}` argument {key!r} must be between 0 and 12")
    return problems


def jinja_filters() -> dict[str, Callable[..., str]]:
    """The formatters as Jinja filters: ``{{ request.issued_on | wareki }}``."""

    def make(f: Formatter) -> Callable[..., str]:
        def apply(value: Any, **kwargs: str | int | bool) -> str:
            if getattr(value, "is_withheld", False):
                return str(value)   # a withheld or protected value prints its declared text, unformatted
            return f(value, kwargs, None)
        return apply

    return {name: make(f) for name, f in FORMATTERS.items()}

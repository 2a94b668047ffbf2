"""Shared field types for input data.

In: JSON values. Out: Python values. `IsoDate` accepts only an ISO 8601 calendar date string
(``YYYY-MM-DD``) or a date, never a number: pydantic's lax mode would read ``0`` as 1970-01-01, and a
生年月日 must never be invented from a wrong type. `NonBlank` is text that prints something: a string
of spaces (ASCII or 全角) or zero-width characters only would print as nothing — a 都道府県 or 市区町村
left out of an address, a notice addressed to 「　様」 — and is refused; its JSON schema says the same
with a pattern (at least one character that is neither whitespace nor zero-width).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO.match(value):
        return value
    raise ValueError("expected a date written YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


#: a 宛名番号 (person_id): digits, upper-case letters and hyphens. The DV rules and the registry compare person_ids
#: exactly, so one person must have one spelling: with lower-case letters admitted, ``ab1`` in the data and
#: ``AB1`` in the registry would be two people and the protection would miss (found by a hostile-caller audit).
PERSON_ID_PATTERN = r"^[0-9A-Z-]{1,32}$"
PersonId = Annotated[str, Field(pattern=PERSON_ID_PATTERN, description="宛名番号 (digits, A-Z, hyphens)")]
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def person_id_spelling(person_id: str) -> str:
    """`person_id` as this release spells it: its ASCII letters upper-cased. Older releases admitted a-z; schema
    revision 0003 upper-cased the registry, but an issue-log body keeps what was written (its MAC covers it), so
    a person_id read from one is spelled this way before it is matched against the registry."""
    return person_id.translate(_ASCII_UPPER)

#: characters that print as nothing and are dropped when drawn (`renderer.fonts`): ZWSP, ZWNJ, ZWJ, WJ, BOM
ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})
#: `NonBlank`'s pattern, in the model and its JSON schema alike: a search (not anchored) for a character that is
#: neither whitespace (Python's str.isspace: \t-\r, \x1c-\x20, \x85, \xa0, U+1680, U+2000-200A, U+2028/2029,
#: U+202F, U+205F, U+3000) nor zero-width. Spelt out rather than \s, which pydantic-core's regex engine and
#: Python's read differently (\x1c-\x1f).
VISIBLE_PATTERN = ("[^\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200d\\u2028\\u2029\\u202f\\u205f"
                   "\\u2060\\u3000\\ufeff]")


#: what a refusal of `NonBlank` says (`renderer.diagnostics` puts it in place of pydantic's pattern message)
NON_BLANK_MESSAGE = "must contain a printable character (not only spaces or zero-width characters)"

#: matched by pydantic-core's own regex engine (a search: some character is visible), no Python call per field —
#: a validator function here cost a batch coordinator ≈ 0.09 s per 2,000 records
NonBlank = Annotated[str, Field(pattern=VISIBLE_PATTERN)]

"""Check digits and shape checks for public identification codes.

In: codes as ``str`` of ASCII digits — 全国地方公共団体コード (6 digits), 個人番号 (マイナンバー, 12
digits), 住民票コード (11 digits), or their first digits for computing a check digit.
Out: the check digit as a one-character ``str``, or the validated code returned unchanged.
Anything wrong raises :class:`CodeError` saying why.  Messages about 個人番号 and 住民票コード never
contain the value passed (it is personal data); messages about local government codes may.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CodeError",
    "lg_check_digit",
    "my_number_check_digit",
    "validate_lg_code",
    "validate_my_number",
    "validate_resident_code",
]

_ASCII_DIGITS: Final = frozenset("0123456789")

# 全国地方公共団体コード: the 5 digits are weighted 6, 5, 4, 3, 2 from the left.
_LG_WEIGHTS: Final = (6, 5, 4, 3, 2)


class CodeError(ValueError):
    """A code of the wrong shape or with a wrong check digit."""


def _is_ascii_digits(s: str, length: int) -> bool:
    return isinstance(s, str) and len(s) == length and all(c in _ASCII_DIGITS for c in s)


def lg_check_digit(code5: str) -> str:
    """Return the check digit of a 5-digit 全国地方公共団体コード, e.g. ``"13101"`` → ``"6"``.

    Each digit is multiplied by 6, 5, 4, 3, 2 (from the left) and the products summed;
    with ``r = sum mod 11`` the check digit is ``(11 - r) mod 10``.
    Raises :class:`CodeError` unless ``code5`` is exactly 5 ASCII digits.
    """
    if not _is_ascii_digits(code5, 5):
        raise CodeError(f"local government code body must be 5 digits, got {code5!r}")
    r = sum(int(c) * w for c, w in zip(code5, _LG_WEIGHTS, strict=True)) % 11
    return str((11 - r) % 10)


def validate_lg_code(code: str) -> str:
    """Return ``code`` if it is a 6-digit 全国地方公共団体コード with a correct check digit.

    Raises :class:`CodeError` ("must be 6 digits", "check digit is X, expected Y") otherwise.
    Whether the code belongs to an existing 団体 is not checked.
    """
    if not _is_ascii_digits(code, 6):
        raise CodeError(f"local government code must be 6 digits, got {code!r}")
    expected = lg_check_digit(code[:5])
    if code[5] != expected:
        raise CodeError(f"local government code {code}: check digit is {code[5]}, expected {expected}")
    return code


def my_number_check_digit(first11: str) -> str:
    """Return the check digit of a 個人番号 from its first 11 digits.

    With P1..P11 the digits counted from the right (P1 is the 11th digit) and weights
    Q_n = n + 1 for n = 1..6 and Q_n = n - 5 for n = 7..11, ``r = Σ P_n·Q_n mod 11`` and the check
    digit is 0 if ``r <= 1``, else ``11 - r``.  Raises :class:`CodeError` unless ``first11`` is
    exactly 11 ASCII digits (the message does not contain the value).
    """
    if not _is_ascii_digits(first11, 11):
        raise CodeError("個人番号 body must be 11 digits")
    total = 0
    for n, c in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(c) * q
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def validate_my_number(number: str) -> str:
    """Return ``number`` if it is a 12-digit 個人番号 whose last digit is its check digit.

    Raises :class:`CodeError` ("must be 12 digits", "check digit does not match") otherwise;
    the message never contains the number or any of its digits.
    """
    if not _is_ascii_digits(number, 12):
        raise CodeError("個人番号 must be 12 digits")
    if number[11] != my_number_check_digit(number[:11]):
        raise CodeError("個人番号 check digit does not match")
    return number


def validate_resident_code(code: str) -> str:
    """Return ``code`` if it has the shape of a 住民票コード: exactly 11 ASCII digits.

    Only the shape is checked.  住民票コード does carry a check digit, but its rule is not
    published to us, so no check-digit test is made here and a code of the right shape with a
    wrong check digit is accepted.  Raises :class:`CodeError` ("must be 11 digits") otherwise;
    the message never contains the code.
    """
    if not _is_ascii_digits(code, 11):
        raise CodeError("住民票コード must be 11 digits")
    return code

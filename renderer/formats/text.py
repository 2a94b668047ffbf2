"""Small text helpers for printed values.

In: plain ``str`` values (ASCII digits) or non-negative ``int`` values.
Out: new ``str`` values — full-width digits, digit groups separated by a separator, or
kanji numerals (一, 十, 百, 千).  Nothing else in the input is changed; nothing is mutated.
"""

from __future__ import annotations

__all__ = ["group_digits", "kanji_number", "to_fullwidth_digits"]

_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

_KANJI_DIGITS = ("〇", "一", "二", "三", "四", "五", "六", "七", "八", "九")
# (value, unit) from the largest unit down; a digit 1 before a unit is not written (十, 百, 千).
_KANJI_UNITS = ((1000, "千"), (100, "百"), (10, "十"))


def to_fullwidth_digits(s: str) -> str:
    """Return ``s`` with every ASCII digit 0-9 replaced by its full-width form (０-９).

    All other characters are returned unchanged: ``"7年11月"`` → ``"７年１１月"``.
    """
    return s.translate(_FULLWIDTH_DIGITS)


def group_digits(s: str, size: int = 4, sep: str = " ") -> str:
    """Split ``s`` into groups of ``size`` characters counted from the left, joined by ``sep``.

    ``group_digits("123456789018")`` → ``"1234 5678 9018"`` (個人番号 as printed).  A last
    group shorter than ``size`` is kept as it is: ``group_digits("12345", 2)`` → ``"12 34 5"``.
    The empty string stays empty.  ``size`` must be at least 1 (``ValueError`` otherwise).
    """
    if size < 1:
        raise ValueError(f"group size must be at least 1, got {size}")
    return sep.join(s[i : i + size] for i in range(0, len(s), size))


def kanji_number(n: int) -> str:
    """Write ``n`` (0..9999) in kanji numerals, e.g. 7 → 七, 11 → 十一, 27 → 二十七, 2025 → 二千二十五.

    Units 十, 百 and 千 take no leading 一 (10 → 十, 100 → 百, 1000 → 千, 1111 → 千百十一);
    zero digits are left out (105 → 百五) and 0 itself is 〇.  Values outside 0..9999 (and
    ``bool``) raise ``ValueError``.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"kanji_number takes an int, got {type(n).__name__}")
    if not 0 <= n <= 9999:
        raise ValueError(f"kanji_number supports 0..9999, got {n}")
    if n == 0:
        return _KANJI_DIGITS[0]
    parts: list[str] = []
    rest = n
    for value, unit in _KANJI_UNITS:
        digit, rest = divmod(rest, value)
        if digit:
            parts.append(("" if digit == 1 else _KANJI_DIGITS[digit]) + unit)
    if rest:
        parts.append(_KANJI_DIGITS[rest])
    return "".join(parts)

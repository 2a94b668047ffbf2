"""Was a 個人番号 printed? Decided from what the pages actually show, not from how a layout names things.

In: the bound (rule-checked) data model, then the drawing operations of each composed page. Out: the
個人番号 values the document could print (every ``my_number`` field of the data that holds a number: a
withheld one is a `Withheld` marker, not a string), and whether any of them reached a page, however the
layout printed it (a field's ``value:``, a template such as ``{{ item.my_number }}``, a list column, a QR
payload). The issue log records the answer as ``my_number_printed``; the numbers themselves are never
logged or kept beyond the composer.

A number counts as printed when its digits appear, in order, among the digits of a page's text (full-width
digits and any separator a formatter put between groups are ignored). Digits of unrelated text next to
each other could in principle spell a person's number; then the log errs on the side of "printed".
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel

from renderer.display import Op, TextRun

FIELD = "my_number"


def my_numbers(data: BaseModel) -> frozenset[str]:
    """The digits of every 個人番号 the bound data holds in a `my_number` field (withheld ones excluded)."""
    found: set[str] = set()
    _collect(data, found)
    return frozenset(found)


def _collect(node: Any, found: set[str]) -> None:
    if isinstance(node, BaseModel):
        for name in _fields_to_visit(type(node)):
            value = getattr(node, name, None)
            if name == FIELD:
                digits = only_digits(value) if isinstance(value, str) else ""
                if digits:
                    found.add(digits)
            else:
                _collect(value, found)
    elif isinstance(node, list | tuple):
        for item in node:
            _collect(item, found)


@functools.cache
def _fields_to_visit(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` that are a `my_number` or may lead to one (so a list of 100,000 rows without
    any is not walked at all)."""
    return tuple(name for name, info in model.model_fields.items()
                 if name == FIELD or any(_holds(m, frozenset({model})) for m in _models_in(info.annotation)))


def _holds(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> bool:
    if model in seen:
        return False
    return any(name == FIELD or any(_holds(m, seen | {model}) for m in _models_in(info.annotation))
               for name, info in model.model_fields.items())


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (``list[Member]``, ``Address | None``, ``Annotated[…]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def only_digits(text: str) -> str:
    """The digits of `text` as ASCII (full-width digits included), everything else dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if "0" <= ch <= "9")


def shows_any(numbers: frozenset[str], texts: Iterable[str]) -> bool:
    """Whether the digits of `texts`, read in order, contain one of `numbers`."""
    digits = only_digits("".join(texts))
    return any(number in digits for number in numbers)


def page_shows_any(numbers: frozenset[str], ops: Iterable[Op]) -> bool:
    """Whether a page's text runs show one of `numbers`."""
    return shows_any(numbers, (op.text for op in ops if isinstance(op, TextRun)))

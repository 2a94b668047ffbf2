"""Plain values that stages hand to each other: `Withheld`, the marker of a value that is not printed.

In: nothing (definitions only; no stage is imported, so the rules, composition and the formatters can all
import this module without importing each other). Out: `Withheld` and `WithheldItem`.

The rules (`renderer.rules.policy`, `renderer.rules.dv`) put a `Withheld` where a value must not be printed;
composition prints only its declared replacement text. A `Withheld` is falsy, so a layout's ``when:`` treats
a withheld item as absent; formatters recognise one by its ``is_withheld`` class attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from renderer.spec.model import OmissionItem

#: what a `Withheld` stands for: an optional item (§1.6), a 転出届 before its 転出予定日, a DV-protected value
WithheldItem = OmissionItem | Literal["moving_out", "dv_protected"]


@dataclass(frozen=True)
class Withheld:
    """An item that is not printed; only its declared replacement text survives."""

    item: WithheldItem
    text: str
    #: lets formatters recognise a withheld value without importing the rules
    is_withheld: ClassVar[bool] = True

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return False


__all__ = ["Withheld", "WithheldItem"]

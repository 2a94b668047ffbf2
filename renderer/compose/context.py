"""What composing one element reads: where it is, the render context, data paths and formatters.

In: a data path (``item.name``, ``data.household.address``), the render context (names → values: data,
request, tenant, item, sheet …), a layout's declared formatter. Out: the value (`resolve`), its printed
text (`format_value`), and `Site`, the place an element is composed at (path, origin, context, sheet and
the list its drawing operations go to). Nothing here draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from renderer.display import Op
from renderer.errors import InputError, LayoutError
from renderer.formats.registry import FORMATTERS, FormatError
from renderer.spec.model import FormatCall, FormatSpec, ShowOn
from renderer.values import Withheld


class _Blank:
    """The item of an unused slot in a repeat block: every attribute is absent."""

    def __getattr__(self, name: str) -> None:
        if name.startswith("_"):
            raise AttributeError(name)
        return None

    def __bool__(self) -> bool:
        return False


BLANK = _Blank()


@dataclass(frozen=True)
class SheetPos:
    n: int
    total: int

    def shows(self, show_on: ShowOn) -> bool:
        first, last = self.n == 1, self.n == self.total
        return {"every": True, "first": first, "last": last, "not_last": not last,
                "not_first": not first}[show_on]


class Site(NamedTuple):
    """Where an element is composed: its layout path, the origin its coordinates are relative to (mm from
    the top-left corner), the render context, the sheet, and the list its drawing operations go to."""

    path: str
    origin: tuple[float, float]
    ctx: Mapping[str, Any]
    pos: SheetPos
    ops: list[Op]

    def at(self, offset: tuple[float, float]) -> tuple[float, float]:
        """A point given relative to this site's origin, relative to the sheet."""
        return (self.origin[0] + offset[0], self.origin[1] + offset[1])


def format_value(value: Any, fmt: FormatSpec | None, subject: Any, *, field: str, where: str) -> str:
    """Apply a layout's declared formatter; a value of the wrong kind is invalid input naming the field."""
    name, args = (fmt.name, fmt.args) if isinstance(fmt, FormatCall) else (fmt or "text", {})
    try:
        return str(FORMATTERS[name](value, args, subject))
    except (FormatError, ValueError) as exc:
        raise InputError(f"{where}: {exc}", field=field) from None


def resolve(path: str, ctx: Mapping[str, Any], *, where: str) -> Any:
    """Look up a dotted data path (``item.name``, ``data.household.address``, ``item.remarks.0``)."""
    head, *rest = path.split(".")
    if head not in ctx:
        raise LayoutError(f"{where}: unknown name {head!r} in {path!r}", field=where)
    node = ctx[head]
    for part in rest:
        if node is None or isinstance(node, Withheld):
            return node
        if isinstance(node, _Blank):
            return None
        if part.isdigit():
            idx = int(part)
            node = node[idx] if isinstance(node, list | tuple) and idx < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        elif hasattr(node, part) and not part.startswith("_"):
            node = getattr(node, part)
        else:
            raise LayoutError(f"{where}: {path!r} has no item {part!r}", field=where)
    return node

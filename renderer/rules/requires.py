"""Data a form cannot be issued without (a layout's ``requires:``), checked before any other rule.

In: a `BoundDocument` (the data as given, before members are selected or items withheld). Out: nothing, or a
`RefusedError` (exit 3) naming the layout's rule and the data path, citing the layout's reason — e.g. a
転出証明書 without a 転出届 (住基法施行令23条: it is issued on a 転出届). A value is present when it is not
null and not an empty list or text; through ``name[]`` any one item's value suffices. Nothing is drawn or
spent before this runs (it is part of `renderer.rules.policy.apply_rules`).
"""

from __future__ import annotations

from typing import Any

from renderer import paths
from renderer.bind import BoundDocument
from renderer.errors import RefusedError


def check_requires(doc: BoundDocument) -> None:
    for need in doc.layout.requires:
        if not any(_present(found.value) for found in paths.walk(doc.data, need.path)):
            raise RefusedError(
                f"data.{need.path}: a {doc.layout.title} cannot be issued without it ({need.reason}); "
                f"the data has none",
                rule=need.rule, field=f"data.{need.path}")


def _present(value: Any) -> bool:
    if value is None or getattr(value, "is_withheld", False):
        return False
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


__all__ = ["check_requires"]

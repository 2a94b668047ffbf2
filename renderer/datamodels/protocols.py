"""What the rules read from a data model, declared once instead of looked up by attribute name.

In: a data object (an instance of a model in `renderer.datamodels.DATA_MODELS`, possibly after the rules
replaced some of its values by `Withheld` markers). Out: nothing; these are `typing.Protocol`s, checkable at
run time with ``isinstance``, that a data model satisfies by having the fields:
- `HasAddressee`: a notice mailed to one person (``addressee.person_id``) — the DV addressee rule;
- `HasHousehold`: a household with its 世帯主氏名 and members (``household.head_name``,
  ``household.members[].person_id`` / ``.relationship``) — the 世帯主 is included in a document that prints
  the head's name even when not among the selected members;
- `FixesMembers`: the persons a form is about, named by its data (``fixed_members``) — the member selection.
A model that gains such a field takes part in the rule without any change to the rules.
`has_addressee`, `has_household`, `is_household` and `fixes_members` are those ``isinstance`` checks answered
once per class (every instance of a data model, or of `Withheld`, has the same attributes); the rules ask
them for every record of a print run, and a run-time protocol check costs tens of microseconds each time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeGuard, runtime_checkable

_CONFORMS: dict[tuple[type, type], bool] = {}


def _conforms(obj: object, protocol: type) -> bool:
    key = (type(obj), protocol)
    known = _CONFORMS.get(key)
    if known is None:
        known = _CONFORMS[key] = isinstance(obj, protocol)
    return known


class HasPersonId(Protocol):
    @property
    def person_id(self) -> str: ...


@runtime_checkable
class HasAddressee(Protocol):
    """A notice's data: the person it is addressed (and mailed) to."""

    @property
    def addressee(self) -> HasPersonId: ...


class Member(Protocol):
    @property
    def person_id(self) -> str: ...

    @property
    def relationship(self) -> Any: ...   # 続柄: a str, or `Withheld` once the rules withheld it


@runtime_checkable
class Household(Protocol):
    @property
    def head_name(self) -> Any: ...       # 世帯主氏名: a str, or `Withheld` (falsy) once withheld

    @property
    def members(self) -> Sequence[Member]: ...


@runtime_checkable
class HasHousehold(Protocol):
    """A 住民票's data: one household."""

    @property
    def household(self) -> Household: ...


@runtime_checkable
class FixesMembers(Protocol):
    """A form whose data names the persons it is about (the 転出証明書: the persons of the 転出届). The rules
    print exactly those members of the household, in the standard order, and refuse a ``request.members`` that
    names others (exit 2). `fixed_members` is (the data path naming them, for messages; their person_ids), or
    None when the data names none (then ``request.members`` selects as for the 住民票)."""

    @property
    def fixed_members(self) -> tuple[str, Sequence[str]] | None: ...


def has_addressee(obj: object) -> TypeGuard[HasAddressee]:
    return _conforms(obj, HasAddressee)


def has_household(obj: object) -> TypeGuard[HasHousehold]:
    return _conforms(obj, HasHousehold)


def is_household(obj: object) -> TypeGuard[Household]:
    return _conforms(obj, Household)


def fixes_members(obj: object) -> TypeGuard[FixesMembers]:
    return _conforms(obj, FixesMembers)


__all__ = ["FixesMembers", "HasAddressee", "HasHousehold", "HasPersonId", "Household", "Member", "fixes_members",
           "has_addressee", "has_household", "is_household"]

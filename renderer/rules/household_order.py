"""Order of the members of a household on a 住民票 in 世帯連記式 (standard §1.5, v1.0 5.2).

In: a sequence of members of one household, of any type, and a function giving each member's
:class:`MemberKey` (続柄 as printed, birth date, person_id).
Out: a new list holding the same members in the order the standard prescribes.  The input is
not changed.  A household without exactly one 世帯主, or with two members sharing a person_id,
raises ``ValueError``.

The standard fixes the order and forbids inventing any other ordering rule, so this module does
exactly this and nothing more:

1. Every member is put in a priority group by 続柄 (:func:`relationship_group`):

   - group 1: 世帯主, 配偶者 (妻, 夫) and the 世帯主's children (子, 長男, 長女, 二男 …, 養子, 養女);
   - group 2: the children's families (子の妻, 子の夫, 孫, 孫の妻 …);
   - group 3: the 世帯主's and the 配偶者's parents, grandparents and the 世帯主's siblings
     (父, 母, 養父, 養母, 兄, 姉, 弟, 妹, 祖父, 祖母, 妻の父, 妻の母, 夫の父, 夫の母 …);
   - group 4: everyone else — other relatives (おじ, おば, おい, めい …), 縁故者, 同居人, 妻(未届),
     夫(未届), 子の子, and any 続柄 not listed in the tables below.

   A 続柄 is looked up exactly as printed, after removing surrounding whitespace only.

2. Groups are printed in the order 1, 2, 3, 4.  Within group 1 the 世帯主 comes first, then the
   配偶者, then the children.  Within each of these (spouses, children) and within groups 2, 3
   and 4, members are in order of birth date, oldest first; members without a birth date come
   after those with one.  Members equal so far are ordered by person_id (as a string).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, TypeVar

__all__ = [
    "CHILDREN",
    "CHILD_FAMILY",
    "HEAD",
    "PARENTS_AND_SIBLINGS",
    "SPOUSES",
    "MemberKey",
    "relationship_group",
    "standard_order",
]

T = TypeVar("T")

_ORDINALS: Final = ("長", "二", "三", "四", "五", "六", "七", "八", "九", "十")

# Standard §1.5 (v1.0 5.2), group 1: 世帯主, then 配偶者, then 世帯主の子.
HEAD: Final = "世帯主"
SPOUSES: Final[frozenset[str]] = frozenset({"妻", "夫"})
# 世帯主の子: 子 (the current way of writing it), the older 長男/長女/二男/二女 … forms, 養子/養女.
CHILDREN: Final[frozenset[str]] = frozenset(
    {"子", "養子", "養女"} | {f"{o}男" for o in _ORDINALS} | {f"{o}女" for o in _ORDINALS}
)

# Standard §1.5 (v1.0 5.2), group 2: each child's family — the child's spouse, grandchildren and
# their spouses, written either from 子 or from the child's own 続柄 (長男の妻, 長女の夫 …).
CHILD_FAMILY: Final[frozenset[str]] = frozenset(
    {f"{child}の{spouse}" for child in CHILDREN for spouse in SPOUSES} | {"孫", "孫の妻", "孫の夫"}
)

# Standard §1.5 (v1.0 5.2), group 3: parents, grandparents and siblings of the 世帯主, and the
# parents of the 配偶者.
PARENTS_AND_SIBLINGS: Final[frozenset[str]] = frozenset(
    {"父", "母", "養父", "養母", "兄", "姉", "弟", "妹", "祖父", "祖母"}
    | {"妻の父", "妻の母", "夫の父", "夫の母"}
)

# Group 4 (everyone else) has no table: it is whatever is in none of the tables above, e.g.
# おじ, おば, おい, めい, 縁故者, 同居人, 妻(未届), 夫(未届), 子の子.


@dataclass(frozen=True)
class MemberKey:
    """What the order depends on, for one member."""

    relationship: str  # 続柄 as printed, e.g. "世帯主", "妻", "長男", "子の妻"
    birth_date: date | None
    person_id: str


def relationship_group(relationship: str) -> int:
    """Return the priority group (1..4) of a 続柄 as printed; unknown 続柄 are group 4."""
    r = relationship.strip()
    if r == HEAD or r in SPOUSES or r in CHILDREN:
        return 1
    if r in CHILD_FAMILY:
        return 2
    if r in PARENTS_AND_SIBLINGS:
        return 3
    return 4


def _rank_in_group_1(relationship: str) -> int:
    if relationship == HEAD:
        return 0
    if relationship in SPOUSES:
        return 1
    return 2


def _sort_key(key: MemberKey) -> tuple[int, int, bool, date, str]:
    r = key.relationship.strip()
    group = relationship_group(r)
    rank_in_group = _rank_in_group_1(r) if group == 1 else 0
    missing = key.birth_date is None
    born = key.birth_date if key.birth_date is not None else date.max
    return group, rank_in_group, missing, born, key.person_id


def standard_order(members: Sequence[T], key: Callable[[T], MemberKey]) -> list[T]:
    """Return ``members`` in the order of standard §1.5 (see the module docstring).

    ``key`` is called once per member.  Raises ``ValueError`` if the household has no 世帯主,
    more than one 世帯主 (their person_ids are named), or a person_id used twice; messages hold
    no personal data other than person_ids.
    """
    keyed = [(key(member), member) for member in members]
    heads = [k.person_id for k, _ in keyed if k.relationship.strip() == HEAD]
    if not heads:
        raise ValueError("household has no 世帯主 (続柄 '世帯主'); exactly one is required")
    if len(heads) > 1:
        ids = ", ".join(sorted(heads))
        raise ValueError(
            f"household has {len(heads)} members with 続柄 '世帯主' (person_ids: {ids}); "
            "exactly one is required"
        )
    duplicates = sorted(pid for pid, n in Counter(k.person_id for k, _ in keyed).items() if n > 1)
    if duplicates:
        raise ValueError(f"person_id used by more than one member: {', '.join(duplicates)}")
    keyed.sort(key=lambda pair: _sort_key(pair[0]))
    return [member for _, member in keyed]

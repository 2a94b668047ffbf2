"""Tests for renderer.rules.household_order: 世帯連記式 member order (standard §1.5, v1.0 5.2).

All people here are made up: person_ids are "p…" labels and birth dates are arbitrary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.rules.household_order import (
    CHILD_FAMILY,
    CHILDREN,
    PARENTS_AND_SIBLINGS,
    SPOUSES,
    MemberKey,
    relationship_group,
    standard_order,
)


def _identity(m: MemberKey) -> MemberKey:
    return m


def _ids(members: list[MemberKey]) -> list[str]:
    return [m.person_id for m in members]


def _m(person_id: str, relationship: str, born: date | None) -> MemberKey:
    return MemberKey(relationship=relationship, birth_date=born, person_id=person_id)


@pytest.mark.parametrize(
    ("relationship", "group"),
    [
        ("世帯主", 1),
        ("妻", 1),
        ("夫", 1),
        ("子", 1),
        ("長男", 1),
        ("長女", 1),
        ("二男", 1),
        ("二女", 1),
        ("三男", 1),
        ("三女", 1),
        ("十男", 1),
        ("養子", 1),
        ("養女", 1),
        ("子の妻", 2),
        ("子の夫", 2),
        ("長男の妻", 2),
        ("長女の夫", 2),
        ("孫", 2),
        ("孫の妻", 2),
        ("孫の夫", 2),
        ("父", 3),
        ("母", 3),
        ("養父", 3),
        ("養母", 3),
        ("兄", 3),
        ("姉", 3),
        ("弟", 3),
        ("妹", 3),
        ("祖父", 3),
        ("祖母", 3),
        ("妻の父", 3),
        ("妻の母", 3),
        ("夫の父", 3),
        ("夫の母", 3),
        ("おじ", 4),
        ("おば", 4),
        ("おい", 4),
        ("めい", 4),
        ("縁故者", 4),
        ("同居人", 4),
        ("妻(未届)", 4),
        ("夫(未届)", 4),
        ("妻（未届）", 4),
        ("子の子", 4),
        ("", 4),
        ("unknown", 4),
    ],
)
def test_relationship_group(relationship: str, group: int) -> None:
    assert relationship_group(relationship) == group


def test_surrounding_whitespace_is_ignored() -> None:
    assert relationship_group(" 妻　") == 1
    assert relationship_group("\t孫\n") == 2


def test_tables_do_not_overlap() -> None:
    tables = [SPOUSES, CHILDREN, CHILD_FAMILY, PARENTS_AND_SIBLINGS]
    for i, a in enumerate(tables):
        for b in tables[i + 1 :]:
            assert not a & b
    assert "世帯主" not in CHILDREN | SPOUSES | CHILD_FAMILY | PARENTS_AND_SIBLINGS
    assert "子の子" not in CHILD_FAMILY


def test_full_household_order() -> None:
    members = [
        _m("p09", "同居人", date(1990, 3, 3)),
        _m("p05", "子の妻", date(1982, 8, 1)),
        _m("p04", "長女", date(1983, 4, 4)),
        _m("p07", "母", date(1930, 2, 2)),
        _m("p03", "長男", date(1980, 5, 5)),
        _m("p06", "孫", date(2010, 9, 9)),
        _m("p02", "妻", date(1956, 6, 6)),
        _m("p08", "妻の父", date(1928, 1, 1)),
        _m("p01", "世帯主", date(1955, 7, 7)),
        _m("p10", "妻(未届)", date(1960, 1, 1)),
    ]
    assert _ids(standard_order(members, _identity)) == [
        "p01",  # 世帯主
        "p02",  # 配偶者
        "p03",  # 長男 (older child)
        "p04",  # 長女
        "p05",  # 子の妻, group 2, born before 孫
        "p06",  # 孫
        "p08",  # 妻の父, group 3, older than 母
        "p07",  # 母
        "p10",  # 妻(未届), group 4, born 1960
        "p09",  # 同居人, born 1990
    ]


def test_head_and_spouse_precede_older_members_of_group_1() -> None:
    members = [
        _m("p3", "子", date(1950, 1, 1)),
        _m("p2", "夫", date(1999, 1, 1)),
        _m("p1", "世帯主", date(2000, 1, 1)),
    ]
    assert _ids(standard_order(members, _identity)) == ["p1", "p2", "p3"]


def test_children_by_birth_date_whatever_their_label() -> None:
    members = [
        _m("p1", "世帯主", date(1970, 1, 1)),
        _m("c1", "長男", date(2001, 1, 1)),
        _m("c2", "子", date(1999, 1, 1)),
        _m("c3", "養女", date(2000, 1, 1)),
    ]
    assert _ids(standard_order(members, _identity)) == ["p1", "c2", "c3", "c1"]


def test_missing_birth_dates_last_and_ties_by_person_id() -> None:
    members = [
        _m("z", "父", None),
        _m("b", "母", date(1940, 1, 1)),
        _m("a", "兄", date(1940, 1, 1)),
        _m("y", "姉", None),
        _m("h", "世帯主", None),
        _m("c", "子", None),
        _m("d", "子", date(2010, 1, 1)),
    ]
    assert _ids(standard_order(members, _identity)) == ["h", "d", "c", "a", "b", "y", "z"]


def test_missing_birth_date_stays_in_its_group() -> None:
    members = [
        _m("h", "世帯主", date(1970, 1, 1)),
        _m("x", "孫", None),
        _m("y", "父", date(1900, 1, 1)),
    ]
    assert _ids(standard_order(members, _identity)) == ["h", "x", "y"]


def test_input_is_not_mutated_and_other_types_work() -> None:
    @dataclass(frozen=True)
    class Row:
        pid: str
        rel: str
        born: date | None

    rows = (Row("r2", "長女", date(2002, 2, 2)), Row("r1", "世帯主", date(1972, 2, 2)))
    as_list = list(rows)
    calls: list[str] = []

    def key(r: Row) -> MemberKey:
        calls.append(r.pid)
        return MemberKey(r.rel, r.born, r.pid)

    result = standard_order(as_list, key)
    assert [r.pid for r in result] == ["r1", "r2"]
    assert as_list == list(rows)
    assert result is not as_list
    assert sorted(calls) == ["r1", "r2"]  # key called once per member
    assert [r.pid for r in standard_order(rows, key)] == ["r1", "r2"]


def test_no_head_is_refused() -> None:
    with pytest.raises(ValueError, match="no 世帯主"):
        standard_order([_m("p1", "妻", date(1980, 1, 1))], _identity)
    with pytest.raises(ValueError, match="no 世帯主"):
        standard_order([], _identity)


def test_two_heads_are_refused_naming_person_ids_only() -> None:
    members = [_m("p2", "世帯主", date(1961, 2, 3)), _m("p1", " 世帯主", date(1962, 4, 5))]
    with pytest.raises(ValueError, match="2 members") as info:
        standard_order(members, _identity)
    message = str(info.value)
    assert "p1, p2" in message
    assert "1961" not in message
    assert "1962" not in message


def test_duplicate_person_id_is_refused() -> None:
    members = [_m("p1", "世帯主", None), _m("p2", "子", None), _m("p2", "子", None)]
    with pytest.raises(ValueError, match="person_id used by more than one member: p2"):
        standard_order(members, _identity)


_RELATIONSHIPS = [
    "妻",
    "夫",
    "子",
    "長男",
    "二女",
    "養子",
    "子の妻",
    "孫",
    "父",
    "母",
    "妹",
    "妻の母",
    "おば",
    "同居人",
    "縁故者",
    "夫(未届)",
    "子の子",
    "？",
]


@st.composite
def _households(draw: st.DrawFn) -> list[MemberKey]:
    ids = draw(st.lists(st.from_regex(r"p[0-9]{1,3}", fullmatch=True), min_size=1, max_size=12, unique=True))
    born = st.none() | st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
    members = [_m(ids[0], "世帯主", draw(born))]
    members += [_m(pid, draw(st.sampled_from(_RELATIONSHIPS)), draw(born)) for pid in ids[1:]]
    return members


@given(st.data())
@settings(database=None, max_examples=300)
def test_order_ignores_input_order(data: st.DataObject) -> None:
    members = data.draw(_households())
    shuffled = data.draw(st.permutations(members))
    ordered = standard_order(members, _identity)
    assert standard_order(shuffled, _identity) == ordered
    assert ordered[0].relationship == "世帯主"
    assert sorted(ordered, key=lambda m: m.person_id) == sorted(members, key=lambda m: m.person_id)
    groups = [relationship_group(m.relationship) for m in ordered]
    assert groups == sorted(groups)
    # Within each group (after 世帯主 and 配偶者), known birth dates never go backwards.
    for group in (1, 2, 3, 4):
        dates = [
            m.birth_date
            for m in ordered
            if relationship_group(m.relationship) == group and m.relationship not in {"世帯主", *SPOUSES}
        ]
        known = [d for d in dates if d is not None]
        assert known == sorted(known)
        assert dates == known + [None] * (len(dates) - len(known))

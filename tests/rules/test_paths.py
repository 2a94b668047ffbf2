"""renderer.paths: parse, walk, replace and the static check of ``a.b[].c`` data paths.

The walkers the rules used before `renderer.paths` existed (the omission walker of rules/policy.py, the two
DV walkers of rules/dv.py) are kept here, verbatim, as oracles: on generated variations of the fictitious
見本 household (values absent, withheld, lists emptied) and every path the layouts use, the new module must
give the same data, the same owners and the same calls, in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from renderer import paths
from renderer.datamodels import DATA_MODELS
from renderer.datamodels.address import address_paths
from renderer.datamodels.juminhyo import JuminhyoData, MovingOut
from renderer.datamodels.notices import NozeiNotice
from renderer.values import Withheld

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = ROOT / "layouts"
SAMPLE = JuminhyoData.model_validate(
    json.loads((LAYOUTS / "samples" / "juminhyo-setai.json").read_text(encoding="utf-8"))["data"])
NOZEI = NozeiNotice.model_validate(
    json.loads((LAYOUTS / "samples" / "tsuchisho-nozei.json").read_text(encoding="utf-8"))["data"])
MARK = Withheld(item="honseki", text="（省略）")
OTHER = Withheld(item="dv_protected", text="記載省略")
PATHS = [
    "household.address", "household.head_name", "household.members[].relationship",
    "household.members[].moved_in_from", "household.members[].moving_out.destination",
    "household.members[].moving_out", "household.members[].foreign.nationality", "household.members[].remarks[]",
    "household.members[].remarks", "household.members[].my_number", "household.address.postal_code",
]
#: paths that do not fit the data (no such field, a list gone through without ``[]``, ``[]`` on a non-list)
BAD_PATHS = ["household.members[].nickname", "household.members.relationship", "household.address[]",
             "household.members[].remarks[].text"]


def layout_paths() -> list[tuple[str, str, str]]:
    """(layout, where, path) of every data path the committed layouts declare."""
    out: list[tuple[str, str, str]] = []
    for f in sorted(LAYOUTS.glob("*.yaml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        for item, spec in (doc.get("omissions") or {}).items():
            out += [(f.stem, f"omissions.{item}", p) for p in spec["paths"]]
        for kind, ps in (doc.get("dv_protected") or {}).items():
            out += [(f.stem, f"dv_protected.{kind}", p) for p in ps]
        out += [(f.stem, "sort_keys", p) for p in (doc.get("sort_keys") or {}).values()]
    return out


def model_of(layout: str) -> type[BaseModel]:
    doc = yaml.safe_load((LAYOUTS / f"{layout}.yaml").read_text(encoding="utf-8"))
    return DATA_MODELS[doc["data_model"]]


# --------------------------------------------------------------------------- the old walkers (oracles)


def old_withhold(node: Any, parts: list[str], marker: Withheld) -> Any:
    if not parts or node is None:
        return node if parts else marker
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    name = head[:-2] if each else head
    if not isinstance(node, BaseModel) or name not in type(node).model_fields:
        raise AssertionError(f"omission path segment {name!r} is not a field")
    value = getattr(node, name)
    if each:
        new: Any = [old_withhold(v, rest, marker) for v in value]
    elif not rest:
        new = marker
    else:
        new = old_withhold(value, rest, marker)
    return node.model_copy(update={name: new})


def old_owners_of_present(node: Any, parts: list[str], owner: str | None, everyone: Sequence[str]
                          ) -> Iterable[Sequence[str]]:
    if isinstance(node, BaseModel) and "person_id" in type(node).model_fields:
        owner = getattr(node, "person_id", None)
    if node is None or isinstance(node, Withheld):
        return
    if not parts:
        yield [owner] if owner else list(everyone)
        return
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    name = head[:-2] if each else head
    if not isinstance(node, BaseModel) or name not in type(node).model_fields:
        return
    value = getattr(node, name)
    if each:
        for v in value or []:
            yield from old_owners_of_present(v, rest, owner, everyone)
    else:
        yield from old_owners_of_present(value, rest, owner, everyone)


def old_protect(node: Any, parts: list[str], owner: str | None, everyone: Sequence[str], kinds: frozenset[str],
                hides: Any) -> tuple[Any, int]:
    if isinstance(node, BaseModel) and "person_id" in type(node).model_fields:
        owner = getattr(node, "person_id", None)
    if isinstance(node, Withheld):
        return node, 0
    if not parts:
        return (OTHER, 1) if hides([owner] if owner else list(everyone), kinds) else (node, 0)
    if node is None:
        return node, 0
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    name = head[:-2] if each else head
    if not isinstance(node, BaseModel) or name not in type(node).model_fields:
        raise AssertionError(f"protected path segment {name!r} is not a field")
    value = getattr(node, name)
    count = 0
    if each:
        items = []
        for v in value or []:
            new_v, n = old_protect(v, rest, owner, everyone, kinds, hides)
            items.append(new_v)
            count += n
        new: Any = items
    else:
        new, count = old_protect(value, rest, owner, everyone, kinds, hides)
    if count == 0:
        return node, 0
    return node.model_copy(update={name: new}), count


def at(obj: BaseModel, name: str) -> Any:
    """A field's value, typed as anything (the rules may have put a `Withheld` there)."""
    return getattr(obj, name)


def same(a: Any, b: Any) -> bool:
    """Structural equality that does not serialize (a `Withheld` may stand in a field of another type)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return all(same(getattr(a, n), getattr(b, n)) for n in type(a).model_fields)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def shared_where_unchanged(old: Any, new: Any) -> bool:
    """Copy-on-write: every object under which nothing changed is the original object."""
    if same(old, new) and type(old) is type(new):
        return old is new or not isinstance(old, BaseModel | list)
    if isinstance(old, BaseModel) and isinstance(new, BaseModel):
        return all(shared_where_unchanged(getattr(old, n), getattr(new, n)) for n in type(old).model_fields)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return all(shared_where_unchanged(x, y) for x, y in zip(old, new, strict=True))
    return True


# --------------------------------------------------------------------------- generated households

CHOICES = ("keep", "none", "withheld")
MOVING_OUT = MovingOut.model_validate({"planned_on": "2027-01-01", "notified_on": "2026-11-01",
                                       "destination": {"prefecture": "東京都", "municipality": "見本市"}})


@st.composite
def households(draw: st.DrawFn) -> JuminhyoData:
    """The sample household with members dropped, and values made absent or withheld at random (copies
    without validation, as the rules make them)."""
    members = []
    for m in SAMPLE.household.members:
        if draw(st.integers(0, 4)) == 0:
            continue
        update: dict[str, Any] = {}
        if draw(st.booleans()):
            update["remarks"] = ["備考一", "備考二"]
        if draw(st.booleans()):
            update["moving_out"] = MOVING_OUT
        for name, absent in (("moved_in_from", None), ("moving_out", None), ("foreign", None),
                             ("relationship", None), ("remarks", [])):
            choice = draw(st.sampled_from(CHOICES))
            if choice == "none":
                update[name] = absent
            elif choice == "withheld":
                update[name] = MARK
        members.append(m.model_copy(update=update))
    hh_update: dict[str, Any] = {"members": members}
    if draw(st.booleans()):
        hh_update["address"] = MARK
    if draw(st.booleans()):
        hh_update["head_name"] = MARK
    return SAMPLE.model_copy(update={"household": SAMPLE.household.model_copy(update=hh_update)})


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(households(), st.sampled_from(PATHS))
def test_replace_withholds_exactly_as_the_old_omission_walker(data: JuminhyoData, path: str) -> None:
    try:
        expected = old_withhold(data, path.split("."), MARK)
    except (AssertionError, TypeError):   # the old walker crashed below a marker or an absent list
        assume(False)
    got = paths.replace(data, path, lambda _v, _o: MARK)
    assert same(got, expected)
    assert shared_where_unchanged(data, got)


@PROPERTY
@given(households(), st.lists(st.tuples(st.sampled_from(PATHS * 4 + BAD_PATHS),   # now and then one that does not fit
                                        st.sampled_from([MARK, OTHER, None])), min_size=1, max_size=8))
def test_replace_all_equals_successive_replaces(data: JuminhyoData, changes: list[tuple[str, Any]]) -> None:
    """One walk for several paths gives what the paths one after another give: the same data, the same
    owners passed in the same order, the same error; and objects nothing changed under stay shared."""
    seen_one: list[tuple[int, Any, str | None]] = []
    seen_all: list[tuple[int, Any, str | None]] = []

    def replacer(seen: list[tuple[int, Any, str | None]], k: int, mark: Any) -> paths.Replacer:
        def new(value: Any, owner: str | None) -> Any:
            seen.append((k, value if isinstance(value, Withheld | None) else type(value).__name__, owner))
            return value if mark is None else mark   # None: a replacer that keeps the value
        return new

    expected: Any = data
    expected_error: str | None = None
    try:
        for k, (path, mark) in enumerate(changes):
            expected = paths.replace(expected, path, replacer(seen_one, k, mark))
    except paths.PathError as exc:
        expected_error = str(exc)
    try:
        got = paths.replace_all(data, [(path, replacer(seen_all, k, mark)) for k, (path, mark) in enumerate(changes)])
    except paths.PathError as exc:
        assert str(exc) == expected_error
        return
    assert expected_error is None
    assert same(got, expected)
    for k in range(len(changes)):   # each change sees the same values and owners in data order (changes interleave)
        assert [c for c in seen_all if c[0] == k] == [c for c in seen_one if c[0] == k]
    assert shared_where_unchanged(data, got)


@PROPERTY
@given(households(), st.sampled_from(PATHS))
def test_walk_finds_the_owners_the_old_block_walker_found(data: JuminhyoData, path: str) -> None:
    everyone = [m.person_id for m in data.household.members]
    expected = list(old_owners_of_present(data, path.split("."), None, everyone))
    got = [[f.owner] if f.owner else list(everyone) for f in paths.walk(data, path)
           if f.value is not None and not isinstance(f.value, Withheld)]
    assert got == expected


@PROPERTY
@given(households(), st.sampled_from(PATHS), st.sets(st.sampled_from([m.person_id for m in SAMPLE.household.members])))
def test_replace_protects_exactly_as_the_old_redact_walker(data: JuminhyoData, path: str, hidden: set[str]) -> None:
    everyone = [m.person_id for m in data.household.members]
    kinds = frozenset({"current"})
    old_calls: list[tuple[tuple[str, ...], frozenset[str]]] = []
    new_calls: list[tuple[tuple[str, ...], frozenset[str]]] = []

    def hides_for(calls: list[tuple[tuple[str, ...], frozenset[str]]]) -> Any:
        def hides(owners: Sequence[str], k: frozenset[str]) -> bool:
            calls.append((tuple(owners), k))
            return any(pid in hidden for pid in owners)
        return hides

    try:
        expected, expected_count = old_protect(data, path.split("."), None, everyone, kinds, hides_for(old_calls))
    except AssertionError:
        assume(False)
    count = 0
    hides = hides_for(new_calls)

    def new(value: Any, owner: str | None) -> Any:
        nonlocal count
        if isinstance(value, Withheld) or not hides([owner] if owner else list(everyone), kinds):
            return value
        count += 1
        return OTHER

    got = paths.replace(data, path, new)
    assert same(got, expected) and count == expected_count and new_calls == old_calls
    assert shared_where_unchanged(data, got)
    if count == 0:
        assert got is data


# --------------------------------------------------------------------------- parse


def test_parse_names_each_step_and_prints_back() -> None:
    parsed = paths.parse("household.members[].moved_in_from")
    assert parsed.steps == (paths.Step("household"), paths.Step("members", each=True), paths.Step("moved_in_from"))
    assert str(parsed) == "household.members[].moved_in_from"


@pytest.mark.parametrize("bad", ["", "a..b", "a[]b", "A.b", "a.0", "[]", "a[][]", "a.", ".a", "a b", "a[ ]"])
def test_parse_refuses_what_is_not_a_path(bad: str) -> None:
    with pytest.raises(paths.PathError):
        paths.parse(bad)


# --------------------------------------------------------------------------- walk and replace


def test_walk_yields_each_value_with_the_person_it_belongs_to() -> None:
    found = list(paths.walk(SAMPLE, "household.members[].moved_in_from"))
    assert [f.owner for f in found] == [m.person_id for m in SAMPLE.household.members]
    assert found[0].value is None and found[1].value is SAMPLE.household.members[1].moved_in_from
    (home,) = paths.walk(SAMPLE, "household.address")
    assert home.owner is None and home.value is SAMPLE.household.address   # the household's, nobody's own


def test_nothing_below_an_absent_or_withheld_object() -> None:
    assert list(paths.walk(SAMPLE, "household.members[].moving_out.destination")) == []   # no 転出届
    withheld = SAMPLE.model_copy(update={"household": MARK})
    assert list(paths.walk(withheld, "household.members[].name")) == []
    assert paths.replace(withheld, "household.members[].name", lambda _v, _o: OTHER) is withheld


def test_the_owner_of_a_value_is_its_own_person_id_when_it_has_one() -> None:
    (found,) = paths.walk(NOZEI, "addressee")
    assert found.owner == NOZEI.addressee.person_id
    assert [f.owner for f in paths.walk(NOZEI, "co_owners[].address")] == [c.person_id for c in NOZEI.co_owners]


def test_replace_copies_only_what_changed() -> None:
    got = paths.replace(SAMPLE, "household.members[].moved_in_from",
                        lambda v, owner: OTHER if owner == "100000002" else v)
    assert got is not SAMPLE and got.household is not SAMPLE.household
    old, new = SAMPLE.household.members, got.household.members
    assert at(new[2], "moved_in_from") is OTHER and new[2] is not old[2]
    assert all(new[i] is old[i] for i in (0, 1, 3))
    assert got.household.address is SAMPLE.household.address
    assert paths.replace(SAMPLE, "household.members[].moved_in_from", lambda v, _o: v) is SAMPLE


def test_replace_at_the_end_replaces_an_absent_value_and_each_item_of_a_list() -> None:
    got = paths.replace(SAMPLE, "household.members[].moved_in_from", lambda _v, _o: MARK)
    assert all(at(m, "moved_in_from") is MARK for m in got.household.members)   # None included
    with_remarks = SAMPLE.model_copy(update={"household": SAMPLE.household.model_copy(update={
        "members": [SAMPLE.household.members[0].model_copy(update={"remarks": ["一", "二"]})]})})
    each = paths.replace(with_remarks, "household.members[].remarks[]", lambda _v, _o: MARK)
    assert at(each.household.members[0], "remarks") == [MARK, MARK]
    whole = paths.replace(with_remarks, "household.members[].remarks", lambda _v, _o: MARK)
    assert at(whole.household.members[0], "remarks") is MARK


def test_a_path_that_does_not_fit_the_data_is_an_error() -> None:
    with pytest.raises(paths.PathError, match="'birthplace' is not a field of Person"):
        list(paths.walk(SAMPLE, "household.members[].birthplace"))
    with pytest.raises(paths.PathError, match="is not a list"):
        paths.replace(SAMPLE, "household[].address", lambda v, _o: v)
    with pytest.raises(paths.PathError, match="is not a field of list"):
        list(paths.walk(SAMPLE, "household.members.name"))


# --------------------------------------------------------------------------- static checks


@pytest.mark.parametrize(("layout", "where", "path"), layout_paths())
def test_every_path_the_layouts_declare_checks_clean(layout: str, where: str, path: str) -> None:
    assert paths.check(model_of(layout), path) is None, (where, path)


@pytest.mark.parametrize("name", sorted(DATA_MODELS))
def test_every_address_path_of_a_data_model_checks_clean(name: str) -> None:
    model = DATA_MODELS[name]
    found = address_paths(model)
    assert found and all(paths.check(model, p) is None for p in found)


@pytest.mark.parametrize(("path", "problem"), [
    ("household.members[].birthplace", "'household.members[].birthplace': 'birthplace' is not a field of Person"),
    ("household.members.name", "'members' is a list; write members[]"),
    ("household[].address", "'household' is not a list"),
    ("household.head_name.first", "'first' is not a field: 'head_name' holds no object"),
    ("household.members[].moved_in_from.prefecture", "'prefecture' is not a field of OverseasAddress"),
    ("household..address", "is not a field name"),
])
def test_check_names_the_problem(path: str, problem: str) -> None:
    found = paths.check(JuminhyoData, path)
    assert found is not None and problem in found


def test_check_accepts_a_whole_list_or_each_item_at_the_end() -> None:
    assert paths.check(JuminhyoData, "household.members[].remarks") is None
    assert paths.check(JuminhyoData, "household.members[].remarks[]") is None
    assert paths.check(JuminhyoData, "household.members") is None
    assert paths.check(JuminhyoData, "household.members[].moved_in_from") is None


def test_find_paths_is_what_address_paths_uses() -> None:
    assert address_paths(JuminhyoData) == ["household.address", "household.members[].moved_in_from",
                                           "household.members[].moving_out.destination"]
    assert paths.find_paths(NozeiNotice, lambda kinds: any(k.__name__ == "Slip" for k in kinds)) == \
        ["installments[].slip"]

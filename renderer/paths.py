"""Data paths: the one language for places in a document's data, e.g. ``household.members[].moved_in_from``.

In: a path as layouts declare it (omission paths, ``dv_protected``, sort keys): field names joined by dots,
``name[]`` standing for every item of the list ``name``; and either a data model class (static checks) or a
data object (a validated, frozen pydantic model, possibly already holding `Withheld` markers). Out:
- `parse`: the path's steps (`ParsedPath`), or `PathError` for a malformed path;
- `check`: the problem with a path in a model class (a field that does not exist in every model the data may
  hold there, ``[]`` on a value that is not a list, a list gone through without ``[]``), or None;
- `walk`: every value at a path, each with its owner — the person_id of the nearest object on the way (the
  value itself included) that has a ``person_id`` field, None when there is none;
- `replace`: a copy of the data with each value at a path replaced by a function of (value, owner),
  copy-on-write: an object under which nothing changed is the original object, not a copy; `replace_all`
  does several in one walk (each object copied once);
- `find_paths`: every path of a model class to a field that holds a model a predicate accepts (used for the
  address paths of a data model).
Below an absent object (None) or a withheld one (`Withheld`) there is nothing: `walk` yields nothing for it and
`replace` leaves it as it is. The value at the end of a path may itself be None or `Withheld`; callers decide.
A path that does not fit the data raises `PathError` (a layout's paths are checked with `check` when it loads).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from renderer.values import Withheld

#: the field that names the person an object (and every value below it) is about
OWNER_FIELD = "person_id"
_STEP = re.compile(r"^([a-z_][a-z0-9_]*)(\[\])?$")

M = TypeVar("M", bound=BaseModel)
#: the new value for (value, owner) at the end of a path; returning the value itself changes nothing
Replacer = Callable[[Any, "str | None"], Any]


class PathError(ValueError):
    """A malformed path, or a path that does not fit the data it is applied to."""


@dataclass(frozen=True)
class Step:
    name: str
    each: bool = False   # ``name[]``: every item of the list ``name``

    def __str__(self) -> str:
        return f"{self.name}[]" if self.each else self.name


@dataclass(frozen=True)
class ParsedPath:
    steps: tuple[Step, ...]

    def __str__(self) -> str:
        return ".".join(str(s) for s in self.steps)


@dataclass(frozen=True)
class Found:
    """A value at the end of a path and the person_id of the object it belongs to (None: nobody's own)."""

    value: Any
    owner: str | None


@functools.lru_cache(maxsize=4096)
def parse(path: str) -> ParsedPath:
    """The steps of `path`; `PathError` if it is not ``name(.name)*`` with an optional ``[]`` per name."""
    if not path:
        raise PathError("an empty path")
    steps: list[Step] = []
    for part in path.split("."):
        match = _STEP.match(part)
        if match is None:
            raise PathError(f"{path!r}: {part!r} is not a field name (write name, or name[] for every item "
                            f"of a list)")
        steps.append(Step(match.group(1), match.group(2) is not None))
    return ParsedPath(tuple(steps))


def _parsed(path: str | ParsedPath) -> ParsedPath:
    return parse(path) if isinstance(path, str) else path


# --------------------------------------------------------------------------- data objects


def field_names(model: type[BaseModel]) -> dict[str, None]:
    """The field names of a model class in declaration order, as dict keys (in order when iterated, one hash
    look-up for ``in``); kept per class: pydantic's ``model_fields`` is a descriptor that costs a call on
    every read, and the walkers read it at every object of every record. Do not modify the result."""
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = dict.fromkeys(model.model_fields)
    return names


_FIELD_NAMES: dict[type[BaseModel], dict[str, None]] = {}

#: value types that never hold a model or a sequence (a validated field of one of these holds a scalar)
_SCALARS: tuple[type, ...] = (str, bytes, int, float, Decimal, dt.date, dt.time, dt.timedelta, enum.Enum,
                              type(None))


def _may_hold_objects(annotation: Any) -> bool:
    """False only when every value `annotation` admits is a scalar (`_SCALARS`, a Literal, or None); True for
    models, sequences, mappings, Any, type variables and anything not recognised (conservative)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:
        return _may_hold_objects(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_may_hold_objects(arg) for arg in get_args(annotation))
    return not (origin is None and isinstance(annotation, type) and issubclass(annotation, _SCALARS))


def object_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model class (declaration order) whose declared type may hold a model, a list or a
    tuple: the only ones a walk that looks for objects (`renderer.rules.dv.persons_in`) needs to read. A
    field declared as a scalar holds a scalar once validated, or a `Withheld` (never an object with fields)
    after the rules; kept per class."""
    names = _OBJECT_FIELDS.get(model)
    if names is None:
        names = _OBJECT_FIELDS[model] = tuple(name for name, info in model.model_fields.items()
                                              if _may_hold_objects(info.annotation))
    return names


_OBJECT_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {}


def owner_of(node: Any, owner: str | None = None) -> str | None:
    """`node`'s person_id if it is an object with that field, else `owner` (that of an enclosing object)."""
    if isinstance(node, BaseModel) and OWNER_FIELD in field_names(type(node)):
        pid = getattr(node, OWNER_FIELD, None)
        return pid if isinstance(pid, str) else None
    return owner


def _nothing_below(node: Any) -> bool:
    return node is None or isinstance(node, Withheld)


def _field(node: Any, step: Step, path: ParsedPath) -> Any:
    if not isinstance(node, BaseModel) or step.name not in field_names(type(node)):
        raise PathError(f"{str(path)!r}: {step.name!r} is not a field of {type(node).__name__}")
    value = getattr(node, step.name)
    if step.each and not _nothing_below(value) and not isinstance(value, list | tuple):
        raise PathError(f"{str(path)!r}: {step.name!r} is not a list")
    return value


def walk(data: Any, path: str | ParsedPath) -> Iterator[Found]:
    """Every value at `path` below `data`, in data order, with its owner."""
    parsed = _parsed(path)
    return _walk(data, parsed, 0, None)


def _walk(node: Any, path: ParsedPath, i: int, owner: str | None) -> Iterator[Found]:
    owner = owner_of(node, owner)
    if i == len(path.steps):
        yield Found(node, owner)
        return
    if _nothing_below(node):
        return
    step = path.steps[i]
    value = _field(node, step, path)
    if not step.each:
        yield from _walk(value, path, i + 1, owner)
    elif not _nothing_below(value):
        for item in value:
            yield from _walk(item, path, i + 1, owner)


def replace(data: M, path: str | ParsedPath, new: Replacer) -> M:
    """A copy of `data` with every value at `path` replaced by ``new(value, owner)`` (copy-on-write).

    ``name[]`` at the end replaces each item of the list; ``name`` at the end replaces the whole value, even
    an absent one (None). Objects are copied with ``model_copy`` (no validation: a `Withheld` may stand where
    the model declares another type)."""
    parsed = _parsed(path)
    result: M = _replace(data, parsed, 0, None, new)
    return result


def _replace(node: Any, path: ParsedPath, i: int, owner: str | None, new: Replacer) -> Any:
    owner = owner_of(node, owner)
    if i == len(path.steps):
        return new(node, owner)
    if _nothing_below(node):
        return node
    step = path.steps[i]
    value = _field(node, step, path)
    if not step.each:
        changed = _replace(value, path, i + 1, owner, new)
    elif _nothing_below(value):
        return node
    else:
        items = [_replace(item, path, i + 1, owner, new) for item in value]
        changed = items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return node if changed is value else node.model_copy(update={step.name: changed})


def replace_all(data: M, changes: Sequence[tuple[str | ParsedPath, Replacer]]) -> M:
    """`replace` for each (path, new) of `changes` in turn, in one walk of the data: an object on the way of
    several paths is copied once, not once per path (the omissions of a form: ten paths into every member).
    The result equals that of the successive `replace` calls, errors included.

    How the paths share the walk depends on the paths alone, so it is worked out once per list of paths
    (`_walk_plan`, kept per process: a layout's omissions are the same few lists for every record) and the
    walk of each record only follows it."""
    plan = _walk_plan(tuple(_parsed(path) for path, _new in changes))
    result: M = _run(data, plan, [new for _path, new in changes], None)
    return result


# A walk plan, for the entries (path, index of its next step, which change) that reach an object, in order:
# a `_Here` applies a change to the object itself; a `_Down` takes a run of entries that go further down
# together, field by field in the order the entries first name them, and in each field the consecutive
# entries with the same kind of step (``name`` or ``name[]``) together, each such group a plan of its own.
@dataclass(frozen=True)
class _Here:
    change: int


@dataclass(frozen=True)
class _Group:
    each: bool
    path: ParsedPath          # the first entry's path: the one named when the value is not a list
    below: tuple[_Here | _Down, ...]


@dataclass(frozen=True)
class _Field:
    step: Step                # the field's step as the first entry naming it wrote it
    path: ParsedPath          # that entry's path: the one named when the object has no such field
    groups: tuple[_Group, ...]


@dataclass(frozen=True)
class _Down:
    fields: tuple[_Field, ...]


_Plan = tuple[_Here | _Down, ...]
_Entry = tuple[ParsedPath, int, int]


@functools.lru_cache(maxsize=1024)
def _walk_plan(parsed: tuple[ParsedPath, ...]) -> _Plan:
    return _plan([(p, 0, k) for k, p in enumerate(parsed)])


def _plan(entries: list[_Entry]) -> _Plan:
    out: list[_Here | _Down] = []
    k = 0
    while k < len(entries):
        path, i, change = entries[k]
        if i == len(path.steps):
            out.append(_Here(change))
            k += 1
            continue
        end = k
        while end < len(entries) and entries[end][1] < len(entries[end][0].steps):
            end += 1
        out.append(_plan_down(entries[k:end]))
        k = end
    return tuple(out)


def _plan_down(entries: list[_Entry]) -> _Down:
    by_field: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_field.setdefault(entry[0].steps[entry[1]].name, []).append(entry)
    fields = []
    for own in by_field.values():
        groups = []
        k = 0
        while k < len(own):   # consecutive entries with the same kind of step (name or name[]) go together
            each = own[k][0].steps[own[k][1]].each
            end = k
            while end < len(own) and own[end][0].steps[own[end][1]].each == each:
                end += 1
            groups.append(_Group(each, own[k][0], _plan([(p, i + 1, c) for p, i, c in own[k:end]])))
            k = end
        fields.append(_Field(own[0][0].steps[own[0][1]], own[0][0], tuple(groups)))
    return _Down(tuple(fields))


def _run(node: Any, plan: _Plan, news: list[Replacer], outer: str | None) -> Any:
    for part in plan:
        if isinstance(part, _Here):
            node = news[part.change](node, owner_of(node, outer))
        else:
            node = _run_down(node, part, news, owner_of(node, outer))
    return node


def _run_down(node: Any, down: _Down, news: list[Replacer], owner: str | None) -> Any:
    if _nothing_below(node):
        return node
    names = field_names(type(node)) if isinstance(node, BaseModel) else {}
    for f in down.fields:
        if f.step.name not in names:
            _field(node, f.step, f.path)   # raises the error `replace` raises
    update: dict[str, Any] = {}
    for f in down.fields:
        name = f.step.name
        original = value = getattr(node, name)
        for group in f.groups:
            if not group.each:
                value = _run(value, group.below, news, owner)
            elif not _nothing_below(value):
                if not isinstance(value, list | tuple):
                    raise PathError(f"{str(group.path)!r}: {name!r} is not a list")
                items = [_run(item, group.below, news, owner) for item in value]
                value = items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if value is not original:
            update[name] = value
    return node.model_copy(update=update) if update else node


# --------------------------------------------------------------------------- model classes


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every model class a field of this annotation may hold (inside list[...], X | None, Annotated[...],
    unions), in declaration order."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(m for m in models_in(arg) if m not in found)
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not list:
        found.extend(m for m in models_in(origin) if m not in found)
    return found


def is_list(annotation: Any) -> bool:
    """Does a field of this annotation hold a list (``list[X]``, ``list[X] | None``)?"""
    if getattr(annotation, "__origin__", None) is list:
        return True
    return any(is_list(arg) for arg in getattr(annotation, "__args__", ()) or ()
               if getattr(arg, "__origin__", None) is list)


def check(model: type[BaseModel], path: str) -> str | None:
    """The problem with `path` in the data of `model`, or None when it fits.

    A step must be a field of every model the data may hold there (each member of a union: a path into one
    member only would fail on data holding another); a step that is not the last goes through a list only as
    ``name[]``; ``name[]`` names a list. The last step may name a whole list (``name``) or each item
    (``name[]``)."""
    try:
        parsed = parse(path)
    except PathError as exc:
        return str(exc)
    current: list[type[BaseModel]] = [model]
    previous = ""
    last = len(parsed.steps) - 1
    for i, step in enumerate(parsed.steps):
        if not current:
            return f"{path!r}: {step.name!r} is not a field: {previous!r} holds no object"
        for m in current:
            if step.name not in m.model_fields:
                return f"{path!r}: {step.name!r} is not a field of {m.__name__}"
        annotations = [m.model_fields[step.name].annotation for m in current]
        listed = [is_list(a) for a in annotations]
        if step.each and not all(listed):
            return f"{path!r}: {step.name!r} is not a list; write {step.name} without []"
        if not step.each and i < last and any(listed):
            return f"{path!r}: {step.name!r} is a list; write {step.name}[] to go through each item"
        nxt: list[type[BaseModel]] = []
        for a in annotations:
            nxt.extend(m for m in models_in(a) if m not in nxt)
        current, previous = nxt, step.name
    return None


def find_paths(model: type[BaseModel], accept: Callable[[Sequence[type[BaseModel]]], bool]) -> list[str]:
    """Every path of `model` to a field whose models `accept` takes (``name[]`` for lists), in declaration
    order; the search does not go below an accepted field, nor into a model it is already inside."""
    out: list[str] = []
    _find(model, "", out, frozenset(), accept)
    return out


def _find(model: type[BaseModel], prefix: str, out: list[str], seen: frozenset[type[BaseModel]],
          accept: Callable[[Sequence[type[BaseModel]]], bool]) -> None:
    if model in seen:
        return
    seen = seen | {model}
    for name, info in model.model_fields.items():
        kinds = models_in(info.annotation)
        path = f"{prefix}{name}{'[]' if is_list(info.annotation) else ''}"
        if accept(kinds):
            out.append(path)
            continue
        for kind in kinds:
            _find(kind, f"{path}.", out, seen, accept)


__all__ = ["OWNER_FIELD", "Found", "ParsedPath", "PathError", "Replacer", "Step", "check", "find_paths",
           "is_list", "models_in", "owner_of", "parse", "replace", "walk"]

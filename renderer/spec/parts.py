"""Reusable layout parts: ``{type: part, use: <id>}`` in a layout, the part's own file in ``layouts/parts/``.

In: a loaded layout (plain YAML data and its line map) and the parts directory. Out: the same layout with
every part element's `elements` filled from ``<parts_dir>/<id>.yaml`` and the part's styles merged into the
layout's `styles`, ready for `LayoutSpec` validation — or `LayoutError` naming the element and the reason.

A part file holds ``part_version: 1``, its ``id`` (the file name), a ``title``, ``styles`` and ``elements``.
Its elements are validated as part of every layout that uses it (paths, templates and sheet bounds are
checked where the part is placed). A style the part declares must not clash with a layout style of the same
name (identical definitions are fine); a part cannot use another part; a layout never writes a part
element's `elements` itself.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renderer.diagnostics import Diagnostic
from renderer.errors import LayoutError

if TYPE_CHECKING:   # YAML is read only when a layout is validated (a cache miss), so imported there
    from renderer.spec.load import Loaded

PART_VERSION = 1
PART_ID = re.compile(r"^[a-z][a-z0-9-]{2,63}$")
PART_KEYS = frozenset({"part_version", "id", "title", "styles", "elements"})
#: element keys that hold child element lists
_CHILD_KEYS = ("elements", "block")


@dataclass(frozen=True)
class Part:
    id: str
    styles: dict[str, Any]
    elements: list[Any]
    source: str


def resolve_parts(loaded: Loaded, parts_dir: Path) -> Loaded:
    """`loaded` with its part elements filled in (the input is not changed)."""
    raw = loaded.data
    if not isinstance(raw, dict) or not isinstance(raw.get("elements"), list):
        return loaded   # not a layout validation can read: the model says why
    problems: list[Diagnostic] = []
    cache: dict[str, Part] = {}
    styles = dict(raw.get("styles") or {}) if isinstance(raw.get("styles"), dict) else None
    elements = _expand(raw["elements"], "elements", loaded, parts_dir, cache, styles, problems, inside=None)
    if problems:
        raise LayoutError(f"{loaded.source}: {len(problems)} problem(s) with its parts", diagnostics=problems)
    if not cache:
        return loaded
    data = {**raw, "elements": elements}
    if styles is not None:
        data["styles"] = styles
    return dataclasses.replace(loaded, data=data)


def _expand(elements: list[Any], path: str, loaded: Loaded, parts_dir: Path, cache: dict[str, Part],
            styles: dict[str, Any] | None, problems: list[Diagnostic], inside: str | None) -> list[Any]:
    out: list[Any] = []
    for i, el in enumerate(elements):
        here = f"{path}[{i}]"
        if not isinstance(el, dict):
            out.append(el)
            continue
        if el.get("type") == "part":
            out.append(_place(el, here, loaded, parts_dir, cache, styles, problems, inside))
            continue
        copy = dict(el)
        for key in _CHILD_KEYS:
            if isinstance(el.get(key), list):
                copy[key] = _expand(el[key], f"{here}.{key}", loaded, parts_dir, cache, styles, problems, inside)
        out.append(copy)
    return out


def _place(el: dict[str, Any], here: str, loaded: Loaded, parts_dir: Path, cache: dict[str, Part],
           styles: dict[str, Any] | None, problems: list[Diagnostic], inside: str | None) -> dict[str, Any]:
    def problem(message: str, hint: str | None = None, key: str = "") -> dict[str, Any]:
        at = f"{here}.{key}" if key else here
        problems.append(Diagnostic(at, message, line=loaded.lines.get(at) or loaded.lines.get(here),
                                   source=loaded.source, hint=hint))
        return el

    if inside is not None:
        return problem(f"the part {inside!r} uses a part; parts cannot be nested", "write the elements out")
    if "elements" in el:
        return problem("a part element's elements come from its part file", "remove `elements:`", "elements")
    use = el.get("use")
    if not isinstance(use, str) or not PART_ID.fullmatch(use):
        return problem("`use` must name a part file (lower-case id, e.g. nofusho-3ren)", key="use")
    part = cache.get(use)
    if part is None:
        path = parts_dir / f"{use}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in parts_dir.glob("*.yaml")) if parts_dir.is_dir() else []
            return problem(f"unknown part {use!r}", f"parts in {parts_dir.name}/: {', '.join(known) or 'none'}",
                           "use")
        try:
            part = cache[use] = load_part(path)
        except LayoutError as exc:
            problems.extend(exc.diagnostics or [Diagnostic(here, exc.message, source=str(path))])
            return el
    if styles is not None:
        for name, style in part.styles.items():
            if name in styles and styles[name] != style:
                problem(f"the part {use!r} declares style {name!r} differently from the layout",
                        "give one of them another name, or make them identical", "use")
            styles[name] = style
    filled = dict(el)
    filled["elements"] = _expand(part.elements, f"{here}.elements", loaded, parts_dir, cache, styles, problems,
                                 inside=use)
    return filled


def load_part(path: Path) -> Part:
    """Read and check a part file's own shape (its elements are checked where a layout places them)."""
    from renderer.spec.load import load_yaml

    loaded = load_yaml(path)
    raw = loaded.data
    source = str(path)

    def fail(key: str, message: str, hint: str | None = None) -> LayoutError:
        return LayoutError(f"{source}: {message}",
                           diagnostics=[Diagnostic(key, message, line=loaded.lines.get(key), source=source,
                                                   hint=hint)])

    if not isinstance(raw, dict):
        raise fail("", "a part file is a mapping with part_version, id, title, styles and elements")
    unknown = sorted(set(raw) - PART_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key(s) {', '.join(unknown)}", f"known: {', '.join(sorted(PART_KEYS))}")
    if raw.get("part_version") != PART_VERSION:
        raise fail("part_version", f"part_version must be {PART_VERSION}")
    if raw.get("id") != path.stem:
        raise fail("id", f"the part in {path.name} must have id {path.stem!r}", "a part's id is its file name")
    if not isinstance(raw.get("title"), str) or not raw["title"]:
        raise fail("title", "a part needs a title")
    styles = raw.get("styles", {})
    if not isinstance(styles, dict):
        raise fail("styles", "styles must be a mapping")
    elements = raw.get("elements")
    if not isinstance(elements, list) or not elements:
        raise fail("elements", "a part needs a non-empty list of elements")
    return Part(id=path.stem, styles=styles, elements=elements, source=source)

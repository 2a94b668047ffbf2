"""Load YAML safely and remember where every item came from.

In: a YAML file (layouts, tenants). Out: plain Python data plus a map from item path
(``elements[2].cells[0].value``) to its 1-based source line, so diagnostics can point at the line.
Only YAML's safe subset is accepted (a SafeLoader subclass); duplicate keys are an error, not "last one wins".

Anchors and aliases are bounded ("billion laughs"): a document may use at most ``MAX_ALIAS_USES`` aliases,
may not expand to more than ``MAX_EXPANDED_NODES`` nodes once every alias is written out, may not nest deeper
than ``MAX_DEPTH`` and may not contain a recursive alias. The bounds are checked while composing, before
anything is expanded, so a bomb is refused in time proportional to the file's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from renderer.diagnostics import Diagnostic
from renderer.errors import LayoutError

MAX_ALIAS_USES = 100
"""Alias uses (``*name``) in one document; the shipped layouts and tenants use none."""
MAX_EXPANDED_NODES = 100_000
"""Nodes after expanding every alias; the largest shipped layout has about 1,600."""
MAX_DEPTH = 100
"""Nesting depth of collections; the shipped layouts nest less than 10 deep."""


_ALIAS_HINT = "write the items out instead of nesting anchors and aliases"


class YamlLimitError(yaml.composer.ComposerError):
    """A document exceeds one of the loader's bounds (aliases, expansion, depth, recursion)."""

    def __init__(self, problem: str, mark: yaml.Mark | None, hint: str = _ALIAS_HINT) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias bombs, recursive aliases and absurd nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_uses = 0
        self._depth = 0
        # Expanded node count of every node composed so far (a node is in here once it is complete).
        self._sizes: dict[yaml.Node, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            self.alias_uses += 1
            if self.alias_uses > MAX_ALIAS_USES:
                raise YamlLimitError(f"more than {MAX_ALIAS_USES} alias uses (*name)", event.start_mark)
            target = self.anchors.get(event.anchor)
            if target is not None and target not in self._sizes:
                raise YamlLimitError("an alias refers to a collection that contains it (recursive alias)",
                                     event.start_mark)
            return super().compose_node(parent, index)   # an undefined alias is the composer's own error
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(f"collections nested more than {MAX_DEPTH} deep",
                                 self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                                 hint="flatten the structure")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[item] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[key] + self._sizes[value] for key, value in node.value)
        if size > MAX_EXPANDED_NODES:
            raise YamlLimitError(f"this item has more than {MAX_EXPANDED_NODES} nodes once its aliases are expanded",
                                 node.start_mark)
        self._sizes[node] = size
        return node


@dataclass(frozen=True)
class Loaded:
    data: Any
    lines: dict[str, int]
    source: str


def load_yaml(path: Path) -> Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read: {exc.__class__.__name__}") from None
    return load_yaml_text(text, source=str(path))


def _line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


def load_yaml_text(text: str, *, source: str) -> Loaded:
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
    except YamlLimitError as exc:
        line = _line(exc)
        problem = str(exc.problem)
        raise LayoutError(
            f"{source}:{line}: refused: {problem}",
            diagnostics=[Diagnostic(path="", message=f"refused: {problem}", line=line, source=source,
                                    hint=exc.hint)],
        ) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise LayoutError(
            f"{source}: not valid YAML",
            diagnostics=[Diagnostic(path="", message=str(problem), line=_line(exc), source=source,
                                    hint="check indentation and quoting on this line")],
        ) from None
    finally:
        loader.dispose()
    if node is None:
        raise LayoutError(f"{source}: the file is empty",
                          diagnostics=[Diagnostic(path="", message="empty document", source=source)])
    lines: dict[str, int] = {}
    problems: list[Diagnostic] = []
    data = _build(node, "", lines, problems, source, BoundedLoader(""))
    if problems:
        raise LayoutError(f"{source}: {len(problems)} problem(s) in the YAML", diagnostics=problems)
    return Loaded(data=data, lines=lines, source=source)


_FAILED = object()
"""What ``_construct`` returns for a node it could not build (the problem is recorded)."""


def _construct(node: yaml.Node, path: str, problems: list[Diagnostic], source: str,
               constructor: yaml.SafeLoader) -> Any:
    """One scalar (or key) as Python data; a tag the safe subset cannot build is a problem, not a crash."""
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "cannot be constructed"
        problems.append(Diagnostic(path=path, message=str(problem), line=node.start_mark.line + 1, source=source,
                                   hint="only plain YAML is accepted: no tags, no merge keys (<<)"))
        return _FAILED


def _build(node: yaml.Node, path: str, lines: dict[str, int], problems: list[Diagnostic],
           source: str, constructor: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, path, problems, source, constructor)
            if key is _FAILED:
                continue
            if not isinstance(key, str | int):
                problems.append(Diagnostic(path=path, message="mapping keys must be strings",
                                           line=key_node.start_mark.line + 1, source=source))
                continue
            child = f"{path}.{key}" if path else str(key)
            if key in out:
                problems.append(Diagnostic(path=child, message="duplicate key",
                                           line=key_node.start_mark.line + 1, source=source,
                                           hint="each key may appear once; YAML would silently keep the last"))
                continue
            lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, lines, problems, source, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, f"{path}[{i}]", lines, problems, source, constructor)
                for i, item in enumerate(node.value)]
    return _construct(node, path, problems, source, constructor)

"""Load YAML safely and remember where every item came from.

In: a YAML file (layouts, tenants). Out: plain Python data plus a map from item path
(``elements[2].cells[0].value``) to its 1-based source line, so diagnostics can point at the line.
Only YAML's safe subset is accepted (SafeLoader); duplicate keys are an error, not "last one wins".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from renderer.diagnostics import Diagnostic
from renderer.errors import LayoutError


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


def load_yaml_text(text: str, *, source: str) -> Loaded:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise LayoutError(
            f"{source}: not valid YAML",
            diagnostics=[Diagnostic(path="", message=str(problem), line=line, source=source,
                                    hint="check indentation and quoting on this line")],
        ) from None
    finally:
        loader.dispose()
    if node is None:
        raise LayoutError(f"{source}: the file is empty",
                          diagnostics=[Diagnostic(path="", message="empty document", source=source)])
    lines: dict[str, int] = {}
    problems: list[Diagnostic] = []
    data = _build(node, "", lines, problems, source, yaml.SafeLoader(""))
    if problems:
        raise LayoutError(f"{source}: {len(problems)} problem(s) in the YAML", diagnostics=problems)
    return Loaded(data=data, lines=lines, source=source)


def _build(node: yaml.Node, path: str, lines: dict[str, int], problems: list[Diagnostic],
           source: str, constructor: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
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
    return constructor.construct_object(node, deep=True)

"""Diagnostics: one problem found in a layout, tenant or input, with where it is and how to fix it.

In: a path (``elements[3].cells[2].value``), an optional source line, a message and a hint.
Out: text for the CLI and a dict for problem+json. Never carries data values (only paths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from renderer.datamodels.types import NON_BLANK_MESSAGE, VISIBLE_PATTERN


@dataclass(frozen=True)
class Diagnostic:
    path: str
    message: str
    line: int | None = None
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"
    source: str | None = None

    def format(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        head = f"{where}: " if where else ""
        text = f"{head}{self.severity}: {self.path}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "message": self.message, "severity": self.severity}
        if self.line is not None:
            out["line"] = self.line
        if self.hint:
            out["hint"] = self.hint
        if self.source:
            out["source"] = self.source
        return out


def from_pydantic(exc: Any, *, prefix: str = "", source: str | None = None,
                  lines: dict[str, int] | None = None) -> list[Diagnostic]:
    """Turn a pydantic ValidationError into diagnostics *without* echoing input values.

    pydantic puts the offending value into ``input`` and sometimes into the message (for literals and
    patterns it does not, for ``extra_forbidden`` it does not); we only keep ``loc``, ``type`` and ``msg``.
    """
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = join_path(prefix, err["loc"])
        line = lines.get(path) if lines else None
        if line is None and lines:
            line = _nearest_line(path, lines)
        out.append(Diagnostic(path=path, message=_message(err), line=line,
                              hint=_HINTS.get(err["type"]), source=source))
    return out


_HINTS = {
    "extra_forbidden": "unknown key: check its spelling against the JSON Schema",
    "missing": "add this required item",
    "literal_error": "use one of the allowed values",
    "union_tag_not_found": "an address has kind domestic or overseas",
}


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required item is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return "not one of the allowed kinds"   # pydantic's message would echo the input value
    if kind == "string_pattern_mismatch" and _NON_BLANK_PATTERN in str(err["msg"]):
        return NON_BLANK_MESSAGE
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


UNION_TAGS = frozenset({"domestic", "overseas"})
_NON_BLANK_PATTERN = f"'{VISIBLE_PATTERN}'"


def join_path(prefix: str, loc: tuple[Any, ...] | list[Any]) -> str:
    path = prefix
    for part in loc:
        if part in UNION_TAGS:
            continue   # pydantic names the union member it tried; the path reads better without it
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            text = str(part)
            # pydantic adds the union member's tag to the location ("text", "field"...); keep it readable
            path = f"{path}.{text}" if path else text
    return path


def _nearest_line(path: str, lines: dict[str, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return lines.get(path)

"""JSON input as every entry point reads it: one parser, one set of reasons for refusing a document.

In: the bytes or text of one JSON document (an input file, a JSONL line, a registry line, an HTTP body).
Out: the parsed value, or `NotJson` carrying a short reason that names no data: not UTF-8, where the syntax
breaks (line, column, what), nesting too deep, a number of more digits than Python converts, NaN or Infinity
(not JSON: RFC 8259 §6), or a key that occurs twice in one object (with its path, e.g. ``request.requester``,
in `NotJson.path`). Callers turn the reason into their own error (CLI exit 2, a batch record's ``invalid``
row, HTTP 400). Before this module, the CLI reported a deeply nested file or a 5,000-digit number as an
internal failure (exit 1) and a batch called a huge number "not UTF-8".

Duplicate keys: RFC 8259 §4 leaves the meaning of an object whose names repeat to the reader, and readers
differ — Python's ``json`` keeps the last, others the first or refuse. An envelope naming its ``requester``
twice would then be read as one requester by a checker upstream and as another here, so no entry point
accepts one, however deep the object is (a list row, ``data``, the request).
"""

from __future__ import annotations

import json
import re
from typing import Any


class NotJson(ValueError):
    """The document is not JSON we read; `reason` says why, without quoting the document. `path` is where,
    when the reason is a place rather than a syntax error (a duplicated key: ``request.requester``)."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


def _no_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number")


class _Repeated(dict[str, Any]):
    """An object in which `key` occurs more than once (kept only until `loads` reports it)."""

    key = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    marked = _Repeated(obj)
    for key, _ in pairs:
        if key in seen:
            marked.key = key
            break
        seen.add(key)
    return marked


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _step(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f".{key}"
    # any other name: quoted, escaped (no control or bidi character reaches a terminal) and shortened
    shown = key if len(key) <= 64 else key[:64] + "…"
    return "[" + json.dumps(shown, ensure_ascii=True) + "]"


def join(path: tuple[str | int, ...] | list[str | int]) -> str:
    """A JSON path as messages write it: ``request.requester``, ``rows[3].person_id`` (no leading dot)."""
    return "".join(_step(part) for part in path).removeprefix(".")


def under(prefix: str, path: str | None) -> str:
    """`path` (a `NotJson.path`, relative to its document) below `prefix` (where the document stands, e.g.
    ``data.rows[3]`` for a rows line); `prefix` alone when there is no path."""
    if not path:
        return prefix
    if not prefix:
        return path
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def _repeated_at(value: Any) -> str:
    """The path of the first duplicated key in `value` (depth first, in document order)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Repeated):
            return join((*where, node.key))
        if isinstance(node, dict):
            stack.extend((child, (*where, key)) for key, child in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((child, (*where, i)) for i, child in reversed(list(enumerate(node))))
    raise AssertionError("a repeated key was reported but not found")   # pragma: no cover


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document; raises `NotJson`."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise NotJson("not UTF-8") from None
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        obj = _pairs(items)
        repeated = repeated or isinstance(obj, _Repeated)
        return obj

    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=pairs)
    except NotJson:
        raise
    except json.JSONDecodeError as exc:
        raise NotJson(f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except ValueError:   # int(): more digits than sys.get_int_max_str_digits() allows
        raise NotJson("a number has too many digits") from None
    if repeated:
        path = _repeated_at(value)
        raise NotJson(f"duplicate key {path}: a key may occur once in an object (readers "
                      f"disagree on which occurrence counts)", path=path)
    return value


__all__ = ["NotJson", "join", "loads", "under"]

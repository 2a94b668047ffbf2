"""JSON input as every entry point reads it: one parser, one set of reasons for refusing a document.

In: the bytes or text of one JSON document (an input file, a JSONL line, a registry line, an HTTP body).
Out: the parsed value, or `NotJson` carrying a short reason that names no data: not UTF-8, where the syntax
breaks (line, column, what), nesting too deep, a number of more digits than Python converts, NaN or Infinity
(not JSON: RFC 8259 §6). Callers turn the reason into their own error (CLI exit 2, a batch record's
``invalid`` row, HTTP 400). Before this module, the CLI reported a deeply nested file or a 5,000-digit number
as an internal failure (exit 1) and a batch called a huge number "not UTF-8".
"""

from __future__ import annotations

import json
from typing import Any


class NotJson(ValueError):
    """The document is not JSON we read; `reason` says why, without quoting the document."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number")


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document; raises `NotJson`."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise NotJson("not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except NotJson:
        raise
    except json.JSONDecodeError as exc:
        raise NotJson(f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except ValueError:   # int(): more digits than sys.get_int_max_str_digits() allows
        raise NotJson("a number has too many digits") from None


__all__ = ["NotJson", "loads"]

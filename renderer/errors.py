"""Exception tree and exit codes, the same for every entry point (CLI, HTTP, batch).

In: nothing. Out: the exception classes every stage raises.

    ChohyoError                  exit 1  internal failure, nothing delivered
    ├── OutputError              exit 1  an output file cannot be written (disk full, read-only…): path and reason
    ├── UsageError               exit 2  bad command-line usage (unknown layout, mismatched layout id, files)
    ├── LayoutError              exit 2  a layout or tenant file is invalid (carries Diagnostics)
    ├── InputError               exit 2  the envelope or its data is invalid (carries Diagnostics)
    │   ├── GlyphError                   a character no font in the style's chain can print
    │   └── TextOverflowError            text does not fit and the field's overflow policy says `error`
    └── RefusedError             exit 3  refused by a rule of the standard (carries the rule name)

Exit code 4 (a batch finished with some records failed) is not an exception: batch runs return it.
Messages carry field paths, rule names and counts, never the values of personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from renderer.diagnostics import Diagnostic

PROBLEM_BASE = "urn:chohyo:problem:"


class ChohyoError(Exception):
    """Base class: an error that the CLI and the service turn into an exit code / problem object."""

    exit_code: ClassVar[int] = 1
    problem: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal failure; nothing was delivered"

    def __init__(
        self,
        message: str,
        *,
        diagnostics: Sequence[Diagnostic] = (),
        rule: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = tuple(diagnostics)
        self.rule = rule
        self.field = field

    def problem_object(self) -> dict[str, Any]:
        """RFC 9457 problem details (plus `exit_code`, `rule`, `field` and `errors` extensions)."""
        obj: dict[str, Any] = {
            "type": PROBLEM_BASE + self.problem,
            "title": self.title,
            "detail": self.message,
            "exit_code": self.exit_code,
        }
        if self.rule:
            obj["rule"] = self.rule
        if self.field:
            obj["field"] = self.field
        if self.diagnostics:
            obj["errors"] = [d.as_dict() for d in self.diagnostics]
        return obj

    def __str__(self) -> str:
        if not self.diagnostics:
            return self.message
        lines = [self.message]
        lines.extend("  " + d.format() for d in self.diagnostics)
        return "\n".join(lines)


class UsageError(ChohyoError):
    exit_code = 2
    problem = "invalid-usage"
    title = "Invalid usage"


class LayoutError(ChohyoError):
    exit_code = 2
    problem = "invalid-layout"
    title = "Invalid layout or tenant file"


class InputError(ChohyoError):
    exit_code = 2
    problem = "invalid-input"
    title = "Invalid input"


class GlyphError(InputError):
    problem = "glyph-not-covered"
    title = "A character cannot be printed with the layout's fonts"


class TextOverflowError(InputError):
    problem = "text-overflow"
    title = "Text does not fit and the field's overflow policy is `error`"


class RefusedError(ChohyoError):
    exit_code = 3
    problem = "refused"
    title = "Refused by a rule of the standard"


class OutputError(ChohyoError):
    """A file we deliver cannot be written — the disk is full, the file system read-only, no permission. Exit 1:
    a resource to fix where the file goes, not bad input. The message names the path and the system's reason
    (`cannot_write`), never the data."""

    problem = "output-not-written"
    title = "An output file could not be written; nothing was delivered"

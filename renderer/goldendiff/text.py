"""Text side of the diff: per-page text of a PDF (pypdf) and line diffs with the changed characters marked.

In: PDF bytes, or two texts (a page's extracted text, or a case's ``display.txt``). Out: `page_texts` (one
string per page), `diff_lines` (rows of a side-by-side line diff with context, each changed line split into
equal/deleted/inserted segments) and `summaries` (short 「old → new」 snippets such as
「昭和59年4月2日 → 昭和59年4月3日」) so a reviewer reads a change as text, not only as pixels.
"""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass
from typing import Literal

from pypdf import PdfReader

RowKind = Literal["equal", "delete", "insert", "replace", "skip"]
SegKind = Literal["equal", "delete", "insert"]

CONTEXT_LINES = 1
MAX_ROWS = 200
SNIPPET_CONTEXT = 10
MAX_SUMMARIES = 20


@dataclass(frozen=True)
class Segment:
    kind: SegKind
    text: str


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side diff. Line numbers are 1-based; None where the side has no line."""

    kind: RowKind
    old_no: int | None = None
    new_no: int | None = None
    old: tuple[Segment, ...] = ()
    new: tuple[Segment, ...] = ()
    skipped: int = 0            # for kind "skip": how many unchanged lines are not shown


@dataclass(frozen=True)
class LineDiff:
    rows: tuple[Row, ...]
    truncated: int              # rows left off after MAX_ROWS
    summaries: tuple[str, ...]  # 「old → new」 snippets of the replaced lines

    @property
    def changed(self) -> bool:
        return any(r.kind not in ("equal", "skip") for r in self.rows) or self.truncated > 0


def page_texts(pdf: bytes) -> list[str]:
    """The text of every page as pypdf extracts it (ReportLab's Japanese text comes out correctly)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [page.extract_text() or "" for page in reader.pages]


def _segments(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    left: list[Segment] = []
    right: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            left.append(Segment("equal", old[i1:i2]))
            right.append(Segment("equal", new[j1:j2]))
            continue
        if i2 > i1:
            left.append(Segment("delete", old[i1:i2]))
        if j2 > j1:
            right.append(Segment("insert", new[j1:j2]))
    return tuple(left), tuple(right)


def snippet(old: str, new: str, context: int = SNIPPET_CONTEXT) -> str:
    """「…old part → new part…」: the span between the common prefix and suffix, with some context."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(old), len(new)) - prefix
           and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]):
        suffix += 1
    start = max(0, prefix - context)
    old_end = min(len(old), len(old) - suffix + context)
    new_end = min(len(new), len(new) - suffix + context)
    lead = "…" if start > 0 else ""
    old_tail = "…" if old_end < len(old) else ""
    new_tail = "…" if new_end < len(new) else ""
    return f"{lead}{old[start:old_end]}{old_tail} → {lead}{new[start:new_end]}{new_tail}"


def diff_lines(old_text: str, new_text: str, context: int = CONTEXT_LINES, max_rows: int = MAX_ROWS) -> LineDiff:
    """Line diff of two texts with `context` unchanged lines around each change; replaced lines are paired.

    Unchanged stretches that are not shown become one "skip" row saying how many lines it hides.
    """
    old = old_text.splitlines()
    new = new_text.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    rows: list[Row] = []
    summaries: list[str] = []
    shown_old = 0                      # old lines up to here are shown or skipped
    for group in matcher.get_grouped_opcodes(context):
        if group[0][1] > shown_old:
            rows.append(Row("skip", skipped=group[0][1] - shown_old))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for k in range(i2 - i1):
                    seg = (Segment("equal", old[i1 + k]),)
                    rows.append(Row("equal", i1 + k + 1, j1 + k + 1, seg, seg))
            elif tag == "delete":
                rows.extend(Row("delete", i + 1, None, (Segment("delete", old[i]),)) for i in range(i1, i2))
            elif tag == "insert":
                rows.extend(Row("insert", None, j + 1, (), (Segment("insert", new[j]),)) for j in range(j1, j2))
            else:
                pairs = min(i2 - i1, j2 - j1)
                for k in range(pairs):
                    left, right = _segments(old[i1 + k], new[j1 + k])
                    rows.append(Row("replace", i1 + k + 1, j1 + k + 1, left, right))
                    if len(summaries) < MAX_SUMMARIES:
                        summaries.append(snippet(old[i1 + k], new[j1 + k]))
                rows.extend(Row("delete", i + 1, None, (Segment("delete", old[i]),))
                            for i in range(i1 + pairs, i2))
                rows.extend(Row("insert", None, j + 1, (), (Segment("insert", new[j]),))
                            for j in range(j1 + pairs, j2))
            shown_old = i2
    if rows and len(old) > shown_old:
        rows.append(Row("skip", skipped=len(old) - shown_old))
    truncated = max(0, len(rows) - max_rows)
    return LineDiff(rows=tuple(rows[:max_rows]), truncated=truncated, summaries=tuple(summaries))

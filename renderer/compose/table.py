"""Lists (一覧表): paginate rows like Japanese business forms, then compose one page at a time.

In: a `TableElement`, the (rule-checked) rows, the fonts. Out, in two passes:
1. `plan_table()` — a pure pagination pass that measures row heights (only columns that may wrap are
   measured) and decides where every page starts and ends: a header repeated on every page, a page break
   on a group key change with page numbers per group (n/N), group headers and footers, 「以下余白」 after
   the last row of a group, 「前頁より繰越」 at the top of every page after the first, and the reserved
   footer band (頁計, 累計, 「次頁へ繰越」, and the grand total with the count on the last page). A row never
   splits across pages unless it is taller than a page; then it splits by lines and the split is reported.
   The plan holds row indexes and per-page sums only, never text or drawing operations.
2. `TablePageComposer.ops(page)` — the drawing operations of one page, built when that page is drawn,
   so memory does not grow with the number of pages.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from renderer.compose.text import Box, Line, TextFitter
from renderer.display import Op, Rect
from renderer.errors import InputError, LayoutError
from renderer.spec.model import Column, Style, TableElement
from renderer.units import mm

VPAD_MM = 0.6


@dataclass(frozen=True)
class Group:
    value: str
    start: int          # first row index (in sorted order)
    end: int            # one past the last row
    sums: dict[str, int]


@dataclass
class TablePage:
    """One page of a list: which rows (and lines of a split row) it shows, and what surrounds them."""

    group: int                       # index of the group the page starts in (0 when there are no groups)
    start: tuple[int, int]           # (row, first line) — line > 0 means a split row continues here
    end: tuple[int, int]             # (row, line) exclusive
    carry_forward: bool
    group_header: bool               # the group's header (or its 「続き」 line) opens the page
    group_footers: list[int] = field(default_factory=list)   # groups whose footer is on this page
    end_marks: int = 0               # 「以下余白」 lines on this page (after the last row of a group)
    sums: dict[str, int] = field(default_factory=dict)       # 頁計 per summed column
    group_page: int = 1
    group_pages: int = 1


@dataclass
class TablePlan:
    rows: list[Any]
    groups: list[Group]
    pages: list[TablePage]
    heights: array[float] | None          # row heights in mm when some column wraps, else None
    lines: array[int] | None              # lines per row when some column wraps
    splits: list[int]                     # rows that had to split across pages
    totals: dict[str, int]

    @property
    def count(self) -> int:
        return len(self.rows)


ValueOf = Callable[[Any, str], Any]
TextOf = Callable[[Column, Any], str]


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


def plan_table(el: TableElement, rows: list[Any], *, styles: Mapping[str, Style], fitter: TextFitter,
               value_of: ValueOf, text_of: TextOf, group_label: Callable[[Any], str]) -> TablePlan:
    """Pass 1: sort, group and paginate (see the module docstring)."""
    for key in reversed(el.sort):
        by = key.by

        def sort_value(r: Any, by: str = by) -> tuple[int, Any]:
            return _sort_key(value_of(r, by))

        rows = sorted(rows, key=sort_value, reverse=key.descending)
    if el.group is not None:
        group_key = el.group.key
        rows = sorted(rows, key=lambda r: _sort_key(group_label(value_of(r, group_key))))  # stable
    summed = [c for c in el.columns if c.sum]
    groups: list[Group] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if el.group is None:
            if i == len(rows):
                groups.append(Group("", 0, len(rows), {}))
            continue
        if i == len(rows) or group_label(value_of(rows[i], el.group.key)) != group_label(
                value_of(rows[start], el.group.key)):
            groups.append(Group(group_label(value_of(rows[start], el.group.key)), start, i, {}))
            start = i
    if not groups:
        groups.append(Group("", 0, 0, {}))

    row_h = el.row_height
    wraps = [c for c in el.columns if "wrap" in (c.overflow or el.overflow)]
    heights: array[float] | None = None
    lines: array[int] | None = None
    pitch_mm = 0.0
    if wraps:
        heights, lines = array("d"), array("i")
        body = styles[el.body_style]
        pitch_mm = body.size_pt * body.line_height * 25.4 / 72
        for r in rows:
            n = 1
            for c in wraps:
                style = styles[c.style or el.body_style]
                text = text_of(c, r)
                if text:
                    n = max(n, len(fitter.wrap(text, mm(c.width - 2), style, field=c.key)))
            lines.append(n)
            heights.append(max(row_h, n * pitch_mm + 2 * VPAD_MM))

    totals = el.totals
    footer_rows = 0
    if totals is not None:
        normal = sum(1 for t in (totals.page, totals.running, totals.carry_over) if t)
        last = sum(1 for t in (totals.page, totals.running) if t) + (1 if totals.grand else 0)
        footer_rows = max(normal, last)
    body_height = el.height - el.header_height - footer_rows * row_h
    if body_height < 2 * row_h:
        raise LayoutError(f"table height {el.height} mm leaves room for fewer than two rows", field="height")
    carry = totals is not None and totals.carry_forward is not None

    pages: list[TablePage] = []
    splits: list[int] = []
    used = 0.0
    page: TablePage | None = None

    def new_page(group: int, at: tuple[int, int], header: bool) -> TablePage:
        nonlocal used
        p = TablePage(group=group, start=at, end=at, carry_forward=carry and bool(pages), group_header=header,
                      sums={c.key: 0 for c in summed})
        used = (row_h if p.carry_forward else 0.0) + (row_h if header else 0.0)
        pages.append(p)
        return p

    has_group_header = el.group is not None and el.group.header is not None
    has_group_footer = el.group is not None and el.group.footer is not None
    for gi, group in enumerate(groups):
        if page is None or (el.group is not None and el.group.page_break and gi > 0):
            page = new_page(gi, (group.start, 0), has_group_header)
        elif has_group_header:
            if used + row_h > body_height + 1e-9:
                page = new_page(gi, (group.start, 0), True)
            else:
                used += row_h
        for ri in range(group.start, group.end):
            h = heights[ri] if heights is not None else row_h
            if used + h > body_height + 1e-9 and page.start != (ri, 0):
                page.end = (ri, 0)
                page = new_page(gi, (ri, 0), has_group_header)
            if h > body_height - used + 1e-9:       # taller than a whole page: split by lines
                assert lines is not None
                splits.append(ri)
                first = 0
                while first < lines[ri]:
                    room = int((body_height - used - 2 * VPAD_MM + 1e-9) // pitch_mm)
                    if room < 1:
                        page.end = (ri, first)
                        page = new_page(gi, (ri, first), has_group_header)
                        continue
                    take = min(room, lines[ri] - first)
                    used += take * pitch_mm + 2 * VPAD_MM
                    first += take
                    if first < lines[ri]:
                        page.end = (ri, first)
                        page = new_page(gi, (ri, first), has_group_header)
            else:
                used += h
            for c in summed:
                value = value_of(rows[ri], c.value)
                page.sums[c.key] += value if isinstance(value, int) else 0
            page.end = (ri + 1, 0)
        sums = {c.key: sum(_int(value_of(rows[i], c.value)) for i in range(group.start, group.end))
                for c in summed}
        groups[gi] = Group(group.value, group.start, group.end, sums)
        if has_group_footer:
            if used + row_h > body_height + 1e-9:
                page.end = (group.end, 0)
                page = new_page(gi, (group.end, 0), False)
            used += row_h
            page.group_footers.append(gi)
        if el.end_mark and used + row_h <= body_height + 1e-9:
            used += row_h
            page.end_marks += 1
    # n/N per group (a page belongs to the group it starts in)
    per_group: dict[int, list[TablePage]] = {}
    for p in pages:
        per_group.setdefault(p.group, []).append(p)
    for group_pages in per_group.values():
        for n, p in enumerate(group_pages, start=1):
            p.group_page, p.group_pages = n, len(group_pages)
    grand = {c.key: sum(g.sums.get(c.key, 0) for g in groups) for c in summed}
    return TablePlan(rows=rows, groups=groups, pages=pages, heights=heights, lines=lines, splits=splits,
                     totals=grand)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class TablePageComposer:
    """Pass 2: the drawing operations of one planned page."""

    def __init__(self, el: TableElement, plan: TablePlan, *, styles: Mapping[str, Style], fitter: TextFitter,
                 origin_mm: tuple[float, float], page_h_pt: float, value_of: ValueOf, text_of: TextOf,
                 render: Callable[[str, Mapping[str, Any], str], str], report: Callable[[dict[str, object]], None],
                 path: str) -> None:
        self.el, self.plan, self.styles, self.fitter = el, plan, styles, fitter
        self.x0, self.y0 = origin_mm[0] + el.at[0], origin_mm[1] + el.at[1]
        self.page_h = page_h_pt
        self.value_of, self.text_of, self.render, self.report = value_of, text_of, render, report
        self.path = path
        self.edges = [self.x0]
        for c in el.columns:
            self.edges.append(self.edges[-1] + c.width)
        self.running: dict[str, int] = {c.key: 0 for c in el.columns if c.sum}

    def y(self, y_mm: float) -> float:
        return self.page_h - mm(y_mm)

    def ops(self, index: int, ctx: Mapping[str, Any]) -> list[Op]:
        el, plan = self.el, self.plan
        self._spans: list[tuple[float, float, int]] = []   # (top, bottom, columns spanned) of band rows
        page = plan.pages[index]
        out: list[Op] = []
        top = self.y0
        width = self.edges[-1] - self.x0
        # header (repeated on every page)
        out.append(Rect(mm(self.x0), self.y(top + el.header_height), mm(width), mm(el.header_height),
                        el.rule_pt or None, el.header_fill_gray))
        for i, c in enumerate(el.columns):
            self._cell(out, c.header, i, i + 1, top, el.header_height, el.header_style, "center",
                       f"{self.path}.columns[{i}].header", el.overflow)
        y = top + el.header_height
        carried = dict(self.running)
        totals = el.totals
        if page.carry_forward and totals is not None and totals.carry_forward:
            y = self._sum_row(out, y, totals.carry_forward, carried)
        group = plan.groups[page.group]
        if page.group_header and el.group is not None and el.group.header is not None:
            text = self.render(el.group.header, {**ctx, "group": self._group_ctx(group, page.group_page > 1)},
                               f"{self.path}.group.header")
            y = self._band(out, y, text, el.row_height)
        previous: Any = None
        zebra = 0
        row, line = page.start
        end_row, end_line = page.end
        while (row, line) < (end_row, end_line) and row < len(plan.rows):
            # group boundaries inside the page (only when groups do not force page breaks)
            gi = self._group_of(row)
            if row == plan.groups[gi].start and line == 0 and (row, line) != page.start:
                g = plan.groups[gi]
                if el.group is not None and el.group.header is not None:
                    text = self.render(el.group.header, {**ctx, "group": self._group_ctx(g, False)},
                                       f"{self.path}.group.header")
                    y = self._band(out, y, text, el.row_height)
                previous = None
            last_line = end_line if row == end_row else None
            y, previous = self._row(out, y, row, line, last_line, previous, zebra, ctx)
            zebra += 1
            for c in el.columns:
                if c.sum and line == 0:
                    self.running[c.key] += _int(self.value_of(plan.rows[row], c.value))
            if (row + 1) == plan.groups[gi].end and (last_line is None):
                y = self._close_group(out, y, gi, page, ctx)
            row, line = row + 1, 0
        if page.start[0] == page.end[0] and page.group_footers:       # a footer pushed onto its own page
            for gi in page.group_footers:
                y = self._close_group(out, y, gi, page, ctx, footer_only=True)
        # footer band at the bottom of the table
        if totals is not None:
            fy = self.y0 + el.height
            bands: list[tuple[str, dict[str, int], str | None]] = []
            last = index == len(plan.pages) - 1
            if totals.page:
                bands.append((totals.page, page.sums, None))
            if totals.running:
                bands.append((totals.running, dict(self.running), None))
            if not last and totals.carry_over:
                bands.append((totals.carry_over, dict(self.running), None))
            if last and totals.grand:
                bands.append((totals.grand, plan.totals, f"{totals.count_label} {plan.count:,}"))
            fy -= el.row_height * len(bands)
            for label, sums, extra in bands:
                fy = self._sum_row(out, fy, label, sums, extra)
        # column rules over the whole table, interrupted where a band's label spans the columns
        bottom = self.y0 + el.height
        for i, x in enumerate(self.edges[1:-1], start=1):
            start = self.y0
            for y0, y1, span in sorted(self._spans):
                if i < span:
                    if y0 > start:
                        out.append(Rect(mm(x), self.y(y0), 0.0, mm(y0 - start), el.rule_pt or None, None))
                    start = max(start, y1)
            if bottom > start:
                out.append(Rect(mm(x), self.y(bottom), 0.0, mm(bottom - start), el.rule_pt or None, None))
        if el.frame_pt:
            out.append(Rect(mm(self.x0), self.y(bottom), mm(width), mm(el.height), el.frame_pt, None))
        return out

    # ------------------------------------------------------------------ pieces

    def _group_of(self, row: int) -> int:
        groups = self.plan.groups
        lo, hi = 0, len(groups) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if groups[mid].start <= row:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _group_ctx(self, g: Group, continued: bool) -> dict[str, Any]:
        return {"value": g.value, "count": g.end - g.start, "sums": dict(g.sums), "continued": continued}

    def _close_group(self, out: list[Op], y: float, gi: int, page: TablePage, ctx: Mapping[str, Any],
                     footer_only: bool = False) -> float:
        el = self.el
        g = self.plan.groups[gi]
        if el.group is not None and el.group.footer is not None and gi in page.group_footers:
            text = self.render(el.group.footer, {**ctx, "group": self._group_ctx(g, False)},
                               f"{self.path}.group.footer")
            sums = {k: v for k, v in g.sums.items()}
            y = self._sum_row(out, y, text, sums)
        if not footer_only and el.end_mark and page.end_marks > 0:
            page.end_marks -= 1
            y = self._band(out, y, el.end_mark, el.row_height, rule=False)
        return y

    def _row(self, out: list[Op], y: float, row: int, first_line: int, end_line: int | None,
             previous: Any, zebra: int, ctx: Mapping[str, Any]) -> tuple[float, Any]:
        el, plan = self.el, self.plan
        data = plan.rows[row]
        pitch = self.styles[el.body_style].size_pt * self.styles[el.body_style].line_height * 25.4 / 72
        if plan.heights is not None and plan.lines is not None:
            total = plan.lines[row]
            last = total if end_line is None else end_line
            if first_line == 0 and last == total:
                h = plan.heights[row]
            else:
                h = (last - first_line) * pitch + 2 * VPAD_MM
                self.report({"field": f"{el.items}[{row}]", "step": "row_split", "lines": last - first_line,
                             "chars_lost": 0, "element": self.path})
        else:
            first_line, last, h = 0, 1, el.row_height
        width = self.edges[-1] - self.x0
        if el.zebra_gray is not None and zebra % 2 == 1:
            out.append(Rect(mm(self.x0), self.y(y + h), mm(width), mm(h), None, el.zebra_gray))
        out.append(Rect(mm(self.x0), self.y(y + h), mm(width), 0.0, el.rule_pt or None, None))
        values: list[str] = []
        for i, c in enumerate(el.columns):
            text = self.text_of(c, data)
            values.append(text)
            if c.suppress_repeats and previous is not None and previous[i] == text and first_line == 0:
                continue
            if first_line or (plan.lines is not None and last != plan.lines[row]):
                self._lines(out, text, i, y, h, c, first_line, last)
            else:
                self._cell(out, text, i, i + 1, y, h, c.style or el.body_style, c.align,
                           f"{el.items}[{row}].{c.value.removeprefix('row.')}", c.overflow or el.overflow,
                           record=row)
        return y + h, values

    def _lines(self, out: list[Op], text: str, col: int, y: float, h: float, c: Column, first: int,
               last: int) -> None:
        style = self.styles[c.style or self.el.body_style]
        lines: list[Line] = self.fitter.wrap(text, mm(c.width - 2), style, field=c.key)[first:last]
        box = Box(mm(self.edges[col] + 1), self.y(y + VPAD_MM), mm(c.width - 2), mm(h - 2 * VPAD_MM))
        out.extend(self.fitter.draw_lines(lines, box, style, align=c.align))

    def _cell(self, out: list[Op], text: str, c0: int, c1: int, y: float, h: float, style_name: str,
              align: str, field: str, overflow: Any, record: int | None = None) -> None:
        if not text:
            return
        style = self.styles[style_name]
        x0, x1 = self.edges[c0], self.edges[c1]
        box = Box(mm(x0 + 1), self.y(y + VPAD_MM), mm(x1 - x0 - 2), mm(h - 2 * VPAD_MM))
        runs, entry = self.fitter.fit(text, box, style, align=align, valign="middle",  # type: ignore[arg-type]
                                      overflow=overflow, field=field)
        out.extend(runs)
        if entry is not None:
            record_dict: dict[str, object] = entry.as_dict()
            record_dict["element"] = self.path
            if record is not None:
                record_dict["record"] = record + 1
                pid = getattr(self.plan.rows[record], "person_id", None)
                if pid is not None:
                    record_dict["person_id"] = pid
            self.report(record_dict)

    def _band(self, out: list[Op], y: float, text: str, h: float, *, rule: bool = True) -> float:
        width = self.edges[-1] - self.x0
        if rule:
            out.append(Rect(mm(self.x0), self.y(y + h), mm(width), 0.0, self.el.rule_pt or None, None))
        # bands span the table: draw the text in the first columns' width, left aligned
        self._cell(out, text, 0, len(self.el.columns), y, h, self.el.total_style, "left",
                   f"{self.path}.band", self.el.overflow)
        self._spans.append((y, y + h, len(self.el.columns)))
        return y + h

    def _sum_row(self, out: list[Op], y: float, label: str, sums: Mapping[str, int],
                 extra: str | None = None) -> float:
        el = self.el
        h = el.row_height
        width = self.edges[-1] - self.x0
        out.append(Rect(mm(self.x0), self.y(y + h), mm(width), mm(h), el.rule_pt or None, 0.96))
        first_sum = next((i for i, c in enumerate(el.columns) if c.sum), len(el.columns))
        label_text = f"{label}　{extra}" if extra else label
        self._cell(out, label_text, 0, max(first_sum, 1), y, h, el.total_style, "left", f"{self.path}.totals",
                   el.overflow)
        self._spans.append((y, y + h, max(first_sum, 1)))
        for i, c in enumerate(el.columns):
            if c.sum:
                text = self.text_of(c, _Sum(c.value, sums.get(c.key, 0)))
                self._cell(out, text, i, i + 1, y, h, el.total_style, c.align, f"{self.path}.totals", el.overflow)
        return y + h


class _Sum:
    """A stand-in row whose summed column holds a total, so the column's formatter prints it."""

    def __init__(self, path: str, value: int) -> None:
        self._name = path.split(".", 1)[1] if "." in path else path
        self._value = value

    def __getattr__(self, name: str) -> Any:
        if name == self._name:
            return self._value
        raise AttributeError(name)


def check_rows(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{path} is not a list", field=path)
    return value

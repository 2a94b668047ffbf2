"""Lists (一覧表): paginate rows like Japanese business forms, then compose one page at a time.

In: a `TableElement`, the (rule-checked) rows — a list, or a streamed list's rows read on demand
(`LazyRows`, `renderer.rows`) — and the fonts. Out, in two passes:
1. `plan_table()` — a pure pagination pass: one pass over the rows in input order gathers what planning
   needs of each row (`row_facts`: sort values, group label, lines of the tallest wrapping cell, summed
   values; never the row itself), then four steps work on those figures alone: sort (`sort_order`: row
   indexes), group, measure (only columns that may wrap were measured), and paginate: decide where every page starts
   and ends, with a header repeated on every page, a page break on a group key change with page numbers
   per group (n/N), group headers and footers, 「以下余白」 after the last row of a group, 「前頁より繰越」 at
   the top of every page after the first, and the reserved footer band (頁計, 累計, 「次頁へ繰越」, and the
   grand total with the count on the last page). A row never splits across pages unless it is taller than
   a page; then it splits by lines and the split is reported. The plan holds row indexes and per-page sums
   only, never text or drawing operations, and it is immutable: every copy of a document reads the same
   plan. Its `rows` are the rows in printing order: for a streamed list a view that reads each row when its
   page is drawn, so no more than a page of row models is ever held (the plan keeps 20 bytes per row —
   order, lines, height — and 8 more per summed column). The sums (頁計, 累計, group and grand totals) come from
   the per-row `values` the pass gathered, the same figures whichever way the rows arrived.
   The room for rows is a whole number of one-line rows (`table_bodies`): the table is drawn that much
   shorter than its declared height rather than leave a strip narrower than a row above the footer band,
   which reads as an empty row. A page that is not the last reserves the bands it prints (頁計, 累計,
   「次頁へ繰越」); the last page reserves its own (頁計, 累計, 合計), so a list whose last page prints fewer
   bands (or none) never leaves empty band rows on the other pages.
2. `TablePageComposer.ops(page)` — the drawing operations of one page, built when that page is drawn,
   so memory does not grow with the number of pages. One page composer draws one copy: it keeps that
   copy's running totals, and counts off each page's 「以下余白」 lines as it draws them. 同一値の省略
   (`suppress_repeats`) prints 「〃」 in place of a value equal to the one in the row above on the same
   page (`REPEAT_MARK`); the first row of every page and of every group prints the value in full, so no
   cell is ever blank for a value that exists. On a page the list continues from, where taller (wrapped)
   rows left a strip narrower than the next row, the page's last row is drawn down to the footer band.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from renderer.compose.text import Box, Line, TextFitter
from renderer.diagnostics import Diagnostic
from renderer.display import Op, Rect
from renderer.errors import InputError, LayoutError
from renderer.spec.model import Column, Style, TableElement
from renderer.units import CELL_HPAD_MM, CELL_VPAD_MM, cell_lines_height_mm, line_pitch_mm, mm

#: a height compared with the room left on a page is allowed this much over (floating point)
_EPS = 1e-9
#: printed in place of a value equal to the one in the row above on the same page (同上, 同一値の省略)
REPEAT_MARK = "〃"


@dataclass(frozen=True)
class Group:
    value: str
    start: int          # first row index (in sorted order)
    end: int            # one past the last row
    sums: Mapping[str, int]


@dataclass(frozen=True)
class TablePage:
    """One page of a list: which rows (and lines of a split row) it shows, and what surrounds them."""

    group: int                       # index of the group the page starts in (0 when there are no groups)
    start: tuple[int, int]           # (row, first line) — line > 0 means a split row continues here
    end: tuple[int, int]             # (row, line) exclusive
    carry_forward: bool
    group_header: bool               # the group's header (or its 「続き」 line) opens the page
    group_footers: Sequence[int] = ()   # groups whose footer is on this page
    end_marks: int = 0               # 「以下余白」 lines on this page (after the last row of a group)
    sums: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))   # 頁計 per summed column
    group_page: int = 1
    group_pages: int = 1


@dataclass(frozen=True)
class TablePlan:
    rows: Sequence[Any]                   # in printing order: a list, or a lazy view of streamed rows
    groups: tuple[Group, ...]
    pages: tuple[TablePage, ...]
    heights: array[float] | None          # row heights in mm when some column wraps, else None (read only)
    lines: array[int] | None              # lines per row when some column wraps (read only)
    splits: Sequence[int]                 # rows that had to split across pages
    totals: Mapping[str, int]
    #: summed column key → each row's value (printing order; 0 where the value is not a whole number)
    values: Mapping[str, array[int]] = field(default_factory=lambda: MappingProxyType({}))
    #: each printed row's index in the input (printing order), so what is said of a row names the row given
    order: Sequence[int] = ()
    #: where an input row came from, for a streamed list (`LazyRows.line_of`); None: rows given inline
    source: Callable[[int], tuple[str, int]] | None = None

    def input_index(self, row: int) -> int:
        """The input's index of the row printed at `row`."""
        return self.order[row] if row < len(self.order) else row

    @property
    def count(self) -> int:
        return len(self.rows)


@runtime_checkable
class LazyRows(Protocol):
    """Rows that are read when asked for (a streamed list: `renderer.rows.StreamedRows`): iterated once in
    input order by the planning pass, then viewed in printing order without being held."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __getitem__(self, index: int) -> Any: ...

    def reordered(self, order: Sequence[int]) -> Sequence[Any]: ...

    def cached_plan(self, key: object) -> TablePlan | None: ...

    def line_of(self, index: int) -> tuple[str, int]: ...   # (file name, line) of input row `index`

    def keep_plan(self, key: object, plan: TablePlan) -> None: ...


ValueOf = Callable[[Any, str], Any]
TextOf = Callable[[Column, Any], str]
GroupLabel = Callable[[Any], str]


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def plan_table(el: TableElement, rows: Sequence[Any] | LazyRows, *, styles: Mapping[str, Style], fitter: TextFitter,
               value_of: ValueOf, text_of: TextOf, group_label: GroupLabel) -> TablePlan:
    """Pass 1: facts → sort → group → measure → paginate (see the module docstring). Streamed rows
    (`LazyRows`) are read once here, in input order, and the plan views them in printing order; the plan of
    a streamed list is kept with its rows, so a second composer of the same document does not read them
    again."""
    lazy = rows if isinstance(rows, LazyRows) else None
    if lazy is not None:
        cached = lazy.cached_plan(el)
        if cached is not None:
            return cached
    facts = row_facts(el, rows, styles, fitter, value_of, text_of, group_label,
                      source=lazy.line_of if lazy is not None else None)
    order = array("q", sort_order(el, facts))   # shared with a streamed list's view: one copy
    printed: Sequence[Any] = lazy.reordered(order) if lazy is not None else [rows[i] for i in order]
    summed = [c for c in el.columns if c.sum]
    values = {c.key: array("q", (facts.values[c.key][i] for i in order)) for c in summed}
    labels = [facts.labels[i] for i in order] if facts.labels is not None else None
    groups = group_bounds(el, len(order), labels, values)
    measure = facts.measure(el, styles, order)
    paginator = Paginator(el, len(order), measure, values, table_bodies(el))
    for gi, group in enumerate(groups):
        paginator.add_group(gi, group)
    grand = {c.key: sum(g.sums.get(c.key, 0) for g in groups) for c in summed}
    plan = TablePlan(rows=printed, groups=tuple(groups), pages=paginator.finish(), heights=measure.heights,
                     lines=measure.lines, splits=paginator.splits, totals=MappingProxyType(grand),
                     values=MappingProxyType(values), order=order,
                     source=lazy.line_of if lazy is not None else None)
    if lazy is not None:
        lazy.keep_plan(el, plan)
    return plan


# ------------------------------------------------------------------ step 0: what each row brings


@dataclass
class RowFacts:
    """What planning needs of each row, in input order, gathered in one pass: the sort values (one list per
    declared key), the group label, the lines of the tallest wrapping cell and the summed values. The row
    models themselves are not kept."""

    count: int
    keys: list[list[Any]]
    labels: list[str] | None
    lines: array[int] | None
    values: dict[str, array[int]]

    def measure(self, el: TableElement, styles: Mapping[str, Style], order: Sequence[int]) -> Measure:
        if self.lines is None:
            return Measure(None, None, 0.0)
        body = styles[el.body_style]
        lines = array("i", (self.lines[i] for i in order))
        heights = array("d", (max(el.row_height, cell_lines_height_mm(body, n)) for n in lines))
        return Measure(heights, lines, line_pitch_mm(body))


def row_facts(el: TableElement, rows: Iterable[Any], styles: Mapping[str, Style], fitter: TextFitter,
              value_of: ValueOf, text_of: TextOf, group_label: GroupLabel,
              source: Callable[[int], tuple[str, int]] | None = None) -> RowFacts:
    """One pass over the rows in input order (a streamed list's file is read once, row by row). A row's
    text that cannot be measured is an error naming the row's input index (and its line: `source`)."""
    keys: list[list[Any]] = [[] for _ in el.sort]
    labels: list[str] | None = [] if el.group is not None else None
    wraps = [c for c in el.columns if "wrap" in (c.overflow or el.overflow)]
    lines: array[int] | None = array("i") if wraps else None
    summed = [c for c in el.columns if c.sum]
    values: dict[str, array[int]] = {c.key: array("q") for c in summed}
    label_of: dict[str, str] = {}   # one string object per distinct label (a ward repeats on every row)
    count = 0
    for r in rows:
        index = count
        count += 1
        for j, key in enumerate(el.sort):
            keys[j].append(value_of(r, key.by))
        if labels is not None and el.group is not None:
            label = group_label(value_of(r, el.group.key))
            labels.append(label_of.setdefault(label, label))
        if lines is not None:
            n = 1
            for c in wraps:
                style = styles[c.style or el.body_style]
                try:
                    text = text_of(c, r)
                    if text:
                        n = max(n, len(fitter.wrap(text, mm(c.width - 2 * CELL_HPAD_MM), style,
                                                   field=cell_path(el, index, c))))
                except InputError as exc:
                    raise row_error(exc, el.items, index, source) from None
            lines.append(n)
        for c in summed:
            values[c.key].append(_int(value_of(r, c.value)))
    return RowFacts(count, keys, labels, lines, values)


def cell_path(el: TableElement, index: int, column: Column) -> str:
    """The input path of a row's cell: ``data.rows[24].account`` for input row 24 (not its printed place)."""
    return f"{el.items}[{index}].{column.value.removeprefix('row.')}"


def row_error(exc: InputError, items: str, index: int, source: Callable[[int], tuple[str, int]] | None) -> InputError:
    """`exc`, raised while measuring or drawing input row `index` of the list `items`, naming that row: a
    field a formatter named by its column (``row.decided_on``) becomes ``data.rows[24].decided_on``, and a
    streamed row gets its file and line, as the scan names a bad line. Same class, rule and reason."""
    row = f"{items}[{index}]"
    field = exc.field or row
    if field.startswith("row."):
        field = row + field.removeprefix("row")
    message = exc.message
    if exc.field and message.startswith(f"{exc.field}: "):
        message = f"{field}: " + message.removeprefix(f"{exc.field}: ")
    elif not message.startswith(f"{row}"):
        message = f"{row}: {message}"
    diagnostics = list(exc.diagnostics)
    if source is not None:
        name, line = source(index)
        diagnostics.append(Diagnostic(path=field, message=message.removeprefix(f"{field}: "), line=line,
                                      source=name))
        message = f"--rows {name} line {line}: {message}"
    return type(exc)(message, diagnostics=diagnostics, rule=exc.rule, field=field)


# ------------------------------------------------------------------ step 1: sort


def sort_order(el: TableElement, facts: RowFacts) -> list[int]:
    """The printing order (input indexes): by the declared keys (the first key first; rows without a value
    last), then stably by group — the same stable sorts, in the same sequence, whatever the source."""
    order = list(range(facts.count))
    for j in reversed(range(len(el.sort))):
        order.sort(key=_by(facts.keys[j]), reverse=el.sort[j].descending)
    if facts.labels is not None:
        order.sort(key=_by(facts.labels))   # stable
    return order


def _by(values: Sequence[Any]) -> Callable[[int], tuple[int, Any]]:
    """The sort key of a row index: its value in `values` (rows without one last)."""
    return lambda i: _sort_key(values[i])


# ------------------------------------------------------------------ step 2: group


def group_bounds(el: TableElement, count: int, labels: Sequence[str] | None,
                 values: Mapping[str, Sequence[int]]) -> list[Group]:
    """Runs of sorted rows with the same group label (one group of every row when the list has no groups),
    each with its sums of the summed columns. An empty list is one empty group."""
    bounds: list[tuple[str, int, int]] = []
    if labels is None:
        if count:
            bounds.append(("", 0, count))
    else:
        start = 0
        for i in range(1, count + 1):
            if i == count or labels[i] != labels[start]:
                bounds.append((labels[start], start, i))
                start = i
    if not bounds:
        bounds.append(("", 0, 0))
    return [Group(label, start, end, MappingProxyType({key: sum(v[start:end]) for key, v in values.items()}))
            for label, start, end in bounds]


# ------------------------------------------------------------------ step 3: measure


@dataclass(frozen=True)
class Measure:
    """Row heights, when some column wraps (else every row is `row_height` tall)."""

    heights: array[float] | None     # mm per row
    lines: array[int] | None         # lines per row (the most any wrapping column needs)
    pitch_mm: float                  # line pitch of the body style (0 when nothing wraps)

    def height(self, row: int, row_height: float) -> float:
        return self.heights[row] if self.heights is not None else row_height


# ------------------------------------------------------------------ step 4: paginate


@dataclass(frozen=True)
class Bodies:
    """The room for rows (mm) on a page that is not the last and on the last page, and the table's drawn
    height: the header, a whole number of one-line rows and the footer bands, at most the declared height."""

    normal: float
    last: float
    height: float


def band_counts(el: TableElement) -> tuple[int, int]:
    """Footer bands on a page that is not the last (頁計, 累計, 次頁へ繰越) and on the last (頁計, 累計, 合計)."""
    totals = el.totals
    if totals is None:
        return 0, 0
    normal = sum(1 for t in (totals.page, totals.running, totals.carry_over) if t)
    last = sum(1 for t in (totals.page, totals.running) if t) + (1 if totals.grand else 0)
    return normal, last


def table_bodies(el: TableElement) -> Bodies:
    """The room for rows, snapped to whole one-line rows: the part of the declared height that a row could
    not fill is left below the table instead of showing as an empty strip above the footer bands."""
    normal, last = band_counts(el)
    pitch = el.row_height
    reserved = max(normal, last)
    whole_rows = int((el.height - el.header_height - reserved * pitch + _EPS) // pitch)
    if whole_rows < 2:
        raise LayoutError(f"table height {el.height} mm leaves room for fewer than two rows", field="height")
    height = el.header_height + (whole_rows + reserved) * pitch
    return Bodies(normal=(whole_rows + reserved - normal) * pitch, last=(whole_rows + reserved - last) * pitch,
                  height=height)


@dataclass
class _Draft:
    """A page while the paginator fills it; frozen into a `TablePage` when the list is done."""

    group: int
    start: tuple[int, int]
    end: tuple[int, int]
    carry_forward: bool
    group_header: bool
    sums: dict[str, int]
    group_footers: list[int] = field(default_factory=list)
    end_marks: int = 0

    def freeze(self, group_page: int, group_pages: int) -> TablePage:
        return TablePage(group=self.group, start=self.start, end=self.end, carry_forward=self.carry_forward,
                         group_header=self.group_header, group_footers=self.group_footers,
                         end_marks=self.end_marks, sums=MappingProxyType(self.sums), group_page=group_page,
                         group_pages=group_pages)


class Paginator:
    """Step 4, with its state in the open: the pages so far, the page being filled, the height it uses."""

    def __init__(self, el: TableElement, count: int, measure: Measure, values: Mapping[str, Sequence[int]],
                 bodies: Bodies) -> None:
        self.el, self.count, self.measure, self.values = el, count, measure, values
        self.body = bodies.normal        # the room on the page being filled: the last page's once it is the last
        self.body_last = bodies.last
        self.row_h = el.row_height
        self.carry = el.totals is not None and el.totals.carry_forward is not None
        self.has_header = el.group is not None and el.group.header is not None
        self.has_footer = el.group is not None and el.group.footer is not None
        self.summed = [c for c in el.columns if c.sum]
        self.pages: list[_Draft] = []
        self.splits: list[int] = []
        self.used = 0.0

    @property
    def page(self) -> _Draft:
        return self.pages[-1]

    def fits(self, height: float) -> bool:
        return self.used + height <= self.body + _EPS

    def new_page(self, group: int, at: tuple[int, int], header: bool) -> None:
        """End the current page (if any) at `at` and open the next one there."""
        if self.pages:
            self.page.end = at
        page = _Draft(group=group, start=at, end=at, carry_forward=self.carry and bool(self.pages),
                      group_header=header, sums={c.key: 0 for c in self.summed})
        self.used = (self.row_h if page.carry_forward else 0.0) + (self.row_h if header else 0.0)
        self.pages.append(page)

    def add_group(self, gi: int, group: Group) -> None:
        el = self.el
        if group.start == group.end == self.count:   # the list's last group has no rows: its page is the last
            self.body = self.body_last
        if not self.pages or (el.group is not None and el.group.page_break and gi > 0):
            self.new_page(gi, (group.start, 0), self.has_header)
        elif self.has_header:
            if not self.fits(self.row_h):
                self.new_page(gi, (group.start, 0), True)
            else:
                self.used += self.row_h
        for ri in range(group.start, group.end):
            self.add_row(gi, ri)
        if self.has_footer:
            if not self.fits(self.row_h):
                self.new_page(gi, (group.end, 0), False)
            self.used += self.row_h
            self.page.group_footers.append(gi)
        if el.end_mark and self.fits(self.row_h):
            self.used += self.row_h
            self.page.end_marks += 1

    def add_row(self, gi: int, ri: int) -> None:
        if ri == self.count - 1:     # the list's last row, then its footer and end mark: on the last page
            self.body = self.body_last
        h = self.measure.height(ri, self.row_h)
        if not self.fits(h) and self.page.start != (ri, 0):
            self.new_page(gi, (ri, 0), self.has_header)
        if h > self.body - self.used + _EPS:       # taller than a whole page: split by lines
            self.split_row(gi, ri)
        else:
            self.used += h
        for c in self.summed:
            self.page.sums[c.key] += self.values[c.key][ri]
        self.page.end = (ri + 1, 0)

    def split_row(self, gi: int, ri: int) -> None:
        lines, pitch = self.measure.lines, self.measure.pitch_mm
        assert lines is not None
        self.splits.append(ri)
        first = 0
        while first < lines[ri]:
            room = int((self.body - self.used - 2 * CELL_VPAD_MM + _EPS) // pitch)
            if room < 1:
                self.new_page(gi, (ri, first), self.has_header)
                continue
            take = min(room, lines[ri] - first)
            self.used += take * pitch + 2 * CELL_VPAD_MM
            first += take
            if first < lines[ri]:
                self.new_page(gi, (ri, first), self.has_header)

    def finish(self) -> tuple[TablePage, ...]:
        """The pages, frozen, each numbered n/N within the group it starts in."""
        per_group: dict[int, int] = {}
        for p in self.pages:
            per_group[p.group] = per_group.get(p.group, 0) + 1
        seen: dict[int, int] = {}
        out: list[TablePage] = []
        for p in self.pages:
            seen[p.group] = seen.get(p.group, 0) + 1
            out.append(p.freeze(seen[p.group], per_group[p.group]))
        return tuple(out)


@dataclass
class _PageState:
    """What drawing one page of a list changes on the way down: the ops, the current y (mm), the bands
    that interrupt the column rules, and the 「以下余白」 lines of this page still to print (this copy's
    own count: the plan's pages are shared and never change)."""

    page: TablePage
    out: list[Op]
    y: float
    end_marks: int
    spans: list[tuple[float, float, int]] = field(default_factory=list)   # (top, bottom, columns spanned)
    last_row: tuple[float, int, int | None] | None = None   # (top, its rule's op, its zebra fill's op) while
    #                                                          a row is the last thing drawn on the page


class TablePageComposer:
    """Pass 2: the drawing operations of one planned page, for one copy of the document."""

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
        self.width = self.edges[-1] - self.x0
        self.bodies = table_bodies(el)
        self.height = self.bodies.height    # drawn: whole rows between the header and the bands
        self.running: dict[str, int] = {c.key: 0 for c in el.columns if c.sum}   # 累計 of this copy

    def y(self, y_mm: float) -> float:
        return self.page_h - mm(y_mm)

    def ops(self, index: int, ctx: Mapping[str, Any]) -> list[Op]:
        """Header, opening bands, rows with group breaks, footer band, column rules and frame of page `index`."""
        page = self.plan.pages[index]
        st = _PageState(page=page, out=[], y=self.y0, end_marks=page.end_marks)
        last = index == len(self.plan.pages) - 1
        self._header(st)
        self._opening(st, ctx)
        self._body(st, ctx)
        if not last:
            self._close_strip(st)
        self._footer_band(st, last=last)
        self._column_rules(st)
        if self.el.frame_pt:
            st.out.append(Rect(mm(self.x0), self.y(self.y0 + self.height), mm(self.width), mm(self.height),
                               self.el.frame_pt, None))
        return st.out

    # ------------------------------------------------------------------ the parts of a page

    def _header(self, st: _PageState) -> None:
        """The column headings, repeated on every page."""
        el = self.el
        st.out.append(Rect(mm(self.x0), self.y(st.y + el.header_height), mm(self.width), mm(el.header_height),
                           el.rule_pt or None, el.header_fill_gray))
        for i, c in enumerate(el.columns):
            self._cell(st.out, c.header, i, i + 1, st.y, el.header_height, el.header_style, "center",
                       f"{self.path}.columns[{i}].header", el.overflow)
        st.y += el.header_height

    def _opening(self, st: _PageState, ctx: Mapping[str, Any]) -> None:
        """「前頁より繰越」 and the group's header (or its continuation) at the top of the page."""
        totals, page = self.el.totals, st.page
        carried = dict(self.running)
        if page.carry_forward and totals is not None and totals.carry_forward:
            st.y = self._sum_row(st, st.y, totals.carry_forward, carried)
        if page.group_header:
            self._group_header(st, self.plan.groups[page.group], page.group_page > 1, ctx)

    def _body(self, st: _PageState, ctx: Mapping[str, Any]) -> None:
        """The page's rows (or lines of a split row), opening and closing the groups met on the way."""
        plan, page = self.plan, st.page
        previous: list[str] | None = None
        zebra = 0
        row, line = page.start
        end_row, end_line = page.end
        while (row, line) < (end_row, end_line) and row < len(plan.rows):
            gi = self._group_of(row)
            if row == plan.groups[gi].start and line == 0 and (row, line) != page.start:
                self._group_header(st, plan.groups[gi], False, ctx)
                previous = None
            last_line = end_line if row == end_row else None
            previous = self._row(st, row, line, last_line, previous, zebra)
            zebra += 1
            if line == 0:
                self._add_running(row)
            if (row + 1) == plan.groups[gi].end and (last_line is None):
                self._close_group(st, gi, ctx)
            row, line = row + 1, 0
        if page.start[0] == page.end[0] and page.group_footers:       # a footer pushed onto its own page
            for gi in page.group_footers:
                self._close_group(st, gi, ctx)

    def _footer_band(self, st: _PageState, *, last: bool) -> None:
        """頁計, 累計 and 「次頁へ繰越」 at the bottom of the table; on the last page the grand total and count."""
        totals = self.el.totals
        if totals is None:
            return
        bands: list[tuple[str, Mapping[str, int], str | None]] = []
        if totals.page:
            bands.append((totals.page, st.page.sums, None))
        if totals.running:
            bands.append((totals.running, dict(self.running), None))
        if not last and totals.carry_over:
            bands.append((totals.carry_over, dict(self.running), None))
        if last and totals.grand:
            bands.append((totals.grand, self.plan.totals, f"{totals.count_label} {self.plan.count:,}"))
        fy = self.y0 + self.height - self.el.row_height * len(bands)
        for label, sums, extra in bands:
            fy = self._sum_row(st, fy, label, sums, extra)

    def _close_strip(self, st: _PageState) -> None:
        """On a page the list continues from, draw the last row down to the footer bands when taller (wrapped)
        rows left a strip the next row did not fit in: an empty strip between ruled columns reads as an
        empty row. (One-line rows fill the snapped room exactly; the strip is then zero.)"""
        if st.last_row is None:
            return
        top, rule, fill = st.last_row
        bottom = self.y0 + self.el.header_height + self.bodies.normal
        if bottom - st.y <= _EPS:
            return
        h = bottom - top
        old = st.out[rule]
        assert isinstance(old, Rect)
        st.out[rule] = Rect(old.x, self.y(bottom), old.w, old.h, old.stroke, old.fill_gray)
        if fill is not None:
            zebra = st.out[fill]
            assert isinstance(zebra, Rect)
            st.out[fill] = Rect(zebra.x, self.y(bottom), zebra.w, mm(h), zebra.stroke, zebra.fill_gray)
        st.y = bottom

    def _column_rules(self, st: _PageState) -> None:
        """Column rules over the whole table, interrupted where a band's label spans the columns."""
        el = self.el
        bottom = self.y0 + self.height
        spans = sorted(st.spans)
        for i, x in enumerate(self.edges[1:-1], start=1):
            start = self.y0
            for y0, y1, span in spans:
                if i < span:
                    if y0 > start:
                        st.out.append(Rect(mm(x), self.y(y0), 0.0, mm(y0 - start), el.rule_pt or None, None))
                    start = max(start, y1)
            if bottom > start:
                st.out.append(Rect(mm(x), self.y(bottom), 0.0, mm(bottom - start), el.rule_pt or None, None))

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

    def _group_header(self, st: _PageState, g: Group, continued: bool, ctx: Mapping[str, Any]) -> None:
        el = self.el
        if el.group is not None and el.group.header is not None:
            text = self.render(el.group.header, {**ctx, "group": self._group_ctx(g, continued)},
                               f"{self.path}.group.header")
            st.y = self._band(st, st.y, text, el.row_height)

    def _add_running(self, row: int) -> None:
        for key, values in self.plan.values.items():
            self.running[key] += values[row]

    def _close_group(self, st: _PageState, gi: int, ctx: Mapping[str, Any]) -> None:
        """The group's footer, if it is on this page, then a 「以下余白」 if the plan put one here."""
        el = self.el
        g = self.plan.groups[gi]
        if el.group is not None and el.group.footer is not None and gi in st.page.group_footers:
            text = self.render(el.group.footer, {**ctx, "group": self._group_ctx(g, False)},
                               f"{self.path}.group.footer")
            st.y = self._sum_row(st, st.y, text, dict(g.sums))
        if el.end_mark and st.end_marks > 0:
            st.end_marks -= 1
            st.y = self._band(st, st.y, el.end_mark, el.row_height, rule=False)

    def _row(self, st: _PageState, row: int, first_line: int, end_line: int | None, previous: list[str] | None,
             zebra: int) -> list[str]:
        """One row (or the lines first_line:end_line of a split row); returns its texts for 同一値の省略."""
        el, plan = self.el, self.plan
        data = plan.rows[row]
        if plan.heights is not None and plan.lines is not None:
            total = plan.lines[row]
            last = total if end_line is None else end_line
            if first_line == 0 and last == total:
                h = plan.heights[row]
            else:
                h = cell_lines_height_mm(self.styles[el.body_style], last - first_line)
                self.report({"field": f"{el.items}[{plan.input_index(row)}]", "step": "row_split",
                             "lines": last - first_line, "chars_lost": 0, "element": self.path})
        else:
            first_line, last, h = 0, 1, el.row_height
        y, out = st.y, st.out
        fill: int | None = None
        if el.zebra_gray is not None and zebra % 2 == 1:
            fill = len(out)
            out.append(Rect(mm(self.x0), self.y(y + h), mm(self.width), mm(h), None, el.zebra_gray))
        st.last_row = (y, len(out), fill)
        out.append(Rect(mm(self.x0), self.y(y + h), mm(self.width), 0.0, el.rule_pt or None, None))
        values: list[str] = []
        given = plan.input_index(row)
        try:
            for i, c in enumerate(el.columns):
                text = self.text_of(c, data)
                values.append(text)
                if c.suppress_repeats and previous is not None and previous[i] == text and text and first_line == 0:
                    # 同一値の省略: 〃 (同上), never a blank cell that reads as a missing value
                    self._cell(out, REPEAT_MARK, i, i + 1, y, h, c.style or el.body_style, c.align,
                               cell_path(el, given, c), c.overflow or el.overflow, record=row)
                    continue
                if first_line or (plan.lines is not None and last != plan.lines[row]):
                    self._lines(out, text, i, y, h, c, first_line, last, cell_path(el, given, c))
                else:
                    self._cell(out, text, i, i + 1, y, h, c.style or el.body_style, c.align,
                               cell_path(el, given, c), c.overflow or el.overflow, record=row)
        except InputError as exc:
            raise row_error(exc, el.items, given, plan.source) from None
        st.y = y + h
        return values

    def _lines(self, out: list[Op], text: str, col: int, y: float, h: float, c: Column, first: int,
               last: int, field: str) -> None:
        style = self.styles[c.style or self.el.body_style]
        lines: list[Line] = self.fitter.wrap(text, mm(c.width - 2 * CELL_HPAD_MM), style, field=field)[first:last]
        box = Box(mm(self.edges[col] + CELL_HPAD_MM), self.y(y + CELL_VPAD_MM), mm(c.width - 2 * CELL_HPAD_MM),
                  mm(h - 2 * CELL_VPAD_MM))
        out.extend(self.fitter.draw_lines(lines, box, style, align=c.align))

    def _cell(self, out: list[Op], text: str, c0: int, c1: int, y: float, h: float, style_name: str,
              align: str, field: str, overflow: Any, record: int | None = None) -> None:
        if not text:
            return
        style = self.styles[style_name]
        x0, x1 = self.edges[c0], self.edges[c1]
        box = Box(mm(x0 + CELL_HPAD_MM), self.y(y + CELL_VPAD_MM), mm(x1 - x0 - 2 * CELL_HPAD_MM),
                  mm(h - 2 * CELL_VPAD_MM))
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

    def _band(self, st: _PageState, y: float, text: str, h: float, *, rule: bool = True) -> float:
        st.last_row = None
        if rule:
            st.out.append(Rect(mm(self.x0), self.y(y + h), mm(self.width), 0.0, self.el.rule_pt or None, None))
        # bands span the table: draw the text in the first columns' width, left aligned
        self._cell(st.out, text, 0, len(self.el.columns), y, h, self.el.total_style, "left",
                   f"{self.path}.band", self.el.overflow)
        st.spans.append((y, y + h, len(self.el.columns)))
        return y + h

    def _sum_row(self, st: _PageState, y: float, label: str, sums: Mapping[str, int],
                 extra: str | None = None) -> float:
        el = self.el
        h = el.row_height
        st.last_row = None
        st.out.append(Rect(mm(self.x0), self.y(y + h), mm(self.width), mm(h), el.rule_pt or None, 0.96))
        first_sum = next((i for i, c in enumerate(el.columns) if c.sum), len(el.columns))
        label_text = f"{label}　{extra}" if extra else label
        self._cell(st.out, label_text, 0, max(first_sum, 1), y, h, el.total_style, "left", f"{self.path}.totals",
                   el.overflow)
        st.spans.append((y, y + h, max(first_sum, 1)))
        for i, c in enumerate(el.columns):
            if c.sum:
                text = self.text_of(c, _Sum(c.value, sums.get(c.key, 0)))
                self._cell(st.out, text, i, i + 1, y, h, el.total_style, c.align, f"{self.path}.totals",
                           el.overflow)
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


def check_rows(value: Any, path: str) -> list[Any] | LazyRows:
    """The rows a table lists: a list, or streamed rows (`LazyRows`); anything else is an input error."""
    if not isinstance(value, list | LazyRows):
        raise InputError(f"{path} is not a list", field=path)
    return value

"""Fit one piece of text into a box, following the field's declared overflow policy.

In: the text, a box in points (left, top, width, height; PDF coordinates, y up), a style, alignment,
direction and an ordered overflow policy such as ``[wrap, {condense: 0.7}, {shrink_to_pt: 7}, error]``.
Out: `TextRun` ops and, when more than the plain first attempt was needed, an `OverflowEntry` for the
overflow report. Nothing is ever cut without a report entry; the `error` terminal raises.

Line breaking applies 禁則: no line starts with closing brackets, 、。 ー ・ or small kana, and no line
ends with an opening bracket; characters are pushed to the next line, never hung outside the box.
U+3000 (全角スペース) is kept as a character. Vertical text (縦書き) sets columns right to left with the
fonts' vertical forms, upright CJK, 縦中横 for numbers of up to two digits, and the same 禁則 per column.

Fitting is calculated, not searched: the em advances of the clusters are looked up once per fit in the
fonts' advance tables (`FontMetrics.advances_em`) and summed once; on one line the width is proportional
to size and 長体 scale, so whether a line fits at a (size, scale) is decided from that one sum, and the 長体
scale is solved directly (the largest scale of the declared step sequence 1.0, 0.975, … down to the floor
that fits — the one a step-by-step search would stop at). Only when the estimate lies within a provable
rounding bound of the limit is the width summed glyph by glyph, exactly as drawn, so every decision is the
one the step-by-step measurement makes. Wrap points are found in one pass over per-cluster widths.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Literal

from renderer.display import TextRun
from renderer.errors import TextOverflowError
from renderer.fonts import CharEvent, CharSink, Cluster, FontSet
from renderer.spec.model import Align, Condense, OverflowStep, Shrink, Style, VAlign
from renderer.units import line_pitch_pt

NO_LINE_START = frozenset(
    "、。，．,.」』）)〕】〉》］｝ー・：；？！"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々ゝゞヽヾ"
)
NO_LINE_END = frozenset("「『（(〔【〈《［｛")
SIZE_STEP_PT = 0.25
SCALE_STEP = 0.025
Direction = Literal["horizontal", "vertical"]
Line = list[Cluster]
#: fitted runs by everything `TextFitter.fit` depends on, shared by every composer of the process (text,
#: box and style values, policy, field path); emptied when full, so memory stays bounded in a long run
FIT_CACHE_LIMIT = 20_000
_FIT_CACHE: dict[tuple[object, ...], tuple[tuple[TextRun, ...], OverflowEntry | None, tuple[CharEvent, ...]]] = {}
#: the relative rounding bound per term of a sum of advances (2 ulp: generous against the 1/2 ulp of IEEE)
_ULP = 2.0 ** -52


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class OverflowEntry:
    field: str
    step: str                 # the last step that was needed: wrap, condense, shrink, fit_as_much, blank
    h_scale: float
    size_pt: float
    lines: int
    chars_lost: int

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "step": self.step, "h_scale": round(self.h_scale, 3),
                "size_pt": round(self.size_pt, 2), "lines": self.lines, "chars_lost": self.chars_lost}


@dataclass(frozen=True)
class _Try:
    wrap: bool
    scale: float
    size: float


class _Measure:
    """The em advances of a line's clusters (from the fonts' advance tables), their sum and count: one
    measurement, valid at every size and scale ("\n" clusters count 0; they are never measured). Keeps
    the clusters it measured, so the lines cut from them are drawn with the same advances."""

    __slots__ = ("clusters", "count", "ems", "total")

    def __init__(self, ems: list[float], clusters: Line | None = None) -> None:
        self.clusters = clusters or []
        self.ems = ems
        self.total = sum(ems)
        self.count = len(ems)

    def exact(self, size: float, spacing: float, scale: float) -> float:
        """The line's length as drawn: per cluster ``(em × size + spacing) × scale``, summed in order."""
        return sum((e * size + spacing) * scale for e in self.ems)

    def exceeds(self, size: float, spacing: float, scale: float, limit: float) -> bool:
        """``exact(size, spacing, scale) > limit``, decided from the one sum unless within rounding of it.

        The exact sum and the estimate ``(Σem × size + n × spacing) × scale`` each differ from the true
        value by at most (n + 4) roundings of the sum of the terms' magnitudes; outside twice that band the
        estimate decides, inside it the exact sum does."""
        n = self.count
        approx = (self.total * size + n * spacing) * scale
        margin = (2 * n + 16) * _ULP * (self.total * size + n * abs(spacing)) * abs(scale)
        if approx > limit + margin:
            return True
        if approx < limit - margin:
            return False
        return self.exact(size, spacing, scale) > limit


def scale_steps(start: float, floor: float) -> list[float]:
    """The 長体 scales a step-by-step search tries, in order: `start`, then SCALE_STEP less each time
    (rounded to 4 places), never below `floor`, ending with the first at or below it."""
    steps = [start]
    scale = start
    while scale > floor + 1e-9:
        scale = max(floor, round(scale - SCALE_STEP, 4))
        steps.append(scale)
    return steps


class TextFitter:
    def __init__(self, fonts: FontSet, *, collect: bool = False) -> None:
        self.fonts = fonts
        self.collect = collect   # character reports: record uncovered characters instead of raising

    def fit(self, text: str, box: Box, style: Style, *, align: Align, valign: VAlign,
            overflow: list[OverflowStep], field: str, direction: Direction = "horizontal",
            substitute: str | None = None, sink: CharSink | None = None,
            ) -> tuple[list[TextRun], OverflowEntry | None]:
        """Fit `text` (see the module doc). A result depends only on these arguments and the fonts, so it
        is kept (`_FIT_CACHE`): the labels and most values of a form repeat on every page of a print run.
        The `field` only names what is reported, so it is not part of the key (「男」 in every member's 性別
        is one entry): a cached result replays the character events and the overflow entry it reported
        under this call's `field`. Failures are never cached."""
        if not text:
            return [], None
        key = (self.fonts, self.collect, text, box, tuple(style.fonts), style.size_pt, style.letter_spacing_em,
               style.line_height, style.gray, align, valign, tuple(overflow), direction, substitute)
        hit = _FIT_CACHE.get(key)
        if hit is not None:
            runs, entry, events = hit
            if sink is not None:
                for event in events:
                    sink(event if event.field == field else replace(event, field=field))
            if entry is not None and entry.field != field:
                entry = replace(entry, field=field)
            return list(runs), entry
        seen: list[CharEvent] = []

        def record(event: CharEvent) -> None:
            seen.append(event)
            if sink is not None:
                sink(event)

        fitted, entry = self._fit(text, box, style, align=align, valign=valign, overflow=overflow, field=field,
                                  direction=direction, substitute=substitute, sink=record)
        if len(_FIT_CACHE) >= FIT_CACHE_LIMIT:
            _FIT_CACHE.clear()
        _FIT_CACHE[key] = (tuple(fitted), entry, tuple(seen))
        return fitted, entry

    def _fit(self, text: str, box: Box, style: Style, *, align: Align, valign: VAlign,
             overflow: list[OverflowStep], field: str, direction: Direction, substitute: str | None,
             sink: CharSink) -> tuple[list[TextRun], OverflowEntry | None]:
        vertical = direction == "vertical"
        clusters = self.fonts.clusters(text, style.fonts, field=field, vertical=vertical,
                                       substitute=substitute, sink=sink, collect=self.collect)
        measure = None if vertical else self._measure(clusters)
        attempt = _Try(wrap=False, scale=1.0, size=style.size_pt)
        lines = self._lines(clusters, box, style, attempt, vertical, measure)
        if lines is not None:
            return self._draw(lines, box, style, attempt, align, valign, vertical, measure), None

        last_step = "none"
        for step in overflow:
            if step == "wrap":
                attempt = _Try(True, attempt.scale, attempt.size)
                last_step = "wrap"
                lines = self._lines(clusters, box, style, attempt, vertical, measure)
            elif isinstance(step, Condense):
                last_step = "condense"
                lines, attempt = self._solve_scale(clusters, box, style, attempt, step.condense, vertical, measure)
            elif isinstance(step, Shrink):
                last_step = "shrink"
                floor_scale = attempt.scale
                lines = None
                size = attempt.size
                while lines is None and size - SIZE_STEP_PT >= step.shrink_to_pt - 1e-9:
                    size = round(size - SIZE_STEP_PT, 4)
                    lines, attempt = self._solve_scale(clusters, box, style, _Try(attempt.wrap, 1.0, size),
                                                       floor_scale, vertical, measure)
                if lines is None:
                    attempt = _Try(attempt.wrap, floor_scale, step.shrink_to_pt)
            elif step == "error":
                raise TextOverflowError(
                    f"{field}: {len(clusters)} characters do not fit in {box.width:.1f}×{box.height:.1f} pt "
                    f"after the declared overflow steps", field=field, rule="overflow-error")
            elif step == "blank":
                return [], OverflowEntry(field, "blank", attempt.scale, attempt.size, 0, len(clusters))
            elif step == "fit_as_much":
                kept, lost = self._as_much(clusters, box, style, attempt, vertical, measure)
                ops = self._draw(kept, box, style, attempt, align, valign, vertical, measure)
                return ops, OverflowEntry(field, "fit_as_much", attempt.scale, attempt.size, len(kept), lost)
            if lines is not None:
                entry = OverflowEntry(field, last_step, attempt.scale, attempt.size, len(lines), 0)
                return self._draw(lines, box, style, attempt, align, valign, vertical, measure), entry
        raise AssertionError("overflow policies always end with a terminal step")   # pragma: no cover

    def wrap(self, text: str, width: float, style: Style, *, field: str) -> list[Line]:
        """The lines `text` wraps into at the style's size (for row heights and split rows of lists)."""
        clusters = self.fonts.clusters(text, style.fonts, field=field, collect=self.collect)
        return self._break_line(clusters, self._measure(clusters), width, style, _Try(True, 1.0, style.size_pt))

    def draw_lines(self, lines: list[Line], box: Box, style: Style, *, align: Align) -> list[TextRun]:
        """Draw already broken lines from the top of `box` (a split row's share of its lines)."""
        return self._draw(lines, box, style, _Try(True, 1.0, style.size_pt), align, "top", False, None)

    # ------------------------------------------------------------------ measuring and breaking

    def _measure(self, clusters: Line) -> _Measure:
        """One look-up per cluster in its font's advance table (a "\n" counts 0: it is never measured)."""
        ems: list[float] = []
        metrics = self.fonts.metrics
        family = ""
        advance = None
        for c in clusters:
            if c.text == "\n":
                ems.append(0.0)
                continue
            if c.family != family or advance is None:
                family = c.family
                advance = metrics(family).advance_em
            ems.append(advance(c.code))
        return _Measure(ems, clusters)

    def _solve_scale(self, clusters: Line, box: Box, style: Style, attempt: _Try, floor: float,
                     vertical: bool, measure: _Measure | None) -> tuple[list[Line] | None, _Try]:
        """The first scale of `scale_steps` at which the text fits, and its lines; else (None, the last).

        On one line the length grows with the scale, so the answer is the largest step that fits: found
        from one measurement (the scale at which the text exactly fills the box), then confirmed against
        its neighbours with `_Measure.exceeds`. Wrapped text is broken at each step in turn (a 禁則 carry
        may lengthen a line, so the line count is not a function of the total length), each break one pass
        over widths computed from the same measurement."""
        if vertical:   # 長体 does not apply to vertical text (validation rejects it); keep the scale
            trial = _Try(attempt.wrap, 1.0, attempt.size)
            return self._lines(clusters, box, style, trial, vertical, measure), trial
        assert measure is not None
        m = measure
        steps = scale_steps(1.0 if attempt.scale > floor else attempt.scale, floor)
        size = attempt.size
        if attempt.wrap:
            for scale in steps:
                trial = _Try(True, scale, size)
                lines = self._lines(clusters, box, style, trial, False, measure)
                if lines is not None:
                    return lines, trial
            return None, trial
        last = _Try(False, steps[-1], size)
        if size > box.height + 1e-6 or any(c.text == "\n" for c in clusters):
            return None, last                 # no scale helps
        spacing = style.letter_spacing_em * size
        limit = box.width + 1e-6

        def fits(k: int) -> bool:
            return not m.exceeds(size, spacing, steps[k], limit)

        natural = m.total * size + m.count * spacing
        if natural <= 0:
            k = 0
        else:   # the steps descend: the first at or below the scale that exactly fills the box
            target = limit / natural
            k = min(len(steps) - 1, bisect_left([-x for x in steps], -target))
        if fits(k):
            while k > 0 and fits(k - 1):
                k -= 1
        else:
            while k < len(steps) - 1 and not fits(k):
                k += 1
            if not fits(k):
                return None, last
        return [clusters], _Try(False, steps[k], size)

    def _advance(self, c: Cluster, style: Style, t: _Try, vertical: bool) -> float:
        """Advance of one cluster along the line (horizontal) or down the column (vertical)."""
        spacing = style.letter_spacing_em * t.size
        if vertical:
            return t.size + spacing
        advance = self.fonts.metrics(c.family).advance_em(c.code) * t.size
        return (advance + spacing) * t.scale

    def _line_pitch(self, style: Style, t: _Try) -> float:
        return line_pitch_pt(style, t.size)

    def _length(self, line: Line, style: Style, t: _Try, vertical: bool) -> float:
        if vertical:
            return sum(self._advance(u[0], style, t, True) for u in _vertical_units(line))
        return sum(self._advance(c, style, t, False) for c in line)

    def _break(self, clusters: Line, room: float, style: Style, t: _Try, vertical: bool) -> list[Line]:
        lines: list[Line] = []
        line: Line = []
        used = 0.0
        units = _vertical_units(clusters) if vertical else [[c] for c in clusters]
        for unit in units:
            first = unit[0]
            if first.text == "\n":
                lines.append(line)
                line, used = [], 0.0
                continue
            w = self._advance(first, style, t, vertical) if vertical else sum(
                self._advance(c, style, t, False) for c in unit)
            if line and used + w > room + 1e-6:
                carry: Line = []
                # prefer breaking between an address and its 方書 (a full-width space after a digit or
                # 号・番・地, in the second half of the line): 「…3番2号」/「見本ハイツ503号室」 stay whole.
                # Other spaces (between family and given names) are not break points of their own.
                space = max((k for k, c in enumerate(line) if c.text == "\u3000" and k > 0
                             and (line[k - 1].text.isdigit() or line[k - 1].text in "号番地")), default=-1)
                if not vertical and space >= max(1, len(line) // 2) and space < len(line) - 1:
                    carry = line[space + 1:]
                    del line[space + 1:]
                # 禁則: pull a forbidden line-start char back with its predecessor onto the next line,
                # and never leave an opening bracket at the end of a line.
                if not carry and first.text[0] in NO_LINE_START:
                    while line and len(carry) < 3:
                        carry.insert(0, line.pop())
                        if carry[0].text[0] not in NO_LINE_START:
                            break
                while line and line[-1].text[0] in NO_LINE_END:
                    carry.insert(0, line.pop())
                # never split a run of ASCII letters or digits (a number, a building code like 101B)
                if not carry and _word_char(first) and line and _word_char(line[-1]):
                    while line and _word_char(line[-1]):
                        carry.insert(0, line.pop())
                if not line:   # cannot honour 禁則 within a line this short: keep the plain break
                    line, carry = carry, []
                lines.append(line)
                line = carry
                used = self._length(line, style, t, vertical)
            line.extend(unit)
            used += w
        lines.append(line)
        return lines

    def _break_line(self, clusters: Line, measure: _Measure, room: float, style: Style, t: _Try) -> list[Line]:
        """`_break` of horizontal text in one pass over per-cluster widths (the same widths, the same sums
        and the same break points as `_break`)."""
        size, scale = t.size, t.scale
        spacing = style.letter_spacing_em * size
        limit = room + 1e-6
        lines: list[Line] = []
        line: Line = []
        widths: list[float] = []
        used = 0.0
        for c, e in zip(clusters, measure.ems, strict=True):
            if c.text == "\n":
                lines.append(line)
                line, widths, used = [], [], 0.0
                continue
            w = (e * size + spacing) * scale
            if line and used + w > limit:
                carry: Line = []
                carry_w: list[float] = []
                space = max((k for k, x in enumerate(line) if x.text == "\u3000" and k > 0
                             and (line[k - 1].text.isdigit() or line[k - 1].text in "号番地")), default=-1)
                if space >= max(1, len(line) // 2) and space < len(line) - 1:
                    carry, carry_w = line[space + 1:], widths[space + 1:]
                    del line[space + 1:], widths[space + 1:]
                if not carry and c.text[0] in NO_LINE_START:
                    while line and len(carry) < 3:
                        carry.insert(0, line.pop())
                        carry_w.insert(0, widths.pop())
                        if carry[0].text[0] not in NO_LINE_START:
                            break
                while line and line[-1].text[0] in NO_LINE_END:
                    carry.insert(0, line.pop())
                    carry_w.insert(0, widths.pop())
                if not carry and _word_char(c) and line and _word_char(line[-1]):
                    while line and _word_char(line[-1]):
                        carry.insert(0, line.pop())
                        carry_w.insert(0, widths.pop())
                if not line:
                    line, carry = carry, []
                    widths, carry_w = carry_w, []
                lines.append(line)
                line, widths = carry, carry_w
                used = sum(widths)
            line.append(c)
            widths.append(w)
            used += w
        lines.append(line)
        return lines

    def _lines(self, clusters: Line, box: Box, style: Style, t: _Try, vertical: bool,
               measure: _Measure | None) -> list[Line] | None:
        along, across = (box.height, box.width) if vertical else (box.width, box.height)
        if t.wrap:
            if vertical or measure is None:
                lines = self._break(clusters, along, style, t, vertical)
            else:
                lines = self._break_line(clusters, measure, along, style, t)
        else:
            if any(c.text == "\n" for c in clusters):
                return None
            lines = [clusters]
            if vertical or measure is None:
                if self._length(clusters, style, t, vertical) > along + 1e-6:
                    return None
            elif measure.exceeds(t.size, style.letter_spacing_em * t.size, t.scale, along + 1e-6):
                return None
        pitch = self._line_pitch(style, t)
        if len(lines) > 1 and (len(lines) - 1) * pitch + t.size > across + 1e-6:
            return None
        if t.size > across + 1e-6:
            return None
        return lines

    def _as_much(self, clusters: Line, box: Box, style: Style, t: _Try,
                 vertical: bool, measure: _Measure | None) -> tuple[list[Line], int]:
        along, across = (box.height, box.width) if vertical else (box.width, box.height)
        if t.wrap:
            if vertical or measure is None:
                lines = self._break(clusters, along, style, t, vertical)
            else:
                lines = self._break_line(clusters, measure, along, style, t)
            max_lines = max(1, int((across - t.size + 1e-6) // self._line_pitch(style, t)) + 1)
            kept = lines[:max_lines]
        else:
            kept = [clusters]
        last = kept[-1]
        while last and self._length(last, style, t, vertical) > along + 1e-6:
            last = last[:-1]
        kept[-1] = last
        return kept, len(clusters) - sum(len(line) for line in kept)

    # ------------------------------------------------------------------ drawing

    def _draw(self, lines: list[Line], box: Box, style: Style, t: _Try, align: Align, valign: VAlign,
              vertical: bool, measure: _Measure | None) -> list[TextRun]:
        """Place the lines; a line's advances come from `measure` (the fit's one measurement, when the
        lines are consecutive pieces of the measured clusters) or are looked up once here."""
        if vertical:
            return self._draw_vertical(lines, box, style, t, align, valign)
        pitch = self._line_pitch(style, t)
        first = self.fonts.metrics(style.fonts[0])
        ascent, descent = first.ascent, first.descent
        block = pitch * (len(lines) - 1) + t.size * (ascent + descent)
        if valign == "top":
            top = box.top
        elif valign == "bottom":
            top = box.top - box.height + block
        else:
            top = box.top - (box.height - block) / 2
        ops: list[TextRun] = []
        spacing = style.letter_spacing_em * t.size
        line_ems = self._line_ems(lines, measure)
        for i, line in enumerate(lines):
            if not line:
                continue
            baseline = top - t.size * ascent - i * pitch
            ems = line_ems[i]
            natural = (sum((e * t.size + spacing) * t.scale for e in ems)
                       - spacing * t.scale)   # no spacing after the last
            extra = 0.0
            if align == "distribute" and len(line) > 1 and natural < box.width:
                extra = (box.width - natural) / (len(line) - 1) / t.scale
                x = box.left
            elif align == "center":
                x = box.left + (box.width - natural) / 2
            elif align == "right":
                x = box.left + box.width - natural
            else:
                x = box.left
            start = 0
            while start < len(line):   # runs: consecutive clusters of one font (as `group_runs`)
                family = line[start].family
                end = start + 1
                while end < len(line) and line[end].family == family:
                    end += 1
                text = "".join(c.text for c in line[start:end])
                draw = "".join(c.code for c in line[start:end])
                ops.append(TextRun(x=x, y=baseline, font=family, size=t.size, text=text,
                                   h_scale=t.scale, char_space=spacing + extra, gray=style.gray,
                                   draw=draw if draw != text else ""))
                x += sum((e * t.size + spacing + extra) * t.scale for e in ems[start:end])
                start = end
        return ops

    def _line_ems(self, lines: list[Line], measure: _Measure | None) -> list[list[float]]:
        """Each line's em advances: slices of the fit's measurement when the lines are its clusters in
        order (line breaks drop only "\n" clusters; a cut keeps a prefix), else looked up per line."""
        out: list[list[float]] = []
        if measure is not None and len(lines) == 1 and lines[0] is measure.clusters:
            return [measure.ems]   # one line, all of the measured clusters (the common case)
        if measure is not None:
            clusters = measure.clusters
            k = 0
            for line in lines:
                while k < len(clusters) and line and clusters[k] is not line[0]:
                    k += 1
                if k + len(line) > len(clusters) or any(clusters[k + j] is not c for j, c in enumerate(line)):
                    break
                out.append(measure.ems[k:k + len(line)])
                k += len(line)
            else:
                return out
            out = []
        for line in lines:
            out.append(self._measure(line).ems)
        return out

    def _draw_vertical(self, columns: list[Line], box: Box, style: Style, t: _Try, align: Align,
                       valign: VAlign) -> list[TextRun]:
        """Columns right to left; `align` places text along the column, `valign` the block across."""
        pitch = self._line_pitch(style, t)
        block = pitch * (len(columns) - 1) + t.size
        if valign == "top":          # across a vertical block, "top" means the right edge (first column)
            right = box.left + box.width
        elif valign == "bottom":
            right = box.left + block
        else:
            right = box.left + box.width - (box.width - block) / 2
        ops: list[TextRun] = []
        for i, column in enumerate(columns):
            if not column:
                continue
            centre = right - t.size / 2 - i * pitch
            length = self._length(column, style, t, True) - style.letter_spacing_em * t.size
            if align == "center":
                y_top = box.top - (box.height - length) / 2
            elif align == "right":
                y_top = box.top - box.height + length
            else:
                y_top = box.top
            for unit in _vertical_units(column):
                ops.extend(self._vertical_unit(unit, centre, y_top, t, style))
                y_top -= self._advance(unit[0], style, t, True)
        return ops

    def _vertical_unit(self, unit: Line, centre: float, y_top: float, t: _Try, style: Style) -> list[TextRun]:
        m = self.fonts.metrics(unit[0].family)
        baseline = y_top - t.size * m.ascent
        codes = "".join(c.code for c in unit)
        text = "".join(c.text for c in unit)
        width = sum(self.fonts.metrics(c.family).advance_em(c.code) for c in unit) * t.size
        scale = 1.0
        if len(unit) > 1 and width > t.size:   # 縦中横: squeeze two digits into one em
            scale = t.size / width
            width = t.size
        return [TextRun(x=centre - width / 2, y=baseline, font=unit[0].family, size=t.size, text=text,
                        h_scale=scale, gray=style.gray, draw=codes if codes != text else "")]


def _word_char(c: Cluster) -> bool:
    return c.text.isascii() and c.text.isalnum()


def _vertical_units(clusters: Line) -> list[Line]:
    """Group clusters into vertical cells: a run of one or two ASCII digits is one cell (縦中横)."""
    units: list[Line] = []
    i = 0
    while i < len(clusters):
        j = i
        while j < len(clusters) and clusters[j].text.isascii() and clusters[j].text.isdigit():
            j += 1
        if 1 <= j - i <= 2 and all(c.family == clusters[i].family for c in clusters[i:j]):
            units.append(clusters[i:j])
            i = j
        elif j - i > 2:
            units.extend([c] for c in clusters[i:j])
            i = j
        else:
            units.append([clusters[i]])
            i += 1
    return units

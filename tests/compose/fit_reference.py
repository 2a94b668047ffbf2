"""The brute-force reference for the text fitter's tests: `TextFitter` as it was before fitting by
calculation — the 長体 search tries every scale of the step sequence and re-measures the whole string glyph
by glyph each time, advances straight from the font's hmtx numbers (no advance table), no cache.

In: the same arguments as `renderer.compose.text.TextFitter.fit`. Out: the same runs and report entry the
calculated fitter must produce. Test support only.
"""

from __future__ import annotations

from renderer.compose.text import (
    NO_LINE_END,
    NO_LINE_START,
    SCALE_STEP,
    SIZE_STEP_PT,
    Box,
    Direction,
    Line,
    OverflowEntry,
    _Try,
    _vertical_units,
    _word_char,
)
from renderer.display import TextRun
from renderer.errors import TextOverflowError
from renderer.fonts import CharSink, Cluster, FontMetrics, FontSet, group_runs
from renderer.spec.model import Align, Condense, OverflowStep, Shrink, Style, VAlign
from renderer.units import line_pitch_pt


def _advance_em(m: FontMetrics, code: str) -> float:
    glyph = m.glyph_for_code(ord(code))
    if glyph is None:
        raise KeyError(code)
    return m._advances[glyph] / m.units_per_em


class ReferenceFitter:
    def __init__(self, fonts: FontSet, *, collect: bool = False) -> None:
        self.fonts = fonts
        self.collect = collect   # character reports: record uncovered characters instead of raising

    def fit(self, text: str, box: Box, style: Style, *, align: Align, valign: VAlign,
            overflow: list[OverflowStep], field: str, direction: Direction = "horizontal",
            substitute: str | None = None, sink: CharSink | None = None,
            ) -> tuple[list[TextRun], OverflowEntry | None]:
        """The fit as the step-by-step search makes it (no cache)."""
        if not text:
            return [], None
        return self._fit(text, box, style, align=align, valign=valign, overflow=overflow, field=field,
                         direction=direction, substitute=substitute, sink=sink or (lambda _e: None))

    def _fit(self, text: str, box: Box, style: Style, *, align: Align, valign: VAlign,
             overflow: list[OverflowStep], field: str, direction: Direction, substitute: str | None,
             sink: CharSink) -> tuple[list[TextRun], OverflowEntry | None]:
        vertical = direction == "vertical"
        clusters = self.fonts.clusters(text, style.fonts, field=field, vertical=vertical,
                                       substitute=substitute, sink=sink, collect=self.collect)
        attempt = _Try(wrap=False, scale=1.0, size=style.size_pt)
        lines = self._lines(clusters, box, style, attempt, vertical)
        if lines is not None:
            return self._draw(lines, box, style, attempt, align, valign, vertical), None

        last_step = "none"
        for step in overflow:
            if step == "wrap":
                attempt = _Try(True, attempt.scale, attempt.size)
                last_step = "wrap"
                lines = self._lines(clusters, box, style, attempt, vertical)
            elif isinstance(step, Condense):
                last_step = "condense"
                lines, attempt = self._search_scale(clusters, box, style, attempt, step.condense, vertical)
            elif isinstance(step, Shrink):
                last_step = "shrink"
                floor_scale = attempt.scale
                lines = None
                size = attempt.size
                while lines is None and size - SIZE_STEP_PT >= step.shrink_to_pt - 1e-9:
                    size = round(size - SIZE_STEP_PT, 4)
                    lines, attempt = self._search_scale(clusters, box, style, _Try(attempt.wrap, 1.0, size),
                                                        floor_scale, vertical)
                if lines is None:
                    attempt = _Try(attempt.wrap, floor_scale, step.shrink_to_pt)
            elif step == "error":
                raise TextOverflowError(
                    f"{field}: {len(clusters)} characters do not fit in {box.width:.1f}×{box.height:.1f} pt "
                    f"after the declared overflow steps", field=field, rule="overflow-error")
            elif step == "blank":
                return [], OverflowEntry(field, "blank", attempt.scale, attempt.size, 0, len(clusters))
            elif step == "fit_as_much":
                kept, lost = self._as_much(clusters, box, style, attempt, vertical)
                ops = self._draw(kept, box, style, attempt, align, valign, vertical)
                return ops, OverflowEntry(field, "fit_as_much", attempt.scale, attempt.size, len(kept), lost)
            if lines is not None:
                entry = OverflowEntry(field, last_step, attempt.scale, attempt.size, len(lines), 0)
                return self._draw(lines, box, style, attempt, align, valign, vertical), entry
        raise AssertionError("overflow policies always end with a terminal step")   # pragma: no cover

    def wrap(self, text: str, width: float, style: Style, *, field: str) -> list[Line]:
        """The lines `text` wraps into at the style's size (for row heights and split rows of lists)."""
        clusters = self.fonts.clusters(text, style.fonts, field=field, collect=self.collect)
        return self._break(clusters, width, style, _Try(True, 1.0, style.size_pt), False)

    def draw_lines(self, lines: list[Line], box: Box, style: Style, *, align: Align) -> list[TextRun]:
        """Draw already broken lines from the top of `box` (a split row's share of its lines)."""
        return self._draw(lines, box, style, _Try(True, 1.0, style.size_pt), align, "top", False)

    # ------------------------------------------------------------------ measuring and breaking

    def _search_scale(self, clusters: Line, box: Box, style: Style, attempt: _Try, floor: float,
                      vertical: bool) -> tuple[list[Line] | None, _Try]:
        if vertical:   # 長体 does not apply to vertical text (validation rejects it); keep the scale
            trial = _Try(attempt.wrap, 1.0, attempt.size)
            return self._lines(clusters, box, style, trial, vertical), trial
        scale = 1.0 if attempt.scale > floor else attempt.scale
        while True:
            trial = _Try(attempt.wrap, scale, attempt.size)
            lines = self._lines(clusters, box, style, trial, vertical)
            if lines is not None:
                return lines, trial
            if scale <= floor + 1e-9:
                return None, trial
            scale = max(floor, round(scale - SCALE_STEP, 4))

    def _advance(self, c: Cluster, style: Style, t: _Try, vertical: bool) -> float:
        """Advance of one cluster along the line (horizontal) or down the column (vertical)."""
        spacing = style.letter_spacing_em * t.size
        if vertical:
            return t.size + spacing
        advance = _advance_em(self.fonts.metrics(c.family), c.code) * t.size
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

    def _lines(self, clusters: Line, box: Box, style: Style, t: _Try, vertical: bool) -> list[Line] | None:
        along, across = (box.height, box.width) if vertical else (box.width, box.height)
        if t.wrap:
            lines = self._break(clusters, along, style, t, vertical)
        else:
            if any(c.text == "\n" for c in clusters):
                return None
            lines = [clusters]
            if self._length(clusters, style, t, vertical) > along + 1e-6:
                return None
        pitch = self._line_pitch(style, t)
        if len(lines) > 1 and (len(lines) - 1) * pitch + t.size > across + 1e-6:
            return None
        if t.size > across + 1e-6:
            return None
        return lines

    def _as_much(self, clusters: Line, box: Box, style: Style, t: _Try,
                 vertical: bool) -> tuple[list[Line], int]:
        along, across = (box.height, box.width) if vertical else (box.width, box.height)
        if t.wrap:
            lines = self._break(clusters, along, style, t, vertical)
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
              vertical: bool) -> list[TextRun]:
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
        for i, line in enumerate(lines):
            if not line:
                continue
            baseline = top - t.size * ascent - i * pitch
            natural = self._length(line, style, t, False) - spacing * t.scale   # no spacing after the last
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
            for run in group_runs(line):
                ops.append(TextRun(x=x, y=baseline, font=run.family, size=t.size, text=run.text,
                                   h_scale=t.scale, char_space=spacing + extra, gray=style.gray,
                                   draw=run.draw if run.draw != run.text else ""))
                m = self.fonts.metrics(run.family)
                x += sum((_advance_em(m, code) * t.size + spacing + extra) * t.scale for code in run.draw)
        return ops

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
        width = sum(_advance_em(self.fonts.metrics(c.family), c.code) for c in unit) * t.size
        scale = 1.0
        if len(unit) > 1 and width > t.size:   # 縦中横: squeeze two digits into one em
            scale = t.size / width
            width = t.size
        return [TextRun(x=centre - width / 2, y=baseline, font=unit[0].family, size=t.size, text=text,
                        h_scale=scale, gray=style.gray, draw=codes if codes != text else "")]

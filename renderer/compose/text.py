"""Fit one piece of text into a box, following the field's declared overflow policy.

In: the text, a box in points (left, top, width, height; PDF coordinates, y up), a style, alignment and
an ordered overflow policy such as ``[wrap, {condense: 0.7}, {shrink_to_pt: 7}, error]``.
Out: `TextRun` ops and, when more than the plain first attempt was needed, an `OverflowEntry` for the
overflow report. Nothing is ever cut without a report entry; the `error` terminal raises.

Line breaking applies 禁則: no line starts with closing brackets, 、。 ー ・ or small kana, and no line
ends with an opening bracket; characters are pushed to the next line, never hung outside the box.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.display import TextRun
from renderer.errors import TextOverflowError
from renderer.fonts import FontSet, Run
from renderer.spec.model import Align, Condense, OverflowStep, Shrink, Style, VAlign

NO_LINE_START = frozenset(
    "、。，．,.」』）)〕】〉》］｝ー・：；？！"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々ゝゞヽヾ"
)
NO_LINE_END = frozenset("「『（(〔【〈《［｛")
SIZE_STEP_PT = 0.25
SCALE_STEP = 0.025


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


class TextFitter:
    def __init__(self, fonts: FontSet) -> None:
        self.fonts = fonts

    def fit(self, text: str, box: Box, style: Style, *, align: Align, valign: VAlign,
            overflow: list[OverflowStep], field: str) -> tuple[list[TextRun], OverflowEntry | None]:
        if not text:
            return [], None
        runs = self.fonts.runs(text, style.fonts, field=field)   # raises GlyphError for missing glyphs
        chars = [(r.family, ch) for r in runs for ch in r.text]
        attempt = _Try(wrap=False, scale=1.0, size=style.size_pt)
        lines = self._lines(chars, box, style, attempt)
        if lines is not None:
            return self._draw(lines, box, style, attempt, align, valign), None

        last_step = "none"
        for step in overflow:
            if step == "wrap":
                attempt = _Try(True, attempt.scale, attempt.size)
                last_step = "wrap"
                lines = self._lines(chars, box, style, attempt)
            elif isinstance(step, Condense):
                last_step = "condense"
                lines, attempt = self._search_scale(chars, box, style, attempt, step.condense)
            elif isinstance(step, Shrink):
                last_step = "shrink"
                floor_scale = attempt.scale
                lines = None
                size = attempt.size
                while lines is None and size - SIZE_STEP_PT >= step.shrink_to_pt - 1e-9:
                    size = round(size - SIZE_STEP_PT, 4)
                    lines, attempt = self._search_scale(chars, box, style,
                                                        _Try(attempt.wrap, 1.0, size), floor_scale)
                if lines is None:
                    attempt = _Try(attempt.wrap, floor_scale, step.shrink_to_pt)
            elif step == "error":
                raise TextOverflowError(
                    f"{field}: {len(chars)} characters do not fit in {box.width:.1f}×{box.height:.1f} pt "
                    f"after the declared overflow steps", field=field, rule="overflow-error")
            elif step == "blank":
                return [], OverflowEntry(field, "blank", attempt.scale, attempt.size, 0, len(chars))
            elif step == "fit_as_much":
                kept, lost = self._as_much(chars, box, style, attempt)
                ops = self._draw(kept, box, style, attempt, align, valign)
                return ops, OverflowEntry(field, "fit_as_much", attempt.scale, attempt.size, len(kept), lost)
            if lines is not None:
                entry = OverflowEntry(field, last_step, attempt.scale, attempt.size, len(lines), 0)
                return self._draw(lines, box, style, attempt, align, valign), entry
        raise AssertionError("overflow policies always end with a terminal step")   # pragma: no cover

    # ------------------------------------------------------------------ measuring and breaking

    def _search_scale(self, chars: list[tuple[str, str]], box: Box, style: Style, attempt: _Try,
                      floor: float) -> tuple[list[list[tuple[str, str]]] | None, _Try]:
        scale = 1.0 if attempt.scale > floor else attempt.scale
        while True:
            trial = _Try(attempt.wrap, scale, attempt.size)
            lines = self._lines(chars, box, style, trial)
            if lines is not None:
                return lines, trial
            if scale <= floor + 1e-9:
                return None, trial
            scale = max(floor, round(scale - SCALE_STEP, 4))

    def _char_width(self, family: str, ch: str, style: Style, t: _Try) -> float:
        advance = self.fonts.metrics(family).advance_em(ch) * t.size
        return (advance + style.letter_spacing_em * t.size) * t.scale

    def _line_height(self, style: Style, t: _Try) -> float:
        return t.size * style.line_height

    def _break(self, chars: list[tuple[str, str]], width: float, style: Style,
               t: _Try) -> list[list[tuple[str, str]]]:
        lines: list[list[tuple[str, str]]] = []
        line: list[tuple[str, str]] = []
        used = 0.0
        for fam, ch in chars:
            if ch == "\n":
                lines.append(line)
                line, used = [], 0.0
                continue
            w = self._char_width(fam, ch, style, t)
            if line and used + w > width + 1e-6:
                carry: list[tuple[str, str]] = []
                # 禁則: pull a forbidden line-start char back with its predecessor(s) onto the next line,
                # and never leave an opening bracket at the end of a line.
                if ch in NO_LINE_START:
                    while line and len(carry) < 3:
                        carry.insert(0, line.pop())
                        if carry[0][1] not in NO_LINE_START:
                            break
                while line and line[-1][1] in NO_LINE_END:
                    carry.insert(0, line.pop())
                if not line:   # cannot honour 禁則 within a line this short: keep the plain break
                    line, carry = carry, []
                lines.append(line)
                line = carry
                used = sum(self._char_width(f, c, style, t) for f, c in line)
            line.append((fam, ch))
            used += w
        lines.append(line)
        return lines

    def _lines(self, chars: list[tuple[str, str]], box: Box, style: Style,
               t: _Try) -> list[list[tuple[str, str]]] | None:
        if t.wrap:
            lines = self._break(chars, box.width, style, t)
        else:
            if any(ch == "\n" for _f, ch in chars):
                return None
            lines = [chars]
            if self._width(chars, style, t) > box.width + 1e-6:
                return None
        if len(lines) * self._line_height(style, t) > box.height + 1e-6 and len(lines) > 1:
            return None
        if len(lines) == 1 and t.size > box.height + 1e-6:
            return None
        return lines

    def _width(self, chars: list[tuple[str, str]], style: Style, t: _Try) -> float:
        return sum(self._char_width(f, c, style, t) for f, c in chars)

    def _as_much(self, chars: list[tuple[str, str]], box: Box, style: Style,
                 t: _Try) -> tuple[list[list[tuple[str, str]]], int]:
        if t.wrap:
            lines = self._break(chars, box.width, style, t)
            max_lines = max(1, int((box.height + 1e-6) // self._line_height(style, t)))
            kept = lines[:max_lines]
        else:
            kept = [chars]
        last = kept[-1]
        while last and self._width(last, style, t) > box.width + 1e-6:
            last = last[:-1]
        kept[-1] = last
        return kept, len(chars) - sum(len(line) for line in kept)

    # ------------------------------------------------------------------ drawing

    def _draw(self, lines: list[list[tuple[str, str]]], box: Box, style: Style, t: _Try,
              align: Align, valign: VAlign) -> list[TextRun]:
        lead = self._line_height(style, t)
        first = self.fonts.metrics(style.fonts[0])
        ascent, descent = first.ascent, first.descent
        block = lead * (len(lines) - 1) + t.size * (ascent + descent)
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
            baseline = top - t.size * ascent - i * lead
            natural = self._width(line, style, t) - spacing * t.scale   # no spacing after the last char
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
            for run in _group(line):
                char_space = spacing + extra
                ops.append(TextRun(x=x, y=baseline, font=run.family, size=t.size, text=run.text,
                                   h_scale=t.scale, char_space=char_space, gray=style.gray))
                x += sum(self._char_width(run.family, ch, style, t) + extra * t.scale for ch in run.text)
        return ops


def _group(line: list[tuple[str, str]]) -> list[Run]:
    out: list[Run] = []
    for fam, ch in line:
        if out and out[-1].family == fam:
            out[-1] = Run(fam, out[-1].text + ch)
        else:
            out.append(Run(fam, ch))
    return out

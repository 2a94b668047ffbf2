"""Text fitting: one line when it fits, then the declared overflow steps in order, 禁則 when wrapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.compose.text import NO_LINE_END, NO_LINE_START, Box, TextFitter
from renderer.errors import TextOverflowError
from renderer.fonts import FontSet
from renderer.spec.model import Condense, OverflowStep, Shrink, Style

FONTS = Path(__file__).resolve().parents[2] / "fonts"
STYLE = Style(fonts=["IPAexMincho", "IPAmjMincho"], size_pt=10)


@pytest.fixture(scope="module")
def fitter() -> TextFitter:
    return TextFitter(FontSet(FONTS))


def lines_of(runs: list) -> list[str]:  # type: ignore[type-arg]
    by_y: dict[float, str] = {}
    for r in runs:
        by_y[r.y] = by_y.get(r.y, "") + r.text
    return [by_y[y] for y in sorted(by_y, reverse=True)]


def fit(fitter: TextFitter, text: str, width: float, height: float, steps: list[OverflowStep],
        align: str = "left") -> tuple[list, object]:  # type: ignore[type-arg]
    box = Box(left=0, top=100, width=width, height=height)
    return fitter.fit(text, box, STYLE, align=align, valign="top", overflow=steps, field="f")  # type: ignore[arg-type]


def test_fits_on_one_line_without_report(fitter: TextFitter) -> None:
    runs, entry = fit(fitter, "住民票の写し", 100, 12, ["error"])
    assert entry is None
    assert lines_of(runs) == ["住民票の写し"]


def test_error_terminal_raises(fitter: TextFitter) -> None:
    with pytest.raises(TextOverflowError) as info:
        fit(fitter, "住民票の写し" * 5, 50, 12, ["error"])
    assert info.value.exit_code == 2 and info.value.rule == "overflow-error"


def test_condense_reports_ratio(fitter: TextFitter) -> None:
    runs, entry = fit(fitter, "一二三四五六", 50, 12, [Condense(condense=0.7), "error"])
    assert entry is not None and entry.step == "condense"   # type: ignore[attr-defined]
    assert runs[0].h_scale <= 50 / 60 + 1e-9
    assert runs[0].h_scale >= 0.7


def test_shrink_after_condense_floor(fitter: TextFitter) -> None:
    runs, entry = fit(fitter, "一二三四五六七八", 40, 12, [Condense(condense=0.8), Shrink(shrink_to_pt=6), "error"])
    assert entry.step == "shrink"   # type: ignore[attr-defined]
    assert runs[0].size < 10 and runs[0].size >= 6
    assert runs[0].size * 8 * runs[0].h_scale <= 40 + 1e-6


def test_fit_as_much_reports_lost_characters(fitter: TextFitter) -> None:
    runs, entry = fit(fitter, "一二三四五六七八九十", 50, 12, ["fit_as_much"])
    assert lines_of(runs) == ["一二三四五"]
    assert entry.step == "fit_as_much" and entry.chars_lost == 5   # type: ignore[attr-defined]


def test_blank_prints_nothing_and_reports(fitter: TextFitter) -> None:
    runs, entry = fit(fitter, "一二三四五六七八九十", 50, 12, ["blank"])
    assert runs == []
    assert entry.step == "blank" and entry.chars_lost == 10   # type: ignore[attr-defined]


def test_wrap_applies_kinsoku(fitter: TextFitter) -> None:
    # 5 characters per line; the 6th is 「。」, which may not start a line, so 「お。」 moves down together.
    runs, entry = fit(fitter, "あいうえお。かきくけこ", 50, 60, ["wrap", "error"])
    lines = lines_of(runs)
    assert entry.step == "wrap"   # type: ignore[attr-defined]
    assert all(line[0] not in NO_LINE_START for line in lines)
    assert all(line[-1] not in NO_LINE_END for line in lines)
    assert "".join(lines) == "あいうえお。かきくけこ"
    assert lines[0] == "あいうえ"


def test_wrap_never_ends_line_with_opening_bracket(fitter: TextFitter) -> None:
    runs, _ = fit(fitter, "あいうえ「おか」きく", 50, 60, ["wrap", "error"])
    lines = lines_of(runs)
    assert all(line[-1] not in NO_LINE_END for line in lines)
    assert "".join(lines) == "あいうえ「おか」きく"


def test_fullwidth_space_is_kept(fitter: TextFitter) -> None:
    runs, _ = fit(fitter, "見本　太郎", 100, 12, ["error"])
    assert lines_of(runs) == ["見本　太郎"]


def test_distribute_spreads_to_box_width(fitter: TextFitter) -> None:
    runs, _ = fit(fitter, "住所", 40, 12, ["error"], align="distribute")
    (run,) = runs
    assert run.x == 0
    assert run.char_space == pytest.approx(20.0)   # 40 pt box, two 10 pt characters: 20 pt between


def test_right_and_center_alignment(fitter: TextFitter) -> None:
    (right,), _ = fit(fitter, "住所", 40, 12, ["error"], align="right")
    (center,), _ = fit(fitter, "住所", 40, 12, ["error"], align="center")
    assert right.x == pytest.approx(20.0) and center.x == pytest.approx(10.0)


def test_wrap_never_splits_an_ascii_number(fitter: TextFitter) -> None:
    # "あいう12345" in a 5-em box: the number moves to the next line whole.
    runs, _ = fit(fitter, "あいう12345えお", 50, 60, ["wrap", "error"])
    lines = lines_of(runs)
    assert lines[0] == "あいう"
    assert lines[1].startswith("12345")

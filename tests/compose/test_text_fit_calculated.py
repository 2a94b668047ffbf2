"""Fitting by calculation makes the decisions of the step-by-step search: the calculated `TextFitter` against
the brute-force reference (`fit_reference.ReferenceFitter`, the fitter as it was) over random strings, boxes,
sizes, letter spacing and overflow policies, and at the edges (exact fit, the 長体 floor, IVS clusters, font
fallback, line breaks, vertical text). Equal means equal: the same runs (every float) and the same report."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from fit_reference import ReferenceFitter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderer.compose.text import Box, OverflowEntry, TextFitter, _Measure, _Try, scale_steps
from renderer.display import TextRun
from renderer.errors import ChohyoError
from renderer.fonts import FontSet
from renderer.spec.model import Condense, OverflowStep, Shrink, Style

FONTS = Path(__file__).resolve().parents[2] / "fonts"
#: characters and clusters: kanji, kana, 禁則 characters, ASCII words and digits, spaces, IVS sequences
#: (辻󠄂, 邊󠄉: IPAmj明朝's format-14 cmap; 辻󠄀 U+E0100 no font registers: base glyph), 𠮷 (fallback to IPAmj明朝)
TOKENS = ("一", "住", "民", "票", "写", "あ", "い", "ア", "ッ", "ー", "。", "、", "「", "」", "（", "）", "・",
          "1", "2", "0", "A", "b", "Z", "　", " ", "号", "番", "地", "ｱ", "辻\U000E0102", "邊\U000E0109",
          "辻\U000E0100", "\U00020BB7", "\n")
CHAINS = (["IPAexMincho", "IPAmjMincho"], ["IPAexGothic", "IPAmjMincho"], ["IPAmjMincho"])
LAYOUT_POLICIES: tuple[list[OverflowStep], ...] = (
    [Condense(condense=0.6), "error"],
    [Condense(condense=0.7), Shrink(shrink_to_pt=7), "error"],
    ["wrap", "error"],
    [Condense(condense=0.8), "error"],
    ["wrap", Shrink(shrink_to_pt=7.5), Condense(condense=0.8), "error"],
    [Condense(condense=0.6), Shrink(shrink_to_pt=9), "wrap", "error"],
    [Condense(condense=0.6), "wrap", "error"],
    ["wrap", Shrink(shrink_to_pt=8.5), "error"],
)


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return FontSet(FONTS)


Outcome = tuple[str, list[TextRun] | str, OverflowEntry | None]


def outcome(fitter: TextFitter | ReferenceFitter, text: str, box: Box, style: Style, policy: list[OverflowStep],
            *, align: str = "left", valign: str = "top", direction: str = "horizontal") -> Outcome:
    """The runs and report entry of one fit, or the error it raised (class and message). The calculated
    fitter is asked through `_fit`, past the process-wide cache."""
    try:
        if isinstance(fitter, TextFitter):
            runs, entry = fitter._fit(text, box, style, align=align, valign=valign,  # type: ignore[arg-type]
                                      overflow=policy, field="f", direction=direction,  # type: ignore[arg-type]
                                      substitute=None, sink=lambda _e: None)
        else:
            runs, entry = fitter.fit(text, box, style, align=align, valign=valign,  # type: ignore[arg-type]
                                     overflow=policy, field="f", direction=direction)  # type: ignore[arg-type]
    except (ChohyoError, KeyError) as exc:   # KeyError: a "\n" in unwrapped fit_as_much text (as before)
        return ("raised", f"{type(exc).__name__}: {exc}", None)
    return ("fitted", runs, entry)


def assert_same(fonts: FontSet, text: str, box: Box, style: Style, policy: list[OverflowStep], **kw: str) -> Outcome:
    ours = outcome(TextFitter(fonts), text, box, style, policy, **kw)
    ref = outcome(ReferenceFitter(fonts), text, box, style, policy, **kw)
    assert ours == ref, (text, box, style, policy, kw)
    return ours


policies = st.one_of(
    st.sampled_from(LAYOUT_POLICIES),
    st.builds(
        lambda steps, terminal: [*steps, terminal],
        st.lists(st.one_of(st.just("wrap"),
                           st.builds(Condense, condense=st.floats(0.3, 1.0)),
                           st.builds(Shrink, shrink_to_pt=st.floats(3, 12))), max_size=3),
        st.sampled_from(["error", "fit_as_much", "blank"])),
)
texts = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=60).map("".join)
styles = st.builds(
    lambda chain, size, spacing, line_height: Style(fonts=chain, size_pt=size, letter_spacing_em=spacing,
                                                    line_height=line_height),
    st.sampled_from(CHAINS),
    st.one_of(st.sampled_from([7.0, 8.0, 9.0, 10.0, 10.5, 12.0]), st.floats(6, 14)),
    st.one_of(st.just(0.0), st.sampled_from([-0.2, -0.05, 0.1, 0.25]), st.floats(-0.2, 0.6)),
    st.sampled_from([1.0, 1.25, 1.5]),
)
boxes = st.builds(lambda w, h: Box(left=10, top=200, width=w, height=h), st.floats(3, 400), st.floats(3, 80))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, box=boxes, style=styles, policy=policies,
       align=st.sampled_from(["left", "center", "right", "distribute"]),
       valign=st.sampled_from(["top", "middle", "bottom"]))
def test_random_fits_match_the_search(fonts: FontSet, text: str, box: Box, style: Style,
                                      policy: list[OverflowStep], align: str, valign: str) -> None:
    assert_same(fonts, text, box, style, policy, align=align, valign=valign)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, box=boxes, style=styles, policy=policies, align=st.sampled_from(["left", "center", "right"]))
def test_vertical_fits_match_the_search(fonts: FontSet, text: str, box: Box, style: Style,
                                        policy: list[OverflowStep], align: str) -> None:
    assert_same(fonts, text, box, style, policy, align=align, direction="vertical")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, width=st.floats(3, 300), style=styles,
       align=st.sampled_from(["left", "center", "right", "distribute"]))
def test_wrap_points_and_split_rows_match_the_search(fonts: FontSet, text: str, width: float, style: Style,
                                                     align: str) -> None:
    ours, ref = TextFitter(fonts), ReferenceFitter(fonts)
    lines = ours.wrap(text, width, style, field="f")
    assert lines == ref.wrap(text, width, style, field="f")
    box = Box(left=5, top=300, width=width, height=200)
    assert ours.draw_lines(lines[1:], box, style, align=align) == ref.draw_lines(  # type: ignore[arg-type]
        lines[1:], box, style, align=align)  # type: ignore[arg-type]


def exact_length(fonts: FontSet, text: str, style: Style, scale: float, size: float) -> float:
    ref = ReferenceFitter(fonts)
    clusters = fonts.clusters(text, style.fonts, field="f")
    return ref._length(clusters, style, _Try(False, scale, size), False)


@pytest.mark.parametrize("spacing", [0.0, 0.1, -0.2])
@pytest.mark.parametrize("floor", [0.3, 0.6, 0.7, 0.8, 0.95, 1.0])
def test_exact_fit_at_every_step_and_one_ulp_either_side(fonts: FontSet, spacing: float, floor: float) -> None:
    """A box exactly as wide as the text at a step (the limit is width + 1e-6): the estimate is within
    rounding of the limit, so the exact sum decides — as the search does, to the last bit."""
    rng = random.Random(floor * 100 + spacing)
    chain = ["IPAexMincho", "IPAmjMincho"]
    for _ in range(6):
        text = "".join(rng.choice(TOKENS[:-1]) for _ in range(rng.randint(1, 40)))
        style = Style(fonts=chain, size_pt=rng.choice([8.0, 9.5, 10.0, 11.0]), letter_spacing_em=spacing)
        for scale in scale_steps(1.0, floor):
            length = exact_length(fonts, text, style, scale, style.size_pt)
            for width in (length - 1e-6, math.nextafter(length - 1e-6, 0), math.nextafter(length - 1e-6, 1e9),
                          length, length - 2e-6):
                if width <= 0:
                    continue
                box = Box(left=0, top=50, width=width, height=30)
                cases: list[list[OverflowStep]] = [
                    [Condense(condense=floor), "error"],
                    [Condense(condense=floor), Shrink(shrink_to_pt=6), "fit_as_much"],
                    ["wrap", Condense(condense=floor), "blank"]]
                for policy in cases:
                    assert_same(fonts, text, box, style, policy)


def test_minimum_scale_and_below(fonts: FontSet) -> None:
    style = Style(fonts=["IPAexMincho", "IPAmjMincho"], size_pt=10)
    text = "住民票の写し交付請求書" + "辻\U000E0102" + "\U00020BB7"
    at_floor = exact_length(fonts, text, style, 0.6, 10)
    full = exact_length(fonts, text, style, 1.0, 10)
    for width in (at_floor, at_floor - 1e-6, at_floor - 0.01, at_floor * 0.9, (at_floor + full) / 2, 1.0):
        box = Box(left=0, top=50, width=width, height=12)
        kind, _runs, entry = assert_same(fonts, text, box, style, [Condense(condense=0.6), "fit_as_much"])
        assert kind == "fitted" and entry is not None
        if width >= at_floor - 1e-6:
            assert entry.step == "condense" and entry.h_scale >= 0.6
        else:
            assert entry.step == "fit_as_much" and entry.h_scale == 0.6


def test_ivs_and_fallback_clusters_are_measured_in_their_own_fonts(fonts: FontSet) -> None:
    style = Style(fonts=["IPAexMincho", "IPAmjMincho"], size_pt=10)
    text = "辻\U000E0102邊\U000E0109\U00020BB7見本"
    clusters = fonts.clusters(text, style.fonts, field="f")
    assert [c.family for c in clusters] == ["IPAmjMincho", "IPAmjMincho", "IPAmjMincho", "IPAexMincho",
                                            "IPAexMincho"]
    measure = TextFitter(fonts)._measure(clusters)
    ref = ReferenceFitter(fonts)
    assert measure.exact(10, 0.0, 0.8) == ref._length(clusters, style, _Try(False, 0.8, 10), False)
    for width in (20.0, 35.0, 40.0, 45.0, 49.99, 50.0):
        assert_same(fonts, text, Box(0, 50, width, 12), style, [Condense(condense=0.6), "blank"])


def test_scale_steps_are_the_search_sequence() -> None:
    assert scale_steps(1.0, 0.9) == [1.0, 0.975, 0.95, 0.925, 0.9]
    assert scale_steps(1.0, 0.91) == [1.0, 0.975, 0.95, 0.925, 0.91]
    assert scale_steps(0.8, 0.8) == [0.8]
    assert scale_steps(0.7, 0.8) == [0.7]
    assert len(scale_steps(1.0, 0.3)) == 29 and scale_steps(1.0, 0.3)[-1] == 0.3


@settings(max_examples=300, deadline=None)
@given(ems=st.lists(st.floats(0, 2), min_size=1, max_size=80), size=st.floats(3, 96),
       spacing_em=st.floats(-0.2, 2.0), scale=st.floats(0.3, 1.0), nudge=st.integers(-3, 3))
def test_exceeds_agrees_with_the_exact_sum(ems: list[float], size: float, spacing_em: float, scale: float,
                                           nudge: int) -> None:
    measure = _Measure(ems)
    spacing = spacing_em * size
    exact = measure.exact(size, spacing, scale)
    limit = exact
    for _ in range(abs(nudge)):   # limits a few ulps around the exact length: the estimate cannot decide
        limit = math.nextafter(limit, math.inf if nudge > 0 else -math.inf)
    for lim in (limit, exact * 1.01 + 1, exact * 0.99 - 1):
        assert measure.exceeds(size, spacing, scale, lim) == (exact > lim)

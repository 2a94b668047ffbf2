"""`check_issued_on_window`: a notice or list is dated within the window its layout declares.

The function is pure (today is given), so every edge is checked directly: both ends of the window are
accepted, one day beyond either is refused with rule ``issued-on-window`` on ``request.issued_on``, far dates
(9999-12-31, 0001-01-01) are refused without an OverflowError, and a layout without a window gets the
defaults (60 days back, 180 ahead).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from renderer.errors import RefusedError
from renderer.rules.dates import ISSUED_ON_WINDOW_RULE, check_issued_on_window, issued_on_window
from renderer.spec.model import IssuedOnWindow, LayoutSpec

TODAY = dt.date(2026, 11, 27)
DAY = dt.timedelta(days=1)


def layout(kind: str = "notice", window: dict[str, Any] | None = None) -> LayoutSpec:
    raw: dict[str, Any] = {
        "schema_version": 1,
        "id": "dates-sample",
        "kind": kind,
        "title": "見本",
        "standard": {"business": "税務", "form": "見本", "reference": "tests"},
        "data_model": "nozei_notice",
        "styles": {"body": {"fonts": ["IPAexMincho"], "size_pt": 9}},
        "elements": [{"type": "text", "at": [15, 6], "width": 100, "text": "通知"}],
    }
    if window is not None:
        raw["issued_on_window"] = window
    return LayoutSpec.model_validate(raw)


def refusal(spec: LayoutSpec, issued_on: dt.date, today: dt.date = TODAY) -> RefusedError:
    with pytest.raises(RefusedError) as info:
        check_issued_on_window(spec, issued_on, today)
    return info.value


def test_today_is_accepted() -> None:
    check_issued_on_window(layout(), TODAY, TODAY)
    check_issued_on_window(layout("list"), TODAY, TODAY)


def test_the_far_future_is_refused_naming_rule_field_window_and_date() -> None:
    exc = refusal(layout(), dt.date(9999, 12, 31))
    assert exc.rule == ISSUED_ON_WINDOW_RULE == "issued-on-window"
    assert exc.field == "request.issued_on"
    assert exc.exit_code == 3
    assert "9999-12-31" in exc.message
    assert "2026-09-28" in exc.message and "2027-05-26" in exc.message   # the default window's ends
    assert "60 days back" in exc.message and "180 days" in exc.message
    assert "after" in exc.message


def test_the_far_past_is_refused_without_overflow() -> None:
    exc = refusal(layout(), dt.date(1, 1, 1))
    assert "before" in exc.message
    # the window's arithmetic is clamped to the calendar near its ends
    check_issued_on_window(layout(window={"days_back": 3660, "days_ahead": 3660}), dt.date.max, dt.date.max)
    check_issued_on_window(layout(window={"days_back": 3660, "days_ahead": 3660}), dt.date.min, dt.date.min)


def test_the_default_window_edges() -> None:
    spec = layout()
    assert issued_on_window(spec) == IssuedOnWindow(days_back=60, days_ahead=180)
    check_issued_on_window(spec, TODAY - 60 * DAY, TODAY)
    check_issued_on_window(spec, TODAY + 180 * DAY, TODAY)
    refusal(spec, TODAY - 61 * DAY)
    refusal(spec, TODAY + 181 * DAY)


def test_a_declared_window_replaces_the_default() -> None:
    spec = layout(window={"days_back": 7, "days_ahead": 30})
    check_issued_on_window(spec, TODAY - 7 * DAY, TODAY)
    check_issued_on_window(spec, TODAY + 30 * DAY, TODAY)
    refusal(spec, TODAY - 8 * DAY)
    refusal(spec, TODAY + 31 * DAY)
    assert "7 days back, 30 days ahead" in refusal(spec, TODAY + 31 * DAY).message


def test_a_zero_window_means_today_only() -> None:
    spec = layout("list", window={"days_back": 0, "days_ahead": 0})
    check_issued_on_window(spec, TODAY, TODAY)
    refusal(spec, TODAY - DAY)
    refusal(spec, TODAY + DAY)


def test_omitted_keys_take_their_defaults() -> None:
    assert issued_on_window(layout(window={"days_ahead": 5})) == IssuedOnWindow(days_back=60, days_ahead=5)


def test_a_certificate_is_today_only() -> None:
    spec = layout("certificate")
    check_issued_on_window(spec, TODAY, TODAY)
    refusal(spec, TODAY + DAY)


@pytest.mark.parametrize("window", [
    {"days_back": -1},
    {"days_ahead": 3661},
    {"days_back": 10, "weeks": 1},
])
def test_the_window_is_bounded_and_closed(window: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        layout(window=window)

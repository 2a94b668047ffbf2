"""The date a document may be issued on: a certificate today, a notice or list within its layout's window.

In: the layout, the request's `issued_on` and today (Asia/Tokyo, by the server's clock — the caller
computes it; nothing here reads a clock). Out: nothing, or `RefusedError` (exit 3, field
``request.issued_on``) naming the rule — ``issued-on-today`` for a certificate not dated today,
``issued-on-window`` for a notice or list outside its window — and the dates.

A notice may be dated ahead for a scheduled mailing or back for a reprint, within
[today − days_back, today + days_ahead]; a layout without `issued_on_window` gets the defaults of
`IssuedOnWindow` (60 days back, 180 ahead). A certificate is dated today (`check_issued_on`); should
`check_issued_on_window` be given one anyway, its window is today only.
"""

from __future__ import annotations

import datetime as dt

from renderer.errors import RefusedError
from renderer.spec.model import IssuedOnWindow, LayoutSpec

ISSUED_ON_RULE = "issued-on-today"
ISSUED_ON_WINDOW_RULE = "issued-on-window"
# valid by construction; made without building IssuedOnWindow's validator (a cached layout never needs it)
_TODAY_ONLY = IssuedOnWindow.model_construct(days_back=0, days_ahead=0)
_DEFAULT_WINDOW = IssuedOnWindow.model_construct()


def issued_on_window(layout: LayoutSpec) -> IssuedOnWindow:
    """The window that applies to `layout` (declared, default, or today only for a certificate)."""
    if layout.kind == "certificate":
        return _TODAY_ONLY
    return layout.issued_on_window or _DEFAULT_WINDOW


def check_issued_on(layout: LayoutSpec, issued_on: dt.date, today: dt.date) -> None:
    """A certificate is dated today: no back- or post-dating; a notice or list within its window."""
    if layout.kind != "certificate":
        check_issued_on_window(layout, issued_on, today)
    elif issued_on != today:
        raise RefusedError(f"request.issued_on is {issued_on.isoformat()}, but a certificate is issued "
                           f"today ({today.isoformat()} in Asia/Tokyo by the server's clock)",
                           rule=ISSUED_ON_RULE, field="request.issued_on")


def check_issued_on_window(layout: LayoutSpec, issued_on: dt.date, today: dt.date) -> None:
    """Refuse `issued_on` outside [today − days_back, today + days_ahead] (both ends included)."""
    window = issued_on_window(layout)
    earliest = _shift(today, -window.days_back)
    latest = _shift(today, window.days_ahead)
    if earliest <= issued_on <= latest:
        return
    side = "before" if issued_on < earliest else "after"
    raise RefusedError(
        f"request.issued_on is {issued_on.isoformat()}, {side} the window the layout {layout.id} accepts: "
        f"{earliest.isoformat()} to {latest.isoformat()} ({window.days_back} days back, {window.days_ahead} days "
        f"ahead of today, {today.isoformat()} in Asia/Tokyo by the server's clock)",
        rule=ISSUED_ON_WINDOW_RULE, field="request.issued_on")


def _shift(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days`, clamped to the calendar's range (no OverflowError near year 1 or 9999)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min

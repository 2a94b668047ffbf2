"""Shared field types for input data.

In: JSON values. Out: Python values. `IsoDate` accepts only an ISO 8601 calendar date string
(``YYYY-MM-DD``) or a date, never a number: pydantic's lax mode would read ``0`` as 1970-01-01, and a
生年月日 must never be invented from a wrong type.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO.match(value):
        return value
    raise ValueError("expected a date written YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

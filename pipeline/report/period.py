"""Report periods: "7d", "24h", "2w" as a timedelta (a clear one-line error otherwise)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class ReportError(ValueError):
    """A report that cannot be made as asked (unknown brand, bad period); the message is one line."""


def parse_period(text: str) -> timedelta:
    m = re.fullmatch(r"\s*(\d{1,4})\s*([hdw])\s*", str(text).lower())
    if not m or int(m.group(1)) == 0:
        raise ReportError(f"period {text!r}: expected a number and h, d or w (e.g. 7d, 24h, 2w)")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})

"""Numbers with their units, as a person reads them: ``12,345``, ``3 min 20 s``, ``2 h ago``.

Pure functions of plain values, so the app and its tests agree on every label.
"""

from __future__ import annotations

import math
from datetime import datetime


def count(value: float | int | None) -> str:
    """A whole number with thousands separators; a dash for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{round(value):,}"


def seconds(value: float | int | None) -> str:
    """A duration: ``0.8 s``, ``42 s``, ``3 min 20 s``, ``2 h 05 min``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{round(value)} s"
    total = round(value)
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(total, 3600)
    return f"{hours} h {rest // 60:02d} min"


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit that matters: ``4 min ago``, ``3 d 2 h ago``."""
    if then is None:
        return "never"
    delta = (now - then).total_seconds()
    if delta < 0:
        return "in the future (clock skew?)"
    if delta < 60:
        return "just now"
    minutes = int(delta // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min ago"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h ago"


def utc(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def hour(moment: datetime | None) -> str:
    """An hour, short enough for a metric: ``Jan 28, 23:00``."""
    return "-" if moment is None else f"{moment:%b %d, %H:00}"

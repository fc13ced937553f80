"""Hour arithmetic and window planning: pure functions of plain values.

Amplitude's Export API takes UTC hours, both ends inclusive, filtered on
``server_upload_time``. Everything here works on timezone-aware UTC datetimes truncated
to the hour; the API's ``YYYYMMDDTHH`` form is produced only at the edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from amplitude_ingest.errors import InvalidWindowError

ONE_HOUR = timedelta(hours=1)
MAX_REQUEST_HOURS = 365 * 24

_HOUR_FORMS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T ](?P<h>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})T(?P<h>\d{1,2})$"),
)
_DAY_FORM = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")


def floor_hour(moment: datetime) -> datetime:
    """Truncate to the hour, in UTC (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def parse_hour(text: str, *, end_of_day: bool = False) -> datetime:
    """Parse ``2026-01-26T05``, ``20260126T05`` or a whole day ``2026-01-26``.

    A whole day means its first hour, or its last when ``end_of_day`` (the end of a range).
    """
    value = text.strip()
    for form in _HOUR_FORMS:
        match = form.match(value)
        if match:
            hour = int(match["h"])
            break
    else:
        match = _DAY_FORM.match(value)
        if not match:
            raise InvalidWindowError(
                f"{text!r} is not an hour: use 2026-01-26T05, 20260126T05 or a day 2026-01-26"
            )
        hour = 23 if end_of_day else 0
    try:
        return datetime(int(match["y"]), int(match["m"]), int(match["d"]), hour, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidWindowError(f"{text!r} is not a valid UTC hour: {exc}") from exc


def parse_bounds(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """A requested range as given by a user: a day as ``end`` means its last hour.

    A backwards range is refused here, before anything else is looked at.
    """
    first = parse_hour(start) if start else None
    last = parse_hour(end, end_of_day=True) if end else None
    if first is not None and last is not None and last < first:
        raise InvalidWindowError(
            f"the range is backwards: end {format_hour(last)} is before start {format_hour(first)}"
        )
    return first, last


def format_hour(hour: datetime) -> str:
    """The Export API's form, ``20260126T05``."""
    return floor_hour(hour).strftime("%Y%m%dT%H")


def newest_exportable_hour(now: datetime, lag_hours: int) -> datetime:
    """The last hour whose data Amplitude has finished preparing.

    Amplitude makes an hour exportable about two hours after it ends; ``lag_hours`` is
    counted from the hour's start, so the default of 3 leaves a margin of one hour.
    """
    return floor_hour(now) - timedelta(hours=lag_hours)


def hour_range(start: datetime, end: datetime) -> list[datetime]:
    """Every hour from ``start`` to ``end``, both inclusive."""
    hours = []
    current = floor_hour(start)
    last = floor_hour(end)
    while current <= last:
        hours.append(current)
        current += ONE_HOUR
    return hours


def validate_range(start: datetime, end: datetime, newest_exportable: datetime) -> None:
    """Refuse a range that starts after the newest exportable hour, a backwards range, or
    one that reaches past what Amplitude can export.

    The start is checked first: with no end given, the end is the newest exportable hour,
    and a start after it is a start in the future, not a range typed backwards.
    """
    newest = format_hour(newest_exportable)
    why = "(Amplitude needs about 2 hours after an hour ends; see --lag-hours)"
    if start > newest_exportable:
        raise InvalidWindowError(
            f"start {format_hour(start)} is after the newest exportable hour {newest}: "
            f"nothing from that hour on can be exported yet {why}"
        )
    if end < start:
        raise InvalidWindowError(
            f"the range is backwards: end {format_hour(end)} is before start {format_hour(start)}"
        )
    if end > newest_exportable:
        raise InvalidWindowError(
            f"hour {format_hour(end)} is not exportable yet: the newest exportable hour is "
            f"{newest} {why}"
        )


@dataclass(frozen=True, order=True)
class HourWindow:
    """A contiguous run of hours requested in one Export API call, both ends inclusive."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidWindowError("a window cannot end before it starts")

    @property
    def hours(self) -> list[datetime]:
        return hour_range(self.start, self.end)

    @property
    def size(self) -> int:
        return int((self.end - self.start) / ONE_HOUR) + 1

    def contains(self, hour: datetime) -> bool:
        return self.start <= hour <= self.end

    def halves(self) -> tuple[HourWindow, HourWindow]:
        """Split in two for a retry after 400/504; only windows of two hours or more split."""
        if self.size < 2:
            raise ValueError("a one-hour window cannot be split")
        first_end = self.start + ONE_HOUR * (self.size // 2 - 1)
        return HourWindow(self.start, first_end), HourWindow(first_end + ONE_HOUR, self.end)

    def label(self) -> str:
        if self.size == 1:
            return format_hour(self.start)
        return f"{format_hour(self.start)}..{format_hour(self.end)}"


def plan_windows(hours: Iterable[datetime], max_window_hours: int) -> list[HourWindow]:
    """Group hours into contiguous windows of at most ``max_window_hours`` each."""
    if not 1 <= max_window_hours <= MAX_REQUEST_HOURS:
        raise InvalidWindowError(f"window size must be 1..{MAX_REQUEST_HOURS} hours")
    windows: list[HourWindow] = []
    for run in _contiguous_runs(sorted({floor_hour(h) for h in hours})):
        for offset in range(0, len(run), max_window_hours):
            chunk = run[offset : offset + max_window_hours]
            windows.append(HourWindow(chunk[0], chunk[-1]))
    return windows


def _contiguous_runs(hours: Sequence[datetime]) -> Iterator[list[datetime]]:
    run: list[datetime] = []
    for hour in hours:
        if run and hour - run[-1] != ONE_HOUR:
            yield run
            run = []
        run.append(hour)
    if run:
        yield run


def resume_hours(
    *,
    watermark: datetime | None,
    unfinished: Iterable[datetime],
    newest_exportable: datetime,
    initial_hours: int,
    max_hours: int | None,
) -> list[datetime]:
    """Hours a run without ``--start`` should export, oldest first, at most ``max_hours``
    (None: all of them, which is how far behind the ledger is).

    Hours the ledger holds as failed or pending come first (they are the gaps), then every
    hour after the watermark up to the newest exportable one. With an empty ledger the run
    starts ``initial_hours`` before the newest exportable hour.
    """
    if watermark is None:
        first_new = newest_exportable - ONE_HOUR * (initial_hours - 1)
    else:
        first_new = watermark + ONE_HOUR
    gaps = sorted({h for h in unfinished if h <= newest_exportable})
    fresh = hour_range(first_new, newest_exportable) if first_new <= newest_exportable else []
    ordered = list(dict.fromkeys([*gaps, *fresh]))
    return ordered[:max_hours]

"""``amplitude_ingest.hours``: hours as users type them, ranges refused with the message
that names what is wrong, windows planned and halved, what a resumed run takes."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import InvalidWindowError
from amplitude_ingest.hours import (
    HourWindow,
    format_hour,
    hour_range,
    newest_exportable_hour,
    parse_hour,
    plan_windows,
    resume_hours,
    validate_range,
)

H = timedelta(hours=1)
BASE = datetime(2026, 1, 26, tzinfo=UTC)
hours_strategy = st.integers(min_value=0, max_value=24 * 60).map(lambda n: BASE + n * H)


@pytest.mark.parametrize(
    ("text", "end_of_day", "expected"),
    [
        ("2026-01-26T05", False, datetime(2026, 1, 26, 5, tzinfo=UTC)),
        ("20260126T05", False, datetime(2026, 1, 26, 5, tzinfo=UTC)),
        ("20260126T5", False, datetime(2026, 1, 26, 5, tzinfo=UTC)),
        ("2026-01-26", False, datetime(2026, 1, 26, 0, tzinfo=UTC)),
        ("2026-01-26", True, datetime(2026, 1, 26, 23, tzinfo=UTC)),
        (" 2026-01-26T23 ", True, datetime(2026, 1, 26, 23, tzinfo=UTC)),
    ],
)
def test_parse_hour_forms(text: str, end_of_day: bool, expected: datetime) -> None:
    assert parse_hour(text, end_of_day=end_of_day) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "2026-01-26T24", "26/01/2026"])
def test_parse_hour_rejects_with_a_message_naming_the_input(text: str) -> None:
    with pytest.raises(InvalidWindowError, match="not"):
        parse_hour(text)


def test_backwards_range_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidWindowError, match="backwards"):
        validate_range(BASE + 5 * H, BASE, BASE + 100 * H)


def test_future_range_is_refused_with_the_newest_exportable_hour() -> None:
    newest = newest_exportable_hour(datetime(2026, 1, 26, 12, 30, tzinfo=UTC), 3)
    assert newest == datetime(2026, 1, 26, 9, tzinfo=UTC)
    with pytest.raises(InvalidWindowError, match="20260126T09"):
        validate_range(BASE, BASE + 10 * H, newest)
    validate_range(BASE, newest, newest)


def test_a_start_after_the_newest_exportable_hour_is_named_as_such_not_as_backwards() -> None:
    newest = BASE + 9 * H
    future = datetime(2099, 1, 1, tzinfo=UTC)
    why = "(Amplitude needs about 2 hours after an hour ends; see --lag-hours)"
    # No end typed: the plan ends the range at the newest exportable hour.
    for end in (newest, future + 5 * H):
        with pytest.raises(InvalidWindowError) as refused:
            validate_range(future, end, newest)
        assert str(refused.value) == (
            "start 20990101T00 is after the newest exportable hour 20260126T09: "
            f"nothing from that hour on can be exported yet {why}"
        )
    with pytest.raises(InvalidWindowError) as refused:
        validate_range(BASE, BASE + 10 * H, newest)
    assert str(refused.value) == (
        f"hour 20260126T10 is not exportable yet: the newest exportable hour is 20260126T09 {why}"
    )
    with pytest.raises(InvalidWindowError) as refused:
        validate_range(BASE + 5 * H, BASE, newest)
    assert str(refused.value) == (
        "the range is backwards: end 20260126T00 is before start 20260126T05"
    )


def test_halves_split_evenly_and_cover_the_window() -> None:
    first, second = HourWindow(BASE, BASE + 4 * H).halves()
    assert (first.size, second.size) == (2, 3)
    assert first.end + H == second.start
    with pytest.raises(ValueError, match="one-hour"):
        HourWindow(BASE, BASE).halves()


@given(st.lists(hours_strategy, max_size=80), st.integers(min_value=1, max_value=30))
def test_plan_windows_covers_each_hour_exactly_once(hours: list[datetime], size: int) -> None:
    windows = plan_windows(hours, size)
    covered = [h for w in windows for h in w.hours]
    assert covered == sorted(set(hours))
    assert all(1 <= w.size <= size for w in windows)
    assert all(w.hours == hour_range(w.start, w.end) for w in windows)


@given(hours_strategy, st.integers(min_value=2, max_value=400))
def test_halves_partition_any_window(start: datetime, size: int) -> None:
    window = HourWindow(start, start + (size - 1) * H)
    first, second = window.halves()
    assert first.hours + second.hours == window.hours
    assert abs(first.size - second.size) <= 1


def test_resume_starts_after_the_watermark_and_puts_gaps_first() -> None:
    newest = BASE + 10 * H
    hours = resume_hours(
        watermark=BASE + 7 * H,
        unfinished=[BASE + 2 * H, BASE + 20 * H],
        newest_exportable=newest,
        initial_hours=24,
        max_hours=100,
    )
    assert hours == [BASE + 2 * H, BASE + 8 * H, BASE + 9 * H, BASE + 10 * H]


def test_resume_with_an_empty_ledger_takes_the_initial_hours_and_caps() -> None:
    newest = BASE + 30 * H
    hours = resume_hours(
        watermark=None, unfinished=[], newest_exportable=newest, initial_hours=24, max_hours=5
    )
    assert hours == hour_range(BASE + 7 * H, BASE + 11 * H)


def test_format_hour_is_the_api_form() -> None:
    assert format_hour(datetime(2026, 1, 2, 3, 59, tzinfo=UTC)) == "20260102T03"

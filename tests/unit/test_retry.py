"""``amplitude_ingest.retry``: what is retried, Retry-After honoured, attempts bounded."""

from datetime import UTC, datetime

import pytest

from amplitude_ingest.errors import (
    AmplitudeAuthError,
    ExportTimeoutError,
    ExportTooLargeError,
    RateLimitedError,
)
from amplitude_ingest.retry import is_retryable, parse_retry_after, window_retrying


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("100000", 600.0),
        ("Wed, 28 Jan 2026 00:00:30 GMT", 30.0),
        ("Wed, 28 Jan 2026 00:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2026, 1, 28, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_what_is_retried() -> None:
    assert is_retryable(RateLimitedError("x"), 4)
    assert is_retryable(ExportTimeoutError("x"), 1)
    assert not is_retryable(ExportTimeoutError("x"), 2)  # split instead
    assert not is_retryable(ExportTooLargeError("x"), 1)
    assert not is_retryable(AmplitudeAuthError("x"), 1)


def test_retry_after_is_honoured_and_attempts_are_bounded() -> None:
    sleeps: list[float] = []
    calls = 0
    retrying = window_retrying(
        label="w", window_hours=1, max_attempts=3, wait_initial=0.5, wait_max=5, sleep=sleeps.append
    )
    with pytest.raises(RateLimitedError):
        for attempt in retrying:
            with attempt:
                calls += 1
                raise RateLimitedError("429", retry_after=9.0)
    assert calls == 3
    assert sleeps == [9.0, 9.0]


def test_backoff_grows_without_retry_after() -> None:
    sleeps: list[float] = []
    retrying = window_retrying(
        label="w", window_hours=1, max_attempts=4, wait_initial=1, wait_max=100, sleep=sleeps.append
    )
    with pytest.raises(ExportTimeoutError):
        for attempt in retrying:
            with attempt:
                raise ExportTimeoutError("504")
    assert len(sleeps) == 3
    assert 1 <= sleeps[0] <= 2
    assert 2 <= sleeps[1] <= 3
    assert 4 <= sleeps[2] <= 5

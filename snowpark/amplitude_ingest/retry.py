"""The one retry policy: which failures are retried, how long to wait, when to stop.

Built on tenacity. A retried attempt restarts the whole window (download and unpack), since
a download that broke off cannot be resumed mid-zip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from amplitude_ingest.errors import ExportTimeoutError, TransientExportError

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 600.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER_SECONDS)


def is_retryable(exc: BaseException, window_hours: int) -> bool:
    """Transient failures are retried; a 504 too once the window is down to one hour."""
    if isinstance(exc, TransientExportError):
        return True
    return isinstance(exc, ExportTimeoutError) and window_hours == 1


class _RetryAfterOrBackoff(wait_base):
    """Honour the server's ``Retry-After`` when it sent one, else back off with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = wait_exponential(multiplier=initial, max=maximum) + wait_random(0, initial)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, TransientExportError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(retry_state))


def _log_retry(label: str) -> Callable[[RetryCallState], None]:
    def log(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "window %s attempt %d failed (%s); retrying in %.1f s",
            label,
            retry_state.attempt_number,
            exc,
            wait,
        )

    return log


def window_retrying(
    *,
    label: str,
    window_hours: int,
    max_attempts: int,
    wait_initial: float,
    wait_max: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """A tenacity ``Retrying`` for one window; the last failure is re-raised as is."""
    return Retrying(
        retry=retry_if_exception(lambda exc: is_retryable(exc, window_hours)),
        stop=stop_after_attempt(max_attempts),
        wait=_RetryAfterOrBackoff(wait_initial, wait_max),
        sleep=sleep,
        before_sleep=_log_retry(label),
        reraise=True,
    )

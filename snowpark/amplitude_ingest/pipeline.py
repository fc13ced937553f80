"""The extract run: plan hours from the ledger, hand windows to workers, record outcomes.

The CLI and the Snowflake procedure build the same :class:`Extractor`; they differ in the
workers (processes or threads), the stage and the ledger they pass in. One window's work
is in :mod:`amplitude_ingest.window_export`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime

from amplitude_ingest.errors import AmplitudeAuthError, AmplitudeIngestError
from amplitude_ingest.ledger import HourRecord, HourStatus, Ledger
from amplitude_ingest.settings import ExtractSettings
from amplitude_ingest.window_export import WindowResult
from amplitude_ingest.windows import (
    HourWindow,
    format_hour,
    hour_range,
    newest_exportable_hour,
    plan_windows,
    resume_hours,
    validate_range,
)
from amplitude_ingest.workers import Workers

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a run did; printed by the CLI, returned as a VARIANT by the procedure."""

    hours_planned: int = 0
    hours_done: int = 0
    hours_empty: int = 0
    hours_failed: int = 0
    hours_skipped: int = 0
    files: int = 0
    events: int = 0
    bytes: int = 0
    rejected_lines: int = 0
    windows_split: int = 0
    stopped_early: bool = False
    duration_seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.hours_failed == 0

    def one_line(self) -> str:
        mb = self.bytes / 1e6
        rate = mb / self.duration_seconds if self.duration_seconds > 0 else 0.0
        line = (
            f"hours: {self.hours_done} done, {self.hours_empty} empty, "
            f"{self.hours_failed} failed, {self.hours_skipped} already done | "
            f"{self.files} files, {self.events} events, {mb:.1f} MB JSON "
            f"({rate:.1f} MB/s), {self.rejected_lines} lines quarantined | "
            f"{self.duration_seconds:.1f} s"
        )
        if self.stopped_early:
            line += " | stopped at the time budget; the next run resumes"
        return line

    def as_dict(self) -> dict[str, object]:
        return {
            "hours_planned": self.hours_planned,
            "hours_done": self.hours_done,
            "hours_empty": self.hours_empty,
            "hours_failed": self.hours_failed,
            "hours_skipped": self.hours_skipped,
            "files": self.files,
            "events": self.events,
            "bytes": self.bytes,
            "rejected_lines": self.rejected_lines,
            "windows_split": self.windows_split,
            "stopped_early": self.stopped_early,
            "duration_seconds": round(self.duration_seconds, 3),
            "failures": dict(self.failures),
        }


ProgressCallback = Callable[[HourWindow, HourStatus], None]


class Extractor:
    def __init__(
        self,
        settings: ExtractSettings,
        workers: Workers,
        ledger: Ledger,
        *,
        destination: str = "the stage",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.ledger = ledger
        self.destination = destination
        self._clock = clock

    # -- planning ---------------------------------------------------------------------

    def plan(
        self, start: datetime | None, end: datetime | None, force: bool = False
    ) -> tuple[list[datetime], int]:
        """Hours to export now, and how many of the requested ones were already done."""
        newest = newest_exportable_hour(self._clock(), self.settings.lag_hours)
        if start is None:
            if end is not None:
                raise AmplitudeIngestError("an end hour needs a start hour")
            hours = resume_hours(
                watermark=self.ledger.watermark(),
                unfinished=self.ledger.unfinished(),
                newest_exportable=newest,
                initial_hours=self.settings.initial_hours,
                max_hours=self.settings.max_hours_per_run,
            )
        else:
            end = newest if end is None else end
            validate_range(start, end, newest)
            hours = hour_range(start, end)
        if force:
            return hours, 0
        known = self.ledger.get(hours)
        todo = [h for h in hours if not (h in known and known[h].status.is_complete)]
        return todo, len(hours) - len(todo)

    # -- running ----------------------------------------------------------------------

    def run(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        force: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> RunSummary:
        began = time.monotonic()
        hours, skipped = self.plan(start, end, force)
        summary = RunSummary(hours_planned=len(hours), hours_skipped=skipped)
        queue = deque(plan_windows(hours, self.settings.window_hours))
        budget = self.settings.time_budget_seconds
        deadline = None if budget is None else began + budget
        auth_error: AmplitudeAuthError | None = None
        logger.info(
            "exporting %d hours in %d windows to %s",
            len(hours),
            len(queue),
            self.destination,
        )
        in_flight: dict[Future[WindowResult], HourWindow] = {}
        while queue or in_flight:
            while queue and auth_error is None and len(in_flight) < self.settings.concurrency:
                if deadline is not None and time.monotonic() >= deadline:
                    summary.stopped_early = True
                    queue.clear()
                    break
                window = queue.popleft()
                tried_before = self._mark_pending(window)
                in_flight[self.workers.submit(window, tried_before)] = window
            if not in_flight:
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                window = in_flight.pop(future)
                try:
                    result = future.result()
                except AmplitudeAuthError as exc:
                    auth_error = auth_error or exc
                    queue.clear()
                    continue
                if result.needs_split:
                    first, second = window.halves()
                    logger.warning(
                        "window %s: %s; splitting into %s and %s",
                        window.label(),
                        result.error,
                        first.label(),
                        second.label(),
                    )
                    summary.windows_split += 1
                    queue.extendleft([second, first])
                    continue
                status = self._record(result, summary)
                if on_progress is not None:
                    on_progress(window, status)
        summary.duration_seconds = time.monotonic() - began
        if auth_error is not None:
            raise auth_error
        return summary

    def _mark_pending(self, window: HourWindow) -> bool:
        """Record the window's hours as in flight; True if any was attempted before."""
        known = self.ledger.get(window.hours)
        self.ledger.save(
            known[h].with_status(HourStatus.PENDING, error=None)
            if h in known
            else HourRecord(h, HourStatus.PENDING)
            for h in window.hours
        )
        return bool(known)

    def _record(self, result: WindowResult, summary: RunSummary) -> HourStatus:
        known = self.ledger.get(result.window.hours)
        records = []
        for hour in result.window.hours:
            previous = known.get(hour, HourRecord(hour, HourStatus.PENDING))
            attempts = previous.attempts + result.attempts
            if result.hours is None:
                message = str(result.error)
                records.append(
                    previous.with_status(HourStatus.FAILED, attempts=attempts, error=message)
                )
                summary.hours_failed += 1
                summary.failures[format_hour(hour)] = message
                continue
            outcome = result.hours[hour]
            has_lines = outcome.events or outcome.rejected_lines
            status = HourStatus.DONE if has_lines else HourStatus.EMPTY
            records.append(
                HourRecord(
                    hour,
                    status,
                    files=outcome.files,
                    events=outcome.events,
                    bytes=outcome.bytes,
                    rejected_lines=outcome.rejected_lines,
                    attempts=attempts,
                    keys=tuple(outcome.keys),
                )
            )
            summary.hours_done += status is HourStatus.DONE
            summary.hours_empty += status is HourStatus.EMPTY
            summary.files += outcome.files
            summary.events += outcome.events
            summary.bytes += outcome.bytes
            summary.rejected_lines += outcome.rejected_lines
        self.ledger.save(records)
        if result.hours is None:
            logger.error("window %s failed: %s", result.window.label(), result.error)
            return HourStatus.FAILED
        logger.info("window %s done after %d attempt(s)", result.window.label(), result.attempts)
        return HourStatus.DONE

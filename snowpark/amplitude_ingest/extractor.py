"""The extract run: plan hours from the ledger, hand windows to workers, record outcomes.

The CLI, the Snowflake procedure and the tests get an :class:`Extractor` from
:func:`amplitude_ingest.assembly.extraction`; they differ only in the workers, the stage and
the ledger they choose. One window's work is in :mod:`amplitude_ingest.exporter`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import UTC, datetime, timedelta

from amplitude_ingest.config import ExtractConfig
from amplitude_ingest.domain import (
    ExtractPlan,
    ExtractSummary,
    HourRecord,
    HourStatus,
    WindowResult,
)
from amplitude_ingest.errors import AmplitudeAuthError, AmplitudeIngestError, InvalidWindowError
from amplitude_ingest.hours import (
    HourWindow,
    format_hour,
    hour_range,
    newest_exportable_hour,
    plan_windows,
    resume_hours,
    validate_range,
)
from amplitude_ingest.ports import Ledger, Workers

logger = logging.getLogger(__name__)


ProgressCallback = Callable[[HourWindow, HourStatus], None]


class Extractor:
    def __init__(
        self,
        config: ExtractConfig,
        workers: Workers,
        ledger: Ledger,
        *,
        destination: str = "the stage",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        owner: str | None = None,
    ) -> None:
        self.config = config
        self.workers = workers
        self.ledger = ledger
        self.destination = destination
        self._clock = clock
        self.owner = owner or f"run-{uuid.uuid4().hex[:12]}"  # names this run's leases

    # -- planning ---------------------------------------------------------------------

    def plan(
        self, start: datetime | None = None, end: datetime | None = None, force: bool = False
    ) -> ExtractPlan:
        """Hours to export now, and how many of the requested ones were already done.

        Without ``start`` the run resumes: unfinished hours first, then every hour after the
        watermark. ``force`` exports hours the ledger holds as done, or given up, again;
        without it a given-up hour is left out and counted (``hours_skipped_given_up``).
        """
        newest = newest_exportable_hour(self._clock(), self.config.lag_hours)
        if start is None:
            if end is not None:
                raise InvalidWindowError("an end hour needs a start hour")
            hours = resume_hours(
                watermark=self.ledger.watermark(),
                unfinished=self.ledger.unfinished(),
                newest_exportable=newest,
                initial_hours=self.config.initial_hours,
                max_hours=self.config.max_hours,
            )
        else:
            end = newest if end is None else end
            validate_range(start, end, newest)
            hours = hour_range(start, end)
        explicit = start is not None
        if force:
            return ExtractPlan(hours, force=True, explicit=explicit)
        known = self.ledger.get(hours)
        todo = [h for h in hours if not (h in known and known[h].status.is_settled)]
        given_up = sum(1 for h in hours if h in known and known[h].status is HourStatus.GIVEN_UP)
        return ExtractPlan(
            todo,
            already_done=len(hours) - len(todo) - given_up,
            given_up=given_up,
            explicit=explicit,
        )

    # -- running ----------------------------------------------------------------------

    def run(self, plan: ExtractPlan, on_progress: ProgressCallback | None = None) -> ExtractSummary:
        """Export the plan's hours; a failed hour is recorded, an auth error stops the run.

        The hours are claimed first, under a lease: an hour another run is exporting right
        now is left to it (``hours_held_elsewhere``), so two runs never export it at once.
        """
        began = time.monotonic()
        summary = ExtractSummary(
            hours_planned=len(plan.hours),
            hours_skipped=plan.already_done,
            hours_skipped_given_up=plan.given_up,
            run_id=self.owner,
        )
        tried = self.ledger.get(plan.hours)
        now = self._clock()
        until = now + timedelta(seconds=self.config.lease_seconds)
        held = self.ledger.claim(plan.hours, self.owner, now, until, plan.force)
        summary.hours_held_elsewhere = len(plan.hours) - len(held)
        if summary.hours_held_elsewhere:
            logger.warning(
                "%d hour(s) are being exported by another run; leaving them to it",
                summary.hours_held_elsewhere,
            )
        try:
            self._run(plan_windows(held, self.config.window_hours), tried, summary, on_progress)
        finally:
            self.ledger.release(self.owner)
        finished = summary.hours_done + summary.hours_empty + summary.hours_failed
        summary.hours_left_pending = len(held) - finished
        summary.hours_behind = self.hours_behind()
        # More than one call's worth is left (this call was cut short by its time budget or
        # capped at max_hours), it got somewhere, and nothing failed: the pipeline may run
        # again at once. A call that exported nothing (hours held by another run) or in
        # which an hour failed never asks, so the catch-up cannot loop.
        capped = not plan.explicit and summary.hours_planned >= self.config.max_hours
        summary.catch_up = (
            summary.hours_failed == 0
            and summary.hours_done + summary.hours_empty > 0
            and summary.hours_behind > 0
            and (summary.stopped_early or capped)
        )
        summary.duration_seconds = time.monotonic() - began
        return summary

    def hours_behind(self) -> int:
        """Exportable hours the ledger does not hold as settled: every hour a run without a
        range would export now, however many calls that takes (no ``max_hours`` cap)."""
        newest = newest_exportable_hour(self._clock(), self.config.lag_hours)
        return len(
            resume_hours(
                watermark=self.ledger.watermark(),
                unfinished=self.ledger.unfinished(),
                newest_exportable=newest,
                initial_hours=self.config.initial_hours,
                max_hours=None,
            )
        )

    def _run(
        self,
        windows: list[HourWindow],
        tried: dict[datetime, HourRecord],
        summary: ExtractSummary,
        on_progress: ProgressCallback | None,
    ) -> None:
        began = time.monotonic()
        queue = deque(windows)
        budget = self.config.time_budget_seconds
        deadline = None if budget is None else began + budget
        auth_error: AmplitudeAuthError | None = None
        logger.info(
            "exporting %d hours in %d windows to %s",
            sum(w.size for w in windows),
            len(queue),
            self.destination,
        )
        in_flight: dict[Future[WindowResult], HourWindow] = {}
        while queue or in_flight:
            while queue and auth_error is None and len(in_flight) < self.config.concurrency:
                if deadline is not None and time.monotonic() >= deadline:
                    summary.stopped_early = True
                    queue.clear()
                    break
                window = queue.popleft()
                tried_before = any(h in tried for h in window.hours)
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
                except Exception as exc:  # noqa: BLE001 - the worker itself failed (its process died)
                    error = AmplitudeIngestError(
                        f"window {window.label()}: the worker exporting it failed: "
                        f"{type(exc).__name__}: {exc}"
                    )
                    result = WindowResult(window, attempts=1, error=error)
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
        if auth_error is not None:
            raise auth_error

    def _record(self, result: WindowResult, summary: ExtractSummary) -> HourStatus:
        known = self.ledger.get(result.window.hours)
        records = []
        for hour in result.window.hours:
            previous = known.get(hour, HourRecord(hour, HourStatus.PENDING))
            attempts = previous.attempts + result.attempts
            if result.hours is None:
                message = str(result.error)
                failed_runs = previous.failed_runs + 1
                give_up = failed_runs >= self.config.give_up_after_failed_runs
                if give_up:
                    message = (
                        f"given up after failing in {failed_runs} runs (export it again with "
                        f"force): {message}"
                    )
                records.append(
                    previous.with_status(
                        HourStatus.GIVEN_UP if give_up else HourStatus.FAILED,
                        attempts=attempts,
                        error=message,
                        failed_runs=failed_runs,
                    )
                )
                summary.hours_failed += 1
                summary.hours_given_up += give_up
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
                    error=(
                        f"{outcome.rejected_members} zip member(s) quarantined whole: "
                        "the entry name is not Amplitude's"
                        if outcome.rejected_members
                        else None
                    ),
                    keys=tuple(outcome.keys),
                )
            )
            summary.hours_done += status is HourStatus.DONE
            summary.hours_empty += status is HourStatus.EMPTY
            summary.files += outcome.files
            summary.events += outcome.events
            summary.bytes += outcome.bytes
            summary.rejected_lines += outcome.rejected_lines
            summary.rejected_members += outcome.rejected_members
            summary.lines_forgotten += outcome.lines_forgotten
            if outcome.rejected_members:
                summary.failures[format_hour(hour)] = (
                    f"{outcome.rejected_members} zip member(s) quarantined whole: the entry "
                    "name is not Amplitude's"
                )
        self.ledger.save(records)
        summary.windows_spooled += result.spooled
        if result.hours is None:
            logger.error("window %s failed: %s", result.window.label(), result.error)
            return HourStatus.FAILED
        logger.info("window %s done after %d attempt(s)", result.window.label(), result.attempts)
        return HourStatus.DONE

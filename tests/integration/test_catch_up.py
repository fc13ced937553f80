"""Catch-up: what a run reports about the backlog, and when it asks to run again at once.

The real extract (composition root, the bundled Amplitude server, a folder stage, the SQLite
ledger, a fixed clock): ``hours_behind`` is every exportable hour not yet settled after the
run; ``catch_up`` is set only when more than one call's worth is left (the call was capped
at ``max_hours`` or stopped at its time budget) and nothing failed, so a failing pipeline
never loops.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from amplitude_ingest.domain import HourStatus
from amplitude_ingest.hours import floor_hour, format_hour
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import FIXED_NOW, Harness

NEWEST = floor_hour(FIXED_NOW) - timedelta(hours=3)  # lag 3 h


def test_a_backlog_is_worked_off_one_capped_call_after_another(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    harness = Harness(amplitude(), tmp_path, initial_hours=10, max_hours=4)
    try:
        reports = []
        for _ in range(3):
            summary = harness.run()
            reports.append((summary.hours_done, summary.hours_behind, summary.catch_up))
        assert reports == [(4, 6, True), (4, 2, True), (2, 0, False)]
        assert harness.ledger.watermark() == NEWEST
    finally:
        harness.close()


def test_a_failed_hour_stops_the_catch_up(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    third = format_hour(NEWEST - timedelta(hours=7))
    server = amplitude(FaultPlan(responses={third: ["503"]}))
    harness = Harness(server, tmp_path, initial_hours=10, max_hours=4, max_attempts=1)
    try:
        summary = harness.run()
        assert (summary.hours_done, summary.hours_failed) == (3, 1)
        assert (summary.hours_behind, summary.catch_up) == (7, False)
    finally:
        harness.close()


def test_a_range_larger_than_the_time_budget_leaves_the_rest_pending_for_the_schedule(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    """A worksheet-sized range: the call stops starting windows at its time budget, the
    hours it did not reach stay pending in the ledger, the summary says how many, and the
    next run without a range (the schedule) exports them first."""
    server = amplitude(FaultPlan(response_delay_seconds=0.4))
    start = NEWEST - timedelta(hours=5)
    harness = Harness(server, tmp_path, time_budget_seconds=0.6, concurrency=1)
    try:
        first = harness.run(start, NEWEST)
        assert first.stopped_early
        assert first.hours_done >= 1
        assert first.hours_done + first.hours_left_pending == 6
        assert first.hours_behind == first.hours_left_pending
        assert first.catch_up
        assert f"{first.hours_left_pending} hour(s) left pending" in first.one_line()
        records = harness.ledger.get([start + timedelta(hours=h) for h in range(6)])
        pending = [r for r in records.values() if r.status is HourStatus.PENDING]
        assert len(pending) == first.hours_left_pending
        server.faults.response_delay_seconds = 0.0
        second = harness.run()
        assert second.hours_done == first.hours_left_pending
        assert (second.hours_behind, second.catch_up) == (0, False)
    finally:
        harness.close()

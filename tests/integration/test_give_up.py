"""Hours that keep failing are given up after exactly ``give_up_after_failed_runs`` runs.

Runs of the real extract (the product's composition root, the bundled Amplitude server on
loopback, a folder stage and the SQLite ledger) against fault sequences drawn by hypothesis:
each hour answers 503 to its first k requests, then its data. Whatever the sequence, every
hour ends done (with all its planted events), given up after exactly N failed runs, or
still failed when the runs ran out; a run fails exactly when some hour failed in it; a
given-up hour is left out of later runs, counted, and exported again only with ``force``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amplitude_ingest.domain import HourStatus
from amplitude_ingest.hours import format_hour, hour_range
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import Harness

START = datetime(2026, 1, 26, 3, tzinfo=UTC)
END = START + timedelta(hours=2)
HOURS = hour_range(START, END)


@pytest.fixture
def server(amplitude: Callable[..., LocalAmplitude]) -> LocalAmplitude:
    return amplitude(FaultPlan())


def _harness(server: LocalAmplitude, root: Path, give_up_after: int) -> Harness:
    return Harness(server, root, max_attempts=1, give_up_after_failed_runs=give_up_after)


@given(
    give_up_after=st.integers(min_value=1, max_value=3),
    runs=st.integers(min_value=1, max_value=5),
    failures=st.lists(st.integers(min_value=0, max_value=6), min_size=3, max_size=3),
)
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_hours_end_done_or_given_up_after_exactly_n_failed_runs(
    server: LocalAmplitude, give_up_after: int, runs: int, failures: list[int]
) -> None:
    server.faults.responses = {
        format_hour(hour): ["503"] * k for hour, k in zip(HOURS, failures, strict=True)
    }
    expected = dict.fromkeys(HOURS, (HourStatus.PENDING, 0))  # status, failed runs
    with tempfile.TemporaryDirectory() as folder:
        harness = _harness(server, Path(folder), give_up_after)
        try:
            for _ in range(runs):
                failed_now = given_up_now = skipped = 0
                for hour, k in zip(HOURS, failures, strict=True):
                    status, failed = expected[hour]
                    if status.is_settled:
                        skipped += status is HourStatus.GIVEN_UP
                        continue
                    if failed < k:
                        failed += 1
                        gave_up = failed >= give_up_after
                        status = HourStatus.GIVEN_UP if gave_up else HourStatus.FAILED
                        failed_now += 1
                        given_up_now += gave_up
                    else:
                        status, failed = HourStatus.DONE, 0
                    expected[hour] = (status, failed)
                summary = harness.run(START, END)
                assert summary.hours_failed == failed_now
                assert summary.hours_given_up == given_up_now
                assert summary.hours_skipped_given_up == skipped
                assert (summary.hours_failed == 0) == summary.ok
                if failed_now:
                    assert f"{failed_now} hour(s) failed" in summary.failure_message()
                    assert summary.run_id in summary.failure_message()
            records = harness.ledger.get(HOURS)
            planted = {h: server.manifest(h, h).rows for h in HOURS}
        finally:
            harness.close()
    for hour in HOURS:
        status, failed = expected[hour]
        record = records[hour]
        assert (record.status, record.failed_runs) == (status, failed), format_hour(hour)
        if status is HourStatus.DONE:
            assert record.events == planted[hour]  # never lost
        if status is HourStatus.GIVEN_UP:
            assert record.failed_runs == give_up_after
            assert (record.error or "").startswith("given up after failing in")


def test_a_given_up_hour_is_exported_again_only_with_force(
    server: LocalAmplitude, tmp_path: Path
) -> None:
    hour = format_hour(HOURS[1])
    server.faults.responses = {hour: ["503", "503"]}
    harness = _harness(server, tmp_path, give_up_after=2)
    try:
        assert harness.run(START, END).hours_failed == 1
        second = harness.run(START, END)
        assert (second.hours_failed, second.hours_given_up) == (1, 1)
        third = harness.run(START, END)  # nothing to do: the hour is given up, not retried
        assert (third.ok, third.hours_planned, third.hours_skipped_given_up) == (True, 0, 1)
        assert harness.run().hours_failed == 0  # resuming does not pick it up either
        assert harness.ledger.get([HOURS[1]])[HOURS[1]].status is HourStatus.GIVEN_UP
        forced = harness.run(HOURS[1], HOURS[1], force=True)
        assert (forced.hours_done, forced.hours_failed) == (1, 0)
        record = harness.ledger.get([HOURS[1]])[HOURS[1]]
        assert (record.status, record.failed_runs) == (HourStatus.DONE, 0)
        assert record.events == server.manifest(HOURS[1], HOURS[1]).rows
    finally:
        harness.close()


def test_a_ledger_from_before_giving_up_is_upgraded_in_place(tmp_path: Path) -> None:
    """A ledger file written by the version before leases and give-up opens, gains the
    columns, and keeps its rows."""
    import sqlite3

    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / SqliteLedger.FILE_NAME) as old:
        old.execute(
            "create table hours (hour text primary key, status text not null, files integer "
            "not null, events integer not null, bytes integer not null, rejected_lines "
            "integer not null, attempts integer not null, error text, keys text not null, "
            "updated_at text not null)"
        )
        old.execute(
            "insert into hours values ('20260126T04', 'failed', 0, 0, 0, 0, 5, 'boom', '[]', "
            "'2026-01-27T00:00:00+00:00')"
        )
    ledger = SqliteLedger(state)
    try:
        record = ledger.get([HOURS[1]])[HOURS[1]]
        assert (record.status, record.failed_runs, record.attempts) == (HourStatus.FAILED, 0, 5)
        assert ledger.unfinished() == [HOURS[1]]
    finally:
        ledger.close()

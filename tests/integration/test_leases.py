"""Two runs never export the same hour at once: leases in the ledger, in SQLite and in a
Snowflake table (Snowpark local testing), checked against one reference model."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_ingest.in_snowflake.ledger_table import SnowflakeLedger
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.ports import Ledger
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import Harness

H0 = datetime(2026, 1, 26, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 28, 0, 0, tzinfo=UTC)
HOURS = [H0 + timedelta(hours=i) for i in range(4)]
OWNERS = ["task", "worksheet", "laptop"]
LEASE = timedelta(minutes=65)


class Model:
    """What a ledger must answer: per hour, its status and who leases it until when."""

    def __init__(self) -> None:
        self.status: dict[datetime, str] = {}
        self.lease: dict[datetime, tuple[str, datetime]] = {}

    def claim(self, hours: list[datetime], owner: str, now: datetime, force: bool) -> set[datetime]:
        held = set()
        for hour in hours:
            holder = self.lease.get(hour)
            free = holder is None or holder[0] == owner or holder[1] <= now
            complete = self.status.get(hour) in ("done", "empty")
            if free and (force or not complete):
                self.status[hour] = "pending"
                self.lease[hour] = (owner, now + LEASE)
            if self.lease.get(hour, ("", now))[0] == owner:
                held.add(hour)
        return held

    def save(self, hour: datetime, status: str) -> None:
        self.status[hour] = status
        self.lease.pop(hour, None)

    def release(self, owner: str) -> None:
        for hour in [h for h, (o, _) in self.lease.items() if o == owner]:
            del self.lease[hour]


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("claim"),
            st.lists(st.sampled_from(HOURS), min_size=1, max_size=4, unique=True),
            st.sampled_from(OWNERS),
            st.integers(0, 200),  # minutes after NOW: leases last 65
            st.booleans(),
        ),
        st.tuples(st.just("save"), st.sampled_from(HOURS), st.sampled_from(["done", "failed"])),
        st.tuples(st.just("release"), st.sampled_from(OWNERS)),
    ),
    max_size=12,
)


def replay(ledger: Ledger, model: Model, steps: list[tuple[Any, ...]]) -> None:
    for step in steps:
        if step[0] == "claim":
            _, hours, owner, minutes, force = step
            now = NOW + timedelta(minutes=minutes)
            expected = model.claim(hours, owner, now, force)
            assert ledger.claim(hours, owner, now, now + LEASE, force) == expected, step
        elif step[0] == "save":
            _, hour, status = step
            model.save(hour, status)
            ledger.save([HourRecord(hour, HourStatus(status))])
        else:
            model.release(step[1])
            ledger.release(step[1])
    known = ledger.get(HOURS)
    assert {h: r.status.value for h, r in known.items()} == model.status


@given(steps=operations)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sqlite_leases_follow_the_model(steps: list[tuple[Any, ...]], tmp_path: Path) -> None:
    folder = tmp_path / f"ledger-{abs(hash(str(steps)))}"
    ledger = SqliteLedger(folder)
    try:
        replay(ledger, Model(), steps)
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def snowpark() -> Iterator[Any]:
    from snowflake.snowpark import Session

    session = Session.builder.config("local_testing", True).create()
    yield session
    session.close()


def fresh_ledger_table(snowpark: Any, name: str) -> None:
    from snowflake.snowpark.types import (
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    fields = [("HOUR", TimestampType()), ("STATUS", StringType())]
    fields += [(n, LongType()) for n in ("FILES", "EVENTS", "BYTES", "REJECTED_LINES", "ATTEMPTS")]
    fields += [("ERROR", StringType()), ("STAGE_KEYS", StringType())]
    fields += [("UPDATED_AT", TimestampType()), ("RUN_ID", StringType())]
    fields += [("LEASE_OWNER", StringType())]
    fields += [("LEASE_EXPIRES_AT", TimestampType()), ("FAILED_RUNS", LongType())]
    schema = StructType([StructField(n, t) for n, t in fields])
    snowpark.create_dataframe([], schema=schema).write.save_as_table(name, mode="overwrite")


@given(steps=operations)
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_snowflake_table_leases_follow_the_same_model(
    steps: list[tuple[Any, ...]], snowpark: Any
) -> None:
    fresh_ledger_table(snowpark, "LEDGER_UNDER_TEST")
    ledger = SnowflakeLedger(SessionGate(snowpark), "LEDGER_UNDER_TEST", run_id="a-run")
    replay(ledger, Model(), steps)


def test_two_runs_at_once_never_export_the_same_hour(
    amplitude: Callable[..., LocalAmplitude], harness: Callable[..., Harness]
) -> None:
    """Two extracts on one ledger, started together against a slow Amplitude: every hour
    is exported exactly once between them, and each says what it left to the other."""
    server = amplitude(FaultPlan(response_delay_seconds=0.2))
    first, second = harness(server=server), harness(server=server)
    start, end = datetime(2026, 1, 26, 3, tzinfo=UTC), datetime(2026, 1, 26, 14, tzinfo=UTC)
    summaries = {}

    def run(name: str, h: Harness) -> None:
        summaries[name] = h.run(start, end)

    threads = [threading.Thread(target=run, args=(n, h)) for n, h in [("a", first), ("b", second)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    exported = [r for r in server.requests if r.status == 200]
    assert len(exported) == 12 == len({(r.start, r.end) for r in exported})
    a, b = summaries["a"], summaries["b"]
    assert a.hours_done + b.hours_done == 12
    assert a.hours_held_elsewhere + b.hours_held_elsewhere == 12

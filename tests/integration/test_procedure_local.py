"""The stored procedure under Snowpark local testing, against the local Amplitude server.

Local testing runs the registered handler in this process: it reads the settings table and
the ledger table through Snowpark, the key pair through a stand-in ``_snowflake`` module
(which only exists inside Snowflake), and writes parts with ``session.file.put_stream``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amplitude_ingest.in_snowflake.ingest import ingest_amplitude
from amplitude_ingest.in_snowflake.settings_table import SETTINGS_TABLE
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.snowpark_local import create_ledger_table, save_settings, stand_in_secret
from tests.support import API_KEY, SECRET_KEY

LEDGER = "AMPLITUDE_INGEST_LEDGER"
# Qualified, as the deploy writes it (an unqualified name is qualified by the procedure).
STAGE = "AMPLITUDE.INGEST.AMPLITUDE_STAGE"


@pytest.fixture
def snowflake_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_secret(monkeypatch)


def start_session(server: LocalAmplitude, **extra_settings: str) -> object:
    """A local-testing session with the settings and ledger tables and the procedure."""
    from snowflake.snowpark import Session
    from snowflake.snowpark.types import BooleanType, StringType, VariantType

    snowpark = Session.builder.config("local_testing", True).create()
    settings = {
        "stage": STAGE,
        "ledger_table": LEDGER,
        "api_url": server.url,
        "project": "web",
        # Local testing holds the session lock for the whole call, so a worker thread
        # could never upload: windows run inline on the calling thread here.
        "concurrency": "1",
        "lag_hours": "3",
        **extra_settings,
    }
    save_settings(snowpark, settings, SETTINGS_TABLE)
    create_ledger_table(snowpark, LEDGER)
    snowpark.sproc.register(
        ingest_amplitude,
        name="INGEST_AMPLITUDE",
        return_type=VariantType(),
        input_types=[StringType(), StringType(), BooleanType()],
        replace=True,
    )
    return snowpark


@pytest.fixture
def session(
    snowflake_secrets: None, amplitude: Callable[..., LocalAmplitude]
) -> Iterator[tuple[object, LocalAmplitude]]:
    server = amplitude(FaultPlan(responses={"20260126T04": ["503"]}))
    snowpark = start_session(server)
    yield snowpark, server
    snowpark.close()  # type: ignore[attr-defined]


def staged_rows(snowpark: object, tmp_path: Path) -> list[dict[str, object]]:
    target = tmp_path / "downloaded"
    snowpark.file.get(f"@{STAGE}/events/", str(target))  # type: ignore[attr-defined]
    return [
        json.loads(line)
        for path in sorted(target.rglob("*.json"))
        for line in path.read_text().splitlines()
    ]


def test_call_backfills_a_range_and_returns_its_summary(
    session: tuple[object, LocalAmplitude], tmp_path: Path
) -> None:
    snowpark, server = session
    summary = snowpark.call(  # type: ignore[attr-defined]
        "INGEST_AMPLITUDE", "2026-01-26T03", "2026-01-26T05", False
    )
    result = json.loads(summary) if isinstance(summary, str) else summary
    planted = server.manifest(
        datetime(2026, 1, 26, 3, tzinfo=UTC), datetime(2026, 1, 26, 5, tzinfo=UTC)
    )
    assert result["hours_done"] == 3
    assert result["hours_failed"] == 0
    assert result["events"] == planted.rows
    assert result["files"] == 3
    rows = staged_rows(snowpark, tmp_path)
    assert len(rows) == planted.rows
    assert len({r["uuid"] for r in rows}) == planted.distinct_uuids

    ledger = snowpark.table(LEDGER).collect()  # type: ignore[attr-defined]
    assert sorted((r["STATUS"], r["ATTEMPTS"]) for r in ledger) == [
        ("done", 1),
        ("done", 1),
        ("done", 2),  # 04 was answered 503 once, then retried
    ]

    again = snowpark.call(  # type: ignore[attr-defined]
        "INGEST_AMPLITUDE", "2026-01-26T03", "2026-01-26T05", False
    )
    again = json.loads(again) if isinstance(again, str) else again
    assert (again["hours_done"], again["hours_skipped"]) == (0, 3)
    assert len(snowpark.table(LEDGER).collect()) == 3  # type: ignore[attr-defined]


def test_tmp_holds_at_most_the_bound_however_large_the_hour(
    snowflake_secrets: None, amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    """Inside a procedure /tmp is memory: parts are spooled there one at a time per window,
    each at most max_part_bytes (plus one line), whatever the size of the hour."""
    server = amplitude(FaultPlan(zip_layout="streamed"), sessions_per_hour=900)  # ~15 MB JSON
    part_limit = 1 << 20
    snowpark = start_session(server, max_part_bytes=str(part_limit))
    try:
        result = snowpark.call(  # type: ignore[attr-defined]
            "INGEST_AMPLITUDE", "2026-01-26T03", "2026-01-26T03", False
        )
        result = json.loads(result) if isinstance(result, str) else result
        rows = staged_rows(snowpark, tmp_path)
    finally:
        snowpark.close()  # type: ignore[attr-defined]
    planted = server.manifest(
        datetime(2026, 1, 26, 3, tzinfo=UTC), datetime(2026, 1, 26, 3, tzinfo=UTC)
    )
    assert result["bytes"] > 12 * part_limit
    assert result["files"] >= 12
    assert len(rows) == result["events"] == planted.rows
    assert 0 < result["peak_tmp_bytes"] <= part_limit + 20_000
    assert result["tmp_bound_bytes"] == 2 * part_limit


def test_the_procedure_never_lets_a_key_out(
    snowflake_secrets: None,
    amplitude: Callable[..., LocalAmplitude],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not in its logs, the error it fails with, the ledger table, or any staged or
    quarantined file, even when Amplitude echoes the key pair back in an error."""
    server = amplitude(FaultPlan(responses={"20260126T04": ["echo"]}, bad_lines={"20260126T03": 2}))
    snowpark = start_session(server, max_attempts="1")
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(Exception, match="1 hour") as failed:
            snowpark.call(  # type: ignore[attr-defined]
                "INGEST_AMPLITUDE", "2026-01-26T03", "2026-01-26T04", False
            )
        ledger = str(snowpark.table(LEDGER).collect())  # type: ignore[attr-defined]
        target = tmp_path / "everything"
        for folder in ("events", "_quarantine"):
            snowpark.file.get(f"@{STAGE}/{folder}/", str(target / folder))  # type: ignore[attr-defined]
    finally:
        snowpark.close()  # type: ignore[attr-defined]
    text = str(failed.value)
    assert "20260126T04" in text
    assert "***" in ledger  # the echoed pair, masked
    files = [p for p in target.rglob("*") if p.is_file()]
    assert any("_quarantine" in str(p) for p in files)
    for haystack in [text, ledger, caplog.text, *(p.read_text() for p in files)]:
        assert API_KEY not in haystack
        assert SECRET_KEY not in haystack
    assert not any(API_KEY in str(p) or SECRET_KEY in str(p) for p in files)


def _ledger_rows(snowpark: object) -> dict[str, tuple[str, int]]:
    rows = snowpark.table(LEDGER).collect()  # type: ignore[attr-defined]
    return {
        r["HOUR"].strftime("%Y%m%dT%H"): (r["STATUS"], int(r["FAILED_RUNS"] or 0)) for r in rows
    }


def test_a_call_in_which_an_hour_failed_fails_after_saving_what_it_exported(
    snowflake_secrets: None, amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    """The call raises HoursFailedError (how many hours, the first reason, the run id) after
    the ledger holds every outcome; the hours it exported stay done and staged."""
    from amplitude_ingest.errors import HoursFailedError

    server = amplitude(FaultPlan(responses={"20260126T04": ["503"]}))
    snowpark = start_session(server, max_attempts="1")
    try:
        with pytest.raises(Exception, match=r"1 hour\(s\) failed") as failed:
            snowpark.call(  # type: ignore[attr-defined]
                "INGEST_AMPLITUDE", "2026-01-26T03", "2026-01-26T05", False
            )
        ledger = _ledger_rows(snowpark)
        run_ids = {r["RUN_ID"] for r in snowpark.table(LEDGER).collect()}  # type: ignore[attr-defined]
        rows = staged_rows(snowpark, tmp_path)
    finally:
        snowpark.close()  # type: ignore[attr-defined]
    cause = failed.value.__cause__
    assert isinstance(cause, HoursFailedError)
    message = str(cause)
    assert "20260126T04: window 20260126T04" in message
    assert "503" in message
    assert "2 done stay done" in message
    (run_id,) = run_ids
    assert message.startswith(f"run {run_id}: ")
    assert ledger == {
        "20260126T03": ("done", 0),
        "20260126T04": ("failed", 1),
        "20260126T05": ("done", 0),
    }
    planted = server.manifest(
        datetime(2026, 1, 26, 3, tzinfo=UTC), datetime(2026, 1, 26, 5, tzinfo=UTC)
    )
    four = server.manifest(
        datetime(2026, 1, 26, 4, tzinfo=UTC), datetime(2026, 1, 26, 4, tzinfo=UTC)
    )
    assert len(rows) == planted.rows - four.rows


def test_an_hour_that_keeps_failing_is_given_up_and_calls_succeed_again(
    snowflake_secrets: None, amplitude: Callable[..., LocalAmplitude]
) -> None:
    """With give_up_after_failed_runs = 1 the first failure gives the hour up: that call
    fails, the next one succeeds and says it left the hour out. (Retrying a tried hour needs
    LIST on the stage, which local testing lacks: tests/integration/test_give_up.py covers
    N > 1 and force on the laptop's stage and ledger.)"""
    server = amplitude(FaultPlan(responses={"20260126T04": ["503"]}))
    snowpark = start_session(server, max_attempts="1", give_up_after_failed_runs="1")

    def call() -> dict[str, object]:
        result = snowpark.call(  # type: ignore[attr-defined]
            "INGEST_AMPLITUDE", "2026-01-26T03", "2026-01-26T05", False
        )
        return json.loads(result) if isinstance(result, str) else result  # type: ignore[no-any-return]

    try:
        with pytest.raises(Exception, match=r"1 hour\(s\) failed, 1 of them given up") as first:
            call()
        assert "given up after failing in 1 runs" in str(first.value)
        assert _ledger_rows(snowpark)["20260126T04"] == ("given_up", 1)
        after = call()  # the given-up hour no longer fails the calls after it
        assert (after["hours_failed"], after["hours_given_up"]) == (0, 0)
        assert (after["hours_skipped"], after["hours_skipped_given_up"]) == (2, 1)
        assert _ledger_rows(snowpark)["20260126T04"] == ("given_up", 1)
    finally:
        snowpark.close()  # type: ignore[attr-defined]


def test_a_call_larger_than_its_time_budget_says_what_it_left_pending(
    snowflake_secrets: None, amplitude: Callable[..., LocalAmplitude]
) -> None:
    """A worksheet CALL over a range with a tiny time budget exports what fits, leaves the
    rest pending in the ledger, says so in its result and asks for a catch-up. (The next
    call re-exports the pending hours after a LIST of the stage, which local testing lacks:
    tests/integration/test_catch_up.py shows the schedule finishing them.)"""
    server = amplitude(FaultPlan(response_delay_seconds=0.4))
    snowpark = start_session(server, time_budget_seconds="0.6")
    try:
        result = snowpark.call(  # type: ignore[attr-defined]
            "INGEST_AMPLITUDE", "2026-01-26T00", "2026-01-26T05", False
        )
        first = json.loads(result) if isinstance(result, str) else result
        ledger = _ledger_rows(snowpark)
    finally:
        snowpark.close()  # type: ignore[attr-defined]
    pending = sorted(h for h, (status, _) in ledger.items() if status == "pending")
    assert first["stopped_early"] is True
    assert first["hours_done"] >= 1
    assert first["hours_done"] + first["hours_left_pending"] == 6
    assert len(pending) == first["hours_left_pending"] >= 1
    assert first["hours_behind"] > 1000  # every hour since 2026-01-26 is exportable
    assert first["catch_up"] is True
    assert f"{first['hours_left_pending']} hour(s) left pending" in first["message"]

"""`CALL amplitude_doctor()`'s whole round of checks over a recorded probe (doctor.py):
the marker's round trip and its clean-up (doctor_round_trip.py), and the statements it
sends, which are the ones the privilege replay checks (doctor_sql.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from amplitude_ingest.errors import AmplitudeIngestError
from amplitude_ingest.in_snowflake.checks import FAIL, OK, CheckResult
from amplitude_ingest.in_snowflake.doctor import run_checks, storage_answer
from amplitude_ingest.in_snowflake.doctor_sql import put_statement, queries
from amplitude_ingest.in_snowflake.doctor_verdicts import report
from tests.unit.test_doctor_verdicts import (
    DESC_INTEGRATION,
    DESCRIBED,
    SETTINGS,
    URL,
    described_dbt_project,
    pipe_status,
    shown,
)

# ---- the whole run over a recorded probe ------------------------------------------------------


class RecordedProbe:
    """Answers recorded per query, as the Snowpark probe would return them."""

    def __init__(self, marker_after_polls: int | None = 2, late_marker_rows: int = 0) -> None:
        self.marker_after_polls = marker_after_polls
        self.polls = 0
        # Rows of earlier markers in the raw table: the first clean-up removes them.
        self.marker_rows = late_marker_rows
        self.sql_log: list[tuple[str, list[Any]]] = []
        self.puts: list[tuple[str, str, bytes]] = []
        self.sent: list[str] = []  # every statement, the marker's PUT included, in order

    def sql(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
        self.sql_log.append((query, list(params)))
        self.sent.append(query)
        if query == "call AMPLITUDE.INGEST.AMPLITUDE_CHECK_STORAGE_INTEGRATION()":
            validation = json.dumps({"status": "success", "actions": {}})
            trust = {r["property"]: r["property_value"] for r in DESC_INTEGRATION}
            value = json.dumps({"validation": validation, "integration": trust})
            return [{"amplitude_check_storage_integration": value}]
        if "pipe_status" in query:
            return [{"v": pipe_status(lastReceivedMessageTimestamp="2026-01-26T05:01:02Z")}]
        if query.startswith("describe procedure"):
            return DESCRIBED
        if query.startswith("describe dbt project"):
            return described_dbt_project("1.10.15")
        if query.startswith("show tasks"):
            return shown()
        if "task_history" in query:
            return []
        if query.startswith("select count(*) as n"):
            self.polls += 1
            arrived = self.marker_after_polls is not None and self.polls >= self.marker_after_polls
            return [{"n": 1 if arrived else 0}]
        if "copy_history" in query:
            return []
        if query == "call AMPLITUDE.INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS()":
            removed = self.marker_rows + (1 if self.polls and self.marker_after_polls else 0)
            self.marker_rows = 0
            return [{"amplitude_remove_doctor_markers": removed}]
        if query.startswith("remove @"):
            return []
        raise AssertionError(query)

    def secret(self) -> tuple[str, str]:
        return ("a" * 32, "b" * 32)

    def http_status(self, url: str, username: str, password: str) -> int:
        assert url == URL
        assert username == "a" * 32
        return 404

    def put(self, location: str, name: str, data: bytes) -> None:
        self.puts.append((location, name, data))
        self.sent.append(put_statement(location, name))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_healthy_deployment_passes_every_check_and_cleans_up_its_marker() -> None:
    probe, clock = RecordedProbe(marker_after_polls=3), Clock()
    results = run_checks(probe, SETTINGS, clock, clock.sleep)
    assert [(r.check_name, r.status) for r in results] == [
        ("storage_integration", OK),
        ("pipe", OK),
        ("export_api", OK),
        ("secret", OK),
        ("dbt_project", OK),
        ("tasks", OK),
        ("round_trip", OK),
    ]
    ((location, name, data),) = probe.puts
    assert location == "@AMPLITUDE.INGEST.AMPLITUDE_STAGE/events/_doctor/"
    assert re.fullmatch(r"amplitude_doctor_\d{8}T\d{6}_[0-9a-f]{12}\.json", name)
    assert json.loads(data)["amplitude_doctor_marker"] == name
    assert clock.now == 20.0  # two polls of 10 s before the third found it
    queries = [q for q, _ in probe.sql_log]
    assert queries[-2:] == [
        "call AMPLITUDE.INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS()",
        f"remove @AMPLITUDE.INGEST.AMPLITUDE_STAGE/events/_doctor/{name}",
    ]
    assert report(results).startswith("amplitude_doctor: all 7 checks passed")


def test_an_unwired_bucket_fails_the_round_trip_after_its_timeout_and_still_cleans_up() -> None:
    probe, clock = RecordedProbe(marker_after_polls=None), Clock()
    results = run_checks(probe, SETTINGS, clock, clock.sleep)
    trip = results[-1]
    assert trip.status == FAIL
    assert clock.now == 240.0
    assert [q for q, _ in probe.sql_log][-2].startswith(
        "call AMPLITUDE.INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS"
    )
    text = report(results)
    assert text.startswith("amplitude_doctor: 1 of 7 checks failed")
    assert "[FAIL] round_trip:" in text
    assert "fix: In S3, bucket example-bucket" in text


def test_a_check_that_raises_is_a_finding_not_a_crash() -> None:
    class Broken(RecordedProbe):
        def secret(self) -> tuple[str, str]:
            raise RuntimeError("secret not bound to this procedure")

    probe, clock = Broken(), Clock()
    results = {r.check_name: r for r in run_checks(probe, SETTINGS, clock, clock.sleep)}
    assert results["secret"].status == FAIL
    assert "secret not bound" in results["secret"].detail
    assert results["export_api"].status == FAIL  # no credentials, no request


def test_a_result_line_reads_as_what_and_how_to_fix() -> None:
    line = CheckResult(
        "pipe", FAIL, "PAUSED", "ALTER PIPE p SET PIPE_EXECUTION_PAUSED = FALSE;"
    ).line()
    assert line == "[FAIL] pipe: PAUSED\n    fix: ALTER PIPE p SET PIPE_EXECUTION_PAUSED = FALSE;"


def test_the_statements_the_privilege_replay_checks_are_the_ones_a_run_sends() -> None:
    """tests/unit/test_privileges.py replays doctor_sql.queries(): it must list exactly what
    run_checks sends, each statement once and in the order sent, so the replay checks the
    text that runs and not a copy of it."""
    probe, clock = RecordedProbe(marker_after_polls=2), Clock()  # one miss: both polls run
    run_checks(probe, SETTINGS, clock, clock.sleep)
    ((_, name, _),) = probe.puts
    assert list(dict.fromkeys(probe.sent)) == queries(SETTINGS, marker=name)


def test_every_run_first_removes_markers_an_earlier_run_stopped_waiting_for() -> None:
    """Issue 16 item 6: the pipe may load a marker after its run gave up; the next run's
    clean-up, its first statement, removes those rows, and the report says so."""
    probe, clock = RecordedProbe(marker_after_polls=1, late_marker_rows=2), Clock()
    results = run_checks(probe, SETTINGS, clock, clock.sleep)
    calls = [q for q, _ in probe.sql_log]
    cleanup = "call AMPLITUDE.INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS()"
    assert calls[0] == cleanup
    assert calls.count(cleanup) == 2  # first, and after its own marker
    trip = results[-1]
    assert trip.status == OK
    assert trip.detail.endswith(
        "; removed 2 raw row(s) of earlier markers that arrived after their run stopped waiting"
    )


def test_a_clean_up_that_cannot_run_fails_the_round_trip() -> None:
    class Refused(RecordedProbe):
        def sql(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
            if query.startswith("call AMPLITUDE.INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS"):
                self.sql_log.append((query, list(params)))
                self.sent.append(query)
                raise RuntimeError("Insufficient privileges to operate on procedure")
            return super().sql(query, params)

    probe, clock = Refused(), Clock()
    trip = run_checks(probe, SETTINGS, clock, clock.sleep)[-1]
    assert trip.status == FAIL
    assert "the clean-up of earlier markers failed: Insufficient privileges" in trip.detail
    assert "sql/40" in trip.fix


def test_the_alert_settings_are_read_beside_the_ingest_settings_the_doctor_was_given() -> None:
    """`CALL amplitude_doctor()` adds the alerts' rows (alerts.doctor_checks) read from the
    alert settings table in the same database and schema as its own settings table."""
    from amplitude_ingest.in_snowflake import alerts

    table = alerts.alert_settings_table("PROD_AMP.INGEST.AMPLITUDE_INGEST_SETTINGS")
    assert table == "PROD_AMP.INGEST.AMPLITUDE_ALERT_SETTINGS"
    assert table.endswith(alerts.ALERT_SETTINGS_TABLE_NAME)


def test_the_storage_checks_come_from_the_admin_owned_procedure() -> None:
    """The procedure (sql/30) returns the validation's JSON text and DESC INTEGRATION's
    trust values as one object; the doctor reads both out of it."""
    validation = json.dumps({"status": "success", "actions": {}})
    value = json.dumps(
        {
            "validation": validation,
            "integration": {r["property"]: r["property_value"] for r in DESC_INTEGRATION},
        }
    )
    answer, rows = storage_answer(value)
    assert answer == validation
    assert rows == DESC_INTEGRATION
    with pytest.raises(AmplitudeIngestError, match="unexpected answer"):
        storage_answer("[1, 2]")


def test_the_dbt_version_is_read_with_describe_dbt_project() -> None:
    """DESCRIBE DBT PROJECT documents the `dbt_version` column (desc-dbt-project)."""
    probe, clock = RecordedProbe(), Clock()
    run_checks(probe, SETTINGS, clock, clock.sleep)
    assert "describe dbt project AMPLITUDE.INGEST.AMPLITUDE_DBT" in probe.sent

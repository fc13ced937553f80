"""The doctor's verdicts (doctor_verdicts.py) against recorded answers of the documented
shapes: each check's status, what it says is wrong, and the command it gives."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN
from amplitude_ingest.in_snowflake.doctor_round_trip import RoundTrip
from amplitude_ingest.in_snowflake.doctor_verdicts import (
    TASKS,
    check_dbt_project,
    check_export_api,
    check_pipe,
    check_round_trip,
    check_secret,
    check_storage_integration,
    check_tasks,
    notification_step,
)
from amplitude_ingest.in_snowflake.settings_table import DoctorSettings
from tests.sql_scripts import SQL_DIR, render

CHANNEL = "arn:aws:sqs:us-east-1:123456789012:sf-snowpipe-AIDAEXAMPLE-abcdefgh"


def deployed_settings() -> dict[str, str]:
    """The settings rows exactly as sql/50 writes them (with the test deploy's variables)."""
    text = render((SQL_DIR / "50_ledger_and_settings.sql").read_text())
    return dict(re.findall(r"\('(\w+)', '([^']*)'\)", text))


SETTINGS = DoctorSettings.from_rows(deployed_settings())


# ---- storage integration ---------------------------------------------------------------------

DESC_INTEGRATION = [
    {
        "property": "STORAGE_AWS_ROLE_ARN",
        "property_value": "arn:aws:iam::123456789012:role/snowflake-amplitude",
    },
    {
        "property": "STORAGE_AWS_IAM_USER_ARN",
        "property_value": "arn:aws:iam::999999999999:user/abc-s-p2ss",
    },
    {"property": "STORAGE_AWS_EXTERNAL_ID", "property_value": "AB12345_SFCRole=2_abcdefg="},
]


def test_a_validated_integration_passes() -> None:
    answer = json.dumps({"status": "success", "actions": {"READ": {"status": "success"}}})
    result = check_storage_integration(answer, DESC_INTEGRATION, SETTINGS)
    assert result.status == OK


def test_a_broken_trust_names_the_failed_actions_and_gives_the_trust_policy_values() -> None:
    answer = json.dumps(
        {
            "status": "failure",
            "actions": {
                "READ": {"status": "failure", "message": "Access Denied (Status Code: 403)"},
                "WRITE": {"status": "failure", "message": "Access Denied (Status Code: 403)"},
                "LIST": {"status": "success"},
            },
        }
    )
    result = check_storage_integration(answer, DESC_INTEGRATION, SETTINGS)
    assert result.status == FAIL
    assert "READ (Access Denied (Status Code: 403)), WRITE" in result.detail
    assert "LIST" not in result.detail
    for value in (
        "arn:aws:iam::999999999999:user/abc-s-p2ss",
        "AB12345_SFCRole=2_abcdefg=",
        "arn:aws:iam::123456789012:role/snowflake-amplitude",
        "arn:aws:s3:::example-bucket/amplitude/*",
        "s3:ListBucket",
    ):
        assert value in result.fix


def test_a_refused_validation_says_which_grant_is_missing() -> None:
    error = RuntimeError(
        "SQL access control error: Insufficient privileges to operate on integration 'AMPLITUDE_S3'"
    )
    result = check_storage_integration(error, [], SETTINGS)
    assert result.status == FAIL
    assert result.fix == (
        "`make deploy-setup` (sql/30_storage.sql) creates "
        "AMPLITUDE.INGEST.AMPLITUDE_CHECK_STORAGE_INTEGRATION() as the admin role, grants it "
        "USAGE on AMPLITUDE_S3 and the pipeline role USAGE on the procedure"
    )
    assert "TO ROLE AMPLITUDE_PIPELINE" not in result.fix  # never the integration itself


# ---- pipe -----------------------------------------------------------------------------------


def pipe_status(**fields: Any) -> str:
    return json.dumps(
        {
            "executionState": "RUNNING",
            "pendingFileCount": 0,
            "notificationChannelName": CHANNEL,
            **fields,
        }
    )


def test_a_running_pipe_that_receives_events_passes() -> None:
    result = check_pipe(
        pipe_status(lastReceivedMessageTimestamp="2026-01-26T05:01:02.123Z"), SETTINGS
    )
    assert result.status == OK
    assert CHANNEL in result.detail


def test_a_pipe_no_event_has_reached_gets_the_exact_notification_step() -> None:
    result = check_pipe(pipe_status(), SETTINGS)
    assert result.status == WARN
    assert "no S3 event has reached it yet" in result.detail
    assert "bucket example-bucket > Properties > Event notifications" in result.fix
    assert "prefix 'amplitude/events/'" in result.fix
    assert f"ARN {CHANNEL}" in result.fix
    configuration = json.loads(
        re.search(r"--notification-configuration '([^']+)'", result.fix).group(1)
    )  # type: ignore[union-attr]
    assert configuration == {
        "QueueConfigurations": [
            {
                "Id": "snowflake-amplitude-events",
                "QueueArn": CHANNEL,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {"FilterRules": [{"Name": "prefix", "Value": "amplitude/events/"}]}
                },
            }
        ]
    }


@pytest.mark.parametrize(
    ("state", "fix"),
    [
        ("PAUSED", "SET PIPE_EXECUTION_PAUSED = FALSE"),
        ("STOPPED_FILE_FORMAT_DROPPED", "make deploy"),
    ],
)
def test_a_pipe_that_is_not_running_fails(state: str, fix: str) -> None:
    result = check_pipe(pipe_status(executionState=state), SETTINGS)
    assert result.status == FAIL
    assert state in result.detail
    assert fix in result.fix


def test_pipe_status_without_monitor_says_what_to_grant() -> None:
    result = check_pipe(RuntimeError("does not exist or not authorized"), SETTINGS)
    assert result.status == FAIL
    assert (
        "GRANT MONITOR ON PIPE AMPLITUDE.INGEST.AMPLITUDE_EVENTS_PIPE TO ROLE AMPLITUDE_PIPELINE"
        in result.fix
    )


# ---- the Export API, the secret ---------------------------------------------------------------

URL = "https://amplitude.com/api/2/export?start=20100101T00&end=20100101T00"


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(404, OK), (200, OK), (429, WARN), (400, WARN), (401, FAIL), (403, FAIL)],
)
def test_the_export_api_answer(status: int, verdict: str) -> None:
    result = check_export_api(status, SETTINGS, URL)
    assert result.status == verdict
    if status in (401, 403):
        assert "ALTER SECRET AMPLITUDE.INGEST.AMPLITUDE_API_CREDENTIALS" in result.fix
        assert "other data region" in result.detail


def test_an_unreachable_export_host_points_at_the_network_rule() -> None:
    error = OSError("[Errno -3] Temporary failure in name resolution")
    result = check_export_api(error, SETTINGS, URL)
    assert result.status == FAIL
    assert (
        "ALTER NETWORK RULE AMPLITUDE.INGEST.AMPLITUDE_EXPORT_API SET VALUE_LIST = ('amplitude.com:443')"  # noqa: E501
        in result.fix
    )


DESCRIBED = [
    {"property": "signature", "value": "(START_HOUR VARCHAR, END_HOUR VARCHAR, FORCE BOOLEAN)"},
    {"property": "external_access_integrations", "value": "[AMPLITUDE_EXPORT_ACCESS]"},
    {
        "property": "secrets",
        "value": '{"amplitude_credentials":"\\"AMPLITUDE\\".\\"INGEST\\".\\"AMPLITUDE_API_CREDENTIALS\\""}',  # noqa: E501
    },
]


def test_a_set_and_bound_secret_passes() -> None:
    assert check_secret(("k" * 32, "s" * 32), DESCRIBED, SETTINGS).status == OK


def test_an_empty_secret_fails_with_the_alter_secret_command() -> None:
    result = check_secret(("", "s"), DESCRIBED, SETTINGS)
    assert result.status == FAIL
    assert result.fix.startswith("ALTER SECRET")


def test_a_procedure_without_its_secret_binding_fails() -> None:
    unbound = [r for r in DESCRIBED if r["property"] != "secrets"]
    result = check_secret(("k", "s"), unbound, SETTINGS)
    assert result.status == FAIL
    assert "is not bound to secret AMPLITUDE.INGEST.AMPLITUDE_API_CREDENTIALS" in result.detail
    assert "make deploy" in result.fix


# ---- dbt project, tasks --------------------------------------------------------------------------


def described_dbt_project(version: str | None) -> list[dict[str, Any]]:
    """DESCRIBE DBT PROJECT's one row, with the columns its reference page lists."""
    return [
        {
            "name": "AMPLITUDE_DBT",
            "owner": "AMPLITUDE_PIPELINE",
            "comment": None,
            "dbt_version": version,
            "dbt_snowflake_version": "1.10.2",
            "default_target": "prod",
            "external_access_integrations": None,
        }
    ]


@pytest.mark.parametrize(
    ("version", "verdict"),
    [("1.10.15", OK), ("1.11.0", OK), ("1.9.4", FAIL)],
)
def test_the_dbt_project_runs_a_version_the_models_accept(version: str, verdict: str) -> None:
    result = check_dbt_project(described_dbt_project(version), SETTINGS)
    assert result.status == verdict
    if verdict == FAIL:
        assert "runs dbt 1.9.4; the project requires >= 1.10" in result.detail
        assert result.fix == "make deploy-code DBT_VERSION=1.10.15 (snow dbt deploy --dbt-version)"


@pytest.mark.parametrize("version", [None, "", "latest", "dbt 1.10"])
def test_a_dbt_version_that_cannot_be_read_fails(version: str | None) -> None:
    """Issue 16 item 8: unreadable is not a warning: nobody knows which dbt would run."""
    result = check_dbt_project(described_dbt_project(version), SETTINGS)
    assert result.status == FAIL
    assert "its dbt version cannot be read" in result.detail
    assert result.fix.startswith("make deploy-code DBT_VERSION=1.10.15")


def test_a_missing_dbt_project_fails() -> None:
    assert check_dbt_project([], SETTINGS).status == FAIL
    error = RuntimeError("DBT PROJECT 'AMPLITUDE.INGEST.AMPLITUDE_DBT' does not exist")
    result = check_dbt_project(error, SETTINGS)
    assert result.status == FAIL
    assert result.detail == "AMPLITUDE.INGEST.AMPLITUDE_DBT does not exist"


def shown(**states: str) -> list[dict[str, str]]:
    return [{"name": n, "state": states.get(n, "suspended")} for n in TASKS]


def test_suspended_tasks_before_the_first_resume_are_fine() -> None:
    result = check_tasks(shown(), {}, SETTINGS)
    assert result.status == OK
    assert (
        result.detail == "pipeline_root suspended; wait_for_loads suspended; dbt_build suspended; "
        "source_freshness suspended; catch_up suspended; pipeline_finalizer suspended"
    )


def test_a_missing_task_fails() -> None:
    result = check_tasks(shown()[:2], {}, SETTINGS)
    assert result.status == FAIL
    assert "AMPLITUDE_DBT_BUILD" in result.detail


def test_a_running_graph_without_its_finalizer_fails() -> None:
    result = check_tasks(
        shown(
            AMPLITUDE_PIPELINE_ROOT="started",
            AMPLITUDE_WAIT_FOR_LOADS="started",
            AMPLITUDE_DBT_BUILD="started",
            AMPLITUDE_SOURCE_FRESHNESS="started",
            AMPLITUDE_CATCH_UP="started",
        ),
        {},
        SETTINGS,
    )
    assert result.status == FAIL
    assert "AMPLITUDE_PIPELINE_FINALIZER is suspended (no reason given): runs go unrecorded" in (
        result.detail
    )
    assert "`make resume`" in result.fix


def shown_with(reasons: dict[str, str], **states: str) -> list[dict[str, str | None]]:
    """SHOW TASKS rows with the last_suspended_reason column (bcr-1385-1414)."""
    return [{**row, "last_suspended_reason": reasons.get(row["name"])} for row in shown(**states)]


STARTED = dict.fromkeys(TASKS, "started")


def test_a_started_graph_with_a_child_suspended_after_errors_fails_naming_the_reason() -> None:
    """Issue 16 item 3: a child suspended after its failures never runs again by itself."""
    result = check_tasks(
        shown_with(
            {"AMPLITUDE_DBT_BUILD": "SUSPENDED_DUE_TO_ERRORS"},
            **{**STARTED, "AMPLITUDE_DBT_BUILD": "suspended"},
        ),
        {"AMPLITUDE_DBT_BUILD": {"state": "FAILED", "error_message": "Database Error in model"}},
        SETTINGS,
    )
    assert result.status == FAIL
    assert "dbt_build suspended (SUSPENDED_DUE_TO_ERRORS)" in result.detail
    assert "AMPLITUDE_DBT_BUILD last failed: Database Error in model" in result.detail
    assert (
        "the graph is started but AMPLITUDE_DBT_BUILD is suspended (SUSPENDED_DUE_TO_ERRORS): "
        "the tasks after it never run" in result.detail
    )
    assert "`make resume`" in result.fix


@pytest.mark.parametrize("reason", ["USER_SUSPENDED", None])
def test_any_suspended_task_of_a_started_graph_fails(reason: str | None) -> None:
    reasons = {"AMPLITUDE_SOURCE_FRESHNESS": reason} if reason else {}
    result = check_tasks(
        shown_with(reasons, **{**STARTED, "AMPLITUDE_SOURCE_FRESHNESS": "suspended"}), {}, SETTINGS
    )
    assert result.status == FAIL
    assert f"AMPLITUDE_SOURCE_FRESHNESS is suspended ({reason or 'no reason given'})" in (
        result.detail
    )


def test_a_root_suspended_after_errors_fails_though_the_graph_is_not_started() -> None:
    result = check_tasks(
        shown_with({"AMPLITUDE_PIPELINE_ROOT": "SUSPENDED_DUE_TO_ERRORS"}), {}, SETTINGS
    )
    assert result.status == FAIL
    assert "pipeline_root suspended (SUSPENDED_DUE_TO_ERRORS)" in result.detail
    assert "Snowflake suspended AMPLITUDE_PIPELINE_ROOT after repeated failures" in result.detail


def test_a_started_graph_with_every_task_started_passes() -> None:
    result = check_tasks(shown_with({}, **STARTED), {}, SETTINGS)
    assert result.status == OK


def test_each_tasks_last_error_is_shown() -> None:
    last = {
        "AMPLITUDE_WAIT_FOR_LOADS": {
            "state": "FAILED",
            "error_message": "run r1: after 900 s, 3 of the 3 files ...",
        }
    }
    result = check_tasks(shown(), last, SETTINGS)
    assert result.status == WARN
    assert "AMPLITUDE_WAIT_FOR_LOADS last failed: run r1: after 900 s" in result.detail


# ---- the round trip -----------------------------------------------------------------------------


def test_a_marker_that_arrives_passes() -> None:
    trip = RoundTrip("events/_doctor/m.json", True, 1, 42.0)
    assert check_round_trip(trip, pipe_status(), SETTINGS).status == OK


def test_a_marker_that_never_arrives_means_the_notification_is_missing() -> None:
    trip = RoundTrip("events/_doctor/m.json", True, 0, 240.0)
    result = check_round_trip(trip, pipe_status(), SETTINGS)
    assert result.status == FAIL
    assert "S3 is not telling the pipe about new files" in result.detail
    assert result.fix.startswith(notification_step(CHANNEL, SETTINGS.s3_url))
    assert (
        "ALTER PIPE AMPLITUDE.INGEST.AMPLITUDE_EVENTS_PIPE REFRESH PREFIX = 'events/'" in result.fix
    )


def test_a_marker_that_cannot_be_written_points_at_the_integration() -> None:
    trip = RoundTrip("events/_doctor/m.json", False, 0, 0, write_error="Access Denied")
    result = check_round_trip(trip, pipe_status(), SETTINGS)
    assert result.status == FAIL
    assert "storage_integration" in result.fix

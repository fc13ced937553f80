"""The doctor's verdicts: each check's row, a plain function of the answers Snowflake (or
AWS, or Amplitude) gave, so tests feed it recorded answers.

What each check looks at is listed in :mod:`amplitude_ingest.in_snowflake.doctor`; the
statements that fetch the answers are :mod:`~amplitude_ingest.in_snowflake.doctor_sql`'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN, CheckResult
from amplitude_ingest.in_snowflake.doctor_round_trip import RoundTrip
from amplitude_ingest.in_snowflake.settings_table import DoctorSettings
from amplitude_ingest.in_snowflake.text import cut

TASKS = (
    "AMPLITUDE_PIPELINE_ROOT",
    "AMPLITUDE_WAIT_FOR_LOADS",
    "AMPLITUDE_DBT_BUILD",
    "AMPLITUDE_SOURCE_FRESHNESS",
    "AMPLITUDE_CATCH_UP",
    "AMPLITUDE_PIPELINE_FINALIZER",
)
DOC_S3 = "https://docs.snowflake.com/en/user-guide/data-load-s3-config-storage-integration"
DOC_SNOWPIPE_S3 = "https://docs.snowflake.com/en/user-guide/data-load-snowpipe-auto-s3"

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def check_storage_integration(
    answer: str | Exception, integration_rows: Sequence[Mapping[str, Any]], settings: DoctorSettings
) -> CheckResult:
    """SYSTEM$VALIDATE_STORAGE_INTEGRATION's JSON (or the error), and DESC INTEGRATION rows."""
    trust = {
        str(r.get("property", "")).upper(): str(r.get("property_value", ""))
        for r in integration_rows
    }
    role_arn = trust.get("STORAGE_AWS_ROLE_ARN", "<the role in S3_ROLE_ARN>")
    user_arn = trust.get("STORAGE_AWS_IAM_USER_ARN", "<STORAGE_AWS_IAM_USER_ARN>")
    external_id = trust.get("STORAGE_AWS_EXTERNAL_ID", "<STORAGE_AWS_EXTERNAL_ID>")
    bucket, prefix = _bucket_and_prefix(settings.s3_url)
    fix = (
        f"In AWS IAM, give role {role_arn} a trust policy that lets principal {user_arn} "
        f"call sts:AssumeRole with condition sts:ExternalId = {external_id}, and a policy "
        f"allowing s3:GetObject, s3:GetObjectVersion, s3:PutObject, s3:DeleteObject, "
        f"s3:DeleteObjectVersion on arn:aws:s3:::{bucket}/{prefix}* and s3:ListBucket, "
        f"s3:GetBucketLocation on arn:aws:s3:::{bucket} ({DOC_S3}). "
        f"The values: DESC INTEGRATION {settings.storage_integration};"
    )
    if isinstance(answer, Exception):
        if (
            "insufficient privileges" in str(answer).lower()
            or "not authorized" in str(answer).lower()
            or "does not exist" in str(answer).lower()
        ):
            return CheckResult(
                "storage_integration",
                FAIL,
                f"could not validate {settings.storage_integration}: {cut(str(answer))}",
                f"`make deploy-setup` (sql/30_storage.sql) creates "
                f"{settings.storage_check_procedure}() as the admin role, grants it USAGE on "
                f"{settings.storage_integration} and the pipeline role USAGE on the procedure",
            )
        return CheckResult(
            "storage_integration",
            FAIL,
            f"SYSTEM$VALIDATE_STORAGE_INTEGRATION failed: {cut(str(answer))}",
            fix,
        )
    try:
        result = json.loads(answer)
    except json.JSONDecodeError:
        return CheckResult("storage_integration", FAIL, f"unexpected answer: {cut(answer)}", fix)
    if str(result.get("status", "")).lower() == "success":
        return CheckResult(
            "storage_integration",
            OK,
            f"{settings.storage_integration} can read, write, list and delete under "
            f"{settings.s3_url}",
        )
    actions = result.get("actions") or {}
    failed = [
        f"{name} ({cut(str(detail.get('message', '')), 120)})"
        for name, detail in actions.items()
        if isinstance(detail, Mapping) and str(detail.get("status", "")).lower() != "success"
    ]
    return CheckResult(
        "storage_integration",
        FAIL,
        f"Snowflake cannot use {settings.s3_url} through {settings.storage_integration}: "
        f"{', '.join(failed) or cut(answer)}",
        fix,
    )


def notification_step(channel: str, s3_url: str) -> str:
    """The exact bucket-notification step for the pipe's SQS queue."""
    bucket, prefix = _bucket_and_prefix(s3_url)
    configuration = json.dumps(
        {
            "QueueConfigurations": [
                {
                    "Id": "snowflake-amplitude-events",
                    "QueueArn": channel,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": f"{prefix}events/"}]}
                    },
                }
            ]
        },
        separators=(",", ":"),
    )
    return (
        f"In S3, bucket {bucket} > Properties > Event notifications > Create event "
        f"notification: prefix '{prefix}events/', event types 'All object create events', "
        f"destination 'SQS queue', ARN {channel}. Or, if the bucket has no other "
        f"notifications (this call replaces them all): aws s3api "
        f"put-bucket-notification-configuration --bucket {bucket} "
        f"--notification-configuration '{configuration}' ({DOC_SNOWPIPE_S3})"
    )


def check_pipe(answer: str | Exception, settings: DoctorSettings) -> CheckResult:
    """SYSTEM$PIPE_STATUS's JSON (or the error)."""
    if isinstance(answer, Exception):
        return CheckResult(
            "pipe",
            FAIL,
            f"SYSTEM$PIPE_STATUS('{settings.pipe}') failed: {cut(str(answer))}",
            f"As the admin role: GRANT MONITOR ON PIPE {settings.pipe} TO ROLE AMPLITUDE_PIPELINE; "
            "(sql/40_raw_table_and_pipe.sql does), or create the pipe with `make deploy`",
        )
    try:
        status = json.loads(answer)
    except json.JSONDecodeError:
        return CheckResult("pipe", FAIL, f"unexpected answer: {cut(answer)}")
    state = str(status.get("executionState", "UNKNOWN"))
    channel = str(status.get("notificationChannelName") or "")
    pending = status.get("pendingFileCount", 0)
    received = status.get("lastReceivedMessageTimestamp")
    detail = f"{state}, {pending} file(s) pending, notification channel {channel or 'none'}"
    if state == "PAUSED":
        return CheckResult(
            "pipe",
            FAIL,
            detail,
            f"ALTER PIPE {settings.pipe} SET PIPE_EXECUTION_PAUSED = FALSE;",
        )
    if state != "RUNNING":
        return CheckResult(
            "pipe",
            FAIL,
            detail + f"; error: {cut(str(status.get('error', '')))}",
            "A STOPPED_* state means what the pipe reads or writes was dropped or replaced "
            "(stage, file format, table): `make deploy` restores them, then, as the admin "
            f"role, ALTER PIPE {settings.pipe} REFRESH; queues the files of the last 7 days",
        )
    if not channel:
        return CheckResult(
            "pipe",
            FAIL,
            detail,
            "The pipe has no notification channel: it must be created with AUTO_INGEST = TRUE "
            "(sql/40_raw_table_and_pipe.sql)",
        )
    if not received:
        return CheckResult(
            "pipe",
            WARN,
            detail + "; no S3 event has reached it yet (expected before the first export)",
            notification_step(channel, settings.s3_url),
        )
    return CheckResult("pipe", OK, detail + f"; last S3 event at {received}")


def check_export_api(status: int | Exception, settings: DoctorSettings, url: str) -> CheckResult:
    """The HTTP status of one Export API request made through the integration."""
    if isinstance(status, Exception):
        return CheckResult(
            "export_api",
            FAIL,
            f"no answer from {url}: {cut(str(status))}",
            f"The external access integration must allow {settings.export_host}:443: "
            f"ALTER NETWORK RULE {settings.database}.INGEST.AMPLITUDE_EXPORT_API SET VALUE_LIST "
            f"= ('{settings.export_host}:443'); ALTER EXTERNAL ACCESS INTEGRATION "
            f"{settings.external_access_integration} SET ENABLED = TRUE; (or `make deploy "
            "AMPLITUDE_REGION=...`)",
        )
    if status in (200, 404):
        return CheckResult(
            "export_api",
            OK,
            f"{settings.export_host} answered {status} to the key pair (404: no data that hour)",
        )
    if status in (401, 403):
        return CheckResult(
            "export_api",
            FAIL,
            f"{settings.export_host} refused the key pair ({status}): wrong keys, or the project "
            "lives in the other data region",
            f"ALTER SECRET {settings.secret} SET USERNAME = '<api key>' PASSWORD = '<secret key>'; "
            "or redeploy with AMPLITUDE_REGION=eu (or us)",
        )
    if status == 429:
        return CheckResult(
            "export_api",
            WARN,
            f"{settings.export_host} answered 429: reachable, rate-limited now",
        )
    return CheckResult(
        "export_api",
        WARN,
        f"{settings.export_host} is reachable but answered {status} to the probe request",
    )


def check_secret(
    credentials: tuple[str, str] | Exception,
    description: Sequence[Mapping[str, Any]] | Exception,
    settings: DoctorSettings,
) -> CheckResult:
    """The secret as the doctor reads it, and DESCRIBE PROCEDURE of ingest_amplitude()."""
    redeploy = "Run `make deploy`: snow snowpark deploy --replace binds them as snowflake.yml says"
    if isinstance(credentials, Exception):
        return CheckResult(
            "secret", FAIL, f"the secret is not readable here: {cut(str(credentials))}", redeploy
        )
    username, password = credentials
    if not username.strip() or not password.strip():
        return CheckResult(
            "secret",
            FAIL,
            f"{settings.secret} has an empty username or password",
            f"ALTER SECRET {settings.secret} SET USERNAME = '<api key>' PASSWORD = '<secret key>';",
        )
    if isinstance(description, Exception):
        return CheckResult(
            "secret",
            FAIL,
            f"DESCRIBE PROCEDURE {settings.ingest_procedure} failed: {cut(str(description))}",
            redeploy,
        )
    properties = {str(r.get("property", "")).lower(): str(r.get("value", "")) for r in description}
    bound_eai = (
        settings.external_access_integration.lower()
        in properties.get("external_access_integrations", "").lower()
    )
    secret_name = settings.secret.split(".")[-1].lower()
    bound_secret = secret_name in properties.get("secrets", "").lower()
    if not (bound_eai and bound_secret):
        missing = [
            label
            for label, ok in (
                (f"integration {settings.external_access_integration}", bound_eai),
                (f"secret {settings.secret}", bound_secret),
            )
            if not ok
        ]
        return CheckResult(
            "secret",
            FAIL,
            f"{settings.ingest_procedure} is not bound to {' and '.join(missing)}",
            redeploy,
        )
    return CheckResult(
        "secret",
        OK,
        f"{settings.secret} is set and bound to {settings.ingest_procedure} with "
        f"{settings.external_access_integration}",
    )


def check_dbt_project(
    rows: Sequence[Mapping[str, Any]] | Exception, settings: DoctorSettings
) -> CheckResult:
    """DESCRIBE DBT PROJECT's row: its `dbt_version` column is the dbt Core version that
    EXECUTE DBT PROJECT runs (DESCRIBE DBT PROJECT, Output). A version that cannot be read
    is a failure: the schedule would start on a dbt nobody has checked."""
    redeploy = (
        f"make deploy-code DBT_VERSION={settings.dbt_version} (snow dbt deploy --dbt-version)"
    )
    if isinstance(rows, Exception):
        if "does not exist" in str(rows).lower():
            return CheckResult(
                "dbt_project", FAIL, f"{settings.dbt_project} does not exist", redeploy
            )
        return CheckResult(
            "dbt_project", FAIL, f"DESCRIBE DBT PROJECT failed: {cut(str(rows))}", redeploy
        )
    if not rows:
        return CheckResult("dbt_project", FAIL, f"{settings.dbt_project} does not exist", redeploy)
    row = {str(k).lower(): v for k, v in rows[0].items()}
    version = str(row.get("dbt_version") or "").strip()
    if not _VERSION.fullmatch(version):
        return CheckResult(
            "dbt_project",
            FAIL,
            f"{settings.dbt_project} exists, but its dbt version cannot be read "
            f"(DESCRIBE DBT PROJECT gave dbt_version {version or 'empty'!r}), so the version "
            "EXECUTE DBT PROJECT runs is unknown",
            redeploy,
        )
    if _version(version) < _version(settings.dbt_version)[:2]:
        return CheckResult(
            "dbt_project",
            FAIL,
            f"{settings.dbt_project} runs dbt {version}; the project requires "
            f">= {'.'.join(map(str, _version(settings.dbt_version)[:2]))} "
            "(dbt/dbt_project.yml), so every EXECUTE DBT PROJECT fails",
            redeploy,
        )
    return CheckResult("dbt_project", OK, f"{settings.dbt_project} runs dbt {version}")


# SHOW TASKS' last_suspended_reason when Snowflake suspended a task itself after consecutive
# failures (SUSPEND_TASK_AFTER_NUM_FAILURES; release-notes/bcr-bundles/2023_08/bcr-1385-1414).
SUSPENDED_DUE_TO_ERRORS = "SUSPENDED_DUE_TO_ERRORS"


def check_tasks(
    shown: Sequence[Mapping[str, Any]] | Exception,
    last_runs: Mapping[str, Mapping[str, Any]],
    settings: DoctorSettings,
) -> CheckResult:
    """SHOW TASKS rows (state, last_suspended_reason), and each task's latest completed run
    from TASK_HISTORY.

    A started graph with any suspended task is a failure: a suspended child never runs
    again by itself (nothing resumes it when its cause is gone), so the graph runs on in
    part, or not at all. So is a task Snowflake suspended after repeated failures, even in
    a graph that is not started (its root, then, is the one suspended)."""
    if isinstance(shown, Exception):
        return CheckResult("tasks", FAIL, f"SHOW TASKS failed: {cut(str(shown))}", "make deploy")
    rows = {str(r.get("name", "")).upper(): r for r in shown}
    states = {name: str(r.get("state", "")).lower() for name, r in rows.items()}
    reasons = {
        name: str(r.get("last_suspended_reason") or "").upper()
        for name, r in rows.items()
        if states[name] == "suspended"
    }
    missing = [t for t in TASKS if t not in states]
    if missing:
        return CheckResult(
            "tasks", FAIL, f"missing: {', '.join(missing)}", "make deploy-graph (sql/70_tasks.sql)"
        )
    parts = [
        f"{t.removeprefix('AMPLITUDE_').lower()} {states[t]}"
        + (f" ({reasons[t]})" if reasons.get(t) else "")
        for t in TASKS
    ]
    errors = []
    for task in TASKS:
        run = last_runs.get(task) or {}
        if str(run.get("state", "")).upper().startswith("FAILED"):
            errors.append(f"{task} last failed: {cut(str(run.get('error_message', '')), 160)}")
    detail = "; ".join(parts) + (". " + " | ".join(errors) if errors else "")
    started = states["AMPLITUDE_PIPELINE_ROOT"] == "started"
    suspended = [t for t in TASKS if states[t] == "suspended"]
    by_errors = [t for t in TASKS if reasons.get(t) == SUSPENDED_DUE_TO_ERRORS]
    if (started and suspended) or by_errors:
        if started:
            named = ", ".join(
                f"{t} is suspended ({reasons.get(t) or 'no reason given'})" for t in suspended
            )
            effect = (
                "runs go unrecorded"
                if suspended == ["AMPLITUDE_PIPELINE_FINALIZER"]
                else "the tasks after it never run, and nothing resumes them"
            )
            why = f"the graph is started but {named}: {effect}"
        else:
            why = (
                f"Snowflake suspended {', '.join(by_errors)} after repeated failures "
                f"({SUSPENDED_DUE_TO_ERRORS})"
            )
        return CheckResult(
            "tasks",
            FAIL,
            f"{detail}. {why}",
            "Fix the cause (each task's last error above; TASK_HISTORY), then `make resume` "
            "(sql/80_resume_tasks.sql resumes the finalizer and every task of the graph)",
        )
    if errors:
        return CheckResult(
            "tasks",
            WARN,
            detail,
            "Fix the cause above, then EXECUTE TASK "
            f"{settings.task_schema}.AMPLITUDE_PIPELINE_ROOT;",
        )
    return CheckResult("tasks", OK, detail)


def check_round_trip(
    trip: RoundTrip,
    pipe_answer: str | Exception,
    settings: DoctorSettings,
    late_rows: int | Exception = 0,
) -> CheckResult:
    """The marker's fate; `late_rows`: what the clean-up at the start of the run removed
    (rows of markers earlier runs stopped waiting for), or why it could not run."""
    result = _round_trip_verdict(trip, pipe_answer, settings)
    if isinstance(late_rows, Exception):
        return CheckResult(
            result.check_name,
            FAIL,
            f"{result.detail}; the clean-up of earlier markers failed: {cut(str(late_rows))}",
            f"CALL {settings.marker_cleanup_procedure}(); as the admin role, or `make "
            "deploy-setup` (sql/40 creates it and grants the pipeline role USAGE on it)",
        )
    if late_rows:
        return CheckResult(
            result.check_name,
            result.status,
            f"{result.detail}; removed {late_rows} raw row(s) of earlier markers that arrived "
            "after their run stopped waiting",
            result.fix,
        )
    return result


def _round_trip_verdict(
    trip: RoundTrip, pipe_answer: str | Exception, settings: DoctorSettings
) -> CheckResult:
    if not trip.written:
        return CheckResult(
            "round_trip",
            FAIL,
            f"could not write {trip.marker} to @{settings.stage}: {cut(trip.write_error)}",
            "Fix storage_integration above first (the stage writes through it)",
        )
    if trip.rows_loaded > 0:
        return CheckResult(
            "round_trip",
            OK,
            f"{trip.marker} went stage -> S3 -> SQS -> pipe -> {settings.raw_table} in "
            f"{trip.waited_seconds:.0f} s (marker rows and file removed)",
        )
    if trip.load_error:
        return CheckResult(
            "round_trip",
            FAIL,
            f"the pipe saw {trip.marker} but failed to load it: {cut(trip.load_error)}",
            f"See COPY_HISTORY on {settings.raw_table}; the pipe's file format and the raw "
            "table must match sql/30 and sql/40",
        )
    channel = ""
    if not isinstance(pipe_answer, Exception):
        try:
            channel = str(json.loads(pipe_answer).get("notificationChannelName") or "")
        except json.JSONDecodeError:
            channel = ""
    fix = (
        notification_step(channel, settings.s3_url)
        if channel
        else ("Fix the pipe check above first")
    )
    return CheckResult(
        "round_trip",
        FAIL,
        f"{trip.marker} was written to the stage but not loaded within "
        f"{trip.waited_seconds:.0f} s: S3 is not telling the pipe about new files",
        fix + f". Then ALTER PIPE {settings.pipe} REFRESH PREFIX = 'events/'; queues what "
        "was staged in the last 7 days.",
    )


def report(results: Sequence[CheckResult]) -> str:
    failed = sum(r.status == FAIL for r in results)
    head = (
        f"amplitude_doctor: {failed} of {len(results)} checks failed"
        if failed
        else (f"amplitude_doctor: all {len(results)} checks passed")
    )
    return "\n".join([head, *(r.line() for r in results)])


def _version(text: str) -> tuple[int, ...]:
    match = _VERSION.search(text)
    if not match:
        return (0, 0)
    return tuple(int(g) for g in match.groups() if g is not None)


def _bucket_and_prefix(s3_url: str) -> tuple[str, str]:
    parsed = urlparse(s3_url)
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix

"""The app's doctor: each verdict from plain answers, including the three points only an
account can settle (app-owned PASSWORD secret behind the app's EAI, COPY from the app's
stage, a task calling a Python procedure with external access), which report
what the first runs found."""

from __future__ import annotations

import pytest

from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN
from amplitude_ingest.in_snowflake.native_app import doctor_checks as dc
from amplitude_ingest.in_snowflake.native_app import names


def test_settings_are_checked_by_the_exports_parser_and_the_retention_range() -> None:
    good = {"stage": names.STAGE, "project": "web", "stage_retention_days": "14"}
    assert dc.settings_problem(good) is None
    assert "stage_retention_days is 90" in (
        dc.settings_problem({**good, "stage_retention_days": "90"}) or ""
    )
    assert "concurency" in (dc.settings_problem({**good, "concurency": "2"}) or "")
    assert "concurrency" in (dc.settings_problem({**good, "concurrency": "many"}) or "")


@pytest.mark.parametrize(
    ("status", "verdict", "says"),
    [
        (None, WARN, "not tried"),
        (404, OK, "PASSWORD secret (confirmed on this account)"),
        (200, OK, "answered 200"),
        (401, FAIL, "refused the key pair (401)"),
        (429, WARN, "answered 429"),
        (PermissionError("secret amplitude_credentials not allowed"), FAIL, "not allowed"),
    ],
)
def test_the_export_probe_settles_the_password_secret_behind_the_apps_integration(
    status: int | Exception | None, verdict: str, says: str
) -> None:
    result = dc.check_export_api(status, "amplitude.com")
    assert (result.check_name, result.status) == ("export_api", verdict)
    assert says in result.detail


@pytest.mark.parametrize(
    ("loads", "verdict", "says"),
    [
        ([], WARN, "not yet observed"),
        ([("LOAD_FAILED", "Access denied to stage")], FAIL, "Access denied to stage"),
        ([("LOAD_FAILED", "bad json"), ("LOADED", None)], OK, "has loaded files"),
        (RuntimeError("no table"), FAIL, "unreadable"),
    ],
)
def test_copy_from_the_apps_own_stage_is_reported_from_the_load_history(
    loads: list[tuple[str, str | None]] | Exception, verdict: str, says: str
) -> None:
    result = dc.check_copy_from_app_stage(loads)
    assert result.status == verdict
    assert says in result.detail


def test_a_task_calling_the_export_with_external_access_is_reported_from_the_task_runs() -> None:
    rows = [
        ("FAILED", "external access not allowed", '{"task": "AMPLITUDE_INGEST_ROOT"}'),
        ("SUCCEEDED", None, {"task": None}),  # a worksheet CALL: not a task run
    ]
    runs = dc.task_ingests(rows)
    assert runs == [("FAILED", "external access not allowed")]
    failed = dc.check_task_external_access(runs)
    assert failed.status == FAIL
    assert "external access not allowed" in failed.detail
    assert dc.check_task_external_access([]).status == WARN
    assert dc.check_task_external_access([*runs, ("SUCCEEDED", None)]).status == OK


def test_files_past_load_metadata_that_never_loaded_fail_the_doctor() -> None:
    assert dc.check_stranded([]).status == OK
    stranded = dc.check_stranded(["events/web/a.json"])
    assert stranded.status == FAIL
    assert "events/web/a.json" in stranded.detail
    assert "ingest_amplitude(start, end, true)" in stranded.fix


def test_a_task_missing_from_the_graph_fails_and_names_it() -> None:
    shown = [{"name": "AMPLITUDE_LOAD", "state": "started"}]
    result = dc.check_tasks(shown)
    assert result.status == FAIL
    assert result.detail == "missing task(s): amplitude_finalize, amplitude_ingest_root"

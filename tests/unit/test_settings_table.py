"""The settings table's typed views (settings_table.py): each procedure takes its own rows,
checks each value before any SQL uses it, and names what is wrong; a name no procedure
reads is an error in every view."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.settings_table import (
    SETTING_NAMES,
    VIEWS,
    DoctorSettings,
    ForgetSettings,
    ProcedureConfig,
    SettingsView,
    WaitSettings,
    settings_query,
)
from tests.unit.test_forget_privileges import forget_settings

DEPLOYED = forget_settings()  # every row sql/50 and sql/55 write, as the deploy renders them


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.__name__)
def test_every_view_reads_the_deployed_table_leaving_the_others_rows_alone(
    view: type[SettingsView],
) -> None:
    parsed = view.from_rows(DEPLOYED)
    own = {k: v for k, v in DEPLOYED.items() if k in view.model_fields}
    assert own  # every view reads some of the deployed rows
    assert parsed == view.from_rows(own)
    for name, value in own.items():
        if isinstance(getattr(parsed, name), str):
            assert getattr(parsed, name) == value


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.__name__)
def test_a_misspelt_name_is_an_error_in_every_view_naming_it_and_the_closest(
    view: type[SettingsView],
) -> None:
    rows = {**DEPLOYED, "wait_timeout_secnds": "60"}
    with pytest.raises(ConfigurationError) as caught:
        view.from_rows(rows, "DB.INGEST.SETTINGS")
    message = str(caught.value)
    assert "settings table DB.INGEST.SETTINGS" in message
    assert "'wait_timeout_secnds' is not a setting" in message


def test_the_closest_name_is_suggested_from_the_view_that_reads_it() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'wait_timeout_seconds'"):
        WaitSettings.from_rows({"wait_timeout_secnds": "60"})


@given(st.sampled_from(sorted(SETTING_NAMES)))
def test_a_name_some_procedure_reads_is_never_an_error_for_another(name: str) -> None:
    for view in (WaitSettings, ProcedureConfig):  # the views with no required row
        if name not in view.model_fields:
            assert view.from_rows({name.upper(): "anything"}) == view.from_rows({})


@pytest.mark.parametrize(
    ("view", "name", "value"),
    [
        (WaitSettings, "raw_table", "AMP.RAW.X; drop table y"),
        (WaitSettings, "root_task", "DB.SCHEMA.ROOT"),
        (WaitSettings, "wait_timeout_seconds", "0"),
        (WaitSettings, "wait_poll_seconds", "soon"),
        (DoctorSettings, "pipe", "AMPLITUDE.INGEST.P; drop table x"),
        (DoctorSettings, "s3_url", "https://bucket/x"),
        (DoctorSettings, "export_host", "amplitude.com/evil?x="),
        (DoctorSettings, "storage_integration", "a.b"),
        (DoctorSettings, "task_schema", "AMPLITUDE"),
        (DoctorSettings, "ingest_procedure", "AMPLITUDE.INGEST.INGEST_AMPLITUDE"),
        (DoctorSettings, "doctor_round_trip_seconds", "-1"),
        (ForgetSettings, "forget_rows_procedure", "amplitude_forget_rows"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(
    view: type[SettingsView], name: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"settings table \S+: {name}: "):
        view.from_rows({**DEPLOYED, name: value})


def test_names_are_case_insensitive_and_an_empty_value_is_the_default() -> None:
    parsed = WaitSettings.from_rows({"WAIT_POLL_SECONDS": "5", "Raw_Table": "", "pipe": None})
    assert parsed.wait_poll_seconds == 5
    assert parsed.raw_table == WaitSettings().raw_table
    assert parsed.pipe == WaitSettings().pipe


@pytest.mark.parametrize(
    ("view", "missing", "written_by"),
    [
        (DoctorSettings, "pipe", "run `make deploy` (sql/50_ledger_and_settings.sql"),
        (ForgetSettings, "stage_rewrites_table", "run sql/50 and sql/55 again"),
    ],
)
def test_a_missing_row_says_what_writes_it(
    view: type[SettingsView], missing: str, written_by: str
) -> None:
    rows = {k: v for k, v in DEPLOYED.items() if k != missing}
    with pytest.raises(ConfigurationError, match=f"has no {missing}: {re.escape(written_by)}"):
        view.from_rows(rows)


def test_the_wait_steps_messages_name_objects_beside_its_ledger() -> None:
    settings = WaitSettings.from_rows({"ledger_table": "PROD.INGEST.LEDGER"})
    assert settings.doctor == "PROD.INGEST.AMPLITUDE_DOCTOR"
    assert settings.files_view == "PROD.INGEST.AMPLITUDE_FILES_NOT_LOADED"
    assert settings.reexport_hint().startswith("CALL PROD.INGEST.INGEST_AMPLITUDE(")


def test_the_table_is_read_only_by_a_qualified_name() -> None:
    assert settings_query("DB.INGEST.S") == "select name, value from DB.INGEST.S"
    with pytest.raises(ConfigurationError, match="not a fully qualified name"):
        settings_query("S; drop table x")


def test_the_rows_sql_50_writes_are_all_the_doctor_needs() -> None:
    settings = DoctorSettings.from_rows(DEPLOYED)
    assert settings.stage == "AMPLITUDE.INGEST.AMPLITUDE_STAGE"
    assert settings.s3_url == "s3://example-bucket/amplitude/"
    assert settings.doctor_round_trip_seconds == 240
    assert settings.database == "AMPLITUDE"


def test_the_apps_setting_names_are_fields_of_its_view() -> None:
    from amplitude_ingest.in_snowflake.native_app import app_settings
    from amplitude_ingest.in_snowflake.settings_table import AppSettings

    for name in (app_settings.RETENTION_DAYS, app_settings.SCHEDULE_CRON):
        assert name in AppSettings.model_fields

"""The statements `amplitude_doctor()` sends, one builder each.

`run_checks` and `round_trip` send what these return, and :func:`queries` lists them for
the privilege replay, so the replay checks the text that runs (tests/unit/test_doctor.py
fails if a run sends anything else). Values travel as bind variables (?); only settings
validated by `DoctorSettings` are spliced in.
"""

from __future__ import annotations

from amplitude_ingest.in_snowflake.settings_table import DoctorSettings

MARKER_FOLDER = "events/_doctor"


def storage_check_query(settings: DoctorSettings) -> str:
    return f"call {settings.storage_check_procedure}()"


def pipe_status_query(settings: DoctorSettings) -> str:
    return f"select system$pipe_status('{settings.pipe}') as v"


def describe_procedure_query(settings: DoctorSettings) -> str:
    return f"describe procedure {settings.ingest_procedure}"


def dbt_project_query(settings: DoctorSettings) -> str:
    return f"describe dbt project {settings.dbt_project}"


def show_tasks_query(settings: DoctorSettings) -> str:
    return f"show tasks like 'AMPLITUDE_%' in schema {settings.task_schema}"


def task_history_query(settings: DoctorSettings) -> str:
    return (
        "select name, state, error_message, completed_time from table("
        f"{settings.database}.information_schema.task_history("
        "scheduled_time_range_start => dateadd(day, -7, current_timestamp()), "
        "result_limit => 1000)) "
        "where schema_name = ? and completed_time is not null "
        "qualify row_number() over (partition by name order by completed_time desc) = 1"
    )


def marker_rows_query(settings: DoctorSettings) -> str:
    return (
        f"select count(*) as n from {settings.raw_table} "
        "where loaded_at >= dateadd(hour, -2, sysdate()) and endswith(file_name, ?)"
    )


def marker_errors_query(settings: DoctorSettings) -> str:
    return (
        "select file_name, status, first_error_message from table("
        f"{settings.database}.information_schema.copy_history("
        f"table_name => '{settings.raw_table}', "
        "start_time => dateadd(hour, -2, current_timestamp()))) "
        "where endswith(file_name, ?)"
    )


def marker_cleanup_query(settings: DoctorSettings) -> str:
    return f"call {settings.marker_cleanup_procedure}()"


def marker_location(settings: DoctorSettings) -> str:
    return f"@{settings.stage}/{MARKER_FOLDER}/"


def remove_marker_query(settings: DoctorSettings, name: str) -> str:
    return f"remove {marker_location(settings)}{name}"


def put_statement(location: str, name: str) -> str:
    """The SQL form of `Probe.put` (session.file.put_stream runs a PUT to the stage)."""
    return f"put file:///tmp/{name} {location}"


def queries(settings: DoctorSettings, marker: str = "amplitude_doctor_marker.json") -> list[str]:
    """Every statement the doctor sends, in order (the privilege replay checks them)."""
    return [
        marker_cleanup_query(settings),
        storage_check_query(settings),
        pipe_status_query(settings),
        describe_procedure_query(settings),
        dbt_project_query(settings),
        show_tasks_query(settings),
        task_history_query(settings),
        put_statement(marker_location(settings), marker),
        marker_rows_query(settings),
        marker_errors_query(settings),
        remove_marker_query(settings, marker),
    ]

"""Every SQL text the app's Python procedures send, by procedure, from the builders that
send them: what the privilege replay (tests/privilege_replay.py) runs as the app, so it
checks the text that runs, not a copy. The export's own statements (settings, ledger,
stage writes, REMOVE through in_snowflake/stage.py) are the S3 form's and listed with it.

ALTER SECRET carries two placeholder keys where the consumer's go.
"""

from __future__ import annotations

from amplitude_ingest.in_snowflake import task_return_value
from amplitude_ingest.in_snowflake.native_app import (
    credentials,
    doctor_checks,
    load_step,
    names,
    retention,
    schedule,
)


def statements() -> dict[str, list[str]]:
    doctor = [
        doctor_checks.SHOW_SPECIFICATIONS,
        doctor_checks.SHOW_TASKS,
        retention.list_statement(),
    ]
    return {
        "ingest_amplitude": [task_return_value.CURRENT_TASK_QUERY],
        "amplitude_load": [load_step.copy_statement()],
        "amplitude_doctor": doctor,
        "amplitude_set_credentials": [
            credentials.alter_statement("placeholderapikey", "placeholdersecretkey")
        ],
        "amplitude_start_schedule": [names.DOCTOR, *schedule.resume_statements()],
        "amplitude_stop_schedule": schedule.suspend_statements(),
        "amplitude_apply_retention": [retention.list_statement()],
        "on_specification_change": [
            doctor_checks.SHOW_SPECIFICATIONS,
            *schedule.suspend_statements(),
        ],
    }

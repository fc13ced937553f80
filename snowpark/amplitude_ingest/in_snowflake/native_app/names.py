"""Names of the app's objects, as the setup script (app/setup_script.sql) creates them.

The setup script is where the objects are made; this module is where the Python side
reads their names from, so a handler never spells one itself. Unqualified database: an
app's procedures run inside the app, whose schemas these are.
"""

from __future__ import annotations

from amplitude_ingest import stage_keys
from amplitude_ingest.in_snowflake.settings_table import SETTINGS_TABLE_NAME

# The table every procedure reads its settings from, in the app's plain schema.
SETTINGS = f"state.{SETTINGS_TABLE_NAME.lower()}"
LEDGER_TABLE = "state.amplitude_ingest_ledger"
RUN_HISTORY = "state.amplitude_run_history"
LOAD_HISTORY = "state.amplitude_load_history"
FORGET_REQUESTS = "state.amplitude_forget_requests"
STAGE = "state.events_stage"
FILE_FORMAT = "state.amplitude_json"
SECRET = "state.amplitude_api_credentials"  # noqa: S105 - an object name, not a secret
RAW_TABLE = "data.amplitude_events_raw"
FAILURES_VIEW = "data.amplitude_failures"
EXTERNAL_ACCESS_INTEGRATION = "amplitude_export_access"
TASK_SCHEMA = "state"
ROOT_TASK = "state.amplitude_ingest_root"
LOAD_TASK = "state.amplitude_load"
FINALIZER_TASK = "state.amplitude_finalize"
# Resumed in this order, suspended root first (the root last on start: nothing runs until
# every child is ready; BRIEF "Task graphs", ALTER TASK: "resume ... the root last").
TASKS = (FINALIZER_TASK, LOAD_TASK, ROOT_TASK)
# The folder of the stage the export writes parts to (stage_keys names it) and the load
# step copies from.
EVENTS_FOLDER = f"{stage_keys.EVENTS_FOLDER}/"
# What the app's Streamlit calls (procedures in the versioned schema `code`).
START_SCHEDULE = "call code.amplitude_start_schedule()"
STOP_SCHEDULE = "call code.amplitude_stop_schedule()"
DOCTOR = "call code.amplitude_doctor()"

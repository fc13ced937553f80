"""Settings rows only the app reads or the app's setup script writes, so the export's
settings parser (``in_snowflake.ingest.ProcedureConfig``) knows them and still refuses a
misspelt name.

A leaf module: ``in_snowflake.ingest`` imports it, and it imports nothing.
"""

from __future__ import annotations

RETENTION_DAYS = "stage_retention_days"
SCHEDULE_CRON = "schedule_cron"
SETTINGS = (
    RETENTION_DAYS,
    SCHEDULE_CRON,
    # Written by the setup script for people and the health views to read; the handlers
    # take these names from native_app/names.py.
    "raw_table",
    "file_format",
    "run_history_table",
    "load_history_table",
    "forget_requests_table",
    "stage_rewrites_table",
    "external_access_integration",
    "secret",
    "task_schema",
    "root_task",
    "export_host",
)

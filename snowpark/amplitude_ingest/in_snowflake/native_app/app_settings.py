"""Settings rows only the app's procedures read, so the export's settings parser
(``in_snowflake.ingest.ProcedureConfig``) knows them and still refuses a misspelt name.

A leaf module: ``in_snowflake.ingest`` imports it, and it imports nothing.
"""

from __future__ import annotations

RETENTION_DAYS = "stage_retention_days"
SETTINGS = (RETENTION_DAYS,)

"""The names of the settings rows only the app reads, as its handlers spell them.

Every name a procedure reads is a field of a view in ``in_snowflake.settings_table``
(``AppSettings`` for these), so a misspelt row is still refused; a test keeps these two
names among that view's fields.
"""

from __future__ import annotations

RETENTION_DAYS = "stage_retention_days"
SCHEDULE_CRON = "schedule_cron"

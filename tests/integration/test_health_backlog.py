"""sql/85's health view on fakesnow: given-up hours, how many hours the ledger is behind,
and when it will be current at the pace of the last six hours.

The ledger and settings tables are sql/50's own; the view is sql/85's text as deployed,
with COPY_HISTORY (which fakesnow lacks) answered by recorded rows, as in
test_pipe_reconciliation.py. Hours are planted relative to the database's own clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakesnow
import pytest
import snowflake.connector

from tests.integration.test_pipe_reconciliation import _views
from tests.integration.test_sql_on_fakesnow import run_scripts

LAG_HOURS = 3  # sql/50's row for lag_hours, read by the view


@pytest.fixture
def cursor(tmp_path: Path) -> Iterator[Any]:
    with fakesnow.patch(db_path=str(tmp_path)):
        connection = snowflake.connector.connect(
            database="AMPLITUDE", schema="INGEST", paramstyle="qmark"
        )
        cur = connection.cursor()
        cur.execute("create schema if not exists amplitude.raw")
        run_scripts(
            cur, ["40_raw_table_and_pipe.sql", "50_ledger_and_settings.sql", "55_forget.sql"]
        )
        cur.execute(
            "update amplitude.ingest.amplitude_ingest_settings set value = ? "
            "where name = 'lag_hours'",
            [str(LAG_HOURS)],
        )
        yield cur


def plant(cursor: Any, hours_ago: int, status: str, minutes_since_update: int = 5) -> None:
    cursor.execute(
        "insert into amplitude.ingest.amplitude_ingest_ledger "
        "(hour, status, files, events, bytes, rejected_lines, attempts, error, stage_keys, "
        "updated_at, run_id, failed_runs) "
        "select dateadd(hour, ?, date_trunc('hour', sysdate())), ?, 0, 0, 0, 0, 1, null, '[]', "
        "dateadd(minute, ?, sysdate()), 'r', 0",
        [-hours_ago, status, -minutes_since_update],
    )


def health(cursor: Any) -> dict[str, Any]:
    for view in _views():
        cursor.execute(view)
    cursor.execute(
        "select hours_given_up, hours_unfinished, hours_behind, hours_exported_last_6h, "
        "datediff(minute, sysdate(), current_at_present_pace) as minutes_to_current "
        "from amplitude.ingest.amplitude_pipeline_health"
    )
    names = [d[0].lower() for d in cursor.description]
    (row,) = cursor.fetchall()
    return dict(zip(names, row, strict=True))


def test_the_view_says_how_far_behind_and_when_current_at_the_present_pace(cursor: Any) -> None:
    for hours_ago in range(13, 21):  # 8 hours exported in the last 6 hours
        plant(cursor, hours_ago, "done")
    plant(cursor, 40, "done", minutes_since_update=24 * 60)  # long ago: not the present pace
    plant(cursor, 12, "given_up")  # settled: the newest settled hour
    plant(cursor, 25, "failed")
    plant(cursor, 30, "pending")
    shown = health(cursor)
    # 2 unfinished + the hours after the newest settled one (12 h ago) up to the newest
    # exportable one (3 h ago): 9.
    assert shown["hours_given_up"] == 1
    assert shown["hours_unfinished"] == 2
    assert shown["hours_behind"] == 2 + (12 - LAG_HOURS)
    assert shown["hours_exported_last_6h"] == 8
    # 8 hours per 6 hours, less the 1 new hour an hour: 1/3 hour gained per hour.
    assert shown["minutes_to_current"] == 1980  # 11 hours / (1/3 per hour)


def test_a_pace_that_does_not_gain_gives_no_date_and_a_current_ledger_gives_now(
    cursor: Any,
) -> None:
    plant(cursor, 10, "done", minutes_since_update=60)
    assert health(cursor)["hours_behind"] == 10 - LAG_HOURS
    assert health(cursor)["minutes_to_current"] is None  # 1 hour in 6: falling behind
    for hours_ago in range(LAG_HOURS, 10):
        plant(cursor, hours_ago, "empty")
    shown = health(cursor)
    assert (shown["hours_behind"], shown["minutes_to_current"]) == (0, 0)

"""The gap between the stage and the table, closed on fakesnow (a Snowflake-dialect emulator):
the ledger and raw table are created by sql/40 and sql/50, the wait step runs its real
queries against them, the files-not-loaded view of sql/85 and the finalizer of sql/70 run
as written. What fakesnow cannot run, INFORMATION_SCHEMA's COPY_HISTORY and TASK_HISTORY
table functions, is replaced by recorded rows of the documented shape, and only that."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import fakesnow
import pytest
import snowflake.connector

from amplitude_ingest.reconcile import FilesNotLoadedError, check_run
from tests.integration.test_sql_on_fakesnow import run_scripts
from tests.sql_scripts import SQL_DIR, render, split_statements

SETTINGS_TABLE = "AMPLITUDE.INGEST.AMPLITUDE_INGEST_SETTINGS"
KEYS = [f"events/web/2026/01/26/05/web_20260126T05_{i:04d}_{i:016x}.json" for i in range(3)]
OTHER_RUN_KEY = "events/web/2026/01/26/04/web_20260126T04_0000_ffffffffffffffff.json"


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
            "update amplitude.ingest.amplitude_ingest_settings set value = '60' "
            "where name = 'wait_timeout_seconds'"
        )
        yield cur


def write_ledger(
    cursor: Any, run_id: str, hour: str, keys: list[str], status: str = "done", minutes_ago: int = 5
) -> None:
    cursor.execute(
        "insert into amplitude.ingest.amplitude_ingest_ledger "
        "(hour, status, files, events, bytes, rejected_lines, attempts, error, stage_keys, updated_at, run_id) "  # noqa: E501
        "select cast(? as timestamp_ntz), ?, ?, 10, 100, 0, 1, null, ?, dateadd(minute, ?, sysdate()), ?",  # noqa: E501
        [hour, status, len(keys), json.dumps(keys), -minutes_ago, run_id],
    )


def load(cursor: Any, file_name: str, rows: int = 2, minutes_ago: int = 1) -> None:
    for row in range(rows):
        cursor.execute(
            "insert into amplitude.raw.amplitude_events_raw "
            "select parse_json(?), ?, ?, dateadd(minute, ?, sysdate())",
            [json.dumps({"uuid": f"{file_name}-{row}"}), file_name, row + 1, -minutes_ago],
        )


class Snowflake:
    """run_sql over fakesnow; COPY_HISTORY answered from recorded rows."""

    def __init__(self, cursor: Any, copy_history: list[tuple[str, str, str]] | None = None) -> None:
        self.cursor = cursor
        self.copy_history = copy_history or []
        self.on_look: list[Any] = []
        self.queries: list[str] = []

    def __call__(self, query: str, params: Any) -> list[Any]:
        self.queries.append(query)
        if "information_schema.copy_history" in query:
            return [row for row in self.copy_history if row[1] != "Loaded"]
        if query.startswith("select distinct file_name") and self.on_look:
            self.on_look.pop(0)()
        self.cursor.execute(query, list(params) or None)
        return list(self.cursor.fetchall())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_wait_step_passes_once_every_file_of_the_run_is_in_the_raw_table(cursor: Any) -> None:
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS)
    write_ledger(cursor, "run41", "2026-01-26 04:00:00", [OTHER_RUN_KEY])  # not this run's
    load(cursor, f"amplitude/{KEYS[0]}")  # METADATA$FILENAME with the bucket prefix
    load(cursor, KEYS[1])  # or relative to the stage
    snowflake_, clock = Snowflake(cursor), Clock()
    # The third file lands while the step waits (on its second look).
    snowflake_.on_look = [lambda: None, lambda: load(cursor, f"amplitude/{KEYS[2]}")]
    summary = json.dumps({"run_id": "run42", "hours_done": 1})
    result = check_run(snowflake_, summary, SETTINGS_TABLE, clock, clock.sleep)
    assert result == {"run_id": "run42", "files_expected": 3, "files_loaded": 3}
    assert clock.now == 20.0


def test_the_wait_step_fails_naming_the_files_snowpipe_never_saw(cursor: Any) -> None:
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS)
    load(cursor, f"amplitude/{KEYS[0]}")
    snowflake_, clock = Snowflake(cursor), Clock()
    with pytest.raises(FilesNotLoadedError) as raised:
        check_run(snowflake_, "run42", SETTINGS_TABLE, clock, clock.sleep)
    message = str(raised.value)
    assert (
        f"2 of the 3 files this run wrote are not in AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW: {KEYS[1]}, {KEYS[2]}."  # noqa: E501
        in message
    )
    assert clock.now == 60.0


def test_the_wait_step_fails_at_once_on_a_file_snowpipe_could_not_load(cursor: Any) -> None:
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS[:2])
    load(cursor, KEYS[0])
    history = [
        (f"amplitude/{KEYS[0]}", "Loaded", ""),
        (f"amplitude/{KEYS[1]}", "Load failed", "Error parsing JSON: misplaced { "),
    ]
    clock = Clock()
    with pytest.raises(
        FilesNotLoadedError, match=r"Snowpipe failed to load 1 of the 2 files .*Error parsing JSON"
    ):
        check_run(Snowflake(cursor, history), "run42", SETTINGS_TABLE, clock, clock.sleep)
    assert clock.now == 0.0


def test_a_key_rewritten_unchanged_counts_as_loaded_by_its_earlier_load(cursor: Any) -> None:
    """Snowpipe does not load a path again within 14 days: its rows are the old ones."""
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS[:1])
    load(cursor, KEYS[0], minutes_ago=3 * 24 * 60)
    clock = Clock()
    assert (
        check_run(Snowflake(cursor), "run42", SETTINGS_TABLE, clock, clock.sleep)["files_loaded"]
        == 1
    )


def replace_table_function(sql: str, function: str, replacement: str) -> str:
    """Every `table(information_schema.<function>(...))` replaced, parentheses balanced."""
    marker = re.compile(rf"table\(\s*information_schema\.{function}\(", re.I)
    while match := marker.search(sql):
        depth, end = 0, match.start() + len("table")
        for end in range(match.start() + len("table"), len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            if depth == 0:
                break
        sql = sql[: match.start()] + f"({replacement})" + sql[end + 1 :]
    return sql


def _views_with_copy_history(rows: list[tuple[str, str, str]]) -> list[str]:
    """sql/85's views, with COPY_HISTORY (not in fakesnow) replaced by recorded rows."""
    text = render((SQL_DIR / "85_health_views.sql").read_text())
    recorded = " union all ".join(
        f"select '{name}' as file_name, '{status}' as status, '{error}' as first_error_message, "
        "1 as row_count, sysdate() as last_load_time"
        for name, status, error in rows
    ) or (
        "select null::varchar as file_name, null::varchar as status, "
        "null::varchar as first_error_message, 0 as row_count, null::timestamp_ntz as last_load_time "  # noqa: E501
        "where false"
    )
    views = []
    for statement in split_statements(text):
        if "create or replace view" not in statement:
            continue
        statement = replace_table_function(statement, "copy_history", recorded)
        views.append(statement.replace("copy grants", ""))
    return views


def test_the_view_lists_files_written_and_never_loaded_with_the_pipes_error(cursor: Any) -> None:
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS, minutes_ago=90)
    write_ledger(cursor, "run43", "2026-01-26 06:00:00", [OTHER_RUN_KEY], minutes_ago=5)
    write_ledger(
        cursor, "run40", "2026-01-26 03:00:00", ["events/old.json"], minutes_ago=20 * 24 * 60
    )
    write_ledger(cursor, "run44", "2026-01-26 07:00:00", [], status="empty")
    load(cursor, f"amplitude/{KEYS[0]}")
    history = [(f"amplitude/{KEYS[1]}", "Load failed", "Error parsing JSON")]
    for view in _views_with_copy_history(history):
        cursor.execute(view)
    cursor.execute(
        "select run_id, stage_key, load_status, first_error_message, refreshable "
        "from amplitude.ingest.amplitude_files_not_loaded order by stage_key"
    )
    assert cursor.fetchall() == [
        ("run43", OTHER_RUN_KEY, "not seen by the pipe", None, True),
        ("run42", KEYS[1], "Load failed", "Error parsing JSON", True),
        ("run42", KEYS[2], "not seen by the pipe", None, True),
    ]
    cursor.execute(
        "select hours_done, hours_empty, files_not_loaded, files_awaiting_load "
        "from amplitude.ingest.amplitude_pipeline_health"
    )
    # Written 90 minutes ago and still missing: not loaded. Written 5 minutes ago: on its way.
    assert cursor.fetchall() == [(3, 1, 2, 1)]


def test_a_file_forget_rewrote_is_replaced_not_lost_in_the_view_and_the_wait_step(
    cursor: Any,
) -> None:
    """amplitude_forget() records each rewritten key (sql/55_forget.sql): the view and the
    wait step look for the key that replaced it, and forget a file nothing was left of."""
    rewritten, emptied = KEYS[0], KEYS[1]
    replacement = KEYS[0].replace(".json", "_rewritten.json")
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS, minutes_ago=90)
    for old, new in ((rewritten, replacement), (emptied, None)):
        cursor.execute(
            "insert into amplitude.raw.amplitude_stage_rewrites "
            "select ?, ?, 'request', 1, sysdate()",
            [old, new],
        )
    load(cursor, KEYS[2])
    for view in _views_with_copy_history([]):
        cursor.execute(view)
    cursor.execute("select stage_key from amplitude.ingest.amplitude_files_not_loaded")
    assert cursor.fetchall() == [(replacement,)]  # its replacement is not loaded yet
    clock = Clock()
    with pytest.raises(FilesNotLoadedError, match=rf"1 of the 2 files .*{replacement}"):
        check_run(Snowflake(cursor), "run42", SETTINGS_TABLE, clock, clock.sleep)
    load(cursor, f"amplitude/{replacement}")  # the pipe loads the rewritten file
    cursor.execute("select stage_key from amplitude.ingest.amplitude_files_not_loaded")
    assert cursor.fetchall() == []
    result = check_run(Snowflake(cursor), "run42", SETTINGS_TABLE, clock, clock.sleep)
    assert result == {"run_id": "run42", "files_expected": 2, "files_loaded": 2}


def run_finalizer(cursor: Any, history: list[dict[str, Any]], group: str) -> None:
    """sql/70's finalizer, with TASK_HISTORY and SYSTEM$TASK_RUNTIME_INFO recorded.

    fakesnow cannot run a MERGE whose source aggregates (ARRAY_AGG of OBJECT_CONSTRUCT),
    so the source query (the last-attempt logic) runs first into a table, then the MERGE
    (the upsert) runs on it, both exactly as written otherwise.
    """
    text = render((SQL_DIR / "70_tasks.sql").read_text())
    (task,) = [s for s in split_statements(text) if "task amplitude_pipeline_finalizer" in s]
    merge = task[task.index("merge into") :].rstrip().rstrip(";")
    rows = " union all ".join(
        f"select '{h['name']}' as name, '{h['state']}' as state, {h['attempt']} as attempt_number, "
        f"{'null' if h.get('error') is None else repr(h['error'])} as error_message, "
        f"null as return_value, '{h['group']}' as graph_run_group_id, "
        f"'{h['scheduled']}'::timestamp_ntz as scheduled_time"
        for h in history
    )
    merge = replace_table_function(merge, "task_history", rows)
    merge = merge.replace(
        "system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID')", f"'{group}'"
    )
    start = merge.index("using (") + len("using (")
    end = merge.index(") as source")
    cursor.execute(f"create or replace temporary table finalizer_source as {merge[start:end]}")
    cursor.execute(merge[: start - 1] + "finalizer_source" + merge[end + 1 :])


def test_the_finalizer_records_a_retried_task_by_its_last_attempt(cursor: Any) -> None:
    start = datetime(2026, 1, 26, 5, 15)
    first_attempt = [
        {
            "name": "AMPLITUDE_PIPELINE_ROOT",
            "state": "FAILED",
            "attempt": 1,
            "error": "Export API 503",
            "group": "g1",
            "scheduled": start,
        },
    ]
    retried = [
        *first_attempt,
        {
            "name": "AMPLITUDE_PIPELINE_ROOT",
            "state": "SUCCEEDED",
            "attempt": 2,
            "group": "g1",
            "scheduled": start + timedelta(minutes=5),
        },
        {
            "name": "AMPLITUDE_WAIT_FOR_LOADS",
            "state": "SUCCEEDED",
            "attempt": 2,
            "group": "g1",
            "scheduled": start + timedelta(minutes=9),
        },
        {
            "name": "AMPLITUDE_DBT_BUILD",
            "state": "SUCCEEDED",
            "attempt": 2,
            "group": "g1",
            "scheduled": start + timedelta(minutes=12),
        },
        {
            "name": "AMPLITUDE_DBT_BUILD",
            "state": "FAILED",
            "attempt": 1,
            "group": "g0",
            "scheduled": start - timedelta(hours=1),
        },  # another run
    ]
    # The finalizer runs after the failed attempt, then again after the retry.
    run_finalizer(cursor, first_attempt, "g1")
    cursor.execute("select succeeded from amplitude.ingest.amplitude_pipeline_runs")
    assert cursor.fetchall() == [(False,)]
    run_finalizer(cursor, retried, "g1")
    cursor.execute(
        "select run_group_id, succeeded, tasks from amplitude.ingest.amplitude_pipeline_runs"
    )
    ((group, succeeded, tasks),) = cursor.fetchall()
    assert (group, succeeded) == ("g1", True)
    recorded = sorted((t["task"], t["state"], t["attempt"]) for t in json.loads(tasks))
    assert recorded == [
        ("AMPLITUDE_DBT_BUILD", "SUCCEEDED", 2),
        ("AMPLITUDE_PIPELINE_ROOT", "SUCCEEDED", 2),
        ("AMPLITUDE_WAIT_FOR_LOADS", "SUCCEEDED", 2),
    ]

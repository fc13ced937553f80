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
from typing import Any, ClassVar

import fakesnow
import pytest
import snowflake.connector

from amplitude_ingest.in_snowflake import alerts
from amplitude_ingest.in_snowflake.settings_table import SETTINGS_TABLE
from amplitude_ingest.in_snowflake.wait_step import FilesNotLoadedError, check_run
from tests.integration.test_sql_on_fakesnow import run_scripts
from tests.privilege_replay import _block_statements
from tests.sql_scripts import SQL_DIR, render, split_statements

ALERT_SETTINGS_TABLE = alerts.ALERT_SETTINGS_TABLE
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
            cur,
            [
                "40_raw_table_and_pipe.sql",
                "50_ledger_and_settings.sql",
                "55_forget.sql",
                "75_alerts.sql",
            ],
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


def _views() -> list[str]:
    """sql/85's views, exactly as written (they read the finalizer's snapshot, not
    COPY_HISTORY); only `copy grants`, which fakesnow does not take, is dropped."""
    text = render((SQL_DIR / "85_health_views.sql").read_text())
    return [
        statement.replace("copy grants", "")
        for statement in split_statements(text)
        if "create or replace view" in statement
    ]


def _recorded(rows: list[str], empty: str) -> str:
    return " union all ".join(rows) or f"{empty} where false"


def graph_tasks() -> list[str]:
    """What TASK_DEPENDENTS answers for the root: the root, then every task AFTER one of
    the graph (sql-reference/functions/task_dependents), read from sql/70 itself."""
    text = render((SQL_DIR / "70_tasks.sql").read_text())
    graph: list[str] = []
    for statement in split_statements(text):
        if match := re.search(r"create or replace task (\w+)(.*?)\bas\b", statement, re.S):
            name, options = match.group(1).upper(), match.group(2)
            after = re.search(r"\bafter (\w+)", options)
            if "schedule =" in options or (after and after.group(1).upper() in graph):
                graph.append(name)
    return graph


def finalizer_statements() -> list[str]:
    """The statements of sql/70's finalizer block, in order."""
    text = render((SQL_DIR / "70_tasks.sql").read_text())
    (task,) = [s for s in split_statements(text) if "task amplitude_pipeline_finalizer" in s]
    return _block_statements(task)


class Sends:
    """run_sql over fakesnow for amplitude_send_alerts(); SYSTEM$SEND_EMAIL and
    SYSTEM$SEND_SNOWFLAKE_NOTIFICATION (not in fakesnow) are recorded instead."""

    log: ClassVar[list[tuple[str, list[Any]]]] = []

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def __call__(self, query: str, params: Any) -> list[Any]:
        if query in (alerts.SEND_EMAIL, alerts.SEND_WEBHOOK):
            Sends.log.append((query, list(params)))
            return [("sent",)]
        self.cursor.execute(query, list(params) or None)
        return list(self.cursor.fetchall())


def run_finalizer(
    cursor: Any,
    history: list[dict[str, Any]],
    group: str,
    copy_history: list[tuple[str, str, str, int]] | None = None,
    dependents: list[str] | None = None,
) -> None:
    """sql/70's finalizer, with TASK_HISTORY, TASK_DEPENDENTS, COPY_HISTORY and
    SYSTEM$TASK_RUNTIME_INFO recorded.

    fakesnow cannot run a MERGE whose source aggregates (ARRAY_AGG of OBJECT_CONSTRUCT),
    so the source query (the last-attempt logic) runs first into a table, then the MERGE
    (the upsert) runs on it, both exactly as written otherwise.
    """
    tasks = _recorded(
        [
            f"select '{h['name']}' as name, '{h['state']}' as state, "
            f"{h['attempt']} as attempt_number, "
            f"{'null' if h.get('error') is None else repr(h['error'])} as error_message, "
            f"null as return_value, '{h['group']}' as graph_run_group_id, "
            f"'{h['scheduled']}'::timestamp_ntz as scheduled_time"
            for h in history
        ],
        "select null::varchar as name, null::varchar as state, 0 as attempt_number, "
        "null::varchar as error_message, null as return_value, "
        "null::varchar as graph_run_group_id, null::timestamp_ntz as scheduled_time",
    )
    graph = _recorded(
        [f"select '{name}' as name" for name in graph_tasks() if dependents is None]
        + [f"select '{name}' as name" for name in dependents or []],
        "select null::varchar as name",
    )
    loads = _recorded(
        [
            f"select '{name}' as file_name, '{status}' as status, "
            f"'{error}' as first_error_message, {rows} as row_count, "
            "current_timestamp() as last_load_time"
            for name, status, error, rows in copy_history or []
        ],
        "select null::varchar as file_name, null::varchar as status, "
        "null::varchar as first_error_message, 0 as row_count, "
        "null::timestamp_ltz as last_load_time",
    )
    for statement in finalizer_statements():
        statement = replace_table_function(statement, "task_history", tasks)
        statement = replace_table_function(statement, "task_dependents", graph)
        statement = replace_table_function(statement, "copy_history", loads)
        statement = statement.replace(
            "system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID')", f"'{group}'"
        )
        if statement.startswith("call "):
            # CALL amplitude_send_alerts(): its handler, on these tables (sends recorded).
            assert statement.endswith(".amplitude_send_alerts()"), statement
            alerts.notify(Sends(cursor), ALERT_SETTINGS_TABLE)
            continue
        if statement.startswith("merge into"):
            start = statement.index("using (") + len("using (")
            end = statement.index(") as source")
            cursor.execute(
                f"create or replace temporary table finalizer_source as {statement[start:end]}"
            )
            statement = statement[: start - 1] + "finalizer_source" + statement[end + 1 :]
        cursor.execute(statement)


def test_the_view_lists_files_written_and_never_loaded_with_the_pipes_error(cursor: Any) -> None:
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS, minutes_ago=90)
    write_ledger(cursor, "run43", "2026-01-26 06:00:00", [OTHER_RUN_KEY], minutes_ago=5)
    write_ledger(
        cursor, "run40", "2026-01-26 03:00:00", ["events/old.json"], minutes_ago=20 * 24 * 60
    )
    write_ledger(cursor, "run44", "2026-01-26 07:00:00", [], status="empty")
    load(cursor, f"amplitude/{KEYS[0]}")
    history = [
        (f"amplitude/{KEYS[0]}", "Loaded", "", 2),
        (f"amplitude/{KEYS[1]}", "Load failed", "Error parsing JSON", 0),
    ]
    run_finalizer(cursor, [], "g1", copy_history=history)
    for view in _views():
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
    # The pipe's loads, from the finalizer's snapshot, with its age.
    cursor.execute(
        "select files_loaded_24h, rows_loaded_24h, files_failed_24h, load_history_age_minutes "
        "from amplitude.ingest.amplitude_pipeline_health"
    )
    assert cursor.fetchall() == [(2, 2, 1, 0)]


def test_without_a_snapshot_the_health_view_shows_no_loads_rather_than_zero(cursor: Any) -> None:
    """A graph that never ran (or a reader COPY_HISTORY would not answer) must not read as
    a quiet pipeline: the load numbers are null, not 0."""
    write_ledger(cursor, "run42", "2026-01-26 05:00:00", KEYS[:1], minutes_ago=90)
    for view in _views():
        cursor.execute(view)
    cursor.execute(
        "select hours_done, files_loaded_24h, files_failed_24h, load_history_taken_at, "
        "last_run_finished_at from amplitude.ingest.amplitude_pipeline_health"
    )
    assert cursor.fetchall() == [(1, None, None, None, None)]


def test_the_health_view_shows_how_old_the_snapshot_and_the_last_run_are(cursor: Any) -> None:
    """A graph that stopped running keeps its last snapshot: its age says so."""
    run_finalizer(cursor, [], "g1", copy_history=[(f"amplitude/{KEYS[0]}", "Loaded", "", 5)])
    # The graph then stops: the snapshot and the run record age.
    cursor.execute(
        "update amplitude.ingest.amplitude_load_history set taken_at = dateadd(hour, -30, taken_at)"
    )
    cursor.execute(
        "update amplitude.ingest.amplitude_pipeline_runs "
        "set finished_at = dateadd(hour, -30, finished_at)"
    )
    for view in _views():
        cursor.execute(view)
    cursor.execute(
        "select load_history_age_minutes, last_run_age_minutes, last_run_succeeded "
        "from amplitude.ingest.amplitude_pipeline_health"
    )
    ((snapshot_age, run_age, succeeded),) = cursor.fetchall()
    assert 30 * 60 <= snapshot_age <= 30 * 60 + 1
    assert 30 * 60 <= run_age <= 30 * 60 + 1
    # No task of the graph ran in that run: it is recorded as failed.
    assert succeeded is False


def test_each_snapshot_replaces_the_last(cursor: Any) -> None:
    run_finalizer(cursor, [], "g1", copy_history=[("a.json", "Loaded", "", 5)])
    run_finalizer(cursor, [], "g2", copy_history=[("b.json", "Load failed", "bad", 0)])
    cursor.execute(
        "select file_name, status from amplitude.ingest.amplitude_load_history "
        "order by file_name nulls first"
    )
    assert cursor.fetchall() == [(None, None), ("b.json", "Load failed")]


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
            "name": "AMPLITUDE_SOURCE_FRESHNESS",
            "state": "SUCCEEDED",
            "attempt": 2,
            "group": "g1",
            "scheduled": start + timedelta(minutes=12),
        },
        {
            "name": "AMPLITUDE_CATCH_UP",
            "state": "SUCCEEDED",
            "attempt": 2,
            "group": "g1",
            "scheduled": start + timedelta(minutes=20),
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
        ("AMPLITUDE_CATCH_UP", "SUCCEEDED", 2),
        ("AMPLITUDE_DBT_BUILD", "SUCCEEDED", 2),
        ("AMPLITUDE_PIPELINE_ROOT", "SUCCEEDED", 2),
        ("AMPLITUDE_SOURCE_FRESHNESS", "SUCCEEDED", 2),
        ("AMPLITUDE_WAIT_FOR_LOADS", "SUCCEEDED", 2),
    ]


def test_the_finalizer_fails_a_run_in_which_a_task_of_the_graph_did_not_run(cursor: Any) -> None:
    """A suspended child (or one never reached) leaves no row in TASK_HISTORY for the run:
    the run is failed and the task named, with the expected tasks read from the graph."""
    start = datetime(2026, 1, 26, 5, 15)
    ran = [
        {"name": name, "state": "SUCCEEDED", "attempt": 1, "group": "g7", "scheduled": start}
        for name in ("AMPLITUDE_PIPELINE_ROOT", "AMPLITUDE_WAIT_FOR_LOADS", "AMPLITUDE_DBT_BUILD")
    ]
    assert graph_tasks() == [
        "AMPLITUDE_PIPELINE_ROOT",
        "AMPLITUDE_WAIT_FOR_LOADS",
        "AMPLITUDE_DBT_BUILD",
        "AMPLITUDE_CATCH_UP",
        "AMPLITUDE_SOURCE_FRESHNESS",
    ]
    run_finalizer(cursor, ran, "g7")
    cursor.execute("select succeeded, tasks from amplitude.ingest.amplitude_pipeline_runs")
    ((succeeded, tasks),) = cursor.fetchall()
    assert succeeded is False
    outcome = {t["task"]: (t["state"], t.get("error")) for t in json.loads(tasks)}
    assert outcome["AMPLITUDE_SOURCE_FRESHNESS"] == (
        "DID_NOT_RUN",
        "not in TASK_HISTORY for this graph run: suspended, or never reached",
    )
    assert outcome["AMPLITUDE_DBT_BUILD"] == ("SUCCEEDED", None)


def test_a_failed_run_then_its_recovery_are_each_told_once_by_email(cursor: Any) -> None:
    """The finalizer's block end to end: TASK_HISTORY rows recorded, the run record
    written, amplitude_send_alerts() deciding on the tables as written, the sends recorded."""
    Sends.log.clear()
    start = datetime(2026, 1, 26, 5, 15)

    def attempt(group: str, wait: str, minutes: int) -> list[dict[str, Any]]:
        at = start + timedelta(minutes=minutes)
        rows = [
            {"name": "AMPLITUDE_PIPELINE_ROOT", "state": "SUCCEEDED", "attempt": 1},
            {
                "name": "AMPLITUDE_WAIT_FOR_LOADS",
                "state": wait,
                "attempt": 1,
                "error": "run r1: 1 of the 2 files this run wrote are not in the raw table"
                if wait == "FAILED"
                else None,
            },
        ]
        if wait == "SUCCEEDED":
            rows += [
                {"name": "AMPLITUDE_DBT_BUILD", "state": "SUCCEEDED", "attempt": 1},
                {"name": "AMPLITUDE_SOURCE_FRESHNESS", "state": "SUCCEEDED", "attempt": 1},
                {"name": "AMPLITUDE_CATCH_UP", "state": "SUCCEEDED", "attempt": 1},
            ]
        return [{**r, "group": group, "scheduled": at} for r in rows]

    # Without a channel: nothing is sent, nothing recorded.
    run_finalizer(cursor, attempt("g1", "FAILED", 0), "g1")
    assert Sends.log == []
    cursor.execute(
        "insert into amplitude.ingest.amplitude_alert_settings values "
        "('email_integration', 'AMPLITUDE_ALERT_EMAIL'), ('email_recipients', 'ops@example.com')"
    )
    run_finalizer(cursor, attempt("g2", "FAILED", 60), "g2")
    run_finalizer(cursor, attempt("g3", "FAILED", 120), "g3")  # the same failure: quiet
    run_finalizer(cursor, attempt("g4", "SUCCEEDED", 180), "g4")
    run_finalizer(cursor, attempt("g5", "SUCCEEDED", 240), "g5")  # nothing new
    subjects = [params[2] for _, params in Sends.log]
    assert subjects == [
        "[amplitude-ingest] AMPLITUDE: pipeline run failed",
        "[amplitude-ingest] AMPLITUDE: pipeline recovered",
    ]
    integration, recipients, _, body = Sends.log[0][1]
    assert (integration, recipients) == ("AMPLITUDE_ALERT_EMAIL", "ops@example.com")
    assert "- AMPLITUDE_DBT_BUILD did not run (suspended, or never reached)" in body
    assert "where run_group_id = 'g2';" in body
    cursor.execute(
        "select kind, run_group_id, channels from amplitude.ingest.amplitude_alerts_sent "
        "order by sent_at"
    )
    assert cursor.fetchall() == [("failure", "g2", "email"), ("recovered", "g4", "email")]


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
    for view in _views():
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

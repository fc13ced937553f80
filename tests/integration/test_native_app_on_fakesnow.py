"""The Native App's setup script on fakesnow (the Snowflake dialect over DuckDB): its
schemas, tables, default settings and views, run twice as an upgrade runs them, and the
views read back rows planted in the app's own tables.

fakesnow parses none of the setup script's application roles, grants to them, versioned
schema, warehouse, stage, file format, network rule, secret, integration, procedures,
tasks or Streamlit: tests/unit/test_native_app_setup_script.py checks those statement by
statement, and README.md, "What was checked only offline", lists what only an account can
show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakesnow
import snowflake.connector
import sqlglot
from sqlglot import exp

from tests.native_app import normalize, statements

DATABASE = "AMPLITUDE_CONNECTOR"  # inside the app, the app is the current database


def runnable() -> list[str]:
    """The statements fakesnow runs: plain schemas, tables, views and the MERGE of the
    default settings, in the script's order."""
    out = []
    for raw in statements():
        text = normalize(raw)
        if text.startswith("create or alter"):
            continue  # the versioned schema: an app-only statement
        tree = sqlglot.parse_one(raw, read="snowflake")
        if isinstance(tree, exp.Merge) or (
            isinstance(tree, exp.Create) and tree.kind in ("SCHEMA", "TABLE", "VIEW")
        ):
            out.append(raw)
    return out


def rows(cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    cursor.execute(sql)
    return list(cursor.fetchall())


def test_tables_settings_and_views_survive_a_second_run(tmp_path: Path) -> None:
    script = runnable()
    kinds = [normalize(s).split(" (")[0].split(" as")[0] for s in script]
    # 2 schemas, 7 tables, 1 merge, 2 views
    assert len(script) == 12, kinds
    with fakesnow.patch(db_path=str(tmp_path)):
        connection = snowflake.connector.connect(database=DATABASE)
        cursor = connection.cursor()
        for statement in script:
            cursor.execute(statement)
        defaults = dict(rows(cursor, "select name, value from state.amplitude_ingest_settings"))
        assert defaults["region"] == "us"
        assert defaults["stage_retention_days"] == "7"
        # The consumer changes a setting and deletes one; the upgrade keeps the change
        # and puts the missing default back.
        cursor.execute(
            "update state.amplitude_ingest_settings set value = '8' where name = 'concurrency'"
        )
        cursor.execute("delete from state.amplitude_ingest_settings where name = 'lag_hours'")
        cursor.execute(
            "insert into state.amplitude_run_history (run_id, step, started_at, ended_at, status) "
            "values ('kept', 'graph', '2026-01-01 00:00:00', '2026-01-01 00:10:00', 'SUCCEEDED')"
        )
        for statement in script:
            cursor.execute(statement)
        after = dict(rows(cursor, "select name, value from state.amplitude_ingest_settings"))
        assert after == {**defaults, "concurrency": "8"}
        assert rows(cursor, "select run_id from state.amplitude_run_history") == [("kept",)]


def test_the_views_read_what_the_app_recorded(tmp_path: Path) -> None:
    with fakesnow.patch(db_path=str(tmp_path)):
        connection = snowflake.connector.connect(database=DATABASE)
        cursor = connection.cursor()
        for statement in runnable():
            cursor.execute(statement)
        cursor.execute(
            "insert into state.amplitude_ingest_ledger (hour, status, files, events, bytes, "
            "rejected_lines, attempts, error, updated_at) values "
            "('2026-01-01 00:00:00', 'done', 2, 100, 5000, 1, 1, null, sysdate()), "
            "('2026-01-01 01:00:00', 'done', 1, 50, 2500, 0, 1, null, sysdate()), "
            "('2026-01-01 02:00:00', 'failed', 0, 0, 0, 0, 2, '504 from Amplitude', sysdate())"
        )
        cursor.execute(
            "insert into state.amplitude_run_history "
            "(run_id, step, started_at, ended_at, status, first_error) values "
            "('r1', 'graph', '2026-01-01 00:00:00', '2026-01-01 00:10:00', 'SUCCEEDED', null), "
            "('r2', 'graph', '2026-01-01 01:00:00', '2026-01-01 01:10:00', 'FAILED', "
            "'AMPLITUDE_LOAD: 1 file failed'), "
            # a later step that is not a run of the pipeline: not the health's last run
            "('r3', 'set_credentials', '2026-01-01 02:00:00', '2026-01-01 02:00:01', "
            "'SUCCEEDED', null)"
        )
        cursor.execute(
            "insert into state.amplitude_load_history "
            "(file_name, status, rows_parsed, rows_loaded, first_error, loaded_at, run_id) "
            "values "
            "('events/a.json.gz', 'LOADED', 100, 100, null, sysdate(), 'r1'), "
            "('events/b.json.gz', 'LOAD_FAILED', 50, 0, 'bad json', sysdate(), 'r2')"
        )
        cursor.execute("select * from data.amplitude_pipeline_health")
        (health,) = cursor.fetchall()
        columns = [c[0].lower() for c in cursor.description]
        got = dict(zip(columns, health, strict=True))
        assert got["hours_done"] == 2
        assert got["hours_failed"] == 1
        assert got["events_exported"] == 150
        assert str(got["watermark_hour"]).startswith("2026-01-01 01:00")
        assert got["last_run_id"] == "r2"
        assert got["last_run_status"] == "FAILED"
        assert str(got["last_success_at"]).startswith("2026-01-01 00:10")
        assert got["files_loaded_7d"] == 1
        assert got["files_failed_7d"] == 1
        assert got["rows_loaded_7d"] == 100
        failures = rows(
            cursor,
            "select failure_kind, subject, detail from data.amplitude_failures order by 1",
        )
        # fakesnow ignores TO_VARCHAR's format (it gives '2026-01-01 02:00:00'); Snowflake
        # gives '2026-01-01T02' (sql-reference/functions/to_char). Either names the hour.
        hour_kind, hour_subject, hour_detail = failures[0]
        assert (hour_kind, hour_detail) == ("hour", "504 from Amplitude")
        assert hour_subject.replace(" ", "T").startswith("2026-01-01T02")
        assert failures[1:] == [
            ("load", "events/b.json.gz", "bad json"),
            ("run", "r2", "graph: AMPLITUDE_LOAD: 1 file failed"),
        ]

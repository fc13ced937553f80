"""The data-holding objects of sql/ created on fakesnow, twice: idempotent, and shaped as
the procedure and dbt expect. (Pipes, tasks, integrations and grants do not run on
fakesnow; tests/unit/test_sql_scripts.py parses and checks them.)"""

from __future__ import annotations

from pathlib import Path

import fakesnow
import snowflake.connector
from sqlglot import exp

from amplitude_ingest.snowflake_ledger import COLUMNS
from tests.sql_scripts import SQL_DIR, statements

RUNNABLE = (exp.Create, exp.Merge)


def run_scripts(cursor: object, names: list[str]) -> int:
    ran = 0
    for name in names:
        for statement in statements(SQL_DIR / name):
            if isinstance(statement, exp.Use) and statement.args.get("kind") is None:
                continue  # `use role`: fakesnow has no roles
            if isinstance(statement, (exp.Use, RUNNABLE)):
                if isinstance(statement, exp.Create) and statement.kind == "WAREHOUSE":
                    continue
                cursor.execute(statement.sql(dialect="snowflake"))  # type: ignore[attr-defined]
                ran += 1
    return ran


def test_tables_and_settings_are_created_idempotently(tmp_path: Path) -> None:
    scripts = ["40_raw_table_and_pipe.sql", "50_ledger_and_settings.sql"]
    with fakesnow.patch(db_path=str(tmp_path)):
        connection = snowflake.connector.connect(database="AMPLITUDE", schema="INGEST")
        cursor = connection.cursor()
        cursor.execute("create schema if not exists amplitude.raw")
        first = run_scripts(cursor, scripts)
        second = run_scripts(cursor, scripts)
        assert first == second >= 6

        cursor.execute("select name, value from amplitude.ingest.amplitude_ingest_settings")
        settings = dict(cursor.fetchall())
        assert len(settings) == 8
        assert settings["region"] == "us"
        assert settings["stage"] == "AMPLITUDE_STAGE"

        cursor.execute("describe table amplitude.ingest.amplitude_ingest_ledger")
        assert tuple(row[0] for row in cursor.fetchall()) == COLUMNS

        cursor.execute("describe table amplitude.raw.amplitude_events_raw")
        assert [row[0] for row in cursor.fetchall()] == [
            "RAW_JSON",
            "FILE_NAME",
            "FILE_ROW_NUMBER",
            "LOADED_AT",
        ]

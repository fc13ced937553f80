"""The data-holding objects of sql/ created on fakesnow, twice: idempotent, and shaped as
the procedures and dbt expect. (Pipes, tasks, integrations, procedures and grants do not
run on fakesnow; tests/unit/test_sql_scripts.py and test_privileges.py check them.)"""

from __future__ import annotations

import re
from pathlib import Path

import fakesnow
import snowflake.connector
from sqlglot import exp

from amplitude_ingest.in_snowflake.ledger_table import COLUMNS
from tests.sql_scripts import SQL_DIR, render, statements

RUNNABLE = (exp.Create, exp.Merge, exp.Alter)
# The ledger's columns: the ledger code's, plus RUN_ID, which ingest_amplitude() writes so
# the wait step can find the files of one run (amplitude_ingest/in_snowflake/wait_step.py).
# What the procedure writes, then the lease it holds while an hour is in flight, then the
# count of failed calls added after the leases (a new table has the upgraded one's order).
WRITTEN = tuple(c for c in COLUMNS if c != "FAILED_RUNS")
LEDGER_COLUMNS = (*WRITTEN, "LEASE_OWNER", "LEASE_EXPIRES_AT", "FAILED_RUNS")


def run_scripts(cursor: object, names: list[str]) -> int:
    ran = 0
    for name in names:
        for statement in statements(SQL_DIR / name):
            if isinstance(statement, exp.Use) and statement.args.get("kind") is None:
                continue  # `use role`: fakesnow has no roles
            if isinstance(statement, (exp.Use, RUNNABLE)):
                if isinstance(statement, exp.Create) and statement.kind in (
                    "WAREHOUSE",
                    "PROCEDURE",
                ):
                    continue
                cursor.execute(statement.sql(dialect="snowflake", comments=False))  # type: ignore[attr-defined]
                ran += 1
    return ran


def test_tables_and_settings_are_created_idempotently(tmp_path: Path) -> None:
    scripts = ["40_raw_table_and_pipe.sql", "50_ledger_and_settings.sql"]
    with fakesnow.patch(db_path=str(tmp_path)):
        connection = snowflake.connector.connect(database="AMPLITUDE", schema="INGEST")
        cursor = connection.cursor()
        cursor.execute("create schema if not exists amplitude.raw")
        first = run_scripts(cursor, scripts)
        cursor.execute(
            "update amplitude.ingest.amplitude_ingest_settings set value = '8' where name = 'concurrency'"  # noqa: E501
        )
        second = run_scripts(cursor, scripts)
        assert first == second >= 8

        cursor.execute("select name, value from amplitude.ingest.amplitude_ingest_settings")
        settings = dict(cursor.fetchall())
        # Every row the script's two MERGEs list, once (counted from the script, so a new
        # setting needs no edit here).
        rows = re.findall(r"\('(\w+)', '[^']*'\)", render((SQL_DIR / scripts[1]).read_text()))
        assert sorted(settings) == sorted(set(rows))
        assert len(rows) == len(set(rows)) >= 24
        assert settings["region"] == "us"
        assert settings["stage"] == "AMPLITUDE.INGEST.AMPLITUDE_STAGE"
        assert settings["ledger_table"] == "AMPLITUDE.INGEST.AMPLITUDE_INGEST_LEDGER"
        # A value a user tuned survives the re-deploy.
        assert settings["concurrency"] == "8"

        cursor.execute("describe table amplitude.ingest.amplitude_ingest_ledger")
        assert tuple(row[0] for row in cursor.fetchall()) == LEDGER_COLUMNS

        cursor.execute("describe table amplitude.raw.amplitude_events_raw")
        assert [row[0] for row in cursor.fetchall()] == [
            "RAW_JSON",
            "FILE_NAME",
            "FILE_ROW_NUMBER",
            "LOADED_AT",
        ]


def test_a_ledger_from_before_run_id_and_leases_gets_the_columns(tmp_path: Path) -> None:
    with fakesnow.patch(db_path=str(tmp_path)):
        cursor = snowflake.connector.connect(database="AMPLITUDE", schema="INGEST").cursor()
        cursor.execute("create schema if not exists amplitude.raw")
        cursor.execute(
            "create table amplitude.ingest.amplitude_ingest_ledger (hour timestamp_ntz, status varchar, "  # noqa: E501
            "files number, events number, bytes number, rejected_lines number, attempts number, "
            "error varchar, stage_keys varchar, updated_at timestamp_ntz)"
        )
        run_scripts(cursor, ["50_ledger_and_settings.sql"])
        cursor.execute("describe table amplitude.ingest.amplitude_ingest_ledger")
        assert tuple(row[0] for row in cursor.fetchall()) == LEDGER_COLUMNS

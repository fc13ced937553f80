"""Helpers for tests that run the dbt project: real data in, real warehouses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from amplitude_embedded.loader import Loader, connect
from amplitude_embedded.stage_files import LocalStageFiles
from amplitude_embedded.transform import DEFAULT_DBT_PROJECT, TransformResult, run_dbt

# Bookkeeping, not data: when the dbt run that wrote a row started. Two builds of the same
# rows differ in it and nothing else, so comparisons leave it out.
BOOKKEEPING = frozenset({"built_at"})

MART_KEYS = {
    "amplitude__repeat_clicks": "pkey",
    "amplitude__sessions": "session_key",
    "amplitude__user_enhanced": "amplitude_id",
    "amplitude__daily_performance": "daily_key",
}

FAKESNOW_PROFILE = """
amplitude:
  target: fakesnow
  outputs:
    fakesnow:
      type: snowflake
      account: fakesnow
      user: fakesnow
      password: fakesnow
      role: fakesnow
      warehouse: fakesnow
      database: amplitude
      schema: analytics
      threads: 1
"""


def load_stage(stage_root: Path, warehouse: Path) -> int:
    with connect(warehouse) as connection:
        return Loader(connection).load(LocalStageFiles(stage_root)).rows_loaded


def build_local(warehouse: Path, artifacts: Path, *extra: str) -> TransformResult:
    result = run_dbt(["build", *extra], warehouse=warehouse, artifacts_dir=artifacts)
    assert result.succeeded, result.failures
    return result


def normalize(value: Any) -> Any:
    """Values as both engines agree on them: numbers rounded, times as text."""
    if isinstance(value, Decimal | float):
        return round(float(value), 3)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def _as_dicts(names: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [
        {name: normalize(value) for name, value in zip(names, row, strict=True)
         if name not in BOOKKEEPING}
        for row in rows
    ]  # fmt: skip


def duckdb_rows(warehouse: Path, table: str, schema: str = "analytics") -> list[dict[str, Any]]:
    """Every row of a table, without bookkeeping columns, values normalized."""
    with duckdb.connect(str(warehouse)) as db:
        cursor = db.execute(f"select * from {schema}.{table}")
        names = [d[0].lower() for d in cursor.description]
        rows = cursor.fetchall()
    return _as_dicts(names, rows)


def run_dbt_on_fakesnow(profiles_dir: Path, artifacts: Path, *args: str) -> bool:
    from dbt.cli.main import dbtRunner

    (profiles_dir / "profiles.yml").write_text(FAKESNOW_PROFILE)
    outcome = dbtRunner().invoke(
        [
            *args,
            "--project-dir", str(DEFAULT_DBT_PROJECT),
            "--profiles-dir", str(profiles_dir),
            "--target-path", str(artifacts / "target"),
            "--log-path", str(artifacts / "logs"),
        ]
    )  # fmt: skip
    return bool(outcome.success)


def copy_raw_to_fakesnow(warehouse: Path, connection: Any) -> int:
    """The DuckDB raw rows into a Snowflake-shaped raw table (VARIANT) on fakesnow."""
    cursor = connection.cursor()
    cursor.execute("create schema if not exists amplitude.raw")
    cursor.execute(
        "create or replace table amplitude.raw.amplitude_events_raw ("
        "raw_json variant, file_name varchar, file_row_number number, loaded_at timestamp_ntz)"
    )
    with duckdb.connect(str(warehouse)) as db:
        rows = db.execute(
            "select raw_json::varchar, file_name, file_row_number, loaded_at::varchar "
            "from raw.amplitude_events_raw order by file_name, file_row_number"
        ).fetchall()
    for offset in range(0, len(rows), 200):
        batch = rows[offset : offset + 200]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
        cursor.execute(
            "insert into amplitude.raw.amplitude_events_raw "
            "select parse_json(column1), column2, column3, column4::timestamp_ntz "
            f"from values {values}",
            [value for row in batch for value in row],
        )
    return len(rows)


def fakesnow_rows(connection: Any, table: str, schema: str = "analytics") -> list[dict[str, Any]]:
    cursor = connection.cursor()
    cursor.execute(f"select * from amplitude.{schema}.{table}")
    names = [d[0].lower() for d in cursor.description]
    return _as_dicts(names, cursor.fetchall())

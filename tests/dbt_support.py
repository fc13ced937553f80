"""Helpers for tests that run the dbt project: real data in, real warehouses."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from amplitude_laptop.loader import FORGET_REQUESTS_TABLE, Loader, connect
from amplitude_laptop.stage_listing import LocalStageListing
from amplitude_laptop.transform import DEFAULT_DBT_PROJECT, TransformSummary, run_dbt
from tools.fakesnow_shim import FAKESNOW_PROFILE, FORGET_REQUESTS_DDL

# Bookkeeping, not data: when the dbt run that wrote a row started. Two builds of the same
# rows differ in it and nothing else, so comparisons leave it out.
BOOKKEEPING = frozenset({"built_at"})

MART_KEYS = {
    "amplitude__repeat_clicks": "pkey",
    "amplitude__sessions": "session_key",
    "amplitude__user_enhanced": "user_key",
    "amplitude__daily_performance": "daily_key",
}

# Every model built from the raw table: (schema, primary key).
MODEL_KEYS = {
    "stg_amplitude__forget_requests": ("analytics_staging", "request_id"),
    "stg_amplitude__events": ("analytics_staging", "event_key"),
    "int_amplitude__repeated_interaction_events": ("analytics_staging", "event_key"),
    "amplitude__event_enhanced": ("analytics", "event_key"),
    "amplitude__sessions": ("analytics", "session_key"),
    "amplitude__user_enhanced": ("analytics", "user_key"),
    "amplitude__daily_performance": ("analytics", "daily_key"),
    "amplitude__repeat_clicks": ("analytics", "pkey"),
    "amplitude__user_map": ("analytics", "amplitude_user_key"),
}

RAW_TABLE_DDL = """
create schema if not exists raw;
create or replace table raw.amplitude_events_raw (
    raw_json json not null,
    file_name varchar not null,
    file_row_number bigint not null,
    loaded_at timestamp not null
);
"""


def load_stage(stage_root: Path, warehouse: Path) -> int:
    with connect(warehouse) as connection:
        return Loader(connection).load(LocalStageListing(stage_root)).rows_loaded


def build_local(warehouse: Path, artifacts: Path, *extra: str) -> TransformSummary:
    return run_local(warehouse, artifacts, "build", *extra)


def run_local(warehouse: Path, artifacts: Path, *args: str) -> TransformSummary:
    """A dbt command on the local target; fails the test when a model or test fails."""
    result = run_dbt([*args, "--quiet"], warehouse=warehouse, artifacts_dir=artifacts)
    assert result.ok, result.failures
    return result


def reset_warehouse(warehouse: Path) -> None:
    """An empty raw table, no forget requests and no models. The file stays (dbt-duckdb may
    hold it open)."""
    with duckdb.connect(str(warehouse)) as db:
        for schema in ("analytics", "analytics_staging"):
            db.execute(f"drop schema if exists {schema} cascade")
        db.execute(RAW_TABLE_DDL)
    with connect(warehouse) as db:  # the loader's DDL: the forget-request record too
        db.execute(f"delete from raw.{FORGET_REQUESTS_TABLE}")


def forget(warehouse: Path, request_id: str, kind: str, value: str, at: datetime) -> None:
    """A forget request as `amplitude-ingest forget` records it: the id's SHA-256 only."""
    digest = hashlib.sha256(value.encode()).hexdigest()
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            f"insert into raw.{FORGET_REQUESTS_TABLE} values (?, ?, ?, ?, 0, 0, 0)",
            [request_id, at, kind, digest],
        )


def insert_raw_rows(warehouse: Path, rows: list[tuple[str, str, int, datetime]]) -> None:
    """Rows into the raw table as a loader would: (JSON text, file, line, load time)."""
    if not rows:
        return
    with duckdb.connect(str(warehouse)) as db:
        db.executemany("insert into raw.amplitude_events_raw values (?::json, ?, ?, ?)", rows)


def model_rows(warehouse: Path) -> dict[str, list[dict[str, Any]]]:
    """Every model's rows in key order, without bookkeeping columns."""
    return {
        model: sorted(duckdb_rows(warehouse, model, schema), key=lambda row: str(row[key]))
        for model, (schema, key) in MODEL_KEYS.items()
    }


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


def copy_raw_to_fakesnow(warehouse: Path, connection: Any, *, append: bool = False) -> int:
    """The DuckDB raw rows into a Snowflake-shaped raw table (VARIANT) on fakesnow; with
    ``append``, only the rows loaded after the newest already there."""
    cursor = connection.cursor()
    newest = "1900-01-01"
    if append:
        cursor.execute("select max(loaded_at)::varchar from amplitude.raw.amplitude_events_raw")
        newest = cursor.fetchone()[0]
    else:
        cursor.execute("create schema if not exists amplitude.raw")
        cursor.execute(
            "create or replace table amplitude.raw.amplitude_events_raw ("
            "raw_json variant, file_name varchar, file_row_number number, "
            "loaded_at timestamp_ntz)"
        )
        cursor.execute(FORGET_REQUESTS_DDL)
    with duckdb.connect(str(warehouse)) as db:
        rows = db.execute(
            "select raw_json::varchar, file_name, file_row_number, loaded_at::varchar "
            "from raw.amplitude_events_raw where loaded_at > ?::timestamp "
            "order by file_name, file_row_number",
            [newest],
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


def fakesnow_model_rows(connection: Any) -> dict[str, list[dict[str, Any]]]:
    """Every model's rows on fakesnow in key order, without bookkeeping columns."""
    return {
        model: sorted(fakesnow_rows(connection, model, schema), key=lambda row: str(row[key]))
        for model, (schema, key) in MODEL_KEYS.items()
    }


def fakesnow_rows(connection: Any, table: str, schema: str = "analytics") -> list[dict[str, Any]]:
    cursor = connection.cursor()
    cursor.execute(f"select * from amplitude.{schema}.{table}")
    names = [d[0].lower() for d in cursor.description]
    return _as_dicts(names, cursor.fetchall())

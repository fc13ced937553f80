"""What the dashboard's tests share: the demo warehouse, the marts read directly, and the
marts and ledger copied into fakesnow for the Snowflake variant.

The demo runs once per test process, in a child process (dbt-duckdb holds the warehouse
file open in the process that ran it, and the dashboard opens it read-only), on the
bundled sample server with 10 sessions an hour: 72 hours, 3 days.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from amplitude_queries.laptop_records import ledger_path

ROOT = Path(__file__).resolve().parents[1]
SESSIONS_PER_HOUR = 10
MARTS = (
    "amplitude__event_enhanced",
    "amplitude__sessions",
    "amplitude__user_enhanced",
    "amplitude__repeat_clicks",
)
_built: dict[str, Path] = {}


def demo_dir() -> Path:
    """The folder of a finished `make demo` run (warehouse.duckdb, state/), built once."""
    if "demo" not in _built:
        root = Path(tempfile.mkdtemp(prefix="dashboard-demo-"))
        atexit.register(shutil.rmtree, root, True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "amplitude_laptop.demo",
                "--dir",
                str(root / "demo"),
                "--no-docs",
                "--sessions-per-hour",
                str(SESSIONS_PER_HOUR),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        _built["demo"] = root / "demo"
    return _built["demo"]


def marts_scalar(warehouse: Path, sql: str, params: Sequence[object] = ()) -> Any:
    """One value, read from the warehouse directly (not through the dashboard's code)."""
    with duckdb.connect(str(warehouse), read_only=True) as db:
        row = db.execute(sql, list(params)).fetchone()
    return row[0] if row else None


def marts_rows(warehouse: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return [tuple(r) for r in db.execute(sql, list(params)).fetchall()]


def ledger_scalar(state: Path, sql: str) -> Any:
    with closing(sqlite3.connect(ledger_path(state))) as ledger:
        row = ledger.execute(sql).fetchone()
    return row[0] if row else None


# ---- Snowflake, emulated ------------------------------------------------------------------

_SNOWFLAKE_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "number(38,0)",
    "INTEGER": "number(38,0)",
    "HUGEINT": "number(38,0)",
    "DOUBLE": "float",
    "TIMESTAMP": "timestamp_ntz",
    "DATE": "date",
    "BOOLEAN": "boolean",
}


class FakesnowSession:
    """Snowpark's ``session.sql(query, params).to_pandas()`` over a fakesnow connection.

    Snowpark cannot connect to fakesnow; this is the one call the dashboard's
    SnowparkBackend makes, with Snowflake's own behaviour underneath: upper-case column
    names, NUMBER with a scale as Decimal, qmark binding.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.queries: list[str] = []

    def sql(self, query: str, params: Sequence[Any] | None = None) -> Any:
        session = self

        class _Frame:
            def to_pandas(self) -> Any:
                session.queries.append(query)
                cursor = session.connection.cursor()
                cursor.execute(query, list(params or []))
                return cursor.fetch_pandas_all()

        return _Frame()


@contextmanager
def fakesnow_account(demo: Path, db_path: Path) -> Iterator[Any]:
    """fakesnow with sql/40, 50 and 55.s tables, sql/85's views, the demo's marts (JSON
    columns left out), its ledger, and a raw row for every file the loader loaded."""
    import fakesnow
    import snowflake.connector

    from tests.integration.test_pipe_reconciliation import _views
    from tests.integration.test_sql_on_fakesnow import run_scripts

    with fakesnow.patch(db_path=str(db_path)):
        from snowflake.connector.pandas_tools import write_pandas

        connection = snowflake.connector.connect(
            database="AMPLITUDE", schema="INGEST", paramstyle="qmark"
        )
        cursor = connection.cursor()
        for schema in ("raw", "analytics", "dashboard"):
            cursor.execute(f"create schema if not exists amplitude.{schema}")
        run_scripts(
            cursor,
            ["40_raw_table_and_pipe.sql", "50_ledger_and_settings.sql", "55_forget.sql"],
        )
        for view in _views():
            cursor.execute(view)
        warehouse = demo / "warehouse.duckdb"
        with duckdb.connect(str(warehouse), read_only=True) as source:
            for table in MARTS:
                columns = [
                    (name, kind)
                    for name, kind, *_ in source.execute(f"describe analytics.{table}").fetchall()
                    if kind != "JSON"
                ]
                ddl = ", ".join(f"{n} {_SNOWFLAKE_TYPES.get(k, k)}" for n, k in columns)
                cursor.execute(f"create table amplitude.analytics.{table} ({ddl})")
                frame = source.sql(
                    f"select {', '.join(n for n, _ in columns)} from analytics.{table}"
                ).df()
                frame.columns = [c.upper() for c in frame.columns]
                assert write_pandas(connection, frame, table.upper(), "AMPLITUDE", "ANALYTICS")[0]
            history = source.execute("select file_name from raw.load_history").fetchall()
            loaded = [name for (name,) in history]
        for name in loaded:
            cursor.execute(
                "insert into amplitude.raw.amplitude_events_raw "
                "select parse_json('{}'), ?, 1, sysdate()",
                [name],
            )
        with closing(sqlite3.connect(ledger_path(demo / "state"))) as ledger:
            rows = ledger.execute(
                "select hour, status, files, events, bytes, rejected_lines, attempts, error, "
                "keys, updated_at from hours"
            ).fetchall()
        for hour, status, files, events, size, rejected, attempts, error, keys, updated in rows:
            cursor.execute(
                "insert into amplitude.ingest.amplitude_ingest_ledger "
                "(hour, status, files, events, bytes, rejected_lines, attempts, error, "
                "stage_keys, updated_at, run_id) select cast(? as timestamp_ntz), "
                "?, ?, ?, ?, ?, ?, ?, ?, cast(? as timestamp_ntz), 'run-1'",
                [
                    datetime.strptime(hour, "%Y%m%dT%H").isoformat(" "),
                    status,
                    files,
                    events,
                    size,
                    rejected,
                    attempts,
                    error,
                    keys,
                    updated[:19].replace("T", " "),
                ],
            )
        yield connection

"""Two dbt runs at once (issue #18 item 4): the schedule's and a hand-run `dbt build`.

Rows carry the start of the run that wrote them and a model's watermark is a run start, so
a run that started earlier but commits later could leave rows that the other run's
watermark has already passed. A run that writes therefore holds the project's lease; a run
that starts while another holds it stops with a message and writes nothing. The runs are
interleaved here at fixed points, on DuckDB and on fakesnow (which runs one statement at a
time: it cannot show Snowflake's table locks, which make the lease's conditional UPDATE
one-at-a-time; that is the documented behaviour the lease relies on, see
dbt/macros/amplitude_run_lease.sql)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from amplitude_laptop.transform import TransformError, run_dbt
from tests.dbt_support import (
    insert_raw_rows,
    reset_warehouse,
    run_dbt_on_fakesnow,
    run_local,
)
from tools.fakesnow_shim import FORGET_REQUESTS_DDL, patched_fakesnow

LOADED = datetime(2026, 3, 3)
VARS = json.dumps({"amplitude__date_range_end": "2026-03-20"})


def _event(number: int) -> str:
    at = (datetime(2026, 3, 2) + timedelta(minutes=number)).strftime("%Y-%m-%d %H:%M:%S")
    return json.dumps({"uuid": f"u{number}", "event_type": "page", "amplitude_id": 7,
                       "device_id": "d", "session_id": 1, "event_time": at,
                       "server_upload_time": at, "client_event_time": at})  # fmt: skip


def _lease(warehouse: Path, artifacts: Path, action: str, holder: str, hours: int = 6) -> None:
    """What another run's start (take) or end (release) does to the lease."""
    args = json.dumps({"action": action, "holder": holder, "hours": hours})
    run_local(warehouse, artifacts, "run-operation", "amplitude_lease_operation", "--args", args)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    reset_warehouse(path)
    insert_raw_rows(path, [(_event(n), "events/p/a.json", n + 1, LOADED) for n in range(3)])
    return path


def _staged(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse)) as db:
        found = db.execute(
            "select count(*) from information_schema.tables "
            "where table_name = 'stg_amplitude__events'"
        ).fetchone()
        if not found or not found[0]:
            return 0
        row = db.execute("select count(*) from analytics_staging.stg_amplitude__events").fetchone()
    return int(row[0]) if row else 0


def test_a_run_started_while_another_holds_the_lease_stops_and_writes_nothing(
    warehouse: Path, tmp_path: Path
) -> None:
    _lease(warehouse, tmp_path / "a", "take", "run-A")
    with pytest.raises(TransformError, match="Another dbt run writes to these models: run run-A"):
        run_dbt(["run", "--vars", VARS], warehouse=warehouse, artifacts_dir=tmp_path / "b")
    assert _staged(warehouse) == 0
    # A ends: B runs, and a run ends by giving the lease back (B runs twice).
    _lease(warehouse, tmp_path / "a", "release", "run-A")
    run_local(warehouse, tmp_path / "b", "run", "--vars", VARS)
    run_local(warehouse, tmp_path / "b", "run", "--vars", VARS)
    assert _staged(warehouse) == 3


def test_the_lease_of_a_run_killed_earlier_expires_and_a_later_run_takes_it(
    warehouse: Path, tmp_path: Path
) -> None:
    """A took the lease and died without its end; B starts after A's lease expired."""
    _lease(warehouse, tmp_path / "a", "take", "run-A", hours=0)
    run_local(warehouse, tmp_path / "b", "run", "--vars", VARS)
    assert _staged(warehouse) == 3
    # B's run gave the lease back at its end. Another run B' holds it now: A, back, may not.
    _lease(warehouse, tmp_path / "b", "take", "run-B")
    args = json.dumps({"action": "take", "holder": "run-A"})
    again = run_dbt(["run-operation", "amplitude_lease_operation", "--args", args],
                    warehouse=warehouse, artifacts_dir=tmp_path / "a2")  # fmt: skip
    assert not again.ok
    assert "writes to these models: run run-B" in (tmp_path / "a2/logs/dbt.log").read_text()


def test_on_fakesnow_the_second_run_is_refused_until_the_first_gives_the_lease_back(
    warehouse: Path, tmp_path: Path
) -> None:
    (tmp_path / "fakesnow").mkdir()
    artifacts = tmp_path / "sf"

    def lease(action: str, holder: str) -> bool:
        args = json.dumps({"action": action, "holder": holder})
        return run_dbt_on_fakesnow(tmp_path, artifacts, "run-operation",
                                   "amplitude_lease_operation", "--args", args)  # fmt: skip

    with patched_fakesnow(str(tmp_path / "fakesnow"), "amplitude") as connection:
        cursor = connection.cursor()
        cursor.execute("create schema if not exists amplitude.raw")
        cursor.execute(
            "create or replace table amplitude.raw.amplitude_events_raw (raw_json variant, "
            "file_name varchar, file_row_number number, loaded_at timestamp_ntz)"
        )
        cursor.execute(FORGET_REQUESTS_DDL)
        for line in range(3):
            cursor.execute(
                "insert into amplitude.raw.amplitude_events_raw select parse_json(%s), "
                "'events/p/a.json', %s, '2026-03-03 00:00:00'::timestamp_ntz",
                [_event(line), line + 1],
            )
        assert lease("take", "run-A")
        assert not lease("take", "run-B")
        assert not run_dbt_on_fakesnow(tmp_path, artifacts, "run", "--vars", VARS)
        log = (artifacts / "logs/dbt.log").read_text()
        assert "Another dbt run writes to these models: run run-A" in log
        assert lease("release", "run-A")
        assert run_dbt_on_fakesnow(tmp_path, artifacts, "run", "--vars", VARS)
        cursor.execute("select count(*) from amplitude.analytics_staging.stg_amplitude__events")
        assert cursor.fetchone()[0] == 3

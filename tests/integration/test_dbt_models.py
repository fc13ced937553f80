"""The dbt project on real data: local server -> extract -> loader -> dbt, on DuckDB and
on fakesnow (Snowflake's dialect), with the exact numbers the generator planted."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlglot

from amplitude_laptop.transform import source_freshness
from amplitude_sample_server.generator import HourManifest
from amplitude_sample_server.server import LocalAmplitude
from tests.dbt_support import (
    MART_KEYS,
    build_local,
    copy_raw_to_fakesnow,
    duckdb_rows,
    fakesnow_model_rows,
    load_stage,
    model_rows,
    run_dbt_on_fakesnow,
)
from tests.support import Harness
from tools.fakesnow_shim import patched_fakesnow

START = datetime(2026, 1, 26, 0, tzinfo=UTC)
H = timedelta(hours=1)


@dataclass
class Built:
    root: Path
    warehouse: Path
    stage: Path
    server: LocalAmplitude
    harness: Harness

    def manifest(self, hours: int) -> HourManifest:
        return self.server.manifest(START, START + (hours - 1) * H)


@pytest.fixture
def built(
    amplitude: Callable[..., LocalAmplitude], harness: Callable[..., Harness], tmp_path: Path
) -> Built:
    """Six hours of sample data extracted, loaded and built on DuckDB."""
    server = amplitude()
    h = harness(server=server)
    h.run(START, START + 5 * H)
    warehouse = tmp_path / "warehouse.duckdb"
    load_stage(tmp_path / "stage", warehouse)
    build_local(warehouse, tmp_path / "dbt")
    return Built(tmp_path, warehouse, tmp_path / "stage", server, h)


def count(warehouse: Path, table: str, schema: str = "analytics") -> int:
    return len(duckdb_rows(warehouse, table, schema))


def marts(warehouse: Path) -> dict[str, list[dict[str, object]]]:
    """Every mart's rows in key order, for comparing two builds."""
    return {
        table: sorted(duckdb_rows(warehouse, table), key=lambda row: str(row[key]))
        for table, key in MART_KEYS.items()
    }


def test_marts_hold_exactly_what_was_planted(built: Built) -> None:
    planted = built.manifest(6)
    stg = duckdb_rows(built.warehouse, "stg_amplitude__events", "analytics_staging")
    repeats = duckdb_rows(built.warehouse, "amplitude__repeat_clicks")
    assert len(stg) == planted.distinct_insert_ids
    assert planted.rows - len(stg) == planted.resent_rows  # duplicates removed
    assert sum(1 for e in stg if e["session_key"] is None) == planted.sessionless_rows
    assert count(built.warehouse, "amplitude__sessions") == planted.sessions
    assert count(built.warehouse, "amplitude__user_enhanced") == len(planted.users)
    clicks = [r for r in repeats if r["event_name"] == "Element Clicked"]
    views = [r for r in repeats if r["event_name"] == "Page Viewed"]
    assert len(clicks) == planted.repeat_click_groups
    assert len(views) == planted.repeat_page_view_groups
    assert all(r["repeat_count"] >= 3 for r in repeats)
    assert all(r["min_seconds_between_repeats"] >= 0 for r in repeats)
    daily = duckdb_rows(built.warehouse, "amplitude__daily_performance")
    assert sum(d["events"] for d in daily) == planted.distinct_insert_ids


def test_incremental_runs_are_idempotent_and_pick_up_new_and_late_data(built: Built) -> None:
    before = marts(built.warehouse)
    build_local(built.warehouse, built.root / "dbt")
    assert marts(built.warehouse) == before

    # Three more hours arrive, plus a re-delivered copy of an old file under a new name
    # (what a forced re-export with different bytes would produce).
    built.harness.run(START + 6 * H, START + 8 * H)
    old = sorted((built.stage / "events").rglob("*.json"))[0]
    shutil.copyfile(old, old.with_name(old.name.replace(".json", "ff.json")))
    load_stage(built.stage, built.warehouse)
    build_local(built.warehouse, built.root / "dbt")

    planted = built.manifest(9)
    assert count(built.warehouse, "stg_amplitude__events", "analytics_staging") == (
        planted.distinct_insert_ids
    )
    assert count(built.warehouse, "amplitude__event_enhanced") == planted.distinct_insert_ids
    assert count(built.warehouse, "amplitude__sessions") == planted.sessions
    daily = duckdb_rows(built.warehouse, "amplitude__daily_performance")
    assert sum(d["events"] for d in daily) == planted.distinct_insert_ids

    # An incremental result equals a full rebuild of the same data.
    incremental = marts(built.warehouse)
    build_local(built.warehouse, built.root / "dbt", "--full-refresh")
    assert marts(built.warehouse) == incremental


def test_snowflake_sql_gives_the_same_models_on_fakesnow(built: Built, tmp_path: Path) -> None:
    (tmp_path / "fakesnow").mkdir()
    build = ("build", "--exclude-resource-type", "unit_test")
    with patched_fakesnow(str(tmp_path / "fakesnow"), "amplitude") as connection:
        copied = copy_raw_to_fakesnow(built.warehouse, connection)
        assert copied == built.manifest(6).rows
        ok = run_dbt_on_fakesnow(tmp_path, tmp_path / "sf", *build)
        assert ok, (tmp_path / "sf/logs/dbt.log").read_text()[-3000:]
        assert fakesnow_model_rows(connection) == model_rows(built.warehouse)

        # More hours and an old file delivered again under a new name, on both warehouses:
        # the incremental path (MERGE, delete+insert, watermarks) on the Snowflake dialect
        # gives what DuckDB's gives.
        built.harness.run(START + 6 * H, START + 8 * H)
        old = sorted((built.stage / "events").rglob("*.json"))[0]
        shutil.copyfile(old, old.with_name(old.name.replace(".json", "ff.json")))
        load_stage(built.stage, built.warehouse)
        build_local(built.warehouse, built.root / "dbt")
        assert copy_raw_to_fakesnow(built.warehouse, connection, append=True) > 0
        ok = run_dbt_on_fakesnow(tmp_path, tmp_path / "sf", *build)
        assert ok, (tmp_path / "sf/logs/dbt.log").read_text()[-3000:]
        assert fakesnow_model_rows(connection) == model_rows(built.warehouse)

        # Run again: nothing new, nothing changes.
        assert run_dbt_on_fakesnow(tmp_path, tmp_path / "sf", *build)
        assert fakesnow_model_rows(connection) == model_rows(built.warehouse)

    # Snowflake's load times are timestamp_ntz(9) (METADATA$START_SCAN_TIME, documented as
    # TIMESTAMP_LTZ of default precision 9: https://docs.snowflake.com/en/user-guide/querying-metadata).
    # fakesnow holds microseconds, so this checks what can be checked here: the load bounds
    # staging reads by came back as text at nanosecond precision, not as a Python datetime.
    log = (tmp_path / "sf/logs/dbt.log").read_text()
    assert "to_char(bounds.upper_bound, 'YYYY-MM-DD HH24:MI:SS.FF9')" in log

    # Every statement dbt ran on "Snowflake", merges included, parses as Snowflake SQL.
    statements = list((tmp_path / "sf/target/run").rglob("*.sql"))
    assert len(statements) > 10
    for path in statements:
        sqlglot.parse(path.read_text(), read="snowflake")


def test_source_freshness_passes_on_fresh_loads_and_errors_a_day_later(built: Built) -> None:
    """`dbt source freshness` (what run, status and the task graph call) on load time: the
    rows the fixture loaded just now are fresh; moved back 25 hours, stale."""
    artifacts = built.root / "dbt-freshness"
    (fresh,) = source_freshness(warehouse=built.warehouse, artifacts_dir=artifacts)
    assert (fresh.source, fresh.status, fresh.ok) == ("amplitude.events_raw", "pass", True)
    with duckdb.connect(str(built.warehouse)) as db:
        db.execute("update raw.amplitude_events_raw set loaded_at = loaded_at - interval 25 hour")
    (stale,) = source_freshness(warehouse=built.warehouse, artifacts_dir=artifacts)
    assert (stale.status, stale.ok) == ("error", False)
    assert stale.age_seconds is not None
    assert stale.age_seconds > 25 * 3600

"""Property pivots (Fivetran's `amplitude__event_properties_to_pivot` and
`amplitude__user_properties_to_pivot`): each named property is a text column of
amplitude__event_enhanced, the same on DuckDB and on Snowflake's SQL (fakesnow)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tests.dbt_support import (
    copy_raw_to_fakesnow,
    duckdb_rows,
    fakesnow_rows,
    insert_raw_rows,
    reset_warehouse,
    run_dbt_on_fakesnow,
    run_local,
)
from tools.fakesnow_shim import patched_fakesnow

DAY0 = datetime(2026, 3, 2)
PIVOTS = {
    "amplitude__event_properties_to_pivot": ["[Amplitude] Page Title", "Plan Tier", "count"],
    "amplitude__user_properties_to_pivot": ["plan"],
    "amplitude__date_range_end": "2026-03-20",
}


def _event(number: int, properties: dict[str, object], user: dict[str, object]) -> str:
    at = (DAY0 + timedelta(minutes=number)).strftime("%Y-%m-%d %H:%M:%S.%f")
    return json.dumps({
        "uuid": f"u{number}", "app": 100, "event_id": number, "event_type": "checkout",
        "amplitude_id": 1000, "device_id": "d0", "session_id": 1_770_000_000_000,
        "event_time": at, "client_event_time": at, "server_upload_time": at,
        "event_properties": properties, "user_properties": user,
    })  # fmt: skip


def test_pivoted_properties_are_text_columns_on_both_warehouses(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    reset_warehouse(warehouse)
    events = [
        _event(1, {"[Amplitude] Page Title": "Pricing", "Plan Tier": "pro", "count": 3},
               {"plan": "team"}),
        _event(2, {"Plan Tier": None}, {}),  # JSON null and a missing key: both null
    ]  # fmt: skip
    insert_raw_rows(warehouse, [(e, "events/p/a.json", n + 1, DAY0) for n, e in enumerate(events)])
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", json.dumps(PIVOTS))
    pivoted = {
        row["event_uuid"]: (
            row["event_property_amplitude_page_title"],
            row["event_property_plan_tier"],
            row["event_property_count"],
            row["user_property_plan"],
        )
        for row in duckdb_rows(warehouse, "amplitude__event_enhanced")
    }
    assert pivoted == {"u1": ("Pricing", "pro", "3", "team"), "u2": (None, None, None, None)}

    (tmp_path / "fakesnow").mkdir()
    with patched_fakesnow(str(tmp_path / "fakesnow"), "amplitude") as connection:
        copy_raw_to_fakesnow(warehouse, connection)
        ok = run_dbt_on_fakesnow(
            tmp_path, tmp_path / "sf", "run", "-s", "+amplitude__event_enhanced",
            "--vars", json.dumps(PIVOTS),
        )  # fmt: skip
        assert ok, (tmp_path / "sf/logs/dbt.log").read_text()[-3000:]
        on_snowflake = sorted(fakesnow_rows(connection, "amplitude__event_enhanced"),
                              key=lambda row: str(row["event_key"]))  # fmt: skip
    on_duckdb = sorted(duckdb_rows(warehouse, "amplitude__event_enhanced"),
                       key=lambda row: str(row["event_key"]))  # fmt: skip
    assert on_snowflake == on_duckdb


def test_a_pivot_added_later_stops_an_incremental_run_until_a_full_refresh(
    tmp_path: Path,
) -> None:
    """The pivot columns are not in the table as built: `on_schema_change: fail` refuses
    the incremental run (loud), and `--full-refresh` builds them."""
    from amplitude_laptop.transform import run_dbt

    warehouse = tmp_path / "warehouse.duckdb"
    reset_warehouse(warehouse)
    insert_raw_rows(warehouse, [(_event(1, {"Plan Tier": "pro"}, {}), "events/p/a.json", 1, DAY0)])
    plain = json.dumps({"amplitude__date_range_end": "2026-03-20"})
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", plain)
    refused = run_dbt(["run", "--quiet", "--vars", json.dumps(PIVOTS)], warehouse=warehouse,
                      artifacts_dir=tmp_path / "dbt")  # fmt: skip
    assert not refused.ok
    assert any(f.name == "amplitude__event_enhanced" for f in refused.failures)
    run_local(warehouse, tmp_path / "dbt", "run", "--full-refresh", "--vars", json.dumps(PIVOTS))
    (row,) = duckdb_rows(warehouse, "amplitude__event_enhanced")
    assert row["event_property_plan_tier"] == "pro"

"""The models' surrogate keys (issue #18 item 7): null and empty text are different parts,
and a table whose keys were made by another formula is refused, never mixed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from amplitude_laptop.transform import run_dbt
from tests.dbt_support import build_local, duckdb_rows, insert_raw_rows, reset_warehouse, run_local

DAY = datetime(2026, 3, 2, 10)
VARS = json.dumps({"amplitude__date_range_end": "2026-03-03"})


def _event(number: int, event_type: str | None, text: str | None = None) -> str:
    at = (DAY + timedelta(seconds=number)).strftime("%Y-%m-%d %H:%M:%S")
    properties: dict[str, Any] = {"[Amplitude] Page URL": "https://x/"}
    if event_type == "[Amplitude] Element Clicked":
        properties["[Amplitude] Element Selector"] = "a.docs"
        if text is not None:
            properties["[Amplitude] Element Text"] = text
    return json.dumps({"uuid": f"u{number}", "event_type": event_type, "amplitude_id": 7,
                       "device_id": "d", "session_id": 1, "event_time": at,
                       "server_upload_time": at, "client_event_time": at,
                       "event_properties": properties})  # fmt: skip


def _rows(events: list[str], file: str) -> list[tuple[str, str, int, datetime]]:
    return [(event, file, line, DAY) for line, event in enumerate(events, start=1)]


def test_null_and_empty_texts_make_different_keys(tmp_path: Path) -> None:
    """Three clicks on a link with empty text and three on one without text are two repeat
    groups; an event type '' and a missing one are two rows of a day. The old key
    (`coalesce(x, '')`) merged the groups and repeated `daily_key` (unique test fails)."""
    warehouse = tmp_path / "warehouse.duckdb"
    reset_warehouse(warehouse)
    clicks = [_event(n, "[Amplitude] Element Clicked", "" if n < 3 else None) for n in range(6)]
    types = [_event(10, ""), _event(11, None)]
    insert_raw_rows(warehouse, _rows(clicks + types, "events/p/a.json"))
    build_local(warehouse, tmp_path / "dbt", "--vars", VARS)
    groups = duckdb_rows(warehouse, "amplitude__repeat_clicks")
    assert sorted(g["repeat_count"] for g in groups) == [3, 3]
    daily = duckdb_rows(warehouse, "amplitude__daily_performance")
    first_day = [d for d in daily if d["event_date"] == "2026-03-02"]
    assert {d["event_type"]: d["events"] for d in first_day if d["event_type"] in ("", None)} == {
        "": 1,
        None: 1,
    }
    assert len({d["daily_key"] for d in daily}) == len(daily)


def test_a_table_built_with_another_key_formula_is_refused_until_a_full_refresh(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    reset_warehouse(warehouse)
    insert_raw_rows(warehouse, _rows([_event(1, "page")], "events/p/a.json"))
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", VARS)
    # As a table built by a version of the models before the formula was recorded.
    with duckdb.connect(str(warehouse)) as db:
        db.execute("delete from analytics_staging.amplitude__key_formulas")
    insert_raw_rows(warehouse, _rows([_event(2, "page")], "events/p/b.json"))
    refused = run_dbt(["run", "--vars", VARS], warehouse=warehouse, artifacts_dir=tmp_path / "x")
    assert not refused.ok
    messages = " ".join(n.message for n in refused.failures)
    assert "was built with another key formula" in messages
    assert "dbt build --full-refresh" in messages
    run_local(warehouse, tmp_path / "dbt", "run", "--full-refresh", "--vars", VARS)
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", VARS)
    assert len(duckdb_rows(warehouse, "stg_amplitude__events", "analytics_staging")) == 2

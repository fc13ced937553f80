"""The user grain 'user_id' (Fivetran's, stitched) in Snowflake's SQL: a user_id that
arrives late moves the amplitude_id's earlier events to the person, incrementally, on
fakesnow exactly as on DuckDB (the property test in test_dbt_incremental.py checks DuckDB
against full rebuilds under both grains)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.dbt_support import (
    copy_raw_to_fakesnow,
    fakesnow_model_rows,
    insert_raw_rows,
    model_rows,
    reset_warehouse,
    run_dbt_on_fakesnow,
    run_local,
)
from tests.integration.test_dbt_incremental import DAY0, RUN_VARS, Event
from tools.fakesnow_shim import patched_fakesnow

GRAIN_VARS = json.dumps({**json.loads(RUN_VARS), "amplitude__user_grain": "user_id"})


def test_a_late_user_id_stitches_earlier_events_on_snowflake_as_on_duckdb(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    reset_warehouse(warehouse)
    anonymous = [Event(n, (n % 2) * 2, 0, DAY0 + timedelta(minutes=n), "page", 0, 0, "uuid")
                 for n in range(4)]  # fmt: skip
    identified = [Event(10 + n, n * 2, 0, DAY0 + timedelta(hours=1, minutes=n), "click", 0, 0,
                        "uuid", person="person-a") for n in (0, 1)]  # fmt: skip
    (tmp_path / "fakesnow").mkdir()
    with patched_fakesnow(str(tmp_path / "fakesnow"), "amplitude") as connection:
        for batch, events in enumerate([anonymous, identified]):
            loaded_at = DAY0 + timedelta(hours=batch)
            insert_raw_rows(warehouse, [(json.dumps(e.row()), f"events/p/b{batch}.json", n + 1,
                                         loaded_at) for n, e in enumerate(events)])  # fmt: skip
            run_local(warehouse, tmp_path / "dbt", "run", "--vars", GRAIN_VARS)
            copy_raw_to_fakesnow(warehouse, connection, append=batch > 0)
            ok = run_dbt_on_fakesnow(tmp_path, tmp_path / "sf", "run", "--vars", GRAIN_VARS)
            assert ok, (tmp_path / "sf/logs/dbt.log").read_text()[-3000:]
            assert fakesnow_model_rows(connection) == model_rows(warehouse), f"batch {batch}"
    users = model_rows(warehouse)["amplitude__user_enhanced"]
    assert [(u["amplitude_ids"], u["events"]) for u in users] == [(2, 6)]

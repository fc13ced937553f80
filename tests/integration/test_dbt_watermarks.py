"""The watermark table (dbt/macros/amplitude_watermarks.sql, `amplitude__watermarks`):
created by on-run-start, written by every incremental model's post-hook, read by its next
run to find what is new (issue #19, "dbt state in the open")."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.dbt_state_support import DAY, RUN_VARS, load, page_view
from tests.dbt_support import MODEL_KEYS, duckdb_rows, reset_warehouse, run_local

# Every incremental model: the built models and the record of loads.
INCREMENTAL_MODELS = {*MODEL_KEYS, "stg_amplitude__loads"}


def _watermarks(warehouse: Path) -> dict[str, datetime]:
    with duckdb.connect(str(warehouse)) as db:
        rows = db.execute(
            "select model_name, max(processed_through) "
            "from analytics_staging.amplitude__watermarks group by model_name"
        ).fetchall()
    return dict(rows)


def _run_start(warehouse: Path) -> datetime:
    """The start of the latest run that wrote staging: its rows' `built_at`."""
    with duckdb.connect(str(warehouse)) as db:
        row = db.execute(
            "select max(built_at) from analytics_staging.stg_amplitude__events"
        ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """User 1000's session built by one full run."""
    path = tmp_path / "warehouse.duckdb"
    reset_warehouse(path)
    load(path, "events/p/a.json", DAY, [page_view(n, 1000, uuid=f"a{n}") for n in range(3)])
    run_local(path, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    return path


def test_every_incremental_model_records_the_runs_start_as_its_watermark(
    warehouse: Path,
) -> None:
    assert _watermarks(warehouse) == dict.fromkeys(INCREMENTAL_MODELS, _run_start(warehouse))


def test_the_next_run_rebuilds_only_what_is_new_since_the_watermark(
    warehouse: Path, tmp_path: Path
) -> None:
    """A second user's event: the first user's session and user rows stay as the first run
    built them. Without a watermark written, the next run reads every staged row and
    rebuilds every session and user (their `built_at` moves)."""
    first_run = _run_start(warehouse)
    load(warehouse, "events/p/b.json", DAY + timedelta(hours=1), [page_view(9, 2000, uuid="b")])
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    second_run = _run_start(warehouse)
    assert second_run > first_run
    for model, key in (("amplitude__sessions", "amplitude_id"),
                       ("amplitude__user_enhanced", "amplitude_id")):  # fmt: skip
        with duckdb.connect(str(warehouse)) as db:
            built = dict(db.execute(f"select {key}, built_at from analytics.{model}").fetchall())
        assert built == {1000: first_run, 2000: second_run}, model
    assert _watermarks(warehouse) == dict.fromkeys(INCREMENTAL_MODELS, second_run)


def test_a_watermark_never_passes_those_of_the_models_it_reads(
    warehouse: Path, tmp_path: Path
) -> None:
    """A run of user_enhanced alone, while staging and sessions have not read a new load:
    its watermark stays at theirs, so the run that builds them next also brings the new
    user into user_enhanced."""
    first_run = _run_start(warehouse)
    load(warehouse, "events/p/b.json", DAY + timedelta(hours=1), [page_view(9, 2000, uuid="b")])
    run_local(warehouse, tmp_path / "dbt", "run", "-s", "amplitude__user_enhanced",
              "--vars", RUN_VARS)  # fmt: skip
    assert _watermarks(warehouse)["amplitude__user_enhanced"] == first_run
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    users = duckdb_rows(warehouse, "amplitude__user_enhanced")
    assert sorted(u["amplitude_id"] for u in users) == [1000, 2000]

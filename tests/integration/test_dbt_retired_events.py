"""The retired versions of events (dbt/macros, `amplitude__retired_events`): the copies
staging replaced or removed, kept for the marts to rebuild what those copies left.

They hold event keys, users (`amplitude_id`), sessions and days, all derived from ids:
personal data. Issue #18 item 2: a forgotten user's retired versions go with the run that
removes the user from every model, and none are kept once every model reading them has
processed them; a run that builds only staging keeps them, since the marts still need them.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.dbt_state_support import DAY, RUN_VARS, load, page_view
from tests.dbt_support import (
    MODEL_KEYS,
    copy_raw_to_fakesnow,
    forget,
    model_rows,
    reset_warehouse,
    run_dbt_on_fakesnow,
    run_local,
)
from tools.fakesnow_shim import patched_fakesnow

FORGOTTEN, KEPT = 1001, 1000


def _retired(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse)) as db:
        return db.execute(
            "select amplitude_id, event_key from analytics_staging.amplitude__retired_events "
            "order by amplitude_id, event_key"
        ).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Two users' events; the later-received copy of each loaded first, so the second
    load replaces it (a retired version per user)."""
    path = tmp_path / "warehouse.duckdb"
    reset_warehouse(path)
    late = [page_view(n, user, uuid=f"late-{user}-{n}", uploaded_after=60)
            for user in (KEPT, FORGOTTEN) for n in range(2)]  # fmt: skip
    load(path, "events/p/a.json", DAY, late)
    run_local(path, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    first = [page_view(0, user, uuid=f"first-{user}") for user in (KEPT, FORGOTTEN)]
    load(path, "events/p/b.json", DAY + timedelta(hours=1), first)
    return path


def test_a_run_that_builds_only_staging_keeps_the_retired_versions_the_marts_need(
    warehouse: Path, tmp_path: Path
) -> None:
    """Staging replaces one copy per user and retires it; the marts have not read that
    yet, so the versions stay until a run builds them, and then go."""
    run_local(warehouse, tmp_path / "dbt", "run", "-s", "stg_amplitude__loads",
              "stg_amplitude__events", "--vars", RUN_VARS)  # fmt: skip
    assert [user for user, _ in _retired(warehouse)] == [KEPT, FORGOTTEN]
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    assert _retired(warehouse) == []


def test_a_forgotten_users_retired_versions_go_with_the_run_that_forgets_the_user(
    warehouse: Path, tmp_path: Path
) -> None:
    """The user's copies retired by an earlier run and the events the forget request
    removes (retired as it removes them) are gone once the run has removed the user from
    every model, and every model equals a full refresh of what is left. The versions were
    kept for good before (`amplitude_id` 1001 in the table after the run)."""
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    forget(warehouse, "r1", "amplitude_id", str(FORGOTTEN), DAY + timedelta(days=1))
    run_local(warehouse, tmp_path / "dbt", "run", "--vars", RUN_VARS)
    assert _retired(warehouse) == []
    built = model_rows(warehouse)
    assert {r["amplitude_id"] for r in built["stg_amplitude__events"]} == {KEPT}
    run_local(warehouse, tmp_path / "dbt", "run", "--full-refresh", "--vars", RUN_VARS)
    rebuilt = model_rows(warehouse)
    for model in MODEL_KEYS:
        assert built[model] == rebuilt[model], model


def test_nothing_is_pruned_while_a_model_reading_them_has_no_watermark(
    warehouse: Path, tmp_path: Path
) -> None:
    """A reader whose watermark is gone reads every retired version since the beginning
    (as costly as a full build, and correct): the prune must leave them to it."""
    run_local(warehouse, tmp_path / "dbt", "run", "-s", "stg_amplitude__loads",
              "stg_amplitude__events", "--vars", RUN_VARS)  # fmt: skip
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            "delete from analytics_staging.amplitude__watermarks "
            "where model_name = 'amplitude__user_enhanced'"
        )
    run_local(warehouse, tmp_path / "dbt", "run", "-s", "amplitude__sessions", "--vars", RUN_VARS)
    assert len(_retired(warehouse)) == 2


def test_on_fakesnow_the_forgotten_users_retired_versions_go_too(
    warehouse: Path, tmp_path: Path
) -> None:
    """The same on the Snowflake dialect: the prune runs there as on DuckDB. The table is
    created transient, so Snowflake keeps deleted versions for its Time Travel retention
    and no Fail-safe period after it (documented, not observable on fakesnow:
    https://docs.snowflake.com/en/user-guide/tables-temp-transient)."""
    (tmp_path / "fakesnow").mkdir()
    artifacts = tmp_path / "sf"
    run = ("run", "--vars", RUN_VARS)
    with patched_fakesnow(str(tmp_path / "fakesnow"), "amplitude") as connection:
        copy_raw_to_fakesnow(warehouse, connection)
        assert run_dbt_on_fakesnow(tmp_path, artifacts, *run)
        cursor = connection.cursor()
        digest = hashlib.sha256(str(FORGOTTEN).encode()).hexdigest()
        cursor.execute(
            "insert into amplitude.raw.amplitude_forget_requests "
            "values ('r1', '2026-03-03 10:00:00'::timestamp_ntz, 'amplitude_id', %s, 0, 0, 0)",
            [digest],
        )
        assert run_dbt_on_fakesnow(tmp_path, artifacts, *run)
        cursor.execute("select count(*) from amplitude.analytics_staging.amplitude__retired_events")
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "select distinct amplitude_id from amplitude.analytics_staging.stg_amplitude__events"
        )
        assert cursor.fetchall() == [(KEPT,)]
    log = (artifacts / "logs/dbt.log").read_text()
    assert (
        "create transient table if not exists "
        "amplitude.analytics_staging.amplitude__retired_events (" in log
    )

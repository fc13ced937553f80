"""Which rows a data test checks (dbt/macros/get_where_subquery.sql, dbt's macro overridden):
`where: "__latest_batch__"` on every data test narrows it to the latest batch the model
wrote, and `amplitude__test_all_rows` widens it to every row (issue #19, "dbt state in the
open")."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from amplitude_laptop.transform import run_dbt
from tests.dbt_state_support import DAY, RUN_VARS, load, page_view
from tests.dbt_support import reset_warehouse, run_local

STAGING = "analytics_staging.stg_amplitude__events"
# The generic tests of staging only: the singular tests compare staging with the marts,
# which a row planted in staging alone would fail for another reason.
GENERIC_TESTS = ["test", "-s", "stg_amplitude__events,test_type:generic"]
ALL_ROWS = json.dumps({**json.loads(RUN_VARS), "amplitude__test_all_rows": True})


def _plant_duplicate(warehouse: Path, *, batch: str) -> None:
    """A second row with an event key already built, in an earlier batch or the latest."""
    built_at = "built_at - interval 1 day" if batch == "earlier" else "built_at"
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            f"insert into {STAGING} select * replace ({built_at} as built_at) from {STAGING} "
            "order by event_key limit 1"
        )


def _failed_tests(warehouse: Path, artifacts: Path, vars_: str) -> list[str]:
    result = run_dbt([*GENERIC_TESTS, "--vars", vars_], warehouse=warehouse,
                     artifacts_dir=artifacts)  # fmt: skip
    assert result.completed
    return sorted(node.name for node in result.failures)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    reset_warehouse(path)
    load(path, "events/p/a.json", DAY, [page_view(n, 1000, uuid=f"a{n}") for n in range(3)])
    run_local(path, tmp_path / "dbt", "build", "--vars", RUN_VARS)
    return path


def test_a_bad_row_in_an_earlier_batch_fails_only_when_every_row_is_tested(
    warehouse: Path, tmp_path: Path
) -> None:
    """Without the override narrowing the tests, `unique(event_key)` would fail on every
    run (or the word `__latest_batch__` would reach the SQL and fail it)."""
    _plant_duplicate(warehouse, batch="earlier")
    assert _failed_tests(warehouse, tmp_path / "dbt", RUN_VARS) == []
    assert _failed_tests(warehouse, tmp_path / "dbt", ALL_ROWS) == [
        "unique_stg_amplitude__events_event_key"
    ]


def test_a_bad_row_in_the_latest_batch_fails(warehouse: Path, tmp_path: Path) -> None:
    """The latest batch is tested: a narrowing that tested nothing would pass this."""
    _plant_duplicate(warehouse, batch="latest")
    assert _failed_tests(warehouse, tmp_path / "dbt", RUN_VARS) == [
        "unique_stg_amplitude__events_event_key"
    ]

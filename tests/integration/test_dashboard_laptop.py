"""The laptop's pipeline health, when things went wrong: a failed hour, quarantined lines,
a file the loader never saw, a file it could not load, a run that logged an error, a run
killed before it finished its record.

The ledger is written by the laptop's own SqliteLedger, the load history by the loader's
own DDL, the runs by the CLI's own run wrapper; the dashboard must show each, with the
names and columns the Snowflake relations have (amplitude_queries.laptop)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import streamlit as st

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_laptop import cli
from amplitude_laptop.loader import connect
from amplitude_laptop.settings import LaptopSettings
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_queries.backends import DuckDBBackend, run
from amplitude_queries.laptop import attach_ingest
from amplitude_queries.laptop_records import ledger_path
from tests.integration.test_dashboard_app import metrics, open_app

ROOT = Path(__file__).resolve().parents[2]
# A run that starts its record and dies before finishing it (as under kill -9).
KILLED = """
import os, sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from amplitude_queries.laptop_records import open_ledger, start_run
with closing(open_ledger(Path(sys.argv[1]))) as db:
    start_run(db, "extract", datetime(2026, 1, 26, 8, 55, tzinfo=UTC))
os._exit(0)
"""
KEY = "events/web/2026/01/26/{hour:02d}/web_20260126T{hour:02d}_0000_{n:016x}.json"


def key(hour: int, n: int = 0) -> str:
    return KEY.format(hour=hour, n=n)


@pytest.fixture
def troubled(tmp_path: Path) -> tuple[Path, Path]:
    state = tmp_path / "state"
    ledger = SqliteLedger(state)
    hour = [datetime(2026, 1, 26, h, tzinfo=UTC) for h in range(24)]
    quarantined = "_quarantine/web/2026/01/26/05/x.rejected.jsonl"
    ledger.save(
        [
            HourRecord(
                hour[5],
                HourStatus.DONE,
                files=2,
                events=20,
                bytes=900,
                rejected_lines=3,
                attempts=1,
                keys=(key(5, 0), key(5, 1), quarantined),
            ),
            HourRecord(
                hour[6], HourStatus.DONE, files=1, events=10, bytes=400, attempts=2, keys=(key(6),)
            ),
            HourRecord(
                hour[4],
                HourStatus.GIVEN_UP,
                attempts=24,
                failed_runs=24,
                error="given up after failing in 24 runs (export it again with force): HTTP 503",
            ),
            HourRecord(hour[7], HourStatus.EMPTY, attempts=1),
            HourRecord(
                hour[8],
                HourStatus.FAILED,
                attempts=5,
                error="HTTP 504 after 5 attempts: split down to one hour",
            ),
        ]
    )
    ledger.close()
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as db:  # the loader's own tables
        db.execute(
            "insert into raw.load_history values (?, 'c1', 100, 10, '2026-01-26 05:10:00')",
            [key(5, 0)],
        )
        db.execute(
            "insert into raw.load_errors values (?, 'c2', 'Malformed JSON at line 3', "
            "'2026-01-26 06:10:00')",
            [key(6)],
        )
    # Runs as the CLI records them: one killed outright, a failed run, a good load.
    died = subprocess.run(
        [sys.executable, "-c", KILLED, str(state)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "snowpark")},
        check=True,
    )
    assert died.returncode == 0
    settings = LaptopSettings.load({"state_dir": state}, env_file=None)

    def failing_run() -> int:
        logging.getLogger("amplitude_ingest.extractor").error("hour 2026-01-26T08 failed: HTTP 504")
        return 1

    assert cli.run_command("run", settings, failing_run) == 1
    assert cli.run_command("load", settings, lambda: 0) == 0
    return warehouse, state


def test_the_stand_ins_have_the_snowflake_relations_names_and_rows(
    troubled: tuple[Path, Path],
) -> None:
    warehouse, state = troubled
    db = duckdb.connect(":memory:")
    db.execute(f"attach '{warehouse}' as warehouse (read_only)")
    db.execute("use warehouse")
    attach_ingest(db, state, now=datetime(2026, 1, 26, 10, 0, tzinfo=UTC))
    columns = {
        table: [r[0] for r in db.execute(f"describe ingest.{table}").fetchall()]
        for table in ("amplitude_ingest_ledger", "amplitude_files_not_loaded")
    }
    # The columns of sql/50's ledger and sql/85's view, in their order.
    assert columns["amplitude_ingest_ledger"] == [
        "hour", "status", "files", "events", "bytes", "rejected_lines", "attempts", "error",
        "stage_keys", "updated_at", "run_id", "lease_owner", "lease_expires_at", "failed_runs",
    ]  # fmt: skip
    assert columns["amplitude_files_not_loaded"] == [
        "hour", "run_id", "stage_key", "written_at", "minutes_since_written", "load_status",
        "first_error_message", "refreshable",
    ]  # fmt: skip
    missing = db.execute(
        "select stage_key, load_status, first_error_message from ingest.amplitude_files_not_loaded "
        "order by stage_key"
    ).fetchall()
    assert missing == [
        (key(5, 1), "not seen by the loader", None),
        (key(6), "Load failed", "Malformed JSON at line 3"),
    ]
    db.close()


def test_the_health_page_shows_what_went_wrong(troubled: tuple[Path, Path]) -> None:
    st.cache_data.clear()
    warehouse, state = troubled
    at = open_app(DuckDBBackend(warehouse, state), datetime(2026, 1, 26, 10, 0))
    assert not at.exception
    shown = metrics(at)
    assert shown["Hours exported"] == "2"
    assert shown["Empty hours"] == "1"
    assert shown["Failed hours"] == "1"
    assert shown["Given-up hours"] == "1"
    assert shown["Hours behind"] == "unknown"  # no AMP_LAG_HOURS: which hours are ready?
    assert shown["Lines quarantined"] == "3"
    assert shown["Files written"] == "3"
    assert shown["Files loaded"] == "1"
    assert shown["Files not loaded"] == "2"
    assert shown["Exported up to"] == "Jan 26, 07:00"  # the newest done or empty hour
    not_loaded, failed, runs = (d.value for d in at.dataframe)
    assert sorted(not_loaded["load_status"]) == ["Load failed", "not seen by the loader"]
    assert list(failed["error"]) == [
        "HTTP 504 after 5 attempts: split down to one hour",
        "given up after failing in 24 runs (export it again with force): HTTP 503",
    ]
    assert list(failed["status"]) == ["failed", "given_up"]
    assert list(failed["failed_runs"]) == [0, 24]
    assert list(failed["attempts"]) == [5, 24]
    assert any("Given-up hours are not exported again" in e.value for e in at.error)
    assert list(runs["tasks"]) == ["load", "run", "extract"]  # newest first
    assert list(runs["succeeded"]) == [True, False, False]
    assert runs["error"].iloc[1] == "hour 2026-01-26T08 failed: HTTP 504"
    assert runs["error"].iloc[2].startswith("the process (pid ")  # killed: died, not running
    assert (
        runs["error"]
        .iloc[2]
        .endswith(
            "ended before it finished this record: killed, "
            "or the machine stopped; its log file has what it did"
        )
    )
    # No marts in this warehouse: freshness says what builds them, the rest still shows.
    assert any("amplitude-ingest transform" in i.value for i in at.info)


def test_the_ledger_is_read_and_never_written(troubled: tuple[Path, Path]) -> None:
    warehouse, state = troubled
    before = ledger_path(state).read_bytes()
    backend = DuckDBBackend(warehouse, state)
    assert run(backend, "ledger_totals")["hours_done"].iloc[0] == 2
    assert len(run(backend, "pipeline_runs")) == 3
    assert ledger_path(state).read_bytes() == before


def test_the_laptop_says_how_far_behind_and_when_current_as_sql_85_does(tmp_path: Path) -> None:
    """The stand-in for sql/85's backlog figures (test_health_backlog.py pins those):
    8 hours settled in the last 6 hours, one failed hour, the newest settled hour 8 hours
    before the newest exportable one."""
    import sqlite3

    now = datetime(2026, 1, 26, 20, 30, tzinfo=UTC)
    hour = [datetime(2026, 1, 26, h, tzinfo=UTC) for h in range(24)]
    ledger = SqliteLedger(tmp_path / "state")
    done = [HourRecord(hour[h], HourStatus.DONE, attempts=1) for h in (0, 1, 2, 3, 4, 6, 7, 8)]
    ledger.save([*done, HourRecord(hour[5], HourStatus.FAILED, attempts=5, failed_runs=1)])
    ledger.save([HourRecord(hour[9], HourStatus.GIVEN_UP, attempts=24, failed_runs=24)])
    ledger.close()
    with sqlite3.connect(ledger_path(tmp_path / "state")) as db:
        db.execute("update hours set updated_at = '2026-01-26T19:30:00+00:00'")
    duck = duckdb.connect(":memory:")
    attach_ingest(duck, tmp_path / "state", now=now, lag_hours=3)
    (row,) = duck.execute(
        "select hours_behind, current_at_present_pace from ingest.amplitude_pipeline_health"
    ).fetchall()
    # 1 failed + hours 10..17 (newest exportable: 20:00 - 3 h): 9, gaining 1/3 hour an hour.
    assert row == (9, datetime(2026, 1, 27, 23, 30))
    attach_unknown = duckdb.connect(":memory:")
    attach_ingest(attach_unknown, tmp_path / "state", now=now)
    assert attach_unknown.execute(
        "select hours_behind from ingest.amplitude_pipeline_health"
    ).fetchall() == [(None,)]

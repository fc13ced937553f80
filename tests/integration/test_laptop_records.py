"""The laptop's records (amplitude_queries.laptop_records, amplitude_laptop.runs): a ledger of
today's schema upgraded in place with its rows intact; every run recorded with its command,
times, exit status and first error (redacted, bounded), whatever way it ends; a run killed
outright read as died, never as running for ever or as a success."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_ingest.errors import ConfigurationError
from amplitude_laptop import cli
from amplitude_laptop.runs import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from amplitude_laptop.settings import LaptopSettings
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_queries.laptop_records import (
    FIRST_ERROR_MAX_CHARS,
    LEDGER_FILE,
    RunRecord,
    RunStatus,
    read_hours,
    read_runs,
)

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "tests" / "fixtures" / "ledger_before_issue19.sql"
FIRST = ROOT / "tests" / "fixtures" / "ledger_first_version.sql"
SECRET = "s3cr3t-key-value-0123456789"
logger = logging.getLogger("amplitude_laptop.test")


def settings_for(state: Path) -> LaptopSettings:
    return LaptopSettings.load(
        {
            "state_dir": state,
            "stage": str(state.parent / "stage"),
            "warehouse": state.parent / "warehouse.duckdb",
            "api_key": "an-api-key",
            "secret_key": SECRET,
        },
        env_file=None,
    )


def schema(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(path)) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        return {
            t: db.execute(f"pragma table_info({t})").fetchall()
            for t in sorted(tables)
            if t != "sqlite_sequence"
        }


def test_a_ledger_of_todays_schema_is_upgraded_in_place_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with closing(sqlite3.connect(state / LEDGER_FILE)) as db:
        db.executescript(BEFORE.read_text())
    before = (state / LEDGER_FILE).read_bytes()
    # Read-only readers read the old file as it is, and leave it so.
    assert read_runs(state) == []
    old_hours = read_hours(state)
    assert [h.status for h in old_hours] == ["done", "empty", "failed", "given_up", "pending"]
    assert (state / LEDGER_FILE).read_bytes() == before

    ledger = SqliteLedger(state)  # the writer upgrades
    try:
        records = ledger.all()
    finally:
        ledger.close()
    hour = [datetime(2026, 1, 26, h, tzinfo=UTC) for h in range(5)]
    stamp = datetime(2026, 1, 26, 9, tzinfo=UTC)
    keys = ("events/web/2026/01/26/00/a.json", "events/web/2026/01/26/00/b.json")
    assert records == [
        HourRecord(hour[0], HourStatus.DONE, 2, 20, 900, 1, 1, None, keys, stamp, 0),
        HourRecord(hour[1], HourStatus.EMPTY, attempts=1, updated_at=stamp),
        HourRecord(
            hour[2], HourStatus.FAILED, attempts=5, error="HTTP 504 after 5 attempts",
            updated_at=stamp, failed_runs=2,
        ),
        HourRecord(
            hour[3], HourStatus.GIVEN_UP, attempts=24, error="given up", updated_at=stamp,
            failed_runs=24,
        ),
        HourRecord(hour[4], HourStatus.PENDING, updated_at=stamp),
    ]  # fmt: skip
    assert read_hours(state) == old_hours  # the lease of hour 4 included
    assert old_hours[4].lease_owner == "amplitude-ingest:host:123"
    # The upgraded file has exactly the schema of a ledger made today.
    SqliteLedger(tmp_path / "fresh").close()
    assert schema(state / LEDGER_FILE) == schema(tmp_path / "fresh" / LEDGER_FILE)
    # And it records runs.
    assert cli.run_command("load", settings_for(state), lambda: EXIT_OK) == EXIT_OK
    (run,) = read_runs(state)
    assert (run.command, run.status, run.exit_code) == ("load", RunStatus.SUCCEEDED, 0)


def test_the_first_version_of_the_ledger_reads_with_defaults_then_upgrades(
    tmp_path: Path,
) -> None:
    """A ledger from before leases and give-up: the read-only readers (the dashboard,
    status) read its missing columns as their defaults without changing it; a writer
    upgrades it to today's schema with its rows as they were. The folder's name holds
    what a file: URI would misread."""
    state = tmp_path / "state ?#%20"
    state.mkdir()
    with closing(sqlite3.connect(state / LEDGER_FILE)) as db:
        db.executescript(FIRST.read_text())
    before = (state / LEDGER_FILE).read_bytes()
    hours = read_hours(state)
    assert [(h.status, h.lease_owner, h.lease_expires_at, h.failed_runs) for h in hours] == [
        ("done", None, None, 0),
        ("failed", None, None, 0),
        ("empty", None, None, 0),
    ]
    assert hours[0].keys == ("events/web/2026/01/26/00/a.json",)
    assert (state / LEDGER_FILE).read_bytes() == before
    SqliteLedger(state).close()
    SqliteLedger(tmp_path / "fresh").close()
    assert schema(state / LEDGER_FILE) == schema(tmp_path / "fresh" / LEDGER_FILE)
    assert read_hours(state) == hours


# Ways a run ends, each a body for cli.run_command, and what its record must say.
def _ends(kind: str, text: str) -> Callable[[], int]:
    def body() -> int:
        if kind == "ok":
            return EXIT_OK
        if kind == "logged":
            logger.error("third party said: %s", text)
            logger.error("a second error, not the first")
            return EXIT_FAILED
        if kind == "silent":
            return EXIT_FAILED
        if kind == "ours":
            raise ConfigurationError(text)
        if kind == "crash":
            raise RuntimeError(text)
        raise KeyboardInterrupt

    return body


EXPECTED = {
    "ok": (RunStatus.SUCCEEDED, EXIT_OK),
    "logged": (RunStatus.FAILED, EXIT_FAILED),
    "silent": (RunStatus.FAILED, EXIT_FAILED),
    "ours": (RunStatus.FAILED, EXIT_USAGE),
    "crash": (RunStatus.FAILED, EXIT_FAILED),
    "ctrl-c": (RunStatus.FAILED, EXIT_FAILED),
}


@hypothesis_settings(max_examples=40)
# Errors longer than the bound, always tried (hypothesis rarely draws texts that long).
@example(kinds=["logged", "crash"], text="x" * 1200, secret_at=490)
@example(kinds=["ours"], text="y" * 600, secret_at=0)
@given(
    kinds=st.lists(st.sampled_from(sorted(EXPECTED)), min_size=1, max_size=4),
    text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=1200),
    secret_at=st.integers(min_value=0, max_value=1200),
)
def test_every_run_is_recorded_with_its_exit_status_and_first_error_redacted_and_bounded(
    kinds: list[str], text: str, secret_at: int
) -> None:
    text = text[:secret_at] + SECRET + text[secret_at:]
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state"
        settings = settings_for(state)
        for kind in kinds:
            began = datetime.now(UTC).replace(microsecond=0)
            if kind in ("crash", "ctrl-c"):
                with pytest.raises((RuntimeError, KeyboardInterrupt)):
                    cli.run_command(kind, settings, _ends(kind, text))
            else:
                assert cli.run_command(kind, settings, _ends(kind, text)) == EXPECTED[kind][1]
            run = read_runs(state, limit=1)[0]
            status, code = EXPECTED[kind]
            assert (run.command, run.status, run.exit_code) == (kind, status, code)
            assert run.ended_at is not None
            assert began <= run.started_at <= run.ended_at
            assert run.pid == os.getpid()
            if kind == "ok":
                assert run.first_error is None
                continue
            assert run.first_error
            assert SECRET not in run.first_error
            assert len(run.first_error) <= FIRST_ERROR_MAX_CHARS
            expected = {
                "logged": "third party said: " + text.replace(SECRET, "***"),
                "silent": "`silent` exited with status 1 without logging an error",
                "ours": text.replace(SECRET, "***"),
                "crash": "RuntimeError: " + text.replace(SECRET, "***"),
                "ctrl-c": "interrupted (Ctrl-C)",
            }[kind].strip()
            if len(expected) <= FIRST_ERROR_MAX_CHARS:
                assert run.first_error == expected
            else:
                assert run.first_error == expected[: FIRST_ERROR_MAX_CHARS - 1] + "…"
        assert [r.command for r in read_runs(state)] == kinds[::-1]  # newest first


CHILD = """
import sys, time
from pathlib import Path
from amplitude_laptop import cli
from amplitude_laptop.settings import LaptopSettings
settings = LaptopSettings.load({"state_dir": Path(sys.argv[1])}, env_file=None)
def body() -> int:
    print("started", flush=True)
    time.sleep(120)
    return 0
cli.run_command("extract", settings, body)
"""


def _ledger_status(state: Path, run_id: int) -> str:
    with closing(sqlite3.connect(state / LEDGER_FILE)) as db:
        (status,) = db.execute("select status from runs where run_id = ?", [run_id]).fetchone()
    return str(status)


def test_a_run_killed_outright_reads_as_died_then_is_settled_by_the_next_run(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "snowpark")},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        (running,) = read_runs(state)
        assert (running.command, running.status, running.pid) == (
            "extract",
            RunStatus.RUNNING,
            child.pid,
        )
        assert running.ended_at is None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    (died,) = read_runs(state)
    assert died.status is RunStatus.DIED
    assert f"pid {child.pid}" in (died.first_error or "")
    assert died.ended_at is None
    assert _ledger_status(state, died.run_id) == "running"  # a reader writes nothing
    # The next run on this host writes the verdict down, then records itself.
    started = time.monotonic()
    assert cli.run_command("load", settings_for(state), lambda: EXIT_OK) == EXIT_OK
    assert time.monotonic() - started < 30
    assert _ledger_status(state, died.run_id) == "died"
    newest, settled = read_runs(state)
    assert (newest.command, newest.status) == ("load", RunStatus.SUCCEEDED)
    assert settled == RunRecord(
        died.run_id, "extract", died.started_at, None, RunStatus.DIED, None,
        died.first_error, child.pid, died.host,
    )  # fmt: skip


def test_a_run_of_another_host_is_not_judged_here(tmp_path: Path) -> None:
    """A pid means nothing on another machine (a state folder on a shared drive): such a
    run reads as running until a run on its own host settles it."""
    state = tmp_path / "state"
    cli.run_command("load", settings_for(state), lambda: EXIT_OK)
    with closing(sqlite3.connect(state / LEDGER_FILE)) as db:
        db.execute(
            "insert into runs (command, started_at, status, pid, host) "
            "values ('extract', '2026-01-26T09:00:00+00:00', 'running', 999999, 'elsewhere')"
        )
        db.commit()
    newest = read_runs(state, alive=lambda pid: False)[0]
    assert (newest.host, newest.status) == ("elsewhere", RunStatus.RUNNING)

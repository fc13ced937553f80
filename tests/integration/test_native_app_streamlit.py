"""The Native App's Streamlit through AppTest, on fakesnow holding the app's tables.

The four states a consumer meets: not approved, no key pair, healthy, failing; and the key
pair form, whose values never reach the page, even when storing them fails. The app's
tables are built from the Python homes of their columns (run_history, load_step,
ledger_table); the health view stands in for the setup script's with sql/85's two columns.
What fakesnow is not (Snowflake itself): README, "What was checked only offline".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from amplitude_ingest.in_snowflake import ledger_table
from amplitude_ingest.in_snowflake.native_app import credentials, load_step, names, run_history
from amplitude_queries.app import AppBackend
from tests.dashboard_support import FakesnowSession

NOW = datetime(2026, 1, 27, 6, 0)
API_KEY = "0123456789abcdef0123456789abcdef"
SECRET_KEY = "fedcba9876543210fedcba9876543210"
KEYS = [f"events/web/2026/01/26/0{h}/web_20260126T0{h}_0000_000_{h}abc.json" for h in (3, 4, 5)]
TYPES = {
    "HOUR": "timestamp_ntz",
    "UPDATED_AT": "timestamp_ntz",
    "STARTED_AT": "timestamp_ntz",
    "ENDED_AT": "timestamp_ntz",
    "LOADED_AT": "timestamp_ntz",
    "SUMMARY": "variant",
}
NUMBERS = {"FILES", "EVENTS", "BYTES", "REJECTED_LINES", "ATTEMPTS", "FAILED_RUNS"}


def _ddl(table: str, columns: tuple[str, ...] | list[str]) -> str:
    kinds = [
        f"{c} {TYPES.get(c, 'number' if c in NUMBERS or c.startswith('ROWS_') else 'varchar')}"
        for c in columns
    ]
    return f"create table {table} ({', '.join(kinds)})"


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Any]:
    import fakesnow
    import snowflake.connector

    st.cache_data.clear()
    (tmp_path / "fakesnow").mkdir()
    with fakesnow.patch(db_path=str(tmp_path / "fakesnow")):
        connection = snowflake.connector.connect(
            database="AMPLITUDE_CONNECTOR", schema="STATE", paramstyle="qmark"
        )
        cursor = connection.cursor()
        cursor.execute("create schema if not exists data")
        cursor.execute(_ddl(names.RUN_HISTORY, run_history.COLUMNS))
        cursor.execute(_ddl(names.LOAD_HISTORY, load_step.LOAD_HISTORY_COLUMNS))
        cursor.execute(_ddl(names.LEDGER_TABLE, ledger_table.COLUMNS))
        cursor.execute(f"create table {names.SETTINGS} (name varchar, value varchar)")
        cursor.execute(
            f"insert into {names.SETTINGS} values (?, ?), (?, ?), (?, ?)",
            ["stage", names.STAGE, "project", "web", "stage_retention_days", "7"],
        )
        yield connection
    st.cache_data.clear()


def record(connection: Any, step: str, status: str, error: str | None = None) -> None:
    connection.cursor().execute(
        f"insert into {names.RUN_HISTORY} select ?, ?, cast(? as timestamp_ntz), "
        "cast(? as timestamp_ntz), ?, parse_json(?), ?",
        [f"{step}-run", step, "2026-01-27 05:00:00", "2026-01-27 05:01:00", status, "{}", error],
    )


def exported(connection: Any) -> None:
    for hour, key in zip((3, 4, 5), KEYS, strict=True):
        connection.cursor().execute(
            f"insert into {names.LEDGER_TABLE} (hour, status, files, events, bytes, "
            "rejected_lines, attempts, stage_keys, updated_at, run_id, failed_runs) "
            "select cast(? as timestamp_ntz), 'done', 1, 10, 100, 0, 1, ?, "
            "cast('2026-01-27 05:00:00' as timestamp_ntz), 'ingest-run', 0",
            [f"2026-01-26 0{hour}:00:00", json.dumps([key])],
        )


def loaded(connection: Any, failing: str | None = None) -> None:
    for key in KEYS:
        bad = key == failing
        connection.cursor().execute(
            f"insert into {names.LOAD_HISTORY} select ?, ?, 10, ?, ?, "
            "cast('2026-01-27 05:02:00' as timestamp_ntz), 'load-run'",
            [
                f"events_stage/{key}",
                "LOAD_FAILED" if bad else "LOADED",
                0 if bad else 10,
                "Error parsing JSON: bad line" if bad else None,
            ],
        )


def open_app(connection: Any, session: FakesnowSession | None = None) -> AppTest:
    def script(backend, now):  # type: ignore[no-untyped-def]  # run as its own module
        from amplitude_dashboard.native_app import main

        main(backend, now)

    backend = AppBackend(session or FakesnowSession(connection))
    at = AppTest.from_function(script, args=(backend, NOW), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_a_fresh_install_asks_for_approval_and_a_key_pair(account: Any) -> None:
    at = open_app(account)
    warnings = texts(at.warning)
    assert "External access to Amplitude is not approved: approve" in warnings
    assert "No key pair set yet" in warnings
    assert "Schedule: not started." in texts(at.info)
    assert "Nothing exported yet." in texts(at.info)
    assert names.FAILURES_VIEW in texts(at.info)  # no notification integration: own alert
    assert names.FAILURES_VIEW in texts(at.code)


def test_approved_without_a_key_pair_says_only_the_key_pair_is_missing(account: Any) -> None:
    record(account, "specification", "APPROVED")
    at = open_app(account)
    assert "External access to Amplitude: approved." in texts(at.success)
    assert "not approved" not in texts(at.warning)
    assert "No key pair set yet" in texts(at.warning)


def test_a_healthy_app_shows_every_file_loaded_and_its_runs(account: Any) -> None:
    for step, status in (
        ("specification", "APPROVED"),
        ("set_credentials", "SUCCEEDED"),
        ("schedule", "STARTED"),
        ("ingest", "SUCCEEDED"),
        ("load", "SUCCEEDED"),
    ):
        record(account, step, status)
    exported(account)
    loaded(account)
    at = open_app(account)
    assert not at.warning
    successes = texts(at.success)
    for line in (
        "approved.",
        "Key pair: set (not shown).",
        "Schedule: started.",
        "Every file the export wrote is in the raw table.",
        "No failed hours.",
    ):
        assert line in successes
    shown = {m.label: m.value for m in at.metric}
    assert shown["Hours exported"] == "3"
    assert shown["Files written"] == shown["Files loaded"] == "3"
    assert shown["Files not loaded"] == "0"
    assert shown["Hours behind"] == "unknown"
    assert "The app does not build the marts" in texts(at.info)  # freshness: consumer's dbt
    tables = {tuple(d.value.columns): d.value for d in at.dataframe}
    runs = next(v for k, v in tables.items() if "failed tasks" in k)
    assert sorted(runs["tasks"]) == ["ingest", "load"]
    assert list(runs["succeeded"]) == [True, True]


def test_a_failing_load_shows_the_file_and_the_failed_run(account: Any) -> None:
    for step, status in (
        ("specification", "APPROVED"),
        ("set_credentials", "SUCCEEDED"),
        ("schedule", "STARTED"),
    ):
        record(account, step, status)
    record(account, "load", "FAILED", "LoadFailedError: 1 of 3 file(s) did not load")
    exported(account)
    loaded(account, failing=KEYS[1])
    at = open_app(account)
    assert "Written but not loaded" in texts(at.warning)
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Files written"], shown["Files loaded"], shown["Files not loaded"]) == (
        "3",
        "2",
        "1",
    )
    tables = [d.value for d in at.dataframe]
    not_loaded = next(t for t in tables if "stage_key" in t.columns)
    assert list(not_loaded["stage_key"]) == [KEYS[1]]
    assert list(not_loaded["load_status"]) == ["LOAD_FAILED"]
    assert list(not_loaded["first_error_message"]) == ["Error parsing JSON: bad line"]
    runs = next(t for t in tables if "failed tasks" in t.columns)
    assert list(runs["failed tasks"]) == ["load"]
    assert "1 of 3 file(s) did not load" in runs["error"].iloc[0]


def test_the_key_pair_form_never_shows_the_keys_even_when_storing_fails(account: Any) -> None:
    """fakesnow cannot run the CALL (no procedures): the page says it failed, masked."""
    session = FakesnowSession(account)
    at = open_app(account, session)
    inputs = {t.key: t for t in at.text_input}
    from streamlit.proto.TextInput_pb2 import TextInput

    for key in ("api_key", "secret_key"):
        assert inputs[key].proto.type == TextInput.Type.PASSWORD
    inputs["api_key"].input(API_KEY)
    inputs["secret_key"].input(SECRET_KEY)
    at.button[1].click().run()  # the key pair form's submit, after the doctor's button
    assert "The key pair was not stored" in texts(at.error)
    everything = "\n".join(
        texts(kind) for kind in (at.error, at.success, at.warning, at.info, at.markdown, at.code)
    )
    assert API_KEY not in everything
    assert SECRET_KEY not in everything
    # The statement's text carries bind variables only: the keys went as parameters.
    assert credentials.call_statement() in session.queries
    assert not any(API_KEY in q or SECRET_KEY in q for q in session.queries)


def _retention(connection: Any) -> str:
    cursor = connection.cursor()
    cursor.execute(f"select value from {names.SETTINGS} where name = 'stage_retention_days'")
    return str(cursor.fetchone()[0])


def test_a_setting_is_saved_only_when_the_export_and_the_retention_accept_it(
    account: Any,
) -> None:
    at = open_app(account)
    at.selectbox(key="name").set_value("stage_retention_days")
    at.text_input(key="value").input("90")
    at.button[4].click().run()  # doctor, key pair, start, stop, then the settings' Save
    assert "Not saved: stage_retention_days is 90" in texts(at.error)
    assert _retention(account) == "7"
    at.selectbox(key="name").set_value("stage_retention_days")
    at.text_input(key="value").input("30")
    at.button[4].click().run()
    assert "stage_retention_days saved." in texts(at.success)
    assert _retention(account) == "30"


def test_the_doctor_runs_on_demand_and_a_failure_to_run_is_shown(account: Any) -> None:
    """fakesnow has no procedures: the CALL fails, and the page says so in its place."""
    session = FakesnowSession(account)
    at = open_app(account, session)
    assert names.DOCTOR not in session.queries  # not on every page view
    at.button(key="doctor").click().run()
    assert names.DOCTOR in session.queries
    assert "The doctor could not run" in texts(at.error)


def test_files_exported_but_not_loaded_yet_are_not_shown_as_loaded(account: Any) -> None:
    exported(account)
    at = open_app(account)
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Files written"], shown["Files loaded"], shown["Files not loaded"]) == (
        "3",
        "0",
        "3",
    )
    not_loaded = next(d.value for d in at.dataframe if "stage_key" in d.value.columns)
    assert sorted(not_loaded["stage_key"]) == KEYS
    assert set(not_loaded["load_status"]) == {"NOT_LOADED_YET"}

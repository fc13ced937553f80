"""The Python side's names of the app's objects against the setup script that creates them
(app/setup_script.sql, from branch i17-package: the test skips until both are merged), and
the settings rows the setup script inserts against the export's settings parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from amplitude_ingest.in_snowflake.names import validate_object_name
from amplitude_ingest.in_snowflake.native_app import doctor_checks, load_step, names, run_history

SETUP = Path(__file__).resolve().parents[2] / "app" / "setup_script.sql"


@pytest.fixture
def setup_sql() -> str:
    if not SETUP.exists():
        pytest.skip("app/setup_script.sql comes with the app's packaging (branch i17-package)")
    return SETUP.read_text().lower()


@pytest.mark.parametrize(
    "name",
    [
        names.SETTINGS,
        names.LEDGER_TABLE,
        names.RUN_HISTORY,
        names.LOAD_HISTORY,
        names.FORGET_REQUESTS,
        names.STAGE,
        names.FILE_FORMAT,
        names.SECRET,
        names.RAW_TABLE,
        names.FAILURES_VIEW,
        names.EXTERNAL_ACCESS_INTEGRATION,
        *names.TASKS,
    ],
)
def test_every_name_the_handlers_use_is_created_by_the_setup_script(
    setup_sql: str, name: str
) -> None:
    created = rf"create (?:or (?:replace|alter) )?[a-z ]*?(?:if not exists )?{re.escape(name)}\b"
    assert re.search(created, setup_sql), f"the setup script creates no {name}"


def test_the_setup_scripts_settings_rows_are_ones_the_procedures_accept(setup_sql: str) -> None:
    inserted = r"merge into state\.amplitude_ingest_settings.*?\) as source"
    merge = re.search(inserted, setup_sql, re.S)
    assert merge, "the setup script inserts no settings rows"
    rows = dict(re.findall(r"\('(\w+)', '([^']*)'\)", merge.group(0)))
    assert {"stage", "ledger_table", "stage_retention_days"} <= set(rows)
    assert doctor_checks.settings_problem(rows) is None
    assert rows["stage"] == names.STAGE
    assert rows["ledger_table"] == names.LEDGER_TABLE


def _columns(setup_sql: str, table: str) -> set[str]:
    body = re.search(rf"create table if not exists {re.escape(table)} \((.*?)\n\)", setup_sql, re.S)
    assert body, f"the setup script creates no {table}"
    constraints = ("primary", "unique", "foreign", "constraint")
    words = [line.split()[0] for line in body.group(1).splitlines() if line.strip()]
    return {w for w in words if w not in constraints}


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        (names.RUN_HISTORY, run_history.COLUMNS),
        (names.LOAD_HISTORY, load_step.LOAD_HISTORY_COLUMNS),
    ],
)
def test_the_histories_the_procedures_write_have_the_setup_scripts_columns(
    setup_sql: str, table: str, columns: tuple[str, ...]
) -> None:
    assert _columns(setup_sql, table) == {c.lower() for c in columns}


@pytest.mark.parametrize(
    "name",
    [
        names.SETTINGS,
        names.LEDGER_TABLE,
        names.RUN_HISTORY,
        names.LOAD_HISTORY,
        names.FORGET_REQUESTS,
        names.STAGE,
        names.FILE_FORMAT,
        names.SECRET,
        names.RAW_TABLE,
        names.FAILURES_VIEW,
        names.EXTERNAL_ACCESS_INTEGRATION,
        names.TASK_SCHEMA,
        *names.TASKS,
    ],
)
def test_every_name_the_handlers_splice_is_a_snowflake_object_name(name: str) -> None:
    """ALTER TASK, LIST, COPY and SHOW take no bind variables for a name: the app's are
    spliced, so each passes the procedures' one identifier check (in_snowflake.names)."""
    assert validate_object_name(name, "the app's object") == name

"""The Python side's names of the app's objects against the setup script that creates them
(app/setup_script.sql, from branch i17-package: the test skips until both are merged), and
the settings rows the setup script inserts against the export's settings parser."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.names import SECRET_ALIAS, validate_object_name
from amplitude_ingest.in_snowflake.native_app import (
    doctor_checks,
    forget_step,
    load_step,
    names,
    run_history,
)
from amplitude_ingest.in_snowflake.settings_table import ForgetSettings
from tests.native_app import Procedure, handlers, procedures

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


def _settings_rows(setup_sql: str) -> dict[str, str | None]:
    inserted = r"merge into state\.amplitude_ingest_settings.*?\) as source"
    merge = re.search(inserted, setup_sql, re.S)
    assert merge, "the setup script inserts no settings rows"
    return dict(re.findall(r"\('(\w+)', '([^']*)'\)", merge.group(0)))


def test_the_setup_scripts_settings_rows_are_ones_the_procedures_accept(setup_sql: str) -> None:
    rows = _settings_rows(setup_sql)
    assert {"stage", "ledger_table", "stage_retention_days"} <= set(rows)
    assert doctor_checks.settings_problem(rows) is None
    assert rows["stage"] == names.STAGE
    assert rows["ledger_table"] == names.LEDGER_TABLE


def test_forget_reads_the_setup_scripts_rows_as_names_in_the_apps_database(
    setup_sql: str,
) -> None:
    """The rows say schema.object (the app's database is the consumer's choice); the S3
    form's forget splices database.schema.object only, and refused every row as it was."""
    rows = _settings_rows(setup_sql)
    with pytest.raises(ConfigurationError, match="not a fully qualified name"):
        ForgetSettings.from_rows(rows, names.SETTINGS)
    settings = forget_step.forget_settings(rows, "AMPLITUDE_CONNECTOR")
    assert settings.ledger_table == f"AMPLITUDE_CONNECTOR.{names.LEDGER_TABLE}"
    assert settings.forget_requests_table == f"AMPLITUDE_CONNECTOR.{names.FORGET_REQUESTS}"
    assert settings.stage_rewrites_table == "AMPLITUDE_CONNECTOR.state.amplitude_stage_rewrites"
    assert settings.forget_rows_procedure == "AMPLITUDE_CONNECTOR.code.amplitude_forget_rows"
    assert settings.stage == f"AMPLITUDE_CONNECTOR.{names.STAGE}"


def test_forget_refuses_in_the_apps_words_when_a_row_it_needs_is_missing(setup_sql: str) -> None:
    rows = _settings_rows(setup_sql)
    del rows["forget_rows_procedure"]
    with pytest.raises(ConfigurationError, match="this version of the app cannot forget"):
        forget_step.forget_settings(rows, "AMPLITUDE_CONNECTOR")


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


# ---- the setup script's procedures against their handlers ---------------------------------


def _python_procedures() -> dict[str, Procedure]:
    if not SETUP.exists():
        pytest.skip("app/setup_script.sql comes with the app's packaging")
    return {n: p for n, p in procedures().items() if p.language == "python"}


def _argument_names(procedure: Procedure) -> list[str]:
    head = re.match(r"^create or replace procedure [\w.]+\s*\((.*?)\)\s*returns", procedure.text)
    assert head, procedure.name
    return [a.split()[0] for a in head.group(1).split(",") if a.strip()]


def test_every_handler_takes_the_session_and_its_procedures_arguments_by_name() -> None:
    """Snowflake calls the handler with the session, then the arguments in order: a
    handler path, name or parameter list that drifted from the setup script fails here."""
    for name, procedure in _python_procedures().items():
        module, function = handlers()[name].rsplit(".", 1)
        handler = getattr(importlib.import_module(module), function)
        parameters = list(inspect.signature(handler).parameters.values())
        assert parameters[0].name == "session", name
        taken = [p.name for p in parameters[1:] if p.kind is not p.VAR_POSITIONAL]
        assert taken == _argument_names(procedure), name


def test_the_procedures_that_read_the_key_pair_bind_it_under_the_alias_the_python_reads() -> None:
    """Only the export and the doctor's probe read the secret, under SECRET_ALIAS; a
    procedure that only calls one of them (start_schedule calls the doctor) holds neither
    the secret nor the integration: each procedure runs with its own."""
    python = _python_procedures()
    holding = {n for n, p in python.items() if p.option("secrets")}
    assert holding == {"code.ingest_amplitude", "code.amplitude_doctor"}
    for name in holding:
        assert python[name].option("secrets") == (f"('{SECRET_ALIAS}' = {names.SECRET})"), name
        assert python[name].option("external_access_integrations") == (
            f"({names.EXTERNAL_ACCESS_INTEGRATION})"
        ), name
    assert {n for n, p in python.items() if p.option("external_access_integrations")} == holding

"""The privilege replay (tests/privilege_replay.py, sql/privileges.yml) for the Native App.

* The setup script runs as the app with only what it owns and the global privileges its
  manifest asks for; then its tasks' bodies and its SQL procedures' bodies, as the app.
* What the app's Python procedures run (sql/privileges.yml, app_runtime), as the app.
* What each application role lets a consumer role do: app_reader reads the raw table,
  the ledger, the histories and the health views, and changes nothing; app_admin runs
  the procedures and changes settings.
* Without a privilege of the manifest, the statement that needs it is a finding."""

from __future__ import annotations

import pytest

from tests.privilege_replay import (
    APP_DATABASE,
    APP_ROLE,
    APP_VARIABLES,
    CONSUMER_WAREHOUSE,
    Account,
    Statement,
    app_account,
    app_procedure_statements,
    app_runtime_statements,
    app_setup_statements,
    grant_application_roles,
    load_rules,
    procedure_runtime,
    task_runtime,
)
from tests.sql_scripts import render

RULES = load_rules()
APP_WAREHOUSE = "AMPLITUDE_CONNECTOR_WH"
READER = "AMPLITUDE_DBT"  # a consumer role granted app_reader


def installed(privileges: list[str] | None = None) -> Account:
    account = app_account(RULES, privileges)
    for statement in app_setup_statements():
        account.run(statement)
    return account


def test_the_setup_script_runs_as_the_app_with_the_manifests_privileges_only() -> None:
    account = installed()
    assert [str(f) for f in account.findings] == []
    # what it made, and who owns it: the app
    for kind, name in [
        ("schema", "CODE"),
        ("table", "STATE.AMPLITUDE_INGEST_SETTINGS"),
        ("table", "DATA.AMPLITUDE_EVENTS_RAW"),
        ("view", "DATA.AMPLITUDE_FAILURES"),
        ("stage", "STATE.EVENTS_STAGE"),
        ("secret", "STATE.AMPLITUDE_API_CREDENTIALS"),
        ("procedure", "CODE.INGEST_AMPLITUDE"),
        ("task", "STATE.AMPLITUDE_INGEST_ROOT"),
        ("streamlit", "CODE.AMPLITUDE_APP"),
    ]:
        obj = account.objects[(kind, f"{APP_DATABASE}.{name}")]
        assert obj.owner == APP_ROLE
    assert account.objects[("integration", "AMPLITUDE_EXPORT_ACCESS")].owner == APP_ROLE
    assert account.objects[("schema", f"{APP_DATABASE}.CODE")].props["versioned"]


def test_tasks_procedures_and_what_they_run_need_nothing_more() -> None:
    account = installed()
    runtime = task_runtime(account) + procedure_runtime(account, APP_WAREHOUSE)
    assert {s.source for s in runtime} >= {
        f"task {APP_DATABASE}.STATE.AMPLITUDE_INGEST_ROOT",
        f"task {APP_DATABASE}.STATE.AMPLITUDE_FINALIZE",
        f"procedure {APP_DATABASE}.CODE.AMPLITUDE_APPLY_REGION",
    }
    grant_application_roles(account)
    for statement in runtime + app_runtime_statements(RULES):
        account.run(statement)
    assert [str(f) for f in account.findings] == []


def test_what_the_apps_procedures_send_runs_as_the_app() -> None:
    """The statements the handlers build (once helper i17-procs' module is merged)."""
    sent = app_procedure_statements()
    if sent is None:
        pytest.skip("amplitude_ingest.in_snowflake.native_app.statements: not on this branch yet")
    account = installed()
    for statement in sent:
        account.run(statement)
    assert [str(f) for f in account.findings] == []


@pytest.mark.parametrize(
    ("dropped", "statement"),
    [
        ("CREATE EXTERNAL ACCESS INTEGRATION", "create external access integration"),
        ("CREATE WAREHOUSE", "create warehouse"),
    ],
)
def test_without_a_manifest_privilege_the_setup_script_fails(dropped: str, statement: str) -> None:
    asked = ["EXECUTE TASK", "CREATE WAREHOUSE", "CREATE EXTERNAL ACCESS INTEGRATION"]
    account = installed([p for p in asked if p != dropped])
    assert account.findings
    assert all(f.statement.lower().startswith(statement) for f in account.findings)
    assert all(dropped in f.problem for f in account.findings)


def test_without_execute_task_the_schedule_cannot_start() -> None:
    account = installed(["CREATE WAREHOUSE", "CREATE EXTERNAL ACCESS INTEGRATION"])
    assert account.findings == []
    start = Statement(
        "amplitude_start_schedule()",
        f"alter task {APP_DATABASE}.state.amplitude_ingest_root resume",
        APP_ROLE,
        (APP_DATABASE, "PUBLIC"),
    )
    account.run(start)
    (finding,) = account.findings
    assert "EXECUTE TASK" in finding.problem


def as_reader(account: Account, sql: str) -> list[str]:
    before = len(account.findings)
    context = (APP_DATABASE, "PUBLIC")
    account.run(Statement("reader", f"use warehouse {CONSUMER_WAREHOUSE}", READER, context))
    account.run(Statement("reader", render(sql, APP_VARIABLES), READER, context))
    return [f.problem for f in account.findings[before:]]


@pytest.mark.parametrize(
    "sql",
    [
        # settings
        "select * from <% app %>.state.amplitude_ingest_settings",
        "update <% app %>.state.amplitude_ingest_settings set value = '1' where name = 'lag_hours'",
        "call <% app %>.code.amplitude_set_region('eu')",
        # credentials
        "call <% app %>.code.amplitude_set_credentials('k', 's')",
        "alter secret <% app %>.state.amplitude_api_credentials set username = 'k' password = 's'",
        # the schedule
        "call <% app %>.code.amplitude_start_schedule()",
        "call <% app %>.code.amplitude_stop_schedule()",
        "alter task <% app %>.state.amplitude_ingest_root resume",
        "alter task <% app %>.state.amplitude_ingest_root suspend",
        # the raw rows and the export
        "delete from <% app %>.data.amplitude_events_raw",
        "call <% app %>.code.amplitude_forget('user_id', 'u')",
        "call <% app %>.code.ingest_amplitude()",
    ],
)
def test_a_reader_cannot_change_settings_credentials_or_the_schedule(sql: str) -> None:
    account = installed()
    grant_application_roles(account)
    assert as_reader(account, "select * from <% app %>.data.amplitude_events_raw") == []
    problems = as_reader(account, sql)
    assert problems, f"app_reader could run: {sql}"
    assert all(READER in p for p in problems)

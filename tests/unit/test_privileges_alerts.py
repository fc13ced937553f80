"""The privilege replay for issue 16, items 7 and 14: readers read the health views from a
snapshot, not COPY_HISTORY; the alert channels (sql/76, sql/77, `make deploy-alerts`), the
ALERT of sql/75 and the sends of amplitude_send_alerts() each run as a role that holds
what sql/privileges.yml says they need. See tests/privilege_replay.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplitude_ingest.in_snowflake import alerts
from tests.privilege_replay import (
    Account,
    Statement,
    alert_settings_rows,
    alert_statements,
    dashboard_statements,
    deploy_statements,
    makefile_list,
    normalize,
    replay,
    runtime_statements,
    script_statements,
    task_runtime,
    unused_grants,
)
from tests.sql_scripts import SQL_DIR, VARIABLES
from tests.unit.test_privileges import RULES, _copy_with, dashboard_queries, full_replay
from tests.unit.test_privileges import module_statements as procedure_statements

PIPELINE = VARIABLES["pipeline_role"]
CHANNELS = {"email": "AMPLITUDE_ALERT_EMAIL", "webhook": "AMPLITUDE_ALERT_WEBHOOK"}
CONTEXT = (VARIABLES["database"].upper(), "INGEST")


def doctor_alert_statements() -> list[Statement]:
    """The doctor's alert queries (alerts.doctor_queries), as the doctor (pipeline role)
    runs them, with the email channel set as sql/76 sets it."""
    rows = {**alert_settings_rows(), "email_integration": CHANNELS["email"]}
    settings = alerts.AlertSettings.from_rows(rows)
    # The doctor runs on its caller's warehouse (`make doctor` passes --warehouse).
    warehouse = f"use warehouse {VARIABLES['warehouse']}"
    return [Statement("amplitude_doctor()", warehouse, PIPELINE, CONTEXT)] + [
        Statement("amplitude_doctor()", normalize(q), PIPELINE, CONTEXT)
        for q in alerts.doctor_queries(
            settings, f"{VARIABLES['database']}.INGEST.AMPLITUDE_ALERT_SETTINGS"
        )
    ]


def replay_with_channels(text_overrides: dict[str, str] | None = None) -> Account:
    """The deploy, then `make deploy-alerts` with both channels, then what runs: the task
    bodies and the alert (as their owner), the procedures' queries and both sends."""
    sql_dir: Path = _copy_with(SQL_DIR, text_overrides) if text_overrides else SQL_DIR
    statements = deploy_statements(
        VARIABLES,
        sql_dir,
        doctor=procedure_statements(),
        dashboard=dashboard_statements(VARIABLES, sql_dir),
    )
    for name in makefile_list("ALERT_SQL"):
        statements += script_statements(sql_dir / f"{name}.sql", VARIABLES)
    account = replay(statements)
    runtime = (
        task_runtime(account)
        + runtime_statements(RULES, VARIABLES)
        + dashboard_queries()
        + alert_statements(sends=CHANNELS)
        + doctor_alert_statements()
    )
    for statement in runtime:
        account.run(statement)
    return account


def test_the_alert_channels_the_alert_and_the_sends_replay_without_a_finding() -> None:
    account = replay_with_channels()
    assert account.findings == [], "\n".join(map(str, account.findings))
    owner = {(o.kind, o.name.split(".")[-1]): o.owner for o in account.objects.values()}
    # Integrations are ACCOUNTADMIN's; the alert runs as the pipeline role, its owner.
    assert owner[("integration", "AMPLITUDE_ALERT_EMAIL")] == "ACCOUNTADMIN"
    assert owner[("integration", "AMPLITUDE_ALERT_WEBHOOK")] == "ACCOUNTADMIN"
    assert owner[("secret", "AMPLITUDE_ALERT_WEBHOOK_SECRET")] == "AMPLITUDE_ADMIN"
    assert owner[("alert", "AMPLITUDE_NO_SUCCESSFUL_RUN")] == PIPELINE
    # The alert's condition and action were replayed as its owner.
    sources = {s.source for s in task_runtime(account)}
    assert "alert AMPLITUDE.INGEST.AMPLITUDE_NO_SUCCESSFUL_RUN" in sources
    # Every grant to the pipeline role, the channels' included, is used by a statement.
    assert unused_grants(account, [PIPELINE]) == []


def test_without_channels_every_alert_grant_is_still_used() -> None:
    """The deploy alone (no `make deploy-alerts`): the state tables, the alert."""
    account = full_replay()
    assert account.findings == []
    assert unused_grants(account, [PIPELINE]) == []


MUTATIONS = [
    # Issue 16, item 7: a health view over COPY_HISTORY may show readers nothing.
    pytest.param(
        "85_health_views.sql",
        "    from <% database %>.ingest.amplitude_load_history\n    where file_name is null",
        "    from table(information_schema.copy_history(table_name => "
        "'<% database %>.RAW.AMPLITUDE_EVENTS_RAW'))\n    where file_name is null",
        "copy_history() in a view: whether it answers a reader through the view",
        id="health-view-over-copy-history",
    ),
    pytest.param(
        "50_ledger_and_settings.sql",
        "grant insert, delete on table amplitude_load_history to role <% pipeline_role %>;",
        "grant insert on table amplitude_load_history to role <% pipeline_role %>;",
        "delete: AMPLITUDE_PIPELINE lacks DELETE on table AMPLITUDE.INGEST.AMPLITUDE_LOAD_HISTORY",
        id="finalizer-snapshot-without-delete",
    ),
    # Issue 16, item 14.
    pytest.param(
        "76_alert_email.sql",
        "grant usage on integration amplitude_alert_email to role <% pipeline_role %>;",
        "",
        "system$send_email(): AMPLITUDE_PIPELINE lacks OWNERSHIP or USAGE on integration "
        "AMPLITUDE_ALERT_EMAIL",
        id="email-without-usage",
    ),
    pytest.param(
        "77_alert_webhook.sql",
        "grant read on secret <% database %>.ingest.amplitude_alert_webhook_secret "
        "to role <% pipeline_role %>;",
        "",
        "system$send_snowflake_notification(): AMPLITUDE_PIPELINE lacks OWNERSHIP or READ on "
        "secret AMPLITUDE.INGEST.AMPLITUDE_ALERT_WEBHOOK_SECRET",
        id="webhook-without-read-on-its-secret",
    ),
    pytest.param(
        "77_alert_webhook.sql",
        "use role accountadmin;\n\n-- Creating it",
        "use role <% admin_role %>;\n\n-- Creating it",
        "create notification integration: AMPLITUDE_ADMIN lacks CREATE INTEGRATION",
        id="webhook-integration-as-admin",
    ),
    pytest.param(
        "75_alerts.sql",
        "grant execute alert on account to role <% pipeline_role %>;",
        "",
        "create alert: AMPLITUDE_PIPELINE lacks EXECUTE ALERT on the account",
        id="alert-without-execute-alert",
    ),
    pytest.param(
        "75_alerts.sql",
        "grant select, insert on table amplitude_alerts_sent to role <% pipeline_role %>;",
        "grant select on table amplitude_alerts_sent to role <% pipeline_role %>;",
        "insert: AMPLITUDE_PIPELINE lacks INSERT on table AMPLITUDE.INGEST.AMPLITUDE_ALERTS_SENT",
        id="alerts-sent-without-insert",
    ),
]


@pytest.mark.parametrize(("script", "old", "new", "expected"), MUTATIONS)
def test_the_replay_names_what_a_missing_grant_breaks(
    script: str, old: str, new: str, expected: str
) -> None:
    text = (SQL_DIR / script).read_text()
    assert old in text
    account = replay_with_channels(text_overrides={script: text.replace(old, new)})
    problems = [f.problem for f in account.findings]
    assert any(expected in p for p in problems), "\n".join(problems)

"""The privilege replay: every statement of the deploy, in deploy order, run by a role
that holds what sql/privileges.yml says it needs; and what runs later (task bodies, the
procedures' queries, dbt, readers) too. See tests/privilege_replay.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from amplitude_ingest.in_snowflake import doctor_sql, wait_step
from amplitude_ingest.in_snowflake.settings_table import DoctorSettings, WaitSettings
from amplitude_queries.sql import QUERIES
from tests.privilege_replay import (
    Account,
    Statement,
    alert_statements,
    dashboard_statements,
    deploy_statements,
    load_rules,
    normalize,
    procedure_runtime,
    replay,
    runtime_statements,
    task_runtime,
    unused_grants,
)
from tests.sql_scripts import SQL_DIR, VARIABLES, render

FIRST_DRAFT = Path(__file__).resolve().parents[1] / "fixtures" / "sql_first_draft"
RULES = load_rules()
PIPELINE = VARIABLES["pipeline_role"]
READER = VARIABLES["reader_role"]
DASHBOARD = VARIABLES["dashboard_role"]
CONTEXT = (VARIABLES["database"], "INGEST")


def settings_rows() -> dict[str, str]:
    """The settings table as sql/50 writes it, read back from the script."""
    text = render((SQL_DIR / "50_ledger_and_settings.sql").read_text())
    return dict(re.findall(r"\('(\w+)', '([^']*)'\)", text))


def module_statements() -> list[Statement]:
    """The wait step's and the doctor's queries, as the procedures (pipeline role) run them."""
    rows = settings_rows()
    names = WaitSettings.from_rows(rows)
    settings_table = f"{VARIABLES['database']}.INGEST.AMPLITUDE_INGEST_SETTINGS"
    # A procedure runs on its caller's warehouse: the task's, or `make doctor`'s --warehouse.
    warehouse = f"use warehouse {VARIABLES['warehouse']}"
    out = [Statement("amplitude_wait_for_loads()", warehouse, PIPELINE, CONTEXT)]
    out += [
        Statement("amplitude_wait_for_loads()", normalize(q), PIPELINE, CONTEXT)
        for q in wait_step.queries(names, settings_table)
    ]
    out += [Statement("amplitude_doctor()", warehouse, PIPELINE, CONTEXT)]
    out += [
        Statement("amplitude_doctor()", normalize(q), PIPELINE, CONTEXT)
        for q in doctor_sql.queries(DoctorSettings.from_rows(rows))
    ]
    out += alert_statements()
    return out


def dashboard_queries() -> list[Statement]:
    """Every query of the dashboard, as the Streamlit app runs it: as its owner."""
    owner = DASHBOARD
    context = (VARIABLES["database"].upper(), "DASHBOARD")
    app = "the dashboard (Streamlit in Snowflake)"
    out = [Statement(app, f"use warehouse {VARIABLES['warehouse']}", owner, context)]
    out += [Statement(app, normalize(q.sql), owner, context) for q in QUERIES.values()]
    return out


APP = f"{VARIABLES['database']}.DASHBOARD.AMPLITUDE_DASHBOARD"


def open_dashboard(account: Account, role: str) -> bool:
    """Opening a Streamlit app: USAGE on it, and on its database and schema (Privileges
    required to create and use a Streamlit app). The app then runs as its owner."""
    app = account.get("streamlit", APP)
    if app is None:
        return False
    database, schema, _ = app.name.split(".")
    containers = [account.get("database", database), account.get("schema", f"{database}.{schema}")]
    return all(c is not None and account.has(role, c, ["USAGE"]) for c in containers) and (
        account.has(role, app, ["USAGE"])
    )


def full_replay(sql_dir: Path = SQL_DIR, text_overrides: dict[str, str] | None = None) -> Account:
    if text_overrides:
        sql_dir = _copy_with(sql_dir, text_overrides)
    doctor_at_deploy = module_statements()
    account = replay(
        deploy_statements(
            VARIABLES,
            sql_dir,
            doctor=doctor_at_deploy,
            dashboard=dashboard_statements(VARIABLES, sql_dir),
        )
    )
    runtime = (
        task_runtime(account)
        + procedure_runtime(account, VARIABLES["warehouse"])
        + runtime_statements(RULES, VARIABLES)
        + dashboard_queries()
    )
    for statement in runtime:
        account.run(statement)
    if not open_dashboard(account, READER):
        account.fail(
            Statement("a reader", f"open streamlit {APP}", READER),
            f"{READER} cannot open the dashboard (USAGE on it, its database and its schema)",
            "https://docs.snowflake.com/en/developer-guide/streamlit/object-management/privileges",
        )
    return account


def _copy_with(sql_dir: Path, overrides: dict[str, str]) -> Path:
    import tempfile

    target = Path(tempfile.mkdtemp(prefix="sql-"))
    for path in sql_dir.glob("*.sql"):
        (target / path.name).write_text(overrides.get(path.name, path.read_text()))
    return target


def test_the_deploy_and_what_runs_after_it_replay_without_a_finding() -> None:
    account = full_replay()
    assert account.findings == [], "\n".join(map(str, account.findings))
    # The replay really ran: the objects of every script exist, owned as designed.
    owner = {(o.kind, o.name.split(".")[-1]): o.owner for o in account.objects.values()}
    assert owner[("pipe", "AMPLITUDE_EVENTS_PIPE")] == "AMPLITUDE_ADMIN"
    assert owner[("task", "AMPLITUDE_PIPELINE_ROOT")] == PIPELINE
    assert owner[("procedure", "AMPLITUDE_DOCTOR")] == PIPELINE
    assert owner[("view", "AMPLITUDE_PIPELINE_HEALTH")] == "AMPLITUDE_ADMIN"
    assert owner[("integration", "AMPLITUDE_EXPORT_ACCESS")] == "ACCOUNTADMIN"
    # The dashboard is its own role's: it runs with the reader's rights and no more (the
    # reader role is granted to it), and readers may open it, nothing else.
    assert owner[("streamlit", "AMPLITUDE_DASHBOARD")] == DASHBOARD
    app = account.get("streamlit", APP)
    assert app is not None
    assert app.grants == {READER: {"USAGE"}}
    assert DASHBOARD not in account.closure(READER)
    # dbt's mart, created at run time, got the readers' future grant.
    mart = account.get("table", "AMPLITUDE.ANALYTICS.AMPLITUDE__REPEAT_CLICKS")
    assert mart is not None
    assert mart.grants == {"AMPLITUDE_READER": {"SELECT"}}


def test_every_grant_to_the_pipeline_and_reader_roles_is_used() -> None:
    account = full_replay()
    assert unused_grants(account, [PIPELINE, READER, DASHBOARD]) == []


def test_the_first_draft_is_caught() -> None:
    """The first version's scripts, in its deploy order: the blockers of issue #10."""
    variables = {**VARIABLES}
    statements = deploy_statements(
        variables,
        FIRST_DRAFT,
        setup=[
            "00_roles",
            "10_warehouse_database",
            "20_external_access",
            "30_storage",
            "40_raw_table_and_pipe",
            "50_ledger_and_settings",
            "60_pipe_wait",
        ],
        graph=["70_tasks", "85_health_view"],
        resume=["80_resume_tasks"],
        code=[
            s
            for s in deploy_statements(variables, setup=[], graph=[], resume=[])
            if "procedure" not in s.text or "ingest_amplitude" in s.text
        ],
    )
    account = replay(statements)
    reader = [
        Statement("a reader", f"use warehouse {VARIABLES['warehouse']}", READER, CONTEXT),
        Statement(
            "a reader", "select * from amplitude.ingest.amplitude_pipeline_health", READER, CONTEXT
        ),
    ]
    for statement in [*task_runtime(account), *reader]:
        account.run(statement)
    found = sorted((f.source, f.problem.split(":")[0], f.statement[:40]) for f in account.findings)
    assert found == [
        ("10_warehouse_database.sql", "grant future", "grant select on future tables in schema "),
        ("10_warehouse_database.sql", "grant future", "grant select on future views in schema a"),
        (
            "30_storage.sql",
            "READ cannot be granted on external stage AMPLITUDE.INGEST.AMPLITUDE_STAGE (it takes USAGE)",  # noqa: E501
            "grant usage, read, write on stage amplit",
        ),
        (
            "30_storage.sql",
            "WRITE cannot be granted on external stage AMPLITUDE.INGEST.AMPLITUDE_STAGE (it takes USAGE)",  # noqa: E501
            "grant usage, read, write on stage amplit",
        ),
        ("30_storage.sql", "create stage", "create stage if not exists amplitude_sta"),
        # Issue 16 item 1, there from the start: queries with no warehouse in the session.
        (
            "50_ledger_and_settings.sql",
            "current warehouse",
            "merge into amplitude_ingest_settings as ",
        ),
        ("80_resume_tasks.sql", "current warehouse", "select system$task_dependents_enable('AM"),
        (
            "85_health_view.sql",
            "copy_history() in a view",
            "create or replace view amplitude_pipelin",
        ),
        ("85_health_view.sql", "create view", "create or replace view amplitude_pipelin"),
        ("a reader", "select", "select * from amplitude.ingest.amplitude"),
    ], "\n".join(map(str, account.findings))
    problems = {f.problem for f in account.findings}
    assert (
        "grant future: AMPLITUDE_ADMIN lacks MANAGE GRANTS on the account and schema "
        "AMPLITUDE.ANALYTICS is not a managed access schema" in problems
    )
    assert (
        "create view: AMPLITUDE_PIPELINE lacks CREATE VIEW on schema AMPLITUDE.INGEST" in problems
    )
    assert any("lacks USAGE on schema AMPLITUDE.INGEST" in p for p in problems)
    # And more than least privilege: the grants issue #10 named, never used by anything.
    unused = unused_grants(account, [PIPELINE])
    for excess in (
        "USAGE on network rule AMPLITUDE.INGEST.AMPLITUDE_EXPORT_API to AMPLITUDE_PIPELINE",
        "USAGE on file format AMPLITUDE.INGEST.AMPLITUDE_JSON to AMPLITUDE_PIPELINE",
        "INSERT on table AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW to AMPLITUDE_PIPELINE",
    ):
        assert excess in unused


BEFORE_ISSUE_16 = FIRST_DRAFT.parent / "sql_before_issue16"


def test_the_scripts_before_issue_16_are_caught_querying_without_a_warehouse() -> None:
    """sql/ as it was before issue 16 (pinned in tests/fixtures/sql_before_issue16): sql/20
    reads RESULT_SCAN, sql/50 runs MERGE, UPDATE and DELETE, sql/80 a SELECT, none with a
    warehouse in its session; the replay names each (USE WAREHOUSE)."""
    statements = deploy_statements(
        VARIABLES,
        BEFORE_ISSUE_16,
        setup=[
            "00_roles",
            "10_warehouse_database",
            "20_external_access",
            "30_storage",
            "40_raw_table_and_pipe",
            "50_ledger_and_settings",
            "60_retired_objects",
        ],
        graph=["70_tasks", "85_health_views"],
        resume=["80_resume_tasks"],
        code=[],
    )
    account = replay(statements)
    found = [(f.source, f.problem.split(":")[0], f.statement[:30]) for f in account.findings]
    assert found == [
        ("20_external_access.sql", "current warehouse", "select count(*) from table(res"),
        # Issue 16 item 10: FILE_FORMAT = name is not CREATE STAGE's documented form.
        ("30_storage.sql", "create stage", "create stage if not exists amp"),
        ("50_ledger_and_settings.sql", "current warehouse", "merge into amplitude_ingest_se"),
        ("50_ledger_and_settings.sql", "current warehouse", "update amplitude_ingest_settin"),
        ("50_ledger_and_settings.sql", "current warehouse", "delete from amplitude_ingest_s"),
        ("50_ledger_and_settings.sql", "current warehouse", "merge into amplitude_ingest_se"),
        # Issue 16 item 7: the health views called COPY_HISTORY.
        ("85_health_views.sql", "copy_history() in a view", "create or replace view amplitu"),
        ("85_health_views.sql", "copy_history() in a view", "create or replace view amplitu"),
        ("80_resume_tasks.sql", "current warehouse", "select system$task_dependents_"),
    ], "\n".join(map(str, account.findings))


def test_before_issue_16_a_reader_could_create_streamlits_and_the_pipeline_role_stages() -> None:
    """What the tests of items 4 and 5 below catch, shown on the scripts before issue 16:
    there the reader held CREATE STREAMLIT on DASHBOARD and the pipeline role USAGE on the
    storage integration, so both statements replayed without a finding."""
    statements = deploy_statements(
        VARIABLES,
        BEFORE_ISSUE_16,
        setup=["00_roles", "10_warehouse_database", "20_external_access", "30_storage"],
        graph=["90_dashboard"],
        resume=[],
        code=[],
    )
    account = replay(statements)
    account.findings.clear()  # the scripts' own (item 1, 10): see the test above
    dashboard = (VARIABLES["database"].upper(), "DASHBOARD")
    for role, context, text in (
        (READER, dashboard, f"create or replace streamlit {APP} main_file = 'streamlit_app.py'"),
        (
            PIPELINE,
            CONTEXT,
            f"create stage if not exists ingest.elsewhere url = '{VARIABLES['s3_url']}' "
            "storage_integration = amplitude_s3",
        ),
    ):
        account.run(Statement(role, text, role, context))
    assert account.findings == []


def test_a_role_that_may_not_use_the_current_warehouse_cannot_query() -> None:
    """USE WAREHOUSE by one role, then a query by a role without USAGE on it."""
    account = full_replay()
    account.run(Statement("s", f"use role {VARIABLES['admin_role']}"))
    account.run(Statement("s", f"use warehouse {VARIABLES['warehouse']}"))
    account.run(Statement("s", "use role useradmin"))
    account.run(Statement("s", "select 1"))
    assert [f.problem for f in account.findings] == [
        "current warehouse: USERADMIN lacks OWNERSHIP or USAGE on warehouse AMPLITUDE_WH"
    ]


# Each mutation removes or moves one statement the deploy depends on; the replay must
# name the statement that then cannot run.
MUTATIONS = [
    pytest.param(
        "10_warehouse_database.sql",
        "grant execute task on account to role <% pipeline_role %>;",
        "",
        "resume task: AMPLITUDE_PIPELINE lacks EXECUTE TASK on the account",
        id="no-execute-task",
    ),
    pytest.param(
        "10_warehouse_database.sql",
        "use role securityadmin;\ngrant select on future",
        "grant select on future",
        "grant future: AMPLITUDE_ADMIN lacks MANAGE GRANTS",
        id="future-grants-as-admin",
    ),
    pytest.param(
        "20_external_access.sql",
        "grant read on secret <% database %>.ingest.amplitude_api_credentials to role <% pipeline_role %>;",  # noqa: E501
        "",
        "create python procedure: AMPLITUDE_PIPELINE lacks READ on secret",
        id="no-read-on-secret",
    ),
    pytest.param(
        "40_raw_table_and_pipe.sql",
        "grant monitor on pipe ingest.amplitude_events_pipe to role <% pipeline_role %>;",
        "",
        "system$pipe_status(): AMPLITUDE_PIPELINE lacks OWNERSHIP or MONITOR on pipe",
        id="no-monitor-on-pipe",
    ),
    pytest.param(
        "30_storage.sql",
        "grant usage on stage amplitude_stage to role <% pipeline_role %>;",
        "grant usage, read, write on stage amplitude_stage to role <% pipeline_role %>;",
        "READ cannot be granted on external stage",
        id="read-write-on-external-stage",
    ),
    pytest.param(
        "90_dashboard.sql",
        "grant select on table ingest.amplitude_pipeline_runs to role <% reader_role %>;",
        "",
        "select: AMPLITUDE_DASHBOARD lacks SELECT on table "
        "AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_RUNS",
        id="dashboard-without-run-history",
    ),
    pytest.param(
        "90_dashboard.sql",
        "grant usage, create streamlit on schema dashboard to role <% dashboard_role %>;",
        "grant usage on schema dashboard to role <% dashboard_role %>;",
        "create streamlit: AMPLITUDE_DASHBOARD lacks CREATE STREAMLIT on schema "
        "AMPLITUDE.DASHBOARD",
        id="no-create-streamlit",
    ),
    pytest.param(
        "91_dashboard_access.sql",
        "grant usage on streamlit <% database %>.dashboard.amplitude_dashboard to role "
        "<% reader_role %>;",
        "",
        "AMPLITUDE_READER cannot open the dashboard",
        id="reader-without-usage-on-the-app",
    ),
    pytest.param(
        "10_warehouse_database.sql",
        "grant usage on schema ingest to role <% reader_role %>;",
        "",
        "AMPLITUDE_READER lacks USAGE on schema AMPLITUDE.INGEST",
        id="reader-without-ingest",
    ),
    pytest.param(
        "50_ledger_and_settings.sql",
        "grant select, insert, update on table amplitude_pipeline_runs to role <% pipeline_role %>;",  # noqa: E501
        "grant select, insert on table amplitude_pipeline_runs to role <% pipeline_role %>;",
        "merge: AMPLITUDE_PIPELINE lacks UPDATE on table AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_RUNS",
        id="finalizer-merge-without-update",
    ),
]


@pytest.mark.parametrize(("script", "old", "new", "expected"), MUTATIONS)
def test_the_replay_names_what_a_missing_grant_breaks(
    script: str, old: str, new: str, expected: str
) -> None:
    text = (SQL_DIR / script).read_text()
    assert old in text
    account = full_replay(text_overrides={script: text.replace(old, new)})
    problems = [f.problem for f in account.findings]
    assert any(expected in p for p in problems), "\n".join(problems)


@pytest.mark.parametrize(
    "statement",
    [
        f"create or replace streamlit {APP} main_file = 'streamlit_app.py'",
        f"create streamlit if not exists {APP}_COPY main_file = 'streamlit_app.py'",
        f"drop streamlit if exists {APP}",
    ],
)
def test_a_reader_cannot_create_or_replace_the_dashboard(statement: str) -> None:
    """The app runs with its owner's rights and its owner may edit it (Privileges required
    to create and use a Streamlit app): a reader holds USAGE on it and nothing that writes."""
    account = full_replay()
    context = (VARIABLES["database"].upper(), "DASHBOARD")
    account.run(Statement("a reader", statement, READER, context))
    (finding,) = account.findings
    assert finding.role == READER
    assert (
        "lacks CREATE STREAMLIT on schema AMPLITUDE.DASHBOARD" in finding.problem
        or "lacks OWNERSHIP on streamlit" in finding.problem
    ), finding.problem


BUCKET = VARIABLES["s3_url"]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            f"create stage if not exists ingest.elsewhere url = '{BUCKET}' "
            "storage_integration = amplitude_s3",
            "create stage: AMPLITUDE_PIPELINE lacks USAGE on integration AMPLITUDE_S3",
        ),
        (
            "describe integration amplitude_s3",
            "describe: AMPLITUDE_PIPELINE lacks OWNERSHIP or USAGE on integration AMPLITUDE_S3",
        ),
        (
            f"select system$validate_storage_integration('AMPLITUDE_S3', '{BUCKET}', 'f', 'all')",
            "system$validate_storage_integration(): AMPLITUDE_PIPELINE lacks USAGE on "
            "integration AMPLITUDE_S3",
        ),
    ],
)
def test_the_pipeline_role_cannot_point_a_stage_at_the_bucket(statement: str, problem: str) -> None:
    """Issue 16 item 5: the pipeline role holds CREATE STAGE on INGEST (the CLI's code
    stage) but no USAGE on the storage integration, so it can create no stage over the
    bucket (CREATE STAGE needs USAGE on the integration it names); the doctor's
    integration checks run in the admin's owner's-rights procedure instead."""
    account = full_replay()
    warehouse = f"use warehouse {VARIABLES['warehouse']}"
    for text in (warehouse, statement):
        account.run(Statement("the pipeline role", text, PIPELINE, CONTEXT))
    assert [f.problem for f in account.findings] == [problem]


def test_the_doctors_integration_checks_run_as_the_admin_role() -> None:
    """What `call amplitude_check_storage_integration()` runs, replayed from the body sql/30
    created, as its owner; the pipeline role may only call it."""
    account = full_replay()
    procedure = account.get("procedure", "AMPLITUDE.INGEST.AMPLITUDE_CHECK_STORAGE_INTEGRATION")
    assert procedure is not None
    assert procedure.owner == VARIABLES["admin_role"]
    assert procedure.grants == {PIPELINE: {"USAGE"}}
    body = [
        (s.role, s.text.split("(")[0])
        for s in procedure_runtime(account, VARIABLES["warehouse"])
        if s.source == f"procedure {procedure.name}"
    ]
    assert body == [
        ("AMPLITUDE_ADMIN", "use warehouse AMPLITUDE_WH"),
        ("AMPLITUDE_ADMIN", "select system$validate_storage_integration"),
        ("AMPLITUDE_ADMIN", "describe integration amplitude_s3"),
        ("AMPLITUDE_ADMIN", "select object_agg"),
    ]
    integration = account.get("integration", "AMPLITUDE_S3")
    assert integration is not None
    assert set(integration.grants) == {VARIABLES["admin_role"]}


def test_an_unknown_statement_is_a_finding() -> None:
    account = Account(RULES)
    account.run(Statement("x.sql", "alter account set something = true"))
    assert [f.problem for f in account.findings] == [
        "no row of sql/privileges.yml covers this statement"
    ]


def test_every_row_names_a_snowflake_page_and_how_it_was_checked() -> None:
    rows = [*RULES["statements"], *RULES["functions"], RULES["grantable"], RULES["system_roles"]]
    for row in rows:
        assert row["doc"].startswith("https://docs.snowflake.com/en/"), row
        assert row["evidence"] in {"seen", "brief", "page"}, row
    kinds = [row["kind"] for row in RULES["statements"]]
    assert len(kinds) == len(set(kinds))

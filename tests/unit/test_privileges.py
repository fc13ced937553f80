"""The privilege replay: every statement of the deploy, in deploy order, run by a role
that holds what sql/privileges.yml says it needs. See tests/privilege_replay.py.

This first version replays the scripts as they are (kept in tests/fixtures/sql_first_draft)
and pins what it finds there: the blockers of issue #10."""

from __future__ import annotations

from pathlib import Path

from tests.privilege_replay import (
    Account,
    Statement,
    deploy_statements,
    load_rules,
    replay,
    task_runtime,
    unused_grants,
)
from tests.sql_scripts import VARIABLES

FIRST_DRAFT = Path(__file__).resolve().parents[1] / "fixtures" / "sql_first_draft"
RULES = load_rules()
PIPELINE = VARIABLES["pipeline_role"]
CONTEXT = (VARIABLES["database"], "INGEST")


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
    reader = Statement(
        "a reader",
        "select * from amplitude.ingest.amplitude_pipeline_health",
        VARIABLES["reader_role"],
        CONTEXT,
    )
    for statement in [*task_runtime(account), reader]:
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

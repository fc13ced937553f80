"""The privilege replay for forgetting a user: amplitude_forget() as the pipeline role runs
it, amplitude_forget_rows()'s own statements (read from sql/55_forget.sql) as its owner,
the admin role, and the pipeline role still without DELETE on the raw table."""

from __future__ import annotations

import re

from amplitude_ingest.in_snowflake import forget_procedure
from amplitude_ingest.in_snowflake.settings_table import ForgetSettings
from tests.privilege_replay import Statement, load_rules, normalize, render
from tests.sql_scripts import SQL_DIR, VARIABLES
from tests.unit.test_privileges import full_replay

ADMIN, PIPELINE = VARIABLES["admin_role"], VARIABLES["pipeline_role"]
DATABASE = VARIABLES["database"]
SETTINGS_TABLE = f"{DATABASE}.INGEST.AMPLITUDE_INGEST_SETTINGS"


def forget_settings() -> dict[str, str]:
    """The settings sql/50 and sql/55 write, read back from the scripts."""
    rows: dict[str, str] = {}
    for name in ("50_ledger_and_settings.sql", "55_forget.sql"):
        text = render((SQL_DIR / name).read_text(), VARIABLES)
        rows.update(re.findall(r"\('(\w+)', '([^']*)'\)", text))
    return rows


def procedure_body_statements(binds: dict[str, str | int] | None = None) -> list[str]:
    """The DML and queries inside amplitude_forget_rows()'s $$ body, each ``:variable``
    (a Snowflake Scripting bind, never a ``raw_json:path``) made the literal ``binds`` give
    (a placeholder by default)."""
    values: dict[str, str | int] = {
        "request_id": "x",
        "id_kind": "user_id",
        "id_sha256": "x",
        "deleted": 0,
        "replaced": 0,
        **(binds or {}),
    }
    text = render((SQL_DIR / "55_forget.sql").read_text(), VARIABLES)
    body = re.search(r"amplitude_forget_rows\(.*?\$\$(.*?)\$\$", text, re.S)
    assert body is not None
    code = re.sub(r"--[^\n]*", "", body.group(1))
    found = re.findall(r"^\s*((?:insert|delete|update|select)\b.*?);", code, re.S | re.M)

    def literal(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return str(value) if isinstance(value, int) else f"'{value}'"

    return [
        normalize(re.sub(r"(?<![\w\]:]):(\w+)", literal, re.sub(r"into :\w+", "", statement)))
        for statement in found
    ]


def test_the_runtime_rows_are_the_queries_the_procedure_runs() -> None:
    names = ForgetSettings.from_rows(forget_settings())
    expected = {normalize(q).lower() for q in forget_procedure.queries(names, SETTINGS_TABLE)}
    (entry,) = [e for e in load_rules()["runtime"] if e["who"].startswith("amplitude_forget(),")]
    listed = {normalize(render(sql, VARIABLES)).lower() for sql in entry["sql"]}
    assert expected <= listed, expected - listed


def test_the_procedures_replay_as_their_owners_and_the_pipeline_role_cannot_delete() -> None:
    account = full_replay()
    assert account.findings == [], "\n".join(map(str, account.findings))
    owner = {(o.kind, o.name.split(".")[-1]): o.owner for o in account.objects.values()}
    assert owner[("procedure", "AMPLITUDE_FORGET")] == PIPELINE
    assert owner[("procedure", "AMPLITUDE_FORGET_ROWS")] == ADMIN
    assert owner[("table", "AMPLITUDE_FORGET_REQUESTS")] == ADMIN

    body = procedure_body_statements()
    assert [s.split()[0] for s in body] == ["insert", "delete", "delete", "update", "select"]
    context = (DATABASE, "INGEST")
    # A procedure runs on its caller's warehouse (amplitude_forget()'s, the task's).
    warehouse = f"use warehouse {VARIABLES['warehouse']}"
    account.run(Statement("amplitude_forget_rows() body", warehouse, ADMIN, context))
    for text in body:
        account.run(Statement("amplitude_forget_rows() body", text, ADMIN, context))
    assert account.findings == [], "\n".join(map(str, account.findings))

    # The same deletes as the pipeline role: refused (it has no DELETE on the raw table).
    account.run(Statement("pipeline tries", warehouse, PIPELINE, context))
    for text in body:
        if text.startswith("delete"):
            account.run(Statement("pipeline tries", text, PIPELINE, context))
    assert len(account.findings) == 2


def test_the_procedure_body_parses_as_snowflake_scripting() -> None:
    """sqlglot keeps a $$ body as text; sqlfluff's Snowflake dialect parses Snowflake
    Scripting (DECLARE, exceptions, SELECT ... INTO :variable, RAISE): a body it cannot
    parse is a typo or a dialect gap to name."""
    import sqlfluff

    text = render((SQL_DIR / "55_forget.sql").read_text(), VARIABLES)
    body = re.search(r"amplitude_forget_rows\(.*?\$\$(.*?)\$\$", text, re.S)
    assert body is not None
    sqlfluff.parse(body.group(1), dialect="snowflake")  # raises APIParsingError

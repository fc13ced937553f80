"""What the app's procedures send, listed for the privilege replay: every statement names
only the app's own objects (schema-qualified: inside the app, the app is the database),
and each parses in sqlfluff's Snowflake dialect or is a dialect gap named with its page."""

from __future__ import annotations

import re

import pytest

from amplitude_ingest.in_snowflake.native_app import names
from amplitude_ingest.in_snowflake.native_app.statements import statements

ALL = [(proc, sql) for proc, texts in statements().items() for sql in texts]


def test_every_procedure_of_the_contract_with_sql_of_its_own_is_listed() -> None:
    assert set(statements()) == {
        "ingest_amplitude",
        "amplitude_load",
        "amplitude_doctor",
        "amplitude_set_credentials",
        "amplitude_start_schedule",
        "amplitude_stop_schedule",
        "amplitude_apply_retention",
        "on_specification_change",
    }


@pytest.mark.parametrize(("procedure", "sql"), ALL)
def test_a_statement_names_only_the_apps_objects(procedure: str, sql: str) -> None:
    objects = set(re.findall(r"\b(?:state|data|code)\.[a-z_]+", sql))
    app = {
        names.STAGE,
        names.FILE_FORMAT,
        names.RAW_TABLE,
        names.SECRET,
        *names.TASKS,
        names.DOCTOR.removeprefix("call ").removesuffix("()"),
    }
    assert objects <= app, procedure


# Statements sqlfluff 4.4's Snowflake dialect does not parse, each checked against its page.
DIALECT_GAPS = {
    "show specifications": "sql-reference/sql/show-specifications",
    "alter secret": "sql-reference/sql/alter-secret (SET USERNAME = ... PASSWORD = ...)",
}


@pytest.mark.parametrize(("procedure", "sql"), ALL)
def test_a_statement_parses_in_snowflakes_dialect_or_is_a_named_gap(
    procedure: str, sql: str
) -> None:
    import sqlfluff
    from sqlfluff.api.simple import APIParsingError

    gap = next((page for start, page in DIALECT_GAPS.items() if sql.startswith(start)), None)
    if gap is None:
        sqlfluff.parse(sql + ";", dialect="snowflake")
    else:  # still a gap: when sqlfluff learns it, this fails and the entry goes
        with pytest.raises(APIParsingError):
            sqlfluff.parse(sql + ";", dialect="snowflake")

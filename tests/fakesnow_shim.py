"""A small shim that lets fakesnow run this project's Snowflake SQL. Test-only.

fakesnow 0.12 emulates Snowflake on DuckDB. Three of its gaps touch our SQL, and each
is a fakesnow limitation, not a Snowflake behaviour, so the shim fixes them on the
fakesnow side rather than bending the models:

1. It treats ``$name`` anywhere in a statement as a session variable, even inside a string
   literal (``raw_json['$insert_id']``) or a comment. The shim only substitutes variables
   outside strings and comments (and drops comments, which do not change a statement).
2. DuckDB reads a bracket key starting with ``$`` as a JSON path, so ``['$insert_id']``
   selects nothing; the shim rewrites it to the equivalent quoted path ``['$."$insert_id"']``.
3. ``TRY_TO_TIMESTAMP_NTZ`` does not exist; the shim defines it as a DuckDB macro with
   the same contract (text to timestamp, null when it does not parse).
4. DuckDB keeps temporary objects in its own ``temp`` catalog, so dbt-snowflake's
   ``create or replace temporary view db.schema.x__dbt_tmp`` (the incremental MERGE's
   source) is refused; the shim creates it as an ordinary view, which dbt drops after.
5. In dbt-snowflake's MERGE, ``when not matched then insert (...) values ("COL", ...)``
   names source columns unqualified, which Snowflake resolves to the source and DuckDB
   calls ambiguous; the shim qualifies them with ``DBT_INTERNAL_SOURCE``.
6. fakesnow's MERGE writes bookkeeping to a second attached database, which DuckDB
   forbids inside an explicit transaction; dbt's ``begin``/``commit`` around the MERGE
   run as no-ops, so each statement commits on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_TOKENS = re.compile(r"('(?:[^']|'')*'|--[^\n]*|/\*.*?\*/)", re.S)
_DOLLAR_KEY = re.compile(r"\['\$(\w+)'\]")
_TEMPORARY = re.compile(r"\b(create\s+or\s+replace)\s+temporary\s+", re.I)
_MERGE_VALUES = re.compile(
    r"(when\s+not\s+matched\s+then\s+insert\s*\([^)]*\)\s*values\s*\()([^)]*)(\))", re.I
)

TIMESTAMP_MACRO = (
    "create or replace macro {database}.main.try_to_timestamp_ntz(s) as try_cast(s as timestamp)"
)


def rewrite(sql: str, inline: Callable[[str], str]) -> str:
    """Apply ``inline`` (fakesnow's variable substitution) outside strings and comments."""
    sql = _DOLLAR_KEY.sub(lambda m: f"""['$."${m.group(1)}"']""", sql)
    sql = _TEMPORARY.sub(r"\1 ", sql)
    sql = _MERGE_VALUES.sub(
        lambda m: (
            m.group(1) + re.sub(r'(?<![\w.])"', 'DBT_INTERNAL_SOURCE."', m.group(2)) + m.group(3)
        ),
        sql,
    )
    out = []
    for part in _TOKENS.split(sql):
        if part.startswith("'"):
            out.append(part)
        elif not part.startswith(("--", "/*")):
            out.append(inline(part))
    return "".join(out)


@contextmanager
def patched_fakesnow(db_path: str, database: str) -> Iterator[Any]:
    """``fakesnow.patch`` with the shim applied; yields a connection to ``database``."""
    import fakesnow
    import snowflake.connector
    from fakesnow.variables import Variables

    original = Variables.inline_variables

    def inline_outside_strings(self: Variables, sql: str) -> str:
        return rewrite(sql, lambda part: original(self, part))

    Variables.inline_variables = inline_outside_strings  # type: ignore[method-assign]
    try:
        with fakesnow.patch(db_path=db_path, nop_regexes=[r"^\s*(begin|commit)\s*;?\s*$"]):
            connection = snowflake.connector.connect(database=database, schema="raw")
            connection._duck_conn.execute(TIMESTAMP_MACRO.format(database=database))
            yield connection
    finally:
        Variables.inline_variables = original  # type: ignore[method-assign]

"""Run with the Snowflake CLI's own Python (.venv-snow): render and split sql/ scripts the
way `snow sql -f` does, without connecting, and print the statements as JSON.

    .venv-snow/bin/python tests/integration/snow_render.py '{"database": "X"}' sql/00_roles.sql

Variables are the `-D` values; ctx.env comes from the environment, as for `snow sql`.
"""

from __future__ import annotations

import json
import sys
from functools import partial

from snowflake.cli._plugins.sql.snowsql_templating import transpile_snowsql_templates
from snowflake.cli._plugins.sql.statement_reader import compile_statements, files_reader
from snowflake.cli.api.rendering.sql_templates import (
    SQLTemplateSyntaxConfig,
    snowflake_sql_jinja_render,
)
from snowflake.cli.api.secure_path import SecurePath
from snowflake.connector.util_text import split_statements


def main() -> None:
    data = json.loads(sys.argv[1])
    out = {}
    for path in sys.argv[2:]:
        # What SqlManager.execute sets up for the default templating (LEGACY, STANDARD).
        operators = [
            transpile_snowsql_templates,
            partial(
                snowflake_sql_jinja_render,
                template_syntax_config=SQLTemplateSyntaxConfig(True, True, False),
                data=data,
            ),
        ]
        reader = files_reader([SecurePath(path)], operators, remove_comments=True)
        errors, _, compiled = compile_statements(reader)
        statements = [c.statement for c in compiled if c.statement]
        # Each statement is split once more when it is executed (execute_stream).
        executed = [
            [s for s, _ in split_statements(__import__("io").StringIO(st), remove_comments=True)]
            for st in statements
        ]
        out[path] = {
            "errors": [str(e) for e in errors],
            "statements": statements,
            "executed": executed,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Reading sql/ as the Snowflake CLI does: templating, then statements.

`render` uses Jinja configured as the pinned CLI configures it for `snow sql`
(snowflake/cli/api/rendering/sql_templates.py: `<% %>` variables, logic blocks disabled,
undefined variables are errors), so filters in the scripts behave as they will on deploy.
`split_statements` is the Snowflake connector's own splitter, the one `snow sql` uses.
"""

from __future__ import annotations

import io
from pathlib import Path

import jinja2
import sqlglot
from snowflake.connector.util_text import split_statements as _connector_split
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "sql"

# The values `make deploy` passes with -D (and the environment the secret comes from).
VARIABLES = {
    "admin_role": "AMPLITUDE_ADMIN",
    "pipeline_role": "AMPLITUDE_PIPELINE",
    "reader_role": "AMPLITUDE_READER",
    "dashboard_role": "AMPLITUDE_DASHBOARD",
    "warehouse": "AMPLITUDE_WH",
    "database": "AMPLITUDE",
    "amplitude_host": "amplitude.com",
    "amplitude_region": "us",
    "amplitude_project": "default",
    "s3_url": "s3://example-bucket/amplitude/",
    "s3_role_arn": "arn:aws:iam::123456789012:role/snowflake-amplitude",
    "schedule_cron": "15 * * * *",
    "dbt_version": "1.10.15",
    "ctx.env.AMP_API_KEY": "api-key",
    "ctx.env.AMP_SECRET_KEY": "secret-key",
    # `make deploy-alerts`: the email channel's list, the webhook's secret URL part.
    "alert_emails": "ops@example.com,dev@example.com",
    "ctx.env.AMP_ALERT_WEBHOOK_SECRET": "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
}

_NO_BLOCKS = "___very___unique___block___to___disable___logic___blocks___"
_ENV = jinja2.Environment(
    variable_start_string="<%",
    variable_end_string="%>",
    block_start_string=_NO_BLOCKS,
    block_end_string=_NO_BLOCKS,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def render(text: str, variables: dict[str, str] = VARIABLES) -> str:
    context: dict[str, object] = {k: v for k, v in variables.items() if not k.startswith("ctx.")}
    context["ctx"] = {
        "env": {
            k.removeprefix("ctx.env."): v for k, v in variables.items() if k.startswith("ctx.env.")
        }
    }
    try:
        return _ENV.from_string(text).render(context)
    except jinja2.UndefinedError as exc:
        raise KeyError(f"template variable is not provided: {exc.message}") from exc


def split_statements(text: str) -> list[str]:
    """Statements as the connector splits them (quotes, $$ bodies and comments respected)."""
    return [
        statement
        for statement, _ in _connector_split(io.StringIO(text), remove_comments=True)
        if statement.strip()
    ]


def scripts() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def statements(path: Path) -> list[exp.Expression]:
    return [s for s in sqlglot.parse(render(path.read_text()), read="snowflake") if s]

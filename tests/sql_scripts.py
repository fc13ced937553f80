"""Reading sql/ as the Snowflake CLI does: templating, then statements."""

from __future__ import annotations

import re
from pathlib import Path

import sqlglot
from sqlglot import exp

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"

# The values `make deploy` passes with -D (and the environment the secret comes from).
VARIABLES = {
    "admin_role": "AMPLITUDE_ADMIN",
    "pipeline_role": "AMPLITUDE_PIPELINE",
    "reader_role": "AMPLITUDE_READER",
    "warehouse": "AMPLITUDE_WH",
    "database": "AMPLITUDE",
    "amplitude_host": "amplitude.com",
    "amplitude_region": "us",
    "amplitude_project": "default",
    "s3_url": "s3://example-bucket/amplitude/",
    "s3_role_arn": "arn:aws:iam::123456789012:role/snowflake-amplitude",
    "schedule_cron": "15 * * * *",
    "ctx.env.AMP_API_KEY": "api-key",
    "ctx.env.AMP_SECRET_KEY": "secret-key",
}
_TEMPLATE = re.compile(r"<%\s*([\w.]+)\s*%>")


def render(text: str, variables: dict[str, str] = VARIABLES) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(f"template variable {name!r} is not provided")
        return variables[name]

    return _TEMPLATE.sub(value, text)


def scripts() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def statements(path: Path) -> list[exp.Expression]:
    return [s for s in sqlglot.parse(render(path.read_text()), read="snowflake") if s]

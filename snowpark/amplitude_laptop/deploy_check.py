"""`make deploy`, before anything changes: is this the bucket and IAM role deployed before?

sql/30 creates the storage integration and the stage `if not exists` (replacing either
would change the IAM trust values or orphan the pipe), while sql/50 rewrites the settings
table's `s3_url` on every deploy. A re-deploy with another `S3_URL` or `S3_ROLE_ARN` would
therefore be half applied: the old integration and stage kept, the settings saying the new
bucket. So `make deploy-setup` runs this first and stops, naming what differs and the
commands that move the deployment deliberately (changing the integration changes what the
IAM role must trust: README, "The AWS side").

It reads what is deployed with the Snowflake CLI the Makefile passes (`snow sql ... --format
json`, as ACCOUNTADMIN): SHOW INTEGRATIONS, DESC INTEGRATION (STORAGE_ALLOWED_LOCATIONS,
STORAGE_AWS_ROLE_ARN; DESCRIBE INTEGRATION, storage integration properties) and SHOW
STAGES (`url`). Nothing found, as on a new account, is no mismatch. Standard library only:
it runs with the CLI's own Python.

    python -m amplitude_laptop.deploy_check --s3-url URL --s3-role-arn ARN \\
        --database AMPLITUDE -- snow sql -c prod --role accountadmin
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INTEGRATION = "AMPLITUDE_S3"
STAGE = "AMPLITUDE_STAGE"
STAGE_SCHEMA = "INGEST"


class DeployCheckError(Exception):
    """What is deployed could not be read: the deploy must not go on blind."""


@dataclass(frozen=True)
class Deployed:
    """The storage side as Snowflake has it (None: not created yet)."""

    allowed_locations: tuple[str, ...] | None
    role_arn: str | None
    stage_url: str | None


def integration_values(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[tuple[str, ...], str]:
    """DESC INTEGRATION rows -> (STORAGE_ALLOWED_LOCATIONS, STORAGE_AWS_ROLE_ARN)."""
    values = {
        str(row.get("property", "")).upper(): str(row.get("property_value") or "") for row in rows
    }
    locations = tuple(
        part.strip() for part in values.get("STORAGE_ALLOWED_LOCATIONS", "").split(",")
    )
    return tuple(p for p in locations if p), values.get("STORAGE_AWS_ROLE_ARN", "")


def stage_url(rows: Sequence[Mapping[str, Any]], database: str) -> str | None:
    """SHOW STAGES rows -> the url of DATABASE.INGEST.AMPLITUDE_STAGE, if it exists."""
    for row in rows:
        if (
            str(row.get("name", "")).upper() == STAGE
            and str(row.get("database_name", "")).upper() == database.upper()
            and str(row.get("schema_name", "")).upper() == STAGE_SCHEMA
        ):
            return str(row.get("url") or "")
    return None


def mismatch(deployed: Deployed, s3_url: str, role_arn: str, database: str) -> str | None:
    """The message that stops the deploy, or None when it may go on."""
    found = []
    if deployed.allowed_locations is not None and deployed.allowed_locations != (s3_url,):
        found.append(
            f"storage integration {INTEGRATION} allows {', '.join(deployed.allowed_locations)}"
            f", this deploy asks for S3_URL={s3_url}"
        )
    if deployed.role_arn is not None and deployed.role_arn != role_arn:
        found.append(
            f"storage integration {INTEGRATION} assumes {deployed.role_arn}, this deploy asks "
            f"for S3_ROLE_ARN={role_arn}"
        )
    if deployed.stage_url is not None and deployed.stage_url != s3_url:
        found.append(
            f"stage {database}.{STAGE_SCHEMA}.{STAGE} points at {deployed.stage_url}, this "
            f"deploy asks for S3_URL={s3_url}"
        )
    if not found:
        return None
    old_url = deployed.stage_url or (deployed.allowed_locations or ("<S3_URL>",))[0]
    old_arn = deployed.role_arn or "<S3_ROLE_ARN>"
    stage = f"{database}.{STAGE_SCHEMA}.{STAGE}".lower()
    return "\n".join(
        [
            "make deploy stopped before changing anything: this deployment was made for "
            "another bucket or IAM role, and the set-up scripts keep the integration and the "
            "stage as they are (`if not exists`) while the settings table would take the new "
            "values:",
            *(f"  - {line}" for line in found),
            "Either deploy with the values in place:",
            f"  make deploy S3_URL={old_url} S3_ROLE_ARN={old_arn} ...",
            "or move to the new ones deliberately. Changing the integration changes what the "
            "IAM role must trust, and the new bucket needs its own event notification:",
            "  -- as ACCOUNTADMIN (ALTER STORAGE INTEGRATION; ALTER STAGE):",
            f"  alter storage integration {INTEGRATION.lower()} set "
            f"storage_aws_role_arn = '{role_arn}' storage_allowed_locations = ('{s3_url}');",
            f"  alter stage {stage} set url = '{s3_url}';",
            f"  desc integration {INTEGRATION.lower()};  -- STORAGE_AWS_IAM_USER_ARN and "
            "STORAGE_AWS_EXTERNAL_ID: the IAM role's trust policy (README, step 4)",
            f"  then: make deploy S3_URL={s3_url} S3_ROLE_ARN={role_arn} ..., and make doctor "
            "(it prints the bucket notification for the pipe). Files under the old prefix "
            "stay where they are.",
        ]
    )


def _query(command: Sequence[str], sql: str) -> list[dict[str, Any]]:
    try:
        result = subprocess.run(  # noqa: S603 - the Makefile's own snow command
            [*command, "--format", "json", "-q", sql],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except OSError as exc:
        raise DeployCheckError(f"could not run {command[0]}: {exc}") from exc
    if result.returncode != 0:
        raise DeployCheckError(
            f"`{sql}` failed ({result.returncode}): {result.stderr.strip()[-500:]}"
        )
    try:
        rows = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise DeployCheckError(f"`{sql}` did not answer JSON: {result.stdout[:200]!r}") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DeployCheckError(f"`{sql}` answered {str(rows)[:200]}")
    return [{str(k).lower(): v for k, v in row.items()} for row in rows]


def read_deployed(command: Sequence[str], database: str) -> Deployed:
    """What Snowflake has, through `snow sql` (its JSON output)."""
    locations: tuple[str, ...] | None = None
    role_arn: str | None = None
    if _query(command, f"show integrations like '{INTEGRATION}'"):
        locations, role_arn = integration_values(
            _query(command, f"describe integration {INTEGRATION}")
        )
    stages = _query(command, f"show stages like '{STAGE}' in account")
    return Deployed(locations, role_arn, stage_url(stages, database))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy_check", description=__doc__.split("\n")[0])
    parser.add_argument("--s3-url", required=True)
    parser.add_argument("--s3-role-arn", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("command", nargs="+", help="the snow sql command, after --")
    args = parser.parse_args(argv)
    try:
        deployed = read_deployed(args.command, args.database)
    except DeployCheckError as exc:
        print(f"make deploy stopped: what is deployed could not be read: {exc}", file=sys.stderr)
        return 2
    message = mismatch(deployed, args.s3_url, args.s3_role_arn, args.database.upper())
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

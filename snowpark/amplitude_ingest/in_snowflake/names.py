"""The names the Snowflake procedures share, and the shapes a name must have to be spliced
into SQL.

DDL, LIST, REMOVE, CALL and the FROM of a query take no bind variables for an object name,
so every name the procedures splice into a statement (from the settings table, or a
caller's argument) is checked here first against Snowflake's identifier rules
("Identifier requirements", docs.snowflake.com/en/sql-reference/identifiers-syntax): an
unquoted identifier starts with a letter or an underscore and holds letters, digits,
underscores and dollar signs; a double-quoted one holds anything but a double quote here
(Snowflake allows a doubled one; no name of this project needs it); either is at most 255
characters long.
"""

from __future__ import annotations

import re

from amplitude_ingest.errors import ConfigurationError

# The name ingest_amplitude() and amplitude_doctor() read their key pair under: the alias of
# the SECRETS clause (snowflake.yml), not a secret.
SECRET_ALIAS = "amplitude_credentials"  # noqa: S105

IDENTIFIER = r'(?:[A-Za-z_][A-Za-z0-9_$]{0,254}|"[^"]{1,255}")'
UNQUOTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
OBJECT_NAME = re.compile(rf"^{IDENTIFIER}(?:\.{IDENTIFIER}){{0,2}}$")
SCHEMA_NAME = re.compile(rf"^{IDENTIFIER}\.{IDENTIFIER}$")
QUALIFIED_NAME = re.compile(rf"^{IDENTIFIER}\.{IDENTIFIER}\.{IDENTIFIER}$")


def validate_object_name(name: str, what: str) -> str:
    """``[db.][schema.]name`` of identifiers (a leading ``@`` of a stage dropped); anything
    else is refused, naming `what`."""
    cleaned = name.strip().lstrip("@")
    if not OBJECT_NAME.match(cleaned):
        raise ConfigurationError(f"{what} {name!r} is not a Snowflake object name")
    return cleaned


def validate_qualified_name(name: str) -> str:
    """``database.schema.object``: the only shape of name the wait step, alerts and forget
    splice into a query."""
    if not QUALIFIED_NAME.match(name):
        raise ConfigurationError(f"{name!r} is not a fully qualified name (database.schema.object)")
    return name


def qualify(name: str, database: str | None, schema: str | None) -> str:
    """``name`` with the missing database and schema filled in from the given ones."""
    parts = name.split(".")
    if len(parts) == 1 and schema:
        parts.insert(0, schema)
    if len(parts) == 2 and database:
        parts.insert(0, database)
    return ".".join(parts)

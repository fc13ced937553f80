"""The procedure's one Snowpark session, used by one thread at a time.

Worker threads upload parts while the extractor reads and writes the ledger; a Snowpark
session is not documented as safe for concurrent use from several threads, so every call
the procedure makes on it (stage, ledger, settings, task return value) goes through the
lock of one :class:`SessionGate`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from amplitude_ingest.errors import ConfigurationError

if TYPE_CHECKING:
    from snowflake.snowpark import Session

_IDENTIFIER = r"(?:[A-Za-z_][A-Za-z0-9_$]*|\"[^\"]+\")"
_OBJECT_NAME = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER}){{0,2}}$")


def validate_object_name(name: str, what: str) -> str:
    """``[db.][schema.]name`` of identifiers; anything else is refused.

    Stage names are spliced into LIST and REMOVE, which take no bind variables.
    """
    cleaned = name.strip().lstrip("@")
    if not _OBJECT_NAME.match(cleaned):
        raise ConfigurationError(f"{what} {name!r} is not a Snowflake object name")
    return cleaned


def qualify(name: str, database: str | None, schema: str | None) -> str:
    """``name`` with the missing database and schema filled in from the given ones."""
    parts = name.split(".")
    if len(parts) == 1 and schema:
        parts.insert(0, schema)
    if len(parts) == 2 and database:
        parts.insert(0, database)
    return ".".join(parts)


class SessionGate:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.RLock()

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        """``with gate() as session:`` holds the session for the block."""
        with self._lock:
            yield self._session

    def qualify(self, name: str, what: str) -> str:
        """Fully qualify an object name against the session's database and schema.

        An owner's-rights procedure runs in the database and schema it was created in
        ("Understanding caller's rights and owner's rights stored procedures", Snowflake
        docs), so unqualified names from the settings table resolve there, not wherever
        the caller's worksheet happens to be; qualifying them makes logs and errors exact.
        """
        valid = validate_object_name(name, what)
        with self() as session:
            return qualify(valid, session.get_current_database(), session.get_current_schema())

"""The procedure's one Snowpark session, used by one thread at a time, and the one way a
procedure sends it SQL.

Worker threads upload parts while the extractor reads and writes the ledger; a Snowpark
session is not documented as safe for concurrent use from several threads, so every call
the procedure makes on it (stage, ledger, settings, task return value) goes through the
lock of one :class:`SessionGate`. The procedures' pure logic runs its statements through a
:data:`Queries` callable; :meth:`SessionGate.rows` is that callable in Snowflake, and tests
pass recorded answers or a fakesnow connection instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from amplitude_ingest.in_snowflake.names import qualify, validate_object_name

if TYPE_CHECKING:
    from snowflake.snowpark import Row, Session

# run_sql(query, bind values) -> the rows, each a sequence of column values in order.
Queries = Callable[[str, Sequence[Any]], list[Sequence[Any]]]


def text_pairs(rows: Iterable[Sequence[Any]]) -> dict[str, str | None]:
    """Two-column rows (a settings table's name and value, a rewrite's old and new key) as a
    mapping of text; a NULL second column stays None."""
    return {str(row[0]): None if row[1] is None else str(row[1]) for row in rows}


class SessionGate:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.RLock()

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        """``with gate() as session:`` holds the session for the block."""
        with self._lock:
            yield self._session

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """The statement's rows (values in column order); values travel as bind variables."""
        return list(self._collect(query, params))

    def records(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The statement's rows as column name -> value, names in lowercase (SHOW and
        DESCRIBE columns are read by name)."""
        return [
            {k.lower(): v for k, v in row.as_dict().items()} for row in self._collect(query, params)
        ]

    def _collect(self, query: str, params: Sequence[Any]) -> list[Row]:
        with self() as session:
            return session.sql(query, params=list(params) or None).collect()

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

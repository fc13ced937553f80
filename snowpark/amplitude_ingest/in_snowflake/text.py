"""The one way the Snowflake procedures shorten a text for a message, a row or a summary:
the extract core's :func:`~amplitude_ingest.errors.shorten`, on one line."""

from __future__ import annotations

from amplitude_ingest.errors import shorten

# What a doctor row's detail, an alert's error line and a log line quote of an error.
DEFAULT_LIMIT = 300


def cut(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """`text` on one line (runs of whitespace become one space), at most `limit` characters:
    a longer one ends in "…" at the limit. Errors from Snowflake span lines; a doctor row, an
    alert and a return value are read on one."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return shorten(" ".join(text.split()), limit)

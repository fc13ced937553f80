"""A log filter that scrubs secret values from every record, whoever wrote it.

The code never logs a secret on purpose; this catches one arriving inside a third party's
exception text. The CLI puts it on its handlers, the procedure on Snowflake's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (of four characters or more) replaced by ``***``."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class RedactSecrets(logging.Filter):
    """Replaces any known secret value in a record's final message with ``***``.

    The code never logs a secret on purpose; this catches one arriving inside a third
    party's exception text.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = message
        exc_text = record.exc_text or ""
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "***")
            exc_text = exc_text.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = exc_text
        return True


@contextmanager
def redacting(secrets: Iterable[str], logger: logging.Logger | None = None) -> Iterator[None]:
    """Scrub ``secrets`` from every handler of ``logger`` (the root) for the block.

    A filter on a handler sees records from every logger, including third parties'.
    """
    target = logger or logging.getLogger()
    redact = RedactSecrets(secrets)
    handlers = list(target.handlers)
    for handler in handlers:
        handler.addFilter(redact)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(redact)

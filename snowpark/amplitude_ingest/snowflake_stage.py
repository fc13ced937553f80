"""The Snowflake stage writer used by the procedure: parts go up with ``put_stream``.

``session.file.put_stream`` runs server-side from inside a stored procedure, so it can
write to the S3-backed external stage that the auto-ingest pipe watches (SQL ``PUT``
cannot). Each part is spooled to local disk first and put whole, so a half-written part
is never visible and memory stays flat. Uploads go one at a time through the session
(downloads and unpacking still run in parallel): a Snowpark session shared by threads is
not something to lean on inside a procedure.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.keys import normalize_prefix
from amplitude_ingest.stage import SpooledObject, StagedObject

if TYPE_CHECKING:
    from snowflake.snowpark import Session

_IDENTIFIER = r"(?:[A-Za-z_][A-Za-z0-9_$]*|\"[^\"]+\")"
_STAGE_NAME = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER}){{0,2}}$")


def validate_stage_name(name: str) -> str:
    """``[db.][schema.]stage``; anything else is refused (it is spliced into LIST/REMOVE)."""
    name = name.strip().lstrip("@")
    if not _STAGE_NAME.match(name):
        raise ConfigurationError(f"{name!r} is not a stage name")
    return name


class SnowflakeStage:
    def __init__(self, session: Session, stage_name: str, spool_dir: Path | None = None) -> None:
        self._session = session
        self.stage = validate_stage_name(stage_name)
        self._spool_dir = spool_dir
        self._session_lock = threading.Lock()

    def create(self, key: str) -> StagedObject:
        location = f"@{self.stage}/{normalize_prefix(key)}"

        def upload(spooled: IO[bytes]) -> None:
            with self._session_lock:
                self._session.file.put_stream(
                    spooled, location, auto_compress=False, overwrite=True
                )

        return SpooledObject(upload, self._spool_dir)

    # LIST and REMOVE take no bind variables; the stage name is validated above and keys
    # are built by amplitude_ingest.keys from a safe alphabet, never from user input.

    def list_keys(self, prefix: str) -> list[str]:
        folder = normalize_prefix(prefix)
        with self._session_lock:
            rows = self._session.sql(f"list @{self.stage}/{folder}/").collect()
        keys = []
        for row in rows:
            name = str(row[0])
            at = name.find(folder + "/")
            if at >= 0:
                keys.append(name[at:])
        return sorted(keys)

    def delete(self, keys: Iterable[str]) -> None:
        with self._session_lock:
            for key in keys:
                self._session.sql(f"remove @{self.stage}/{normalize_prefix(key)}").collect()

    def describe(self) -> str:
        return f"@{self.stage}"

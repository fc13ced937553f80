"""The Snowflake stage writer used by the procedure: parts go up with ``put_stream``.

``session.file.put_stream`` runs server-side from inside a stored procedure, so it can
write to the S3-backed external stage that the auto-ingest pipe watches (SQL ``PUT``
cannot). Each part is spooled to local disk first and put whole, so a half-written part
is never visible and memory stays flat. Uploads go one at a time through the session gate
(downloads and unpacking still run in parallel).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from amplitude_ingest.in_snowflake.names import validate_object_name
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.parts import SpooledPart, SpoolGauge
from amplitude_ingest.ports import PendingPart
from amplitude_ingest.stage_keys import normalize_prefix

READ_CHUNK = 1024 * 1024


class SnowflakeStage:
    def __init__(self, gate: SessionGate, stage_name: str, spool_dir: Path | None = None) -> None:
        self._gate = gate
        self.stage = validate_object_name(stage_name, "stage")
        self._spool_dir = spool_dir
        self.gauge = SpoolGauge()  # /tmp is memory in a procedure: what it held at most

    def create(self) -> PendingPart:
        return SpooledPart(self._upload, self._spool_dir, self.gauge)

    def _upload(self, spooled: IO[bytes], key: str, crc32: int) -> None:
        location = f"@{self.stage}/{normalize_prefix(key)}"
        with self._gate() as session:
            session.file.put_stream(spooled, location, auto_compress=False, overwrite=True)

    # LIST and REMOVE take no bind variables; the stage name is validated above and keys
    # are built by amplitude_ingest.stage_keys from a safe alphabet, never from user input.

    def list_keys(self, prefix: str) -> list[str]:
        folder = normalize_prefix(prefix)
        keys = []
        for row in self._gate.rows(f"list @{self.stage}/{folder}/"):
            # LIST names a file by the stage's location and its path; the folder starts
            # after a "/" (a bucket named acme-events holds "events/" too, mid-name).
            name = str(row[0])
            at = 0 if name.startswith(folder + "/") else name.find("/" + folder + "/") + 1
            if at > 0 or name.startswith(folder + "/"):
                keys.append(name[at:])
        return sorted(keys)

    @contextmanager
    def read(self, key: str) -> Iterator[Iterator[bytes]]:
        """A part's bytes as stored, streamed (what ``amplitude_forget()`` rewrites).

        Not ``session.file.get_stream``: it runs GET, which downloads from internal stages
        only (GET's reference page). ``SnowflakeFile`` reads a file "from either internal
        or external stages" in a procedure, the owner's access sufficing without a scoped
        URL (Reading files with a Python stored procedure).
        """
        from snowflake.snowpark.files import SnowflakeFile

        path = f"@{self.stage}/{normalize_prefix(key)}"
        with self._gate(), SnowflakeFile.open(path, "rb", require_scoped_url=False) as file:
            yield iter(lambda: bytes(file.read(READ_CHUNK)), b"")

    def delete(self, keys: Iterable[str]) -> None:
        with self._gate():  # the gate is re-entrant: the removals go as one block
            for key in keys:
                self._gate.rows(f"remove @{self.stage}/{normalize_prefix(key)}")

    def describe(self) -> str:
        return f"@{self.stage}"

"""The laptop's ledger: one row per hour in a SQLite file in the state folder.

The procedure keeps the same records in a Snowflake table
(:mod:`amplitude_ingest.snowflake_ledger`); both implement
:class:`amplitude_ingest.ports.Ledger`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_ingest.hours import format_hour, parse_hour

_SCHEMA = """
create table if not exists hours (
    hour text primary key,
    status text not null,
    files integer not null,
    events integer not null,
    bytes integer not null,
    rejected_lines integer not null,
    attempts integer not null,
    error text,
    keys text not null,
    updated_at text not null
)
"""


class SqliteLedger:
    """SQLite in the state folder: atomic, crash-safe, readable with any SQLite tool."""

    FILE_NAME = "ledger.sqlite"

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / self.FILE_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, hours: Sequence[datetime]) -> dict[datetime, HourRecord]:
        wanted = [format_hour(h) for h in hours]
        found: dict[datetime, HourRecord] = {}
        with self._lock:
            for offset in range(0, len(wanted), 500):
                batch = wanted[offset : offset + 500]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"select * from hours where hour in ({marks})",
                    batch,
                ).fetchall()
                for row in rows:
                    record = _from_row(row)
                    found[record.hour] = record
        return found

    def all(self) -> list[HourRecord]:
        with self._lock:
            rows = self._db.execute("select * from hours order by hour").fetchall()
        return [_from_row(row) for row in rows]

    def save(self, records: Iterable[HourRecord]) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [
            (
                format_hour(r.hour),
                r.status.value,
                r.files,
                r.events,
                r.bytes,
                r.rejected_lines,
                r.attempts,
                r.error,
                json.dumps(list(r.keys)),
                now,
            )
            for r in records
        ]
        with self._lock:
            self._db.execute("begin")
            try:
                self._db.executemany(
                    "insert or replace into hours values (?,?,?,?,?,?,?,?,?,?)", rows
                )
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def watermark(self) -> datetime | None:
        with self._lock:
            row = self._db.execute(
                "select max(hour) from hours where status in ('done', 'empty')"
            ).fetchone()
        return parse_hour(row[0]) if row and row[0] else None

    def unfinished(self) -> list[datetime]:
        with self._lock:
            rows = self._db.execute(
                "select hour from hours where status in ('pending', 'failed') order by hour"
            ).fetchall()
        return [parse_hour(r[0]) for r in rows]


def _from_row(row: tuple[object, ...]) -> HourRecord:
    hour, status, files, events, size, rejected, attempts, error, keys, updated = row
    return HourRecord(
        hour=parse_hour(str(hour)),
        status=HourStatus(str(status)),
        files=int(str(files)),
        events=int(str(events)),
        bytes=int(str(size)),
        rejected_lines=int(str(rejected)),
        attempts=int(str(attempts)),
        error=None if error is None else str(error),
        keys=tuple(json.loads(str(keys))),
        updated_at=datetime.fromisoformat(str(updated)),
    )

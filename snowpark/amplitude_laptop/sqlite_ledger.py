"""The laptop's ledger: one row per hour in a SQLite file in the state folder.

The procedure keeps the same records in a Snowflake table
(:mod:`amplitude_ingest.in_snowflake.ledger_table`); both implement
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

_COLUMNS = (
    "hour",
    "status",
    "files",
    "events",
    "bytes",
    "rejected_lines",
    "attempts",
    "error",
    "keys",
    "updated_at",
    "failed_runs",
)
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
    updated_at text not null,
    lease_owner text,
    lease_expires_at text,
    failed_runs integer not null default 0
)
"""
# Columns added since the first version, with their definitions: a ledger file made by an
# older version is upgraded in place when it is opened.
_ADDED_COLUMNS = {
    "lease_owner": "text",
    "lease_expires_at": "text",
    "failed_runs": "integer not null default 0",
}


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
        present = {row[1] for row in self._db.execute("pragma table_info(hours)")}
        for column, definition in _ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(f"alter table hours add column {column} {definition}")

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
                    f"select {_SELECT} from hours where hour in ({marks})",
                    batch,
                ).fetchall()
                for row in rows:
                    record = _from_row(row)
                    found[record.hour] = record
        return found

    def all(self) -> list[HourRecord]:
        with self._lock:
            rows = self._db.execute(f"select {_SELECT} from hours order by hour").fetchall()
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
                r.failed_runs,
            )
            for r in records
        ]
        with self._lock:
            self._db.execute("begin")
            try:
                self._db.executemany(
                    f"insert or replace into hours ({_SELECT}) values ({_MARKS})", rows
                )
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def claim(
        self, hours: Sequence[datetime], owner: str, now: datetime, until: datetime, force: bool
    ) -> set[datetime]:
        stamp = now.astimezone(UTC).isoformat(timespec="seconds")
        expires = until.astimezone(UTC).isoformat(timespec="seconds")
        held: set[datetime] = set()
        with self._lock:
            self._db.execute("begin immediate")  # the whole claim is one write transaction
            try:
                for hour in hours:
                    key = format_hour(hour)
                    row = self._db.execute(
                        "select status, lease_owner, lease_expires_at from hours where hour = ?",
                        [key],
                    ).fetchone()
                    if row is not None and not _claimable(row, owner, stamp, force):
                        continue
                    if row is None:
                        self._db.execute(
                            f"insert into hours ({_SELECT}, lease_owner, lease_expires_at) "
                            "values (?, 'pending', 0, 0, 0, 0, 0, null, '[]', ?, 0, ?, ?)",
                            [key, stamp, owner, expires],
                        )
                    else:
                        self._db.execute(
                            "update hours set status = 'pending', error = null, updated_at = ?, "
                            "lease_owner = ?, lease_expires_at = ? where hour = ?",
                            [stamp, owner, expires, key],
                        )
                    held.add(hour)
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")
        return held

    def release(self, owner: str) -> None:
        with self._lock:
            self._db.execute(
                "update hours set lease_owner = null, lease_expires_at = null "
                "where lease_owner = ?",
                [owner],
            )

    def release_all(self) -> None:
        """Drop every lease: for a caller that knows no other run can be active (it holds
        the state folder's run lock), so leases left by a killed run do not hold it up."""
        with self._lock:
            self._db.execute("update hours set lease_owner = null, lease_expires_at = null")

    def watermark(self) -> datetime | None:
        with self._lock:
            row = self._db.execute(
                "select max(hour) from hours where status in ('done', 'empty', 'given_up')"
            ).fetchone()
        return parse_hour(row[0]) if row and row[0] else None

    def unfinished(self) -> list[datetime]:
        with self._lock:
            rows = self._db.execute(
                "select hour from hours where status in ('pending', 'failed') order by hour"
            ).fetchall()
        return [parse_hour(r[0]) for r in rows]


_SELECT = ", ".join(_COLUMNS)
_MARKS = ", ".join("?" * len(_COLUMNS))


def _claimable(row: tuple[object, ...], owner: str, now: str, force: bool) -> bool:
    status, lease_owner, lease_expires_at = row
    if status in ("done", "empty", "given_up") and not force:
        return False
    leased = lease_owner not in (None, owner) and str(lease_expires_at or "") > now
    return not leased


def _from_row(row: tuple[object, ...]) -> HourRecord:
    hour, status, files, events, size, rejected, attempts, error, keys, updated, failed_runs = row
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
        failed_runs=int(str(failed_runs)),
    )

"""The laptop's ledger: one row per hour in a SQLite file in the state folder.

The procedure keeps the same records in a Snowflake table
(:mod:`amplitude_ingest.in_snowflake.ledger_table`); both implement
:class:`amplitude_ingest.ports.Ledger`. The file's schema, its upgrades and its read-only
readers are :mod:`amplitude_queries.laptop_records`'.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_ingest.hours import format_hour, parse_hour
from amplitude_queries.laptop_records import (
    HOURS_COLUMNS,
    LEDGER_FILE,
    hour_from_row,
    hours_select,
    ledger_path,
    open_ledger,
)

# What ``save`` writes: every column but the lease, which only ``claim`` and ``release`` set.
_SAVED = tuple(c for c in HOURS_COLUMNS if c not in ("lease_owner", "lease_expires_at"))


class SqliteLedger:
    """SQLite in the state folder: atomic, crash-safe, readable with any SQLite tool."""

    FILE_NAME = LEDGER_FILE

    def __init__(self, state_dir: Path) -> None:
        self.path = ledger_path(state_dir)
        self._lock = threading.Lock()
        self._db = open_ledger(state_dir)

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
            {
                "hour": format_hour(r.hour),
                "status": r.status.value,
                "files": r.files,
                "events": r.events,
                "bytes": r.bytes,
                "rejected_lines": r.rejected_lines,
                "attempts": r.attempts,
                "error": r.error,
                "keys": json.dumps(list(r.keys)),
                "updated_at": now,
                "failed_runs": r.failed_runs,
            }
            for r in records
        ]
        with self._lock:
            self._db.execute("begin")
            try:
                self._db.executemany(
                    f"insert or replace into hours ({_INSERT}) values ({_NAMED})", rows
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
                            "insert into hours (hour, status, files, events, bytes, "
                            "rejected_lines, attempts, keys, updated_at, lease_owner, "
                            "lease_expires_at) values (?, 'pending', 0, 0, 0, 0, 0, '[]', ?, ?, ?)",
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


_SELECT = hours_select()
_INSERT = ", ".join(_SAVED)
_NAMED = ", ".join(f":{c}" for c in _SAVED)


def _claimable(row: tuple[object, ...], owner: str, now: str, force: bool) -> bool:
    status, lease_owner, lease_expires_at = row
    if status in ("done", "empty", "given_up") and not force:
        return False
    leased = lease_owner not in (None, owner) and str(lease_expires_at or "") > now
    return not leased


def _from_row(row: tuple[object, ...]) -> HourRecord:
    hour = hour_from_row(row)
    return HourRecord(
        hour=hour.hour,
        status=HourStatus(hour.status),
        files=hour.files,
        events=hour.events,
        bytes=hour.bytes,
        rejected_lines=hour.rejected_lines,
        attempts=hour.attempts,
        error=hour.error,
        keys=hour.keys,
        updated_at=hour.updated_at,
        failed_runs=hour.failed_runs,
    )

"""The ledger as a Snowflake table, written through Snowpark's DataFrame API.

Saving is a MERGE on the hour (``Table.merge``), so recording an hour twice leaves one row;
values travel as DataFrame data, never spliced into SQL text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_ingest.hours import floor_hour
from amplitude_ingest.in_snowflake.session import SessionGate

if TYPE_CHECKING:
    from snowflake.snowpark import Session
    from snowflake.snowpark.table import Table

COLUMNS = (
    "HOUR",
    "STATUS",
    "FILES",
    "EVENTS",
    "BYTES",
    "REJECTED_LINES",
    "ATTEMPTS",
    "ERROR",
    "STAGE_KEYS",
    "UPDATED_AT",
    "RUN_ID",
    "FAILED_RUNS",
)


def _naive_utc(moment: datetime) -> datetime:
    return floor_hour(moment).replace(tzinfo=None)


def _naive_utc_moment(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _record_schema() -> Any:
    from snowflake.snowpark.types import (
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    types = {"HOUR": TimestampType(), "UPDATED_AT": TimestampType()}
    text = {"STATUS", "ERROR", "STAGE_KEYS", "RUN_ID"}
    return StructType(
        [
            StructField(name, types.get(name, StringType() if name in text else LongType()))
            for name in COLUMNS
        ]
    )


def _to_row(record: HourRecord, now: datetime, run_id: str) -> list[Any]:
    return [
        _naive_utc(record.hour),
        record.status.value,
        record.files,
        record.events,
        record.bytes,
        record.rejected_lines,
        record.attempts,
        record.error,
        json.dumps(list(record.keys)),
        now,
        run_id,
        record.failed_runs,
    ]


def _from_row(row: Any) -> HourRecord:
    hour = row["HOUR"]
    updated = row["UPDATED_AT"]
    return HourRecord(
        hour=hour.replace(tzinfo=UTC),
        status=HourStatus(row["STATUS"]),
        files=int(row["FILES"]),
        events=int(row["EVENTS"]),
        bytes=int(row["BYTES"]),
        rejected_lines=int(row["REJECTED_LINES"]),
        attempts=int(row["ATTEMPTS"]),
        error=row["ERROR"],
        keys=tuple(json.loads(row["STAGE_KEYS"] or "[]")),
        updated_at=updated.replace(tzinfo=UTC) if updated else None,
        failed_runs=int(row["FAILED_RUNS"] or 0),
    )


class SnowflakeLedger:
    """Every call holds the session gate: worker threads upload through the same session.

    Each row written carries ``run_id``, the call that wrote it: the wait step lists the
    keys a run wrote by it (``amplitude_ingest.in_snowflake.wait_step``).
    """

    def __init__(self, gate: SessionGate, table_name: str, run_id: str) -> None:
        self._gate = gate
        self._table_name = table_name
        self._run_id = run_id

    def _table(self, session: Session) -> Table:
        return session.table(self._table_name)

    def get(self, hours: Sequence[datetime]) -> dict[datetime, HourRecord]:
        from snowflake.snowpark.functions import col

        if not hours:
            return {}
        wanted = [_naive_utc(h) for h in hours]
        with self._gate() as session:
            rows = self._table(session).filter(col("HOUR").isin(wanted)).collect()
        records = [_from_row(row) for row in rows]
        return {r.hour: r for r in records}

    def save(self, records: Iterable[HourRecord]) -> None:
        from snowflake.snowpark.functions import lit, when_matched, when_not_matched

        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [_to_row(r, now, self._run_id) for r in records]
        if not rows:
            return
        with self._gate() as session:
            target = self._table(session)
            source = session.create_dataframe(rows, schema=_record_schema())
            values = {name: source[name] for name in COLUMNS}
            values |= {"LEASE_OWNER": lit(None), "LEASE_EXPIRES_AT": lit(None)}  # done with it
            target.merge(
                source,
                target["HOUR"] == source["HOUR"],
                [when_matched().update(values), when_not_matched().insert(values)],
            )

    def claim(
        self, hours: Sequence[datetime], owner: str, now: datetime, until: datetime, force: bool
    ) -> set[datetime]:
        """One MERGE: Snowflake runs concurrent DML on a table one statement at a time
        ("Transactions", Snowflake docs: DML locks the table), so of two runs claiming the
        same hour, the second sees the first's lease and leaves the hour alone."""
        from snowflake.snowpark.functions import col, lit, when_matched, when_not_matched
        from snowflake.snowpark.types import StructField, StructType, TimestampType

        if not hours:
            return set()
        stamp, expires = _naive_utc_moment(now), _naive_utc_moment(until)
        wanted = [_naive_utc(h) for h in hours]
        with self._gate() as session:
            target = self._table(session)
            schema = StructType([StructField("HOUR", TimestampType())])
            source = session.create_dataframe([[hour] for hour in wanted], schema=schema)
            free = (
                target["LEASE_OWNER"].is_null()
                | (target["LEASE_OWNER"] == lit(owner))
                | (target["LEASE_EXPIRES_AT"] <= lit(stamp))
            )
            settled = [HourStatus.DONE.value, HourStatus.EMPTY.value, HourStatus.GIVEN_UP.value]
            takeable = free if force else free & ~target["STATUS"].isin(settled)
            lease = {
                "STATUS": lit(HourStatus.PENDING.value),
                "ERROR": lit(None),
                "UPDATED_AT": lit(stamp),
                "LEASE_OWNER": lit(owner),
                "LEASE_EXPIRES_AT": lit(expires),
                "RUN_ID": lit(self._run_id),
            }
            new = {
                **lease,
                "HOUR": source["HOUR"],
                "FILES": lit(0),
                "EVENTS": lit(0),
                "BYTES": lit(0),
                "REJECTED_LINES": lit(0),
                "ATTEMPTS": lit(0),
                "STAGE_KEYS": lit("[]"),
                "FAILED_RUNS": lit(0),
            }
            target.merge(
                source,
                target["HOUR"] == source["HOUR"],
                [when_matched(takeable).update(lease), when_not_matched().insert(new)],
            )
            rows = (
                self._table(session)
                .filter(col("HOUR").isin(wanted) & (col("LEASE_OWNER") == lit(owner)))
                .select("HOUR")
                .collect()
            )
        return {row[0].replace(tzinfo=UTC) for row in rows}

    def release(self, owner: str) -> None:
        from snowflake.snowpark.functions import col, lit

        with self._gate() as session:
            self._table(session).update(
                {"LEASE_OWNER": lit(None), "LEASE_EXPIRES_AT": lit(None)},
                col("LEASE_OWNER") == lit(owner),
            )

    def watermark(self) -> datetime | None:
        from snowflake.snowpark.functions import col
        from snowflake.snowpark.functions import max as max_

        complete = [s.value for s in HourStatus if s.is_settled]
        with self._gate() as session:
            row = (
                self._table(session)
                .filter(col("STATUS").isin(complete))
                .agg(max_("HOUR"))
                .collect()
            )
        latest = row[0][0] if row else None
        return latest.replace(tzinfo=UTC) if latest else None

    def unfinished(self) -> list[datetime]:
        from snowflake.snowpark.functions import col

        open_statuses = [HourStatus.PENDING.value, HourStatus.FAILED.value]
        with self._gate() as session:
            table = self._table(session)
            rows = table.filter(col("STATUS").isin(open_statuses)).select("HOUR").collect()
        return sorted(row[0].replace(tzinfo=UTC) for row in rows)

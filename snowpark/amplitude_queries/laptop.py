"""The laptop's stand-ins for Snowflake's ``ingest`` relations, in DuckDB.

On Snowflake the dashboard reads ``ingest.amplitude_ingest_ledger`` (sql/50),
``ingest.amplitude_files_not_loaded`` (sql/85) and ``ingest.amplitude_pipeline_runs``
(sql/50, written by the task graph's finalizer). On a laptop the same facts are the laptop's
records (:mod:`amplitude_queries.laptop_records`): the SQLite ledger's hours and runs, and
the loader's ``raw.load_history`` / ``raw.load_errors`` / ``raw.stage_rewrites``.
:func:`attach_ingest` builds, in an in-memory catalog named ``ingest`` beside the warehouse,
tables with the Snowflake names and columns, filled through those records' readers:

* ``amplitude_ingest_ledger``: the ledger's hours, ``keys`` as ``stage_keys``.
* ``amplitude_files_not_loaded``: the ledger's event keys (``events/...``) of done hours
  that are not a file name in the load history, with the loader's error when it has one
  ("not seen by the loader" otherwise). No 14-day window: the loader keeps its history for
  ever.
* ``amplitude_pipeline_runs``: one row per finished CLI run (the newest
  :data:`RUNS_SHOWN`), ``tasks`` holding one entry shaped like the finalizer's (task,
  state, attempt, error, return_value): the command, its recorded status (``SUCCEEDED``,
  ``FAILED``, ``DIED``) and first error. A run still going is not there yet, as a task
  graph's run is not before its finalizer.

So the dashboard's SQL is the same text on both. Reading stays cheap (tens of thousands of
hours at most); it is redone for each query that reads ``ingest``, and cached above.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from amplitude_queries.laptop_records import (
    LedgerHour,
    RunStatus,
    read_hours,
    read_load_errors,
    read_loaded,
    read_rewrites,
    read_runs,
)

RUNS_SHOWN = 50

_DDL = """
create table ingest.amplitude_ingest_ledger (
    hour timestamp not null,
    status varchar not null,
    files bigint not null,
    events bigint not null,
    bytes bigint not null,
    rejected_lines bigint not null,
    attempts bigint not null,
    error varchar,
    stage_keys varchar,
    updated_at timestamp not null,
    run_id varchar,
    lease_owner varchar,
    lease_expires_at timestamp,
    failed_runs bigint
);
create table ingest.amplitude_files_not_loaded (
    hour timestamp,
    run_id varchar,
    stage_key varchar,
    written_at timestamp,
    minutes_since_written bigint,
    load_status varchar,
    first_error_message varchar,
    refreshable boolean
);
create table ingest.amplitude_pipeline_health (
    hours_behind bigint,
    current_at_present_pace timestamp
);
create table ingest.amplitude_pipeline_runs (
    run_group_id varchar not null,
    finished_at timestamp not null,
    succeeded boolean not null,
    tasks json
);
"""


# sql/85's ledger figures, in DuckDB: every exportable hour not settled (done, empty or
# given up), and when the ledger is current at the pace of the last 6 hours less the one
# new hour an hour. ``?`` are the newest exportable hour (NULL when the lag is unknown) and
# now, each bound twice.
_BACKLOG = """
insert into ingest.amplitude_pipeline_health
with counts as (
    select
        max(case when status in ('done', 'empty', 'given_up') then hour end) as settled,
        cast(? as timestamp) as newest,
        count(case when status in ('pending', 'failed') and hour <= cast(? as timestamp)
            then 1 end) as unfinished,
        count(case when status in ('done', 'empty')
            and updated_at >= cast(? as timestamp) - interval 6 hour then 1 end) as last_6h
    from ingest.amplitude_ingest_ledger
),

behind as (
    select
        *,
        case when newest is not null then
            unfinished + greatest(0, date_diff('hour', coalesce(settled, newest), newest))
        end as hours_behind
    from counts
)

select
    hours_behind,
    case
        when hours_behind = 0 then cast(? as timestamp)
        when last_6h > 6 then cast(? as timestamp)
            + to_minutes(cast(ceil(360 * hours_behind / (last_6h - 6)) as bigint))
    end
from behind
"""


def attach_ingest(
    db: Any, state_dir: Path | None, now: datetime | None = None, lag_hours: int | None = None
) -> None:
    """Create and fill the ``ingest`` catalog on DuckDB connection ``db``, whose current
    database is the warehouse. ``lag_hours`` is the extract's (``AMP_LAG_HOURS``); without
    it, how far behind is unknown (NULL)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    db.execute("attach ':memory:' as ingest")
    db.execute(_DDL)
    hours = read_hours(state_dir) if state_dir else []
    if hours:
        db.executemany(
            "insert into ingest.amplitude_ingest_ledger values "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?)",
            [_ledger_row(h) for h in hours],
        )
    newest = (
        None
        if lag_hours is None
        else now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=lag_hours)
    )
    db.execute(_BACKLOG, [newest, newest, now, now, now])
    missing = list(files_not_loaded(db, hours, now))
    if missing:
        db.executemany(
            "insert into ingest.amplitude_files_not_loaded values (?, null, ?, ?, ?, ?, ?, true)",
            missing,
        )
    runs = list(pipeline_runs(state_dir)) if state_dir else []
    if runs:
        db.executemany("insert into ingest.amplitude_pipeline_runs values (?, ?, ?, ?)", runs)


def _naive(moment: datetime | None) -> datetime | None:
    """DuckDB's ``timestamp`` (naive, UTC) of an aware moment."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _ledger_row(hour: LedgerHour) -> tuple[object, ...]:
    """An hour in the Snowflake ledger's column order (run_id aside)."""
    return (
        _naive(hour.hour),
        hour.status,
        hour.files,
        hour.events,
        hour.bytes,
        hour.rejected_lines,
        hour.attempts,
        hour.error,
        json.dumps(list(hour.keys)),
        _naive(hour.updated_at),
        hour.lease_owner,
        _naive(hour.lease_expires_at),
        hour.failed_runs,
    )


def files_not_loaded(
    db: Any, hours: list[LedgerHour], now: datetime
) -> Iterator[tuple[object, ...]]:
    """(hour, key, written_at, minutes since, status, error) of event keys not loaded."""
    loaded = {name for name, _content in read_loaded(db)}
    errors = {e.file_name: e.error for e in read_load_errors(db)}  # the newest wins
    # A part `forget` rewrote was replaced, not lost: follow it to what replaced it.
    rewritten = read_rewrites(db)
    for hour in hours:
        if hour.status != "done":
            continue
        for written_key in hour.keys:
            key: str | None = written_key
            while key in rewritten:
                key = rewritten[key]
            if key is None or not key.startswith("events/") or key in loaded:
                continue
            written = _naive(hour.updated_at) or now
            minutes = int((now - written).total_seconds() // 60)
            if key in errors:
                yield (_naive(hour.hour), key, written, minutes, "Load failed", errors[key])
            else:
                yield (_naive(hour.hour), key, written, minutes, "not seen by the loader", None)


def pipeline_runs(state_dir: Path) -> Iterator[tuple[object, ...]]:
    """(run id, finished at, succeeded, tasks JSON) of the newest finished runs. A run
    that died has no end: its start stands in for it."""
    for run in read_runs(state_dir, limit=RUNS_SHOWN):
        if run.status is RunStatus.RUNNING:
            continue
        task = {
            "task": run.command,
            "state": run.status.value.upper(),
            "attempt": 1,
            "error": run.first_error,
            "return_value": None if run.exit_code is None else {"exit_code": run.exit_code},
        }
        finished = _naive(run.ended_at or run.started_at)
        yield (
            f"{run.command}-{run.run_id}",
            finished,
            run.status is RunStatus.SUCCEEDED,
            json.dumps([task]),
        )

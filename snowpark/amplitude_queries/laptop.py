"""The laptop's stand-ins for Snowflake's ``ingest`` relations, in DuckDB.

On Snowflake the dashboard reads ``ingest.amplitude_ingest_ledger`` (sql/50),
``ingest.amplitude_files_not_loaded`` (sql/85) and ``ingest.amplitude_pipeline_runs``
(sql/50, written by the task graph's finalizer). On a laptop the ledger is a SQLite file
(``{state}/ledger.sqlite``, table ``hours``), the "pipe" is the DuckDB loader with its
``raw.load_history`` / ``raw.load_errors``, and a run is a CLI command with a log file.
:func:`attach_ingest` builds, in an in-memory catalog named ``ingest`` beside the
warehouse, tables with the Snowflake names and columns, filled from those:

* ``amplitude_ingest_ledger``: the SQLite rows, ``keys`` as ``stage_keys``.
* ``amplitude_files_not_loaded``: the ledger's event keys (``events/...``) of done hours
  that are not a file name in ``raw.load_history``, with the loader's error when
  ``raw.load_errors`` has one ("not seen by the loader" otherwise). No 14-day window: the
  loader keeps its history for ever.
* ``amplitude_pipeline_runs``: one row per log file of ``{state}/logs`` (the newest 50),
  ``tasks`` holding one entry shaped like the finalizer's (task, state, attempt, error,
  return_value), the first ERROR line as its error.

So the dashboard's SQL is the same text on both. Reading stays cheap (tens of thousands of
hours at most); it is redone for each query that reads ``ingest``, and cached above.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

LEDGER_FILE = "ledger.sqlite"
LOG_DIR = "logs"
RUNS_SHOWN = 50
_LOG_NAME = re.compile(r"^(?P<command>[a-z-]+)_(?P<stamp>[0-9T-]+)_(?P<pid>\d+)\.log$")
_ERROR_LINE = re.compile(r"^\S+ \S+ ERROR (?P<logger>[^:]+): (?P<message>.*)$")

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
    """Create and fill the ``ingest`` catalog on DuckDB connection ``db``. ``lag_hours``
    is the extract's (``AMP_LAG_HOURS``); without it, how far behind is unknown (NULL)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    db.execute("attach ':memory:' as ingest")
    db.execute(_DDL)
    ledger = list(ledger_rows(state_dir / LEDGER_FILE)) if state_dir else []
    if ledger:
        db.executemany(
            "insert into ingest.amplitude_ingest_ledger values "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?)",
            ledger,
        )
    newest = (
        None
        if lag_hours is None
        else now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=lag_hours)
    )
    db.execute(_BACKLOG, [newest, newest, now, now, now])
    missing = list(files_not_loaded(db, ledger, now))
    if missing:
        db.executemany(
            "insert into ingest.amplitude_files_not_loaded values (?, null, ?, ?, ?, ?, ?, true)",
            missing,
        )
    runs = list(log_runs(state_dir / LOG_DIR)) if state_dir else []
    if runs:
        db.executemany("insert into ingest.amplitude_pipeline_runs values (?, ?, ?, ?)", runs)


def _timestamp(text: object) -> datetime | None:
    """The ledger's ISO text (UTC, with or without an offset) as a naive UTC datetime."""
    if text is None or text == "":
        return None
    value = str(text)
    if re.fullmatch(r"\d{8}T\d{2}", value):  # an hour as the ledger keys it
        return datetime.strptime(value, "%Y%m%dT%H")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def ledger_rows(path: Path) -> Iterator[tuple[object, ...]]:
    """The SQLite ledger's rows, in the Snowflake ledger's column order (run_id aside)."""
    if not path.exists():
        return
    # Read-only, through a URI: the dashboard must never create or change a ledger.
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as ledger:
        present = {row[1] for row in ledger.execute("pragma table_info(hours)")}
        # A ledger from before give-up (never upgraded here: read-only) failed no run yet.
        failed_runs = "failed_runs" if "failed_runs" in present else "0"
        rows = ledger.execute(
            "select hour, status, files, events, bytes, rejected_lines, attempts, error, "
            f"keys, updated_at, lease_owner, lease_expires_at, {failed_runs} "
            "from hours order by hour"
        ).fetchall()
    for row in rows:
        hour, status, files, events, size, rejected, attempts, error, keys, updated = row[:10]
        yield (
            _timestamp(hour),
            status,
            files,
            events,
            size,
            rejected,
            attempts,
            error,
            keys,
            _timestamp(updated),
            row[10],
            _timestamp(row[11]),
            row[12],
        )


def files_not_loaded(
    db: Any, ledger: list[tuple[object, ...]], now: datetime
) -> Iterator[tuple[object, ...]]:
    """(hour, key, written_at, minutes since, status, error) of event keys not loaded."""
    tables = {
        str(name)
        for (name,) in db.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'warehouse' and table_schema = 'raw'"
        ).fetchall()
    }
    loaded: set[str] = set()
    errors: dict[str, str] = {}
    if "load_history" in tables:
        history = db.execute("select file_name from raw.load_history").fetchall()
        loaded = {str(name) for (name,) in history}
    if "load_errors" in tables:
        errors = {
            str(n): str(e)
            for n, e in db.execute(
                "select file_name, error from raw.load_errors order by failed_at"
            ).fetchall()
        }
    # A part `forget` rewrote was replaced, not lost: follow it to what replaced it.
    rewritten: dict[str, str | None] = {}
    if "stage_rewrites" in tables:
        rows = db.execute("select file_name, rewritten_to from raw.stage_rewrites").fetchall()
        rewritten = {str(old): None if new is None else str(new) for old, new in rows}
    for hour, status, *_rest, keys, updated, _owner, _expires, _failed_runs in ledger:
        if status != "done":
            continue
        for written_key in json.loads(str(keys or "[]")):
            key: str | None = str(written_key)
            while key in rewritten:
                key = rewritten[key]
            if key is None or not key.startswith("events/") or key in loaded:
                continue
            written = updated if isinstance(updated, datetime) else now
            minutes = int((now - written).total_seconds() // 60)
            if key in errors:
                yield (hour, key, written, minutes, "Load failed", errors[key])
            else:
                yield (hour, key, written, minutes, "not seen by the loader", None)


def log_runs(log_dir: Path) -> Iterator[tuple[object, ...]]:
    """(run id, finished at, succeeded, tasks JSON) for the newest run logs."""
    if not log_dir.is_dir():
        return
    logs = []
    for path in log_dir.glob("*.log"):
        match = _LOG_NAME.match(path.name)
        if match:
            logs.append((path.stat().st_mtime, path, match.group("command")))
    for mtime, path, command in sorted(logs, reverse=True)[:RUNS_SHOWN]:
        error = _first_error(path)
        task = {
            "task": command,
            "state": "SUCCEEDED" if error is None else "FAILED",
            "attempt": 1,
            "error": error,
            "return_value": None,
        }
        finished = datetime.fromtimestamp(mtime, UTC).replace(tzinfo=None)
        yield (path.stem, finished, error is None, json.dumps([task]))


def _first_error(path: Path) -> str | None:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = _ERROR_LINE.match(line.rstrip("\n"))
            if match:
                return match.group("message")
    return None

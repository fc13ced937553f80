"""The laptop's records: the one home of their schemas, and their typed readers.

Two files hold what a laptop run leaves behind:

* the SQLite ledger in the state folder (:data:`LEDGER_FILE`): table ``hours``, one row per
  exported hour (written by :class:`amplitude_laptop.sqlite_ledger.SqliteLedger`), and table
  ``runs``, one row per CLI command (written by :mod:`amplitude_laptop.runs`);
* the DuckDB warehouse: the loader's ``raw`` tables (:data:`WAREHOUSE_DDL`: the raw events,
  ``load_history``, ``load_errors``, the forget requests and the stage rewrites).

Writers create and upgrade both through this module; ``amplitude-ingest status``, the
loader and the dashboard's laptop stand-ins (:mod:`amplitude_queries.laptop`) read through
it, so none of them knows a file name, a column list or a log format of its own.

Why here and not in ``amplitude_laptop``: the dashboard reads these records, and it ships
into Streamlit in Snowflake as ``amplitude_dashboard`` and ``amplitude_queries`` only. This
module imports nothing but the standard library (a DuckDB connection is handed in), so the
bundle carries no laptop code; the laptop app imports it, never the other way round.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

# ---- the SQLite ledger ----------------------------------------------------------------------

LEDGER_FILE = "ledger.sqlite"

# The hours table's columns a reader gets, in this order.
HOURS_COLUMNS = (
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
    "lease_owner",
    "lease_expires_at",
    "failed_runs",
)
HOURS_DDL = """
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
# Columns added to ``hours`` since the first version, with their definitions: a ledger made
# by an older version is upgraded in place by :func:`open_ledger`, and read as if it had
# them (their defaults) by the read-only readers, which never upgrade.
HOURS_ADDED_COLUMNS = {
    "lease_owner": ("text", "null"),
    "lease_expires_at": ("text", "null"),
    "failed_runs": ("integer not null default 0", "0"),
}
# One row per CLI command (and per demo run), started as 'running' with the process id and
# the host, finished with the exit status and the first error. A process killed before it
# finishes its row leaves 'running' behind: readers call it 'died' once that pid is gone.
RUNS_DDL = """
create table if not exists runs (
    run_id integer primary key autoincrement,
    command text not null,
    started_at text not null,
    ended_at text,
    status text not null,
    exit_code integer,
    first_error text,
    pid integer not null,
    host text not null
)
"""
# The first error is kept whole up to this many characters (dbt's and DuckDB's messages
# can run to pages; the log file has the rest).
FIRST_ERROR_MAX_CHARS = 500


def ledger_path(state_dir: Path) -> Path:
    return state_dir / LEDGER_FILE


def open_ledger(state_dir: Path) -> sqlite3.Connection:
    """The ledger for writing: created on first use, upgraded in place when older.

    Autocommit (``isolation_level=None``): callers open their own transactions.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(ledger_path(state_dir), check_same_thread=False, isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.execute(HOURS_DDL)
    present = _columns(db, "hours")
    for column, (definition, _default) in HOURS_ADDED_COLUMNS.items():
        if column not in present:
            db.execute(f"alter table hours add column {column} {definition}")
    db.execute(RUNS_DDL)
    return db


@contextmanager
def _read_only(state_dir: Path) -> Iterator[sqlite3.Connection | None]:
    """The ledger opened read-only (None when there is none yet): a reader never creates,
    upgrades or changes it."""
    path = ledger_path(state_dir)
    if not path.exists():
        yield None
        return
    # as_uri() percent-encodes the path: a folder named with '?' or '#' stays a path.
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        yield db


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in db.execute(f"pragma table_info({table})")}


def state_version(state_dir: Path) -> str:
    """Changes whenever a record in the ledger may have changed (a cache key).

    The ledger is in WAL mode: a write changes the ``-wal`` file before the main one.
    """
    path = ledger_path(state_dir)
    stamps = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            stamps.append(candidate.stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    return ":".join(map(str, stamps))


# ---- hours ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerHour:
    """One row of ``hours``; times are UTC-aware, ``status`` is the ledger's text."""

    hour: datetime
    status: str
    files: int
    events: int
    bytes: int
    rejected_lines: int
    attempts: int
    error: str | None
    keys: tuple[str, ...]
    updated_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    failed_runs: int


def hours_select(present: set[str] | None = None) -> str:
    """The column list of :data:`HOURS_COLUMNS` for a select; columns a ledger does not
    have yet (``present``, when given) read as their defaults."""
    return ", ".join(
        HOURS_ADDED_COLUMNS[c][1] if present is not None and c not in present else c
        for c in HOURS_COLUMNS
    )


def hour_from_row(row: tuple[object, ...]) -> LedgerHour:
    """A row selected with :func:`hours_select`."""
    hour, status, files, events, size, rejected, attempts, error, keys, updated = row[:10]
    owner, expires, failed_runs = row[10:]
    return LedgerHour(
        hour=_hour(str(hour)),
        status=str(status),
        files=int(str(files)),
        events=int(str(events)),
        bytes=int(str(size)),
        rejected_lines=int(str(rejected)),
        attempts=int(str(attempts)),
        error=None if error is None else str(error),
        keys=tuple(str(k) for k in json.loads(str(keys or "[]"))),
        updated_at=_moment(str(updated)),
        lease_owner=None if owner is None else str(owner),
        lease_expires_at=None if expires in (None, "") else _moment(str(expires)),
        failed_runs=int(str(failed_runs or 0)),
    )


def read_hours(state_dir: Path) -> list[LedgerHour]:
    """Every hour of the ledger, oldest first; none when there is no ledger yet."""
    with _read_only(state_dir) as db:
        if db is None:
            return []
        select = hours_select(_columns(db, "hours"))
        rows = db.execute(f"select {select} from hours order by hour").fetchall()
    return [hour_from_row(row) for row in rows]


def _hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H").replace(tzinfo=UTC)


def _moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# ---- runs -----------------------------------------------------------------------------------


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Never finished its record, and its process is gone (killed, or the machine stopped).
    DIED = "died"


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    command: str
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    exit_code: int | None
    first_error: str | None
    pid: int
    host: str

    def one_line(self) -> str:
        when = f"{self.started_at:%Y-%m-%d %H:%M:%S} UTC"
        text = f"{self.command} started {when}: {self.status.value}"
        if self.status is RunStatus.RUNNING:
            text += f" (pid {self.pid} on {self.host})"
        if self.first_error:
            text += f": {self.first_error}"
        return text


_RUN_COLUMNS = "run_id, command, started_at, ended_at, status, exit_code, first_error, pid, host"
DIED_ERROR = (
    "the process (pid {pid} on {host}) ended before it finished this record: killed, "
    "or the machine stopped; its log file has what it did"
)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a reused id reads as alive:
    the run then shows as running until that process ends too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def start_run(db: sqlite3.Connection, command: str, now: datetime) -> int:
    """Record a run as started (status running); first mark this host's earlier runs whose
    process is gone as died, so the record of a killed run is settled on the next run."""
    host = socket.gethostname()
    db.execute("begin immediate")
    try:
        running = db.execute(
            "select run_id, pid from runs where status = ? and host = ?",
            [RunStatus.RUNNING.value, host],
        ).fetchall()
        for run_id, old_pid in running:
            if not pid_alive(int(old_pid)):
                db.execute(
                    "update runs set status = ?, first_error = ? where run_id = ?",
                    [RunStatus.DIED.value, DIED_ERROR.format(pid=old_pid, host=host), run_id],
                )
        cursor = db.execute(
            "insert into runs (command, started_at, status, pid, host) values (?, ?, ?, ?, ?)",
            [command, _stamp(now), RunStatus.RUNNING.value, os.getpid(), host],
        )
    except BaseException:
        db.execute("rollback")
        raise
    db.execute("commit")
    return int(cursor.lastrowid or 0)


def finish_run(
    db: sqlite3.Connection, run_id: int, exit_code: int, first_error: str | None, now: datetime
) -> RunStatus:
    """Record how a run ended: succeeded when it exits 0, failed otherwise. A failed run
    always has an error (the caller says why); it is cut to :data:`FIRST_ERROR_MAX_CHARS`."""
    status = RunStatus.SUCCEEDED if exit_code == 0 else RunStatus.FAILED
    if status is RunStatus.FAILED and not first_error:
        raise ValueError("a failed run is recorded with its error")
    error = None if first_error is None else cut_error(first_error)
    db.execute(
        "update runs set ended_at = ?, status = ?, exit_code = ?, first_error = ? where run_id = ?",
        [_stamp(now), status.value, exit_code, error, run_id],
    )
    return status


def cut_error(text: str) -> str:
    """``text`` bounded to :data:`FIRST_ERROR_MAX_CHARS`, an ellipsis saying it was cut."""
    text = text.strip()
    if len(text) <= FIRST_ERROR_MAX_CHARS:
        return text
    return text[: FIRST_ERROR_MAX_CHARS - 1] + "…"


def read_runs(
    state_dir: Path, limit: int = 50, alive: Callable[[int], bool] = pid_alive
) -> list[RunRecord]:
    """The newest ``limit`` runs, newest first. A run still 'running' whose process is
    gone from this host reads as died; one from another host cannot be checked here and
    reads as running until a run on that host settles it."""
    with _read_only(state_dir) as db:
        if db is None or "runs" not in _tables(db):
            return []
        rows = db.execute(
            f"select {_RUN_COLUMNS} from runs order by run_id desc limit ?", [limit]
        ).fetchall()
    here = socket.gethostname()
    records = []
    for run_id, command, started, ended, status, exit_code, error, pid, host in rows:
        state = RunStatus(str(status))
        if state is RunStatus.RUNNING and str(host) == here and not alive(int(pid)):
            state = RunStatus.DIED
            error = DIED_ERROR.format(pid=pid, host=host)
        records.append(
            RunRecord(
                run_id=int(run_id),
                command=str(command),
                started_at=_moment(str(started)),
                ended_at=None if ended is None else _moment(str(ended)),
                status=state,
                exit_code=None if exit_code is None else int(exit_code),
                first_error=None if error is None else str(error),
                pid=int(pid),
                host=str(host),
            )
        )
    return records


def _tables(db: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in db.execute("select name from sqlite_master where type = 'table'")}


# ---- the warehouse's raw tables (DuckDB) ----------------------------------------------------

RAW_SCHEMA = "raw"
RAW_TABLE = "amplitude_events_raw"
LOAD_HISTORY_TABLE = "load_history"
LOAD_ERRORS_TABLE = "load_errors"
FORGET_REQUESTS_TABLE = "amplitude_forget_requests"
# Stage parts `amplitude-ingest forget` rewrote without a user's lines (amplitude_laptop.
# forget): the old key is never loaded again, even if it is still on the stage after a
# crash, and the dashboard's "files not loaded" follows it to the key that replaced it.
STAGE_REWRITES_TABLE = "stage_rewrites"

WAREHOUSE_DDL = f"""
create schema if not exists {RAW_SCHEMA};

create table if not exists {RAW_SCHEMA}.{RAW_TABLE} (
    raw_json json not null,
    file_name varchar not null,
    file_row_number bigint not null,
    loaded_at timestamp not null
);

create table if not exists {RAW_SCHEMA}.{LOAD_HISTORY_TABLE} (
    file_name varchar not null,
    content_id varchar not null,
    size_bytes bigint not null,
    rows_loaded bigint not null,
    loaded_at timestamp not null,
    primary key (file_name, content_id)
);

create table if not exists {RAW_SCHEMA}.{LOAD_ERRORS_TABLE} (
    file_name varchar not null,
    content_id varchar not null,
    error varchar not null,
    failed_at timestamp not null,
    primary key (file_name, content_id)
);

create table if not exists {RAW_SCHEMA}.{FORGET_REQUESTS_TABLE} (
    request_id varchar not null primary key,
    requested_at timestamp not null,
    id_kind varchar not null,
    id_sha256 varchar not null,
    raw_rows_deleted bigint not null,
    stage_files_rewritten bigint not null,
    quarantine_lines_removed bigint not null
);

create table if not exists {RAW_SCHEMA}.{STAGE_REWRITES_TABLE} (
    file_name varchar not null primary key,
    rewritten_to varchar,
    request_id varchar not null,
    lines_removed bigint not null,
    rewritten_at timestamp not null
);
"""


@dataclass(frozen=True)
class LoadError:
    file_name: str
    content_id: str
    error: str
    failed_at: datetime


@dataclass(frozen=True)
class LoadStats:
    files_loaded: int
    rows_loaded: int
    files_failed: int
    last_loaded_at: datetime | None
    errors: list[tuple[str, str]]  # the newest five: file, error


def raw_tables(db: Any) -> set[str]:
    """The loader's tables present in the connection's current database (an older or
    half-made warehouse may lack some: readers read those as empty)."""
    rows = db.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ?",
        [RAW_SCHEMA],
    ).fetchall()
    return {str(name) for (name,) in rows}


def read_loaded(db: Any) -> set[tuple[str, str]]:
    """(file name, content id) of every load in ``load_history``."""
    if LOAD_HISTORY_TABLE not in raw_tables(db):
        return set()
    rows = db.execute(
        f"select file_name, content_id from {RAW_SCHEMA}.{LOAD_HISTORY_TABLE}"
    ).fetchall()
    return {(str(name), str(content)) for name, content in rows}


def read_load_errors(db: Any) -> list[LoadError]:
    """Every file the loader could not load, oldest first."""
    if LOAD_ERRORS_TABLE not in raw_tables(db):
        return []
    rows = db.execute(
        f"select file_name, content_id, error, failed_at from {RAW_SCHEMA}.{LOAD_ERRORS_TABLE} "
        "order by failed_at, file_name"
    ).fetchall()
    return [LoadError(str(n), str(c), str(e), f) for n, c, e, f in rows]


def read_rewrites(db: Any) -> dict[str, str | None]:
    """Stage keys `forget` rewrote, each to the key that replaced it (None: no line left)."""
    if STAGE_REWRITES_TABLE not in raw_tables(db):
        return {}
    rows = db.execute(
        f"select file_name, rewritten_to from {RAW_SCHEMA}.{STAGE_REWRITES_TABLE}"
    ).fetchall()
    return {str(old): None if new is None else str(new) for old, new in rows}


def read_load_stats(db: Any) -> LoadStats | None:
    """The loader's history in figures, or None when the loader never ran here."""
    tables = raw_tables(db)
    if LOAD_HISTORY_TABLE not in tables:
        return None
    files, rows, last = db.execute(
        "select count(*), coalesce(sum(rows_loaded), 0), max(loaded_at) "
        f"from {RAW_SCHEMA}.{LOAD_HISTORY_TABLE}"
    ).fetchone() or (0, 0, None)
    errors = read_load_errors(db) if LOAD_ERRORS_TABLE in tables else []
    newest = sorted(errors, key=lambda e: e.failed_at, reverse=True)[:5]
    return LoadStats(
        int(files),
        int(rows),
        len(errors),
        last,
        [(e.file_name, e.error) for e in newest],
    )

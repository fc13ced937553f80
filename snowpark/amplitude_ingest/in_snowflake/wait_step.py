"""The wait step between the export and dbt: every file a run wrote must reach the raw table.

`ingest_amplitude()` records, for each hour it writes, the stage keys and its run id in the
ledger, and returns a summary carrying that run id (the task graph's root return value).
`amplitude_wait_for_loads()` reads that run id, lists the keys the ledger says the run
wrote, and polls the raw table (the file names Snowpipe loaded, METADATA$FILENAME) until
every key is there. It fails the task, naming the files, when one is missing after the
timeout, or at once when COPY_HISTORY says Snowpipe failed to load one. dbt never runs on
an export Snowpipe did not see: an unwired bucket notification, a broken IAM trust, a
paused pipe all end here, loudly.

The run reference it reads is the export's task return value
(`amplitude_ingest.in_snowflake.task_return_value`); its settings are `WaitSettings` of the
settings table (`amplitude_ingest.in_snowflake.settings_table`).

Pure logic (matching keys with loaded names, the verdict) is plain functions of plain
values; the handler only runs its queries through a `Queries` callable.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amplitude_ingest.errors import AmplitudeIngestError, ConfigurationError
from amplitude_ingest.in_snowflake.session import Queries, SessionGate, text_pairs
from amplitude_ingest.in_snowflake.settings_table import (
    SETTINGS_TABLE,
    WaitSettings,
    settings_query,
)
from amplitude_ingest.in_snowflake.task_return_value import PREDECESSOR_QUERY, parse_run_reference
from amplitude_ingest.in_snowflake.text import cut
from amplitude_ingest.stage_keys import EVENTS_FOLDER

if TYPE_CHECKING:
    from snowflake.snowpark import Session

EVENTS_PREFIX = f"{EVENTS_FOLDER}/"
# Snowpipe keeps load history for 14 days (a path it loaded is not loaded again); a key a
# run rewrote unchanged may have been loaded up to that long ago.
FIRST_LOOK_SECONDS = 15 * 24 * 3600
# A COPY's START_SCAN_TIME (the raw table's LOADED_AT) can precede the moment its rows
# become visible: later looks reach this far behind the previous one.
LOOK_BACK_MARGIN_SECONDS = 3600
NAMES_IN_MESSAGE = 10
LOAD_ERROR_CHARS = 200  # of each COPY_HISTORY error the message quotes


class FilesNotLoadedError(AmplitudeIngestError):
    """Files a run wrote to the stage are not in the raw table (and dbt must not run)."""


# ---- what the run wrote, what the pipe loaded --------------------------------------------------


def expected_files(rows: Iterable[Sequence[Any]]) -> list[str]:
    """The events/ keys of the ledger rows of one run: (status, stage_keys JSON) pairs.

    Only hours recorded `done` count; quarantine keys are never loaded by the pipe.
    """
    keys: set[str] = set()
    for status, stage_keys in rows:
        if str(status).lower() != "done" or not stage_keys:
            continue
        try:
            listed = json.loads(stage_keys)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"a ledger row's stage_keys is not JSON: {stage_keys!r:.80}"
            ) from exc
        keys.update(str(k) for k in listed if str(k).startswith(EVENTS_PREFIX))
    return sorted(keys)


def follow_rewrites(keys: Iterable[str], rewrites: Mapping[str, str | None]) -> list[str]:
    """The keys to wait for: a key ``amplitude_forget()`` rewrote is replaced by the key that
    replaced it (the pipe loads that one), or dropped when nothing was left to write."""
    out: set[str] = set()
    for key in keys:
        current: str | None = key
        seen: set[str] = set()
        while current is not None and current in rewrites and current not in seen:
            seen.add(current)
            current = rewrites[current]
        if current is not None:
            out.add(current)
    return sorted(out)


def is_loaded(key: str, file_name: str) -> bool:
    """A raw row's FILE_NAME comes from `key` when equal to it or ending with '/' + key.

    METADATA$FILENAME "includes the path to the data file"; whether that path starts at the
    stage's URL or at the bucket, the key is its tail. The health view uses the same rule.
    """
    return file_name == key or file_name.endswith("/" + key)


@dataclass(frozen=True)
class Reconciliation:
    loaded: tuple[str, ...]
    missing: tuple[str, ...]


def reconcile(expected: Iterable[str], loaded_names: Iterable[str]) -> Reconciliation:
    """Split the expected keys into loaded and missing (same rule as `is_loaded`)."""
    tails: set[str] = set()
    for name in loaded_names:
        tails.add(name)
        for at in [m.start() + 1 for m in re.finditer("/", name)]:
            tails.add(name[at:])
    loaded: list[str] = []
    missing: list[str] = []
    for key in sorted(set(expected)):
        (loaded if key in tails else missing).append(key)
    return Reconciliation(tuple(loaded), tuple(missing))


@dataclass(frozen=True)
class Verdict:
    state: str  # "done", "wait" or "fail"
    expected: int
    loaded: int
    missing: tuple[str, ...] = ()
    message: str = ""


def decide(
    expected: Sequence[str],
    loaded_names: Iterable[str],
    load_errors: Mapping[str, str],
    elapsed_seconds: float,
    timeout_seconds: float,
    settings: WaitSettings | None = None,
) -> Verdict:
    """Done when nothing is missing; fail at once on a load error, or at the timeout."""
    result = reconcile(expected, loaded_names)
    if not result.missing:
        return Verdict("done", len(expected), len(result.loaded))
    settings = settings or WaitSettings()
    failed = {
        key: error
        for key in result.missing
        for file_name, error in load_errors.items()
        if is_loaded(key, file_name)
    }
    if failed:
        listed = "; ".join(
            f"{k}: {cut(e, LOAD_ERROR_CHARS)}" for k, e in list(failed.items())[:NAMES_IN_MESSAGE]
        )
        more = len(failed) - NAMES_IN_MESSAGE
        message = (
            f"Snowpipe failed to load {len(failed)} of the {len(expected)} files this run "
            f"wrote ({listed}{f'; and {more} more' if more > 0 else ''}). A failed path is "
            "not loaded again: fix the cause, then re-export those hours with new content "
            f"({settings.reexport_hint()}); COPY_HISTORY on {settings.raw_table} has the details."
        )
        return Verdict("fail", len(expected), len(result.loaded), tuple(failed), message)
    if elapsed_seconds < timeout_seconds:
        return Verdict("wait", len(expected), len(result.loaded), result.missing)
    shown = ", ".join(result.missing[:NAMES_IN_MESSAGE])
    more = len(result.missing) - NAMES_IN_MESSAGE
    message = (
        f"after {elapsed_seconds:.0f} s, {len(result.missing)} of the {len(expected)} files "
        f"this run wrote are not in {settings.raw_table}: {shown}"
        f"{f' and {more} more' if more > 0 else ''}. If none arrive, the bucket's event "
        f"notification to the pipe is missing or the pipe is not running: `make doctor` "
        f"(CALL {settings.doctor}()) prints the exact step. Files staged in the last 7 days "
        f"can then be queued with: ALTER PIPE {settings.pipe} REFRESH PREFIX = 'events/'; "
        f"{settings.files_view} lists every file still missing."
    )
    return Verdict("fail", len(expected), len(result.loaded), result.missing, message)


# ---- the queries -------------------------------------------------------------------------------
# Values travel as bind variables (?); only validated qualified names are spliced in.


def ledger_keys_query(settings: WaitSettings) -> str:
    return f"select status, stage_keys from {settings.ledger_table} where run_id = ?"


def rewrites_query(settings: WaitSettings) -> str:
    return f"select file_name, rewritten_to from {settings.stage_rewrites_table}"


def loaded_files_query(settings: WaitSettings) -> str:
    return (
        f"select distinct file_name from {settings.raw_table} "
        "where loaded_at >= dateadd(second, -?, sysdate())"
    )


def load_errors_query(settings: WaitSettings) -> str:
    database = settings.raw_table.split(".")[0]
    return (
        "select file_name, status, first_error_message "
        f"from table({database}.information_schema.copy_history("
        f"table_name => '{settings.raw_table}', "
        "start_time => dateadd(hour, -24, current_timestamp()))) "
        "where status <> 'Loaded'"
    )


def queries(settings: WaitSettings, settings_table: str) -> list[str]:
    """Every statement the wait step runs (tests replay them against sql/privileges.yml)."""
    return [
        settings_query(settings_table),
        PREDECESSOR_QUERY,
        ledger_keys_query(settings),
        rewrites_query(settings),
        loaded_files_query(settings),
        load_errors_query(settings),
    ]


# ---- the wait --------------------------------------------------------------------------------


@dataclass
class LoadWatcher:
    """Looks at the raw table and COPY_HISTORY, remembering what it has seen."""

    run_sql: Queries
    settings: WaitSettings
    clock: Callable[[], float] = time.monotonic
    seen: set[str] = field(default_factory=set)
    _last_look: float | None = None

    def look(self) -> tuple[set[str], dict[str, str]]:
        now = self.clock()
        back = (
            FIRST_LOOK_SECONDS
            if self._last_look is None
            else int(now - self._last_look) + LOOK_BACK_MARGIN_SECONDS
        )
        self._last_look = now
        rows = self.run_sql(loaded_files_query(self.settings), [back])
        self.seen.update(str(row[0]) for row in rows)
        errors = {
            str(row[0]): f"{row[1]}: {row[2]}"
            for row in self.run_sql(load_errors_query(self.settings), [])
        }
        return self.seen, errors


def wait_for_loads(
    expected: Sequence[str],
    watcher: LoadWatcher,
    timeout_seconds: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    started = clock()
    while True:
        loaded, errors = watcher.look()
        verdict = decide(
            expected, loaded, errors, clock() - started, timeout_seconds, watcher.settings
        )
        if verdict.state != "wait":
            return verdict
        sleep(poll_seconds)


def check_run(
    run_sql: Queries,
    run: str | None,
    settings_table: str,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The whole wait step over a `run_sql(query, params) -> rows` callable."""
    settings = WaitSettings.from_rows(
        text_pairs(run_sql(settings_query(settings_table), [])), settings_table
    )
    if not run:
        rows = run_sql(PREDECESSOR_QUERY, [settings.root_task])
        run = str(rows[0][0]) if rows and rows[0][0] is not None else None
    reference = parse_run_reference(run)
    written = expected_files(run_sql(ledger_keys_query(settings), [reference.run_id]))
    rewrites = text_pairs(run_sql(rewrites_query(settings), []))
    expected = follow_rewrites(written, rewrites)
    watcher = LoadWatcher(run_sql, settings, clock)
    verdict = wait_for_loads(
        expected, watcher, settings.wait_timeout_seconds, settings.wait_poll_seconds, clock, sleep
    )
    if verdict.state == "fail":
        raise FilesNotLoadedError(f"run {reference.run_id}: {verdict.message}")
    return {
        "run_id": reference.run_id,
        "files_expected": verdict.expected,
        "files_loaded": verdict.loaded,
    }


def amplitude_wait_for_loads(
    session: Session,
    run: str | None = None,
    settings_table: str = SETTINGS_TABLE,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps a plain dict to the VARIANT it returns
    """CALL amplitude_wait_for_loads([run [, settings_table]]): the task graph's wait step."""
    return check_run(SessionGate(session).rows, run, settings_table)

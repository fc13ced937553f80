"""The wait step between the export and dbt: every file a run wrote must reach the raw table.

`ingest_amplitude()` records, for each hour it writes, the stage keys and its run id in the
ledger, and returns a summary carrying that run id (the task graph's root return value).
`amplitude_wait_for_loads()` reads that run id, lists the keys the ledger says the run
wrote, and polls the raw table (the file names Snowpipe loaded, METADATA$FILENAME) until
every key is there. It fails the task, naming the files, when one is missing after the
timeout, or at once when COPY_HISTORY says Snowpipe failed to load one. dbt never runs on
an export Snowpipe did not see: an unwired bucket notification, a broken IAM trust, a
paused pipe all end here, loudly.

Also here, because it is the other half of the same contract: `bound_summary()`, which
keeps the task return value under SYSTEM$SET_RETURN_VALUE's limit (10 kB in UTF-8).

Pure logic (parsing the run reference, matching keys with loaded names, the verdict, the
bounded summary) is plain functions of plain values; the handler only runs three queries
through a `Queries` callable. This module imports nothing from amplitude_ingest but its
errors, so it does not depend on how the rest of the package is arranged.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amplitude_ingest.errors import AmplitudeIngestError, ConfigurationError

if TYPE_CHECKING:
    from snowflake.snowpark import Session

# SYSTEM$SET_RETURN_VALUE: "The string size must be <= 10 kB (when encoded in UTF8)".
RETURN_VALUE_LIMIT_BYTES = 10_000
# What bound_summary() aims for by default: well under the limit.
DEFAULT_SUMMARY_BYTES = 4_000
MAX_FAILURES_IN_SUMMARY = 5
MAX_MESSAGE_CHARS = 200

EVENTS_PREFIX = "events/"
DEFAULT_TIMEOUT_SECONDS = 900
DEFAULT_POLL_SECONDS = 20
# Snowpipe keeps load history for 14 days (a path it loaded is not loaded again); a key a
# run rewrote unchanged may have been loaded up to that long ago.
FIRST_LOOK_SECONDS = 15 * 24 * 3600
# A COPY's START_SCAN_TIME (the raw table's LOADED_AT) can precede the moment its rows
# become visible: later looks reach this far behind the previous one.
LOOK_BACK_MARGIN_SECONDS = 3600
NAMES_IN_MESSAGE = 10
# What the wait step reads from the settings table.
SETTINGS = (
    "raw_table",
    "ledger_table",
    "pipe",
    "root_task",
    "wait_timeout_seconds",
    "wait_poll_seconds",
    "stage_rewrites_table",
)

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+")'
_QUALIFIED = re.compile(rf"^{_PART}\.{_PART}\.{_PART}$")


class RunReferenceError(ConfigurationError):
    """No run to check: the return value carries no run id, or it is malformed."""


class FilesNotLoadedError(AmplitudeIngestError):
    """Files a run wrote to the stage are not in the raw table (and dbt must not run)."""


# ---- the run reference and the task return value -------------------------------------------


@dataclass(frozen=True)
class RunReference:
    run_id: str


def parse_run_reference(value: str | None) -> RunReference:
    """The run id in the root task's return value (the summary JSON), or a bare run id."""
    text = (value or "").strip()
    if not text:
        raise RunReferenceError(
            "no run to check: the task graph's root set no return value (did "
            "ingest_amplitude() run?); from a worksheet pass a run id: "
            "CALL amplitude_wait_for_loads('<run_id>')"
        )
    if text.startswith("{"):
        try:
            summary = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunReferenceError(f"the return value is not JSON: {text[:80]!r}") from exc
        run_id = summary.get("run_id") if isinstance(summary, dict) else None
        if not isinstance(run_id, str):
            raise RunReferenceError(
                "the return value has no run_id: ingest_amplitude() must return one "
                f"(got keys {sorted(summary)[:10] if isinstance(summary, dict) else '?'})"
            )
        text = run_id
    if not _RUN_ID.match(text):
        raise RunReferenceError(f"{text[:80]!r} is not a run id")
    return RunReference(text)


def bound_summary(
    summary: Mapping[str, Any], limit_bytes: int = DEFAULT_SUMMARY_BYTES
) -> dict[str, Any]:
    """A summary that fits in `limit_bytes` of compact UTF-8 JSON, for SYSTEM$SET_RETURN_VALUE.

    Counts and other scalars are kept; `failures` (hour -> message, one per failed hour,
    unbounded) becomes `failures_total` plus the first few, each message cut to
    MAX_MESSAGE_CHARS; `truncated` says whether anything was left out. If that is still too
    big, failures are dropped one by one, then everything but `run_id` and numbers.
    """
    if limit_bytes > RETURN_VALUE_LIMIT_BYTES:
        raise ValueError(f"limit_bytes must be <= {RETURN_VALUE_LIMIT_BYTES}")
    out: dict[str, Any] = {}
    truncated = False
    for key, value in summary.items():
        if key == "failures":
            continue
        if isinstance(value, str) and len(value) > MAX_MESSAGE_CHARS:
            value = value[: MAX_MESSAGE_CHARS - 1] + "…"
            truncated = True
        elif not isinstance(value, str | int | float | bool) and value is not None:
            value = _cut(json.dumps(value, default=str))
            truncated = True
        out[key] = value
    failures = summary.get("failures") or {}
    items = sorted(failures.items()) if isinstance(failures, Mapping) else []
    out["failures_total"] = len(items)
    kept = {str(hour): _cut(str(message)) for hour, message in items[:MAX_FAILURES_IN_SUMMARY]}
    truncated = (
        truncated
        or len(kept) < len(items)
        or any(len(str(m)) > MAX_MESSAGE_CHARS for _, m in items[:MAX_FAILURES_IN_SUMMARY])
    )
    out["failures"] = kept
    out["truncated"] = truncated
    while _size(out) > limit_bytes and out["failures"]:
        out["failures"].pop(sorted(out["failures"])[-1])
        out["truncated"] = True
    if _size(out) > limit_bytes:
        essential = {
            k: v
            for k, v in out.items()
            if k == "run_id" or (isinstance(v, int | float) and not isinstance(v, bool))
        }
        essential["failures"] = {}
        essential["truncated"] = True
        out = essential
    if _size(out) > limit_bytes:
        raise ValueError(f"a summary cannot be bounded to {limit_bytes} bytes")
    return out


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _size(value: Mapping[str, Any]) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def return_value_text(summary: Mapping[str, Any]) -> str:
    """The string to hand SYSTEM$SET_RETURN_VALUE (bound the summary first)."""
    text = json.dumps(summary, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8")) > RETURN_VALUE_LIMIT_BYTES:
        raise ValueError("the return value is over 10 kB: pass it through bound_summary()")
    return text


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
    names: Names | None = None,
) -> Verdict:
    """Done when nothing is missing; fail at once on a load error, or at the timeout."""
    result = reconcile(expected, loaded_names)
    if not result.missing:
        return Verdict("done", len(expected), len(result.loaded))
    names = names or Names()
    failed = {
        key: error
        for key in result.missing
        for file_name, error in load_errors.items()
        if is_loaded(key, file_name)
    }
    if failed:
        listed = "; ".join(f"{k}: {_cut(e)}" for k, e in list(failed.items())[:NAMES_IN_MESSAGE])
        more = len(failed) - NAMES_IN_MESSAGE
        message = (
            f"Snowpipe failed to load {len(failed)} of the {len(expected)} files this run "
            f"wrote ({listed}{f'; and {more} more' if more > 0 else ''}). A failed path is "
            "not loaded again: fix the cause, then re-export those hours with new content "
            f"({names.reexport_hint()}); COPY_HISTORY on {names.raw_table} has the details."
        )
        return Verdict("fail", len(expected), len(result.loaded), tuple(failed), message)
    if elapsed_seconds < timeout_seconds:
        return Verdict("wait", len(expected), len(result.loaded), result.missing)
    shown = ", ".join(result.missing[:NAMES_IN_MESSAGE])
    more = len(result.missing) - NAMES_IN_MESSAGE
    message = (
        f"after {elapsed_seconds:.0f} s, {len(result.missing)} of the {len(expected)} files "
        f"this run wrote are not in {names.raw_table}: {shown}"
        f"{f' and {more} more' if more > 0 else ''}. If none arrive, the bucket's event "
        f"notification to the pipe is missing or the pipe is not running: `make doctor` "
        f"(CALL {names.doctor}()) prints the exact step. Files staged in the last 7 days "
        f"can then be queued with: ALTER PIPE {names.pipe} REFRESH PREFIX = 'events/'; "
        f"{names.files_view} lists every file still missing."
    )
    return Verdict("fail", len(expected), len(result.loaded), result.missing, message)


@dataclass(frozen=True)
class Names:
    """Qualified names, for messages (and queries: validated before use)."""

    raw_table: str = "AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW"
    ledger_table: str = "AMPLITUDE.INGEST.AMPLITUDE_INGEST_LEDGER"
    pipe: str = "AMPLITUDE.INGEST.AMPLITUDE_EVENTS_PIPE"
    root_task: str = "AMPLITUDE_PIPELINE_ROOT"
    # Stage files amplitude_forget() rewrote (sql/55_forget.sql): replaced, not lost.
    stage_rewrites_table: str = "AMPLITUDE.RAW.AMPLITUDE_STAGE_REWRITES"

    @property
    def schema(self) -> str:
        return self.ledger_table.rsplit(".", 1)[0]

    @property
    def doctor(self) -> str:
        return f"{self.schema}.AMPLITUDE_DOCTOR"

    @property
    def files_view(self) -> str:
        return f"{self.schema}.AMPLITUDE_FILES_NOT_LOADED"

    def reexport_hint(self) -> str:
        return f"CALL {self.schema}.INGEST_AMPLITUDE('<first hour>', '<last hour>', true)"

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> Names:
        names = cls(
            raw_table=settings.get("raw_table", cls.raw_table),
            ledger_table=settings.get("ledger_table", cls.ledger_table),
            pipe=settings.get("pipe", cls.pipe),
            root_task=settings.get("root_task", cls.root_task),
            stage_rewrites_table=settings.get("stage_rewrites_table", cls.stage_rewrites_table),
        )
        for value in (names.raw_table, names.ledger_table, names.pipe, names.stage_rewrites_table):
            validate_qualified_name(value)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_$]*$", names.root_task):
            raise ConfigurationError(f"root_task {names.root_task!r} is not a task name")
        return names


def validate_qualified_name(name: str) -> str:
    """`database.schema.object`: the only shape ever spliced into a query here."""
    if not _QUALIFIED.match(name):
        raise ConfigurationError(f"{name!r} is not a fully qualified name (database.schema.object)")
    return name


# ---- the queries -------------------------------------------------------------------------------
# Values travel as bind variables (?); only validated qualified names are spliced in.


def settings_query(settings_table: str) -> str:
    return f"select name, value from {validate_qualified_name(settings_table)}"


def ledger_keys_query(names: Names) -> str:
    return f"select status, stage_keys from {names.ledger_table} where run_id = ?"


def rewrites_query(names: Names) -> str:
    return f"select file_name, rewritten_to from {names.stage_rewrites_table}"


def loaded_files_query(names: Names) -> str:
    return (
        f"select distinct file_name from {names.raw_table} "
        "where loaded_at >= dateadd(second, -?, sysdate())"
    )


def load_errors_query(names: Names) -> str:
    database = names.raw_table.split(".")[0]
    return (
        "select file_name, status, first_error_message "
        f"from table({database}.information_schema.copy_history("
        f"table_name => '{names.raw_table}', "
        "start_time => dateadd(hour, -24, current_timestamp()))) "
        "where status <> 'Loaded'"
    )


def predecessor_query() -> str:
    return "select system$get_predecessor_return_value(?)"


def queries(names: Names, settings_table: str) -> list[str]:
    """Every statement the wait step runs (tests replay them against sql/privileges.yml)."""
    return [
        settings_query(settings_table),
        predecessor_query(),
        ledger_keys_query(names),
        rewrites_query(names),
        loaded_files_query(names),
        load_errors_query(names),
    ]


# ---- the wait --------------------------------------------------------------------------------

Queries = Callable[[str, Sequence[Any]], list[Sequence[Any]]]


@dataclass
class LoadWatcher:
    """Looks at the raw table and COPY_HISTORY, remembering what it has seen."""

    run_sql: Queries
    names: Names
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
        rows = self.run_sql(loaded_files_query(self.names), [back])
        self.seen.update(str(row[0]) for row in rows)
        errors = {
            str(row[0]): f"{row[1]}: {row[2]}"
            for row in self.run_sql(load_errors_query(self.names), [])
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
            expected, loaded, errors, clock() - started, timeout_seconds, watcher.names
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
    settings = {str(r[0]).lower(): str(r[1]) for r in run_sql(settings_query(settings_table), [])}
    names = Names.from_settings(settings)
    if not run:
        rows = run_sql(predecessor_query(), [names.root_task])
        run = str(rows[0][0]) if rows and rows[0][0] is not None else None
    reference = parse_run_reference(run)
    written = expected_files(run_sql(ledger_keys_query(names), [reference.run_id]))
    rewrites = {
        str(r[0]): None if r[1] is None else str(r[1]) for r in run_sql(rewrites_query(names), [])
    }
    expected = follow_rewrites(written, rewrites)
    timeout = float(settings.get("wait_timeout_seconds", DEFAULT_TIMEOUT_SECONDS))
    poll = float(settings.get("wait_poll_seconds", DEFAULT_POLL_SECONDS))
    watcher = LoadWatcher(run_sql, names, clock)
    verdict = wait_for_loads(expected, watcher, timeout, poll, clock, sleep)
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
    settings_table: str = "AMPLITUDE.INGEST.AMPLITUDE_INGEST_SETTINGS",
) -> dict:  # type: ignore[type-arg]  # Snowpark maps a plain dict to the VARIANT it returns
    """CALL amplitude_wait_for_loads([run [, settings_table]]): the task graph's wait step."""

    def run_sql(query: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return list(session.sql(query, params=list(params) or None).collect())

    return check_run(run_sql, run, settings_table)

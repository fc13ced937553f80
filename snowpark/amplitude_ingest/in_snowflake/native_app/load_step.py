"""``CALL code.amplitude_load()``: COPY the staged parts into the app's raw table.

The S3 form's pipe does this job; an app has no documented way to own a pipe, so a task
of the graph runs COPY INTO from the app's internal stage after each export. COPY keeps
load metadata per file for 64 days and skips a file it has loaded ("Loading older
files", docs.snowflake.com/en/user-guide/data-load-considerations-load): a re-run adds
nothing. Parts are named by their content (stage_keys), so a re-export with new content
writes new names and those load. ``on_error = skip_file`` (the pipe's default) keeps a
bad file out whole; the step records every file COPY reports in the load history, then
fails if any file did not load, so the task run, the run history and the failures view
all say so.

COPY's result (COPY INTO <table>, "Output"): one row per file with ``file``, ``status``
(LOADED, LOAD_FAILED, PARTIALLY_LOADED), ``rows_parsed``, ``rows_loaded``,
``first_error`` ...; or, when no file was new, one row whose only column ``status``
reads "Copy executed with 0 files processed.".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from snowflake.snowpark import Session

from amplitude_ingest.errors import AmplitudeIngestError
from amplitude_ingest.in_snowflake.native_app import names, run_history
from amplitude_ingest.in_snowflake.session import SessionGate

LOADED = "LOADED"
STEP = "load"
NAMES_IN_MESSAGE = 5


class LoadFailedError(AmplitudeIngestError):
    """A staged file did not load (COPY skipped it whole: ON_ERROR = SKIP_FILE)."""


def copy_statement() -> str:
    """The one COPY the step runs: the same columns and file format options as the S3
    form's pipe (sql/40), from the app's own stage."""
    return (
        f"copy into {names.RAW_TABLE} (raw_json, file_name, file_row_number, loaded_at)\n"
        "from (\n"
        "    select\n"
        "        $1,\n"
        "        metadata$filename,\n"
        "        metadata$file_row_number,\n"
        "        convert_timezone('UTC', metadata$start_scan_time)::timestamp_ntz\n"
        f"    from @{names.STAGE}/{names.EVENTS_FOLDER}\n"
        ")\n"
        "pattern = '.*[.]json([.]gz)?'\n"
        f"file_format = (format_name = '{names.FILE_FORMAT}')\n"
        "on_error = skip_file"
    )


@dataclass(frozen=True)
class FileLoad:
    """One file of one COPY, as the load history keeps it."""

    file_name: str
    status: str
    rows_parsed: int
    rows_loaded: int
    first_error: str | None

    @property
    def loaded(self) -> bool:
        return self.status.upper() == LOADED


def stage_key(file_name: str) -> str | None:
    """The part's key on the stage (``events/...``) from a name COPY or LIST reports,
    which may carry the stage's name or URL in front of it."""
    at = file_name.find(names.EVENTS_FOLDER)
    return file_name[at:] if at >= 0 else None


def file_loads(rows: Sequence[Mapping[str, Any]]) -> list[FileLoad]:
    """COPY's result rows (column names in any case) as file loads; the "0 files
    processed" row has no ``file`` column and stands for no file."""
    loads = []
    for raw in rows:
        row = {str(k).lower(): v for k, v in raw.items()}
        if row.get("file") is None:
            continue
        loads.append(
            FileLoad(
                file_name=str(row["file"]),
                status=str(row.get("status") or "").upper(),
                rows_parsed=int(row.get("rows_parsed") or 0),
                rows_loaded=int(row.get("rows_loaded") or 0),
                first_error=None if row.get("first_error") is None else str(row["first_error"]),
            )
        )
    return loads


def summary(loads: Sequence[FileLoad]) -> dict[str, Any]:
    failed = [f for f in loads if not f.loaded]
    return {
        "files_loaded": len(loads) - len(failed),
        "files_failed": len(failed),
        "rows_loaded": sum(f.rows_loaded for f in loads),
    }


def failure_message(loads: Sequence[FileLoad]) -> str | None:
    failed = [f for f in loads if not f.loaded]
    if not failed:
        return None
    shown = "; ".join(
        f"{f.file_name}: {f.status} ({f.first_error or 'no error given'})"
        for f in failed[:NAMES_IN_MESSAGE]
    )
    return (
        f"{len(failed)} of {len(loads)} file(s) did not load into {names.RAW_TABLE}: {shown}. "
        f"Their lines stay on @{names.STAGE}; {names.LOAD_HISTORY} and {names.FAILURES_VIEW} "
        "list them. Fix or remove the file (amplitude_forget rewrites a user's lines); the "
        "next amplitude_load() tries it again."
    )


class Loader(Protocol):
    """The step's only I/O: run the COPY, keep what it reported."""

    def copy(self) -> list[dict[str, Any]]: ...

    def record(self, loads: Sequence[FileLoad], run_id: str) -> None: ...


@dataclass(frozen=True)
class LoadOutcome:
    loads: tuple[FileLoad, ...]

    @property
    def summary(self) -> dict[str, Any]:
        return summary(self.loads)

    def raise_if_failed(self) -> None:
        message = failure_message(self.loads)
        if message:
            raise LoadFailedError(message)


def load(loader: Loader, run_id: str) -> LoadOutcome:
    """COPY and record every file COPY reported (the caller then fails if one did not
    load: after the record, so the failure is kept whatever happens next)."""
    loads = tuple(file_loads(loader.copy()))
    loader.record(loads, run_id)
    return LoadOutcome(loads)


LOAD_HISTORY_COLUMNS = (
    "FILE_NAME",
    "STATUS",
    "ROWS_PARSED",
    "ROWS_LOADED",
    "FIRST_ERROR",
    "LOADED_AT",
    "RUN_ID",
)


def load_history_rows(loads: Sequence[FileLoad], run_id: str) -> list[list[Any]]:
    at = run_history.now()
    return [
        [f.file_name, f.status, f.rows_parsed, f.rows_loaded, f.first_error, at, run_id]
        for f in loads
    ]


class SessionLoader:
    """The Loader over the procedure's Snowpark session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def copy(self) -> list[dict[str, Any]]:
        return SessionGate(self._session).records(copy_statement())

    def record(self, loads: Sequence[FileLoad], run_id: str) -> None:
        if not loads:
            return
        from snowflake.snowpark.types import (
            LongType,
            StringType,
            StructField,
            StructType,
            TimestampType,
        )

        kinds = {
            "ROWS_PARSED": LongType(),
            "ROWS_LOADED": LongType(),
            "LOADED_AT": TimestampType(),
        }
        schema = StructType(
            [StructField(name, kinds.get(name, StringType())) for name in LOAD_HISTORY_COLUMNS]
        )
        self._session.create_dataframe(
            load_history_rows(loads, run_id), schema=schema
        ).write.save_as_table(names.LOAD_HISTORY, mode="append", column_order="name")


def amplitude_load(session: Session) -> dict:  # type: ignore[type-arg]  # Snowpark: dict -> VARIANT
    """CALL code.amplitude_load(); see the module docstring."""
    with run_history.recorded(session, STEP) as run:
        outcome = load(SessionLoader(session), run.run_id)
        run.summary = outcome.summary
        outcome.raise_if_failed()
    return {"run_id": run.run_id, **outcome.summary}

"""A loader that behaves like Snowpipe, into the embedded DuckDB warehouse.

Like the pipe: every event file on the stage not loaded before is copied into the raw
table with its file name, row number and load time; load history is kept per file and
content, so a re-run loads nothing twice and a changed file is loaded again; a file is
loaded whole or not at all; a file that cannot be parsed is recorded in the load-errors
table with the reason (like ``ON_ERROR = SKIP_FILE``) and the rest still load. Unlike
the pipe, it runs when called, not on an event notification.

Parsing is DuckDB's (``read_json_objects``), not a Python loop. The raw tables' schema
and their readers are :mod:`amplitude_queries.laptop_records`'.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from amplitude_ingest.errors import ConfigurationError
from amplitude_laptop.stage_listing import EventFile, StageListing
from amplitude_queries.laptop_records import (
    FORGET_REQUESTS_TABLE,
    LOAD_ERRORS_TABLE,
    LOAD_HISTORY_TABLE,
    RAW_SCHEMA,
    RAW_TABLE,
    WAREHOUSE_DDL,
    read_load_errors,
    read_loaded,
    read_rewrites,
)

# Re-exported for the tests' dbt fixtures, which name the forget requests' table.
__all__ = ["FORGET_REQUESTS_TABLE", "LoadSummary", "Loader", "connect"]

logger = logging.getLogger(__name__)

BATCH_BYTES = 256 * 1024 * 1024
BATCH_FILES = 500

# One statement per file, in the file's own transaction; ordinality numbers its lines.
_LOAD_FILE = f"""
insert into {RAW_SCHEMA}.{RAW_TABLE}
select json, $file_name, ordinality, $loaded_at
from read_json_objects($path, format = 'newline_delimited') with ordinality
"""


@dataclass
class LoadSummary:
    files_loaded: int = 0
    files_already_loaded: int = 0
    files_failed: int = 0
    rows_loaded: int = 0
    bytes_loaded: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.files_failed == 0

    def one_line(self) -> str:
        rate = self.bytes_loaded / 1e6 / self.seconds if self.seconds else 0.0
        return (
            f"files: {self.files_loaded} loaded, {self.files_already_loaded} already loaded, "
            f"{self.files_failed} failed | {self.rows_loaded} rows, "
            f"{self.bytes_loaded / 1e6:.1f} MB ({rate:.0f} MB/s) | {self.seconds:.1f} s"
        )


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating it and the raw schema on first use."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = duckdb.connect(str(warehouse))
    except duckdb.Error as exc:
        raise ConfigurationError(
            f"cannot open the warehouse {warehouse}: {_first_line(exc)}; point --warehouse "
            "(AMP_WAREHOUSE) at a DuckDB file, or at a path where one can be created"
        ) from exc
    connection.execute(WAREHOUSE_DDL)
    return connection


class Loader:
    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = connection
        self._clock = clock

    def _known(self) -> set[tuple[str, str]]:
        failed = {(e.file_name, e.content_id) for e in read_load_errors(self._db)}
        return read_loaded(self._db) | failed

    def _rewritten(self) -> set[str]:
        return set(read_rewrites(self._db))

    def load(self, stage: StageListing) -> LoadSummary:
        began = time.monotonic()
        summary = LoadSummary()
        known = self._known()
        rewritten = self._rewritten()
        new = []
        for file in stage.list():
            if (file.key, file.content_id) in known or file.key in rewritten:
                summary.files_already_loaded += 1
            else:
                new.append(file)
        for batch in _batches(new):
            if not self._load_batch(stage, batch, summary):
                for file in batch:  # one bad file: load the batch again file by file
                    self._load_file(stage, file, summary)
        summary.seconds = time.monotonic() - began
        return summary

    def _load_batch(
        self, stage: StageListing, batch: list[EventFile], summary: LoadSummary
    ) -> bool:
        """Load a batch of files in one transaction; False (and nothing loaded) on an error.

        Batching saves a commit per file, which dominates for many small hourly files.
        """
        if len(batch) == 1:
            return False
        loaded_at = self._clock().replace(tzinfo=None)
        rows = 0
        self._db.execute("begin transaction")
        try:
            for file in batch:
                with stage.local_copy(file) as path:
                    rows += self._insert(path, file, loaded_at)
        except duckdb.Error:
            self._db.execute("rollback")
            return False
        except BaseException:
            self._db.execute("rollback")
            raise
        self._db.execute("commit")
        summary.files_loaded += len(batch)
        summary.rows_loaded += rows
        summary.bytes_loaded += sum(f.size for f in batch)
        logger.info("loaded %d files: %d rows", len(batch), rows)
        return True

    def _load_file(self, stage: StageListing, file: EventFile, summary: LoadSummary) -> None:
        loaded_at = self._clock().replace(tzinfo=None)
        with stage.local_copy(file) as path:
            self._db.execute("begin transaction")
            try:
                rows = self._insert(path, file, loaded_at)
            except duckdb.Error as exc:
                self._db.execute("rollback")
                self._record_error(file, exc, loaded_at)
                summary.files_failed += 1
                summary.errors[file.key] = _first_line(exc)
                return
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")
        summary.files_loaded += 1
        summary.rows_loaded += rows
        summary.bytes_loaded += file.size
        logger.info("loaded %s: %d rows", file.key, rows)

    def replace_file(self, stage: StageListing, file: EventFile) -> int:
        """Load ``file`` inside the caller's transaction (``forget`` swapping a rewritten
        part in for the old one), recorded in the load history like any load."""
        loaded_at = self._clock().replace(tzinfo=None)
        with stage.local_copy(file) as path:
            return self._insert(path, file, loaded_at)

    def _insert(self, path: Path, file: EventFile, loaded_at: datetime) -> int:
        self._db.execute(
            _LOAD_FILE, {"path": str(path), "file_name": file.key, "loaded_at": loaded_at}
        )
        (rows,) = self._db.fetchone() or (0,)
        self._db.execute(
            f"insert into {RAW_SCHEMA}.{LOAD_HISTORY_TABLE} values (?, ?, ?, ?, ?)",
            [file.key, file.content_id, file.size, rows, loaded_at],
        )
        return int(rows)

    def _record_error(self, file: EventFile, exc: duckdb.Error, failed_at: datetime) -> None:
        message = _first_line(exc)
        logger.error("could not load %s: %s", file.key, message)
        self._db.execute(
            f"insert or replace into {RAW_SCHEMA}.{LOAD_ERRORS_TABLE} values (?, ?, ?, ?)",
            [file.key, file.content_id, message, failed_at],
        )


def _batches(files: list[EventFile]) -> list[list[EventFile]]:
    batches: list[list[EventFile]] = []
    size = 0
    for file in files:
        if not batches or size + file.size > BATCH_BYTES or len(batches[-1]) >= BATCH_FILES:
            batches.append([])
            size = 0
        batches[-1].append(file)
        size += file.size
    return batches


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

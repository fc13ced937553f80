"""COPY INTO's documented load semantics, over a folder as the app's stage and DuckDB.

No local emulator runs the load step's COPY (fakesnow cannot parse METADATA$FILENAME, a
transform or PATTERN: BRIEF, "Running without an account"), so this models what the
COPY INTO <table> and "Loading older files" pages state, and nothing more:

- load metadata per file path and content (MD5), kept 64 days: a file loaded with the
  same content is skipped and not reported;
- a file whose metadata expired, or never existed, and whose LAST_MODIFIED is older than
  64 days is skipped too (LOAD_UNCERTAIN_FILES = FALSE, the default);
- ON_ERROR = SKIP_FILE: a file with a line that does not parse loads no row and is
  reported LOAD_FAILED with its first error; a failed file is tried again next time
  (an assumption: the pages do not say that a failed file enters load metadata);
- the result: one row per file tried, or one ``status`` row when none was.

The raw table and the load history are DuckDB tables with the app's columns; the load
step's ``Loader`` protocol (``copy``, ``record``) is what this class offers, so the step's
own code runs against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import duckdb

from amplitude_ingest.in_snowflake.native_app import load_step, names, retention

LOAD_METADATA = timedelta(days=retention.LOAD_METADATA_DAYS)
PATTERN = re.compile(r".*[.]json([.]gz)?")
NOTHING_NEW = "Copy executed with 0 files processed."
STAGE_PREFIX = names.STAGE.split(".")[-1] + "/"  # LIST and COPY name files under it


class CopyModel:
    def __init__(self, folder: Path, clock: Callable[[], datetime]) -> None:
        self.folder = folder
        self.clock = clock
        self.db = duckdb.connect()
        self.db.execute(
            "create table raw (raw_json json, file_name varchar, file_row_number bigint, "
            "loaded_at timestamp)"
        )
        self.db.execute(
            "create table load_history (file_name varchar, status varchar, rows_parsed bigint, "
            "rows_loaded bigint, first_error varchar, loaded_at timestamp, run_id varchar)"
        )
        self.metadata: dict[str, tuple[str, datetime]] = {}
        self.modified: dict[str, datetime] = {}

    # ---- the stage ------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.read_bytes() == data:
            return  # put_stream of the same content: the same file
        path.write_bytes(data)
        self.modified[key] = self.clock()

    def keys(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file()
        )

    def listing(self) -> list[dict[str, Any]]:
        """LIST's rows for the events folder."""
        return [
            {"name": STAGE_PREFIX + key, "last_modified": format_datetime(self.modified[key], True)}
            for key in self.keys()
            if key.startswith(names.EVENTS_FOLDER)
        ]

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            (self.folder / key).unlink()
            del self.modified[key]

    # ---- the Loader -------------------------------------------------------------------------

    def copy(self) -> list[dict[str, Any]]:
        now = self.clock()
        result = []
        for key in self.keys():
            if not key.startswith(names.EVENTS_FOLDER) or not PATTERN.fullmatch(key):
                continue
            data = (self.folder / key).read_bytes()
            md5 = hashlib.md5(data).hexdigest()
            known = self.metadata.get(key)
            if known and now - known[1] < LOAD_METADATA:
                if known[0] == md5:
                    continue
            elif now - self.modified[key] > LOAD_METADATA:
                continue  # LOAD_UNCERTAIN_FILES = FALSE
            result.append(self._load(key, data, md5, now))
        return result or [{"status": NOTHING_NEW}]

    def _load(self, key: str, data: bytes, md5: str, now: datetime) -> dict[str, Any]:
        name = STAGE_PREFIX + key
        lines = [line for line in data.decode().splitlines() if line.strip()]
        values = []
        for number, line in enumerate(lines, start=1):
            try:
                values.append((json.dumps(json.loads(line)), name, number, now))
            except json.JSONDecodeError as exc:
                return {
                    "file": name,
                    "status": "LOAD_FAILED",
                    "rows_parsed": len(lines),
                    "rows_loaded": 0,
                    "first_error": f"Error parsing JSON: {exc.msg}",
                    "first_error_line": number,
                }
        if values:
            self.db.executemany("insert into raw values (?, ?, ?, ?)", values)
        self.metadata[key] = (md5, now)
        return {
            "file": name,
            "status": "LOADED",
            "rows_parsed": len(lines),
            "rows_loaded": len(values),
            "first_error": None,
        }

    def record(self, loads: Sequence[load_step.FileLoad], run_id: str) -> None:
        rows = load_step.load_history_rows(loads, run_id)
        if rows:
            self.db.executemany("insert into load_history values (?, ?, ?, ?, ?, ?, ?)", rows)

    # ---- what tests read ----------------------------------------------------------------------

    def raw_rows_per_file(self) -> dict[str, int]:
        rows = self.db.execute("select file_name, count(*) from raw group by 1").fetchall()
        return {str(name): int(count) for name, count in rows}

    def duplicated_rows(self) -> int:
        (count,) = self.db.execute(
            "select count(*) from (select file_name, file_row_number from raw "
            "group by all having count(*) > 1)"
        ).fetchone() or (0,)
        return int(count)

    def history(self) -> list[tuple[str, str]]:
        return [
            (str(n), str(s))
            for n, s in self.db.execute("select file_name, status from load_history").fetchall()
        ]

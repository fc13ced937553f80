"""The doctor's round trip: a marker file written through the stage must reach the raw
table through the pipe; then its rows and file are removed.

`Probe` is the doctor's only I/O (SQL, the secret, one HTTP status, one stage write), so
tests drive the round trip and every check with recorded answers.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from amplitude_ingest.in_snowflake.doctor_sql import (
    MARKER_FOLDER,
    marker_cleanup_query,
    marker_errors_query,
    marker_location,
    marker_rows_query,
    remove_marker_query,
)
from amplitude_ingest.in_snowflake.settings_table import DoctorSettings


class Probe(Protocol):
    """The doctor's only I/O."""

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def secret(self) -> tuple[str, str]: ...

    def http_status(self, url: str, username: str, password: str) -> int: ...

    def put(self, location: str, name: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class RoundTrip:
    """What became of the marker file."""

    marker: str
    written: bool
    rows_loaded: int
    waited_seconds: float
    write_error: str = ""
    load_error: str = ""


def attempt(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported, not raised
        return exc


def round_trip(
    probe: Probe,
    settings: DoctorSettings,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 10.0,
    marker_id: str | None = None,
) -> RoundTrip:
    """Write a marker file through the stage; wait for the pipe to load it; clean up."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"amplitude_doctor_{stamp}_{marker_id or uuid.uuid4().hex[:12]}.json"
    key = f"{MARKER_FOLDER}/{name}"
    line = json.dumps({"amplitude_doctor_marker": name, "written_at": stamp}) + "\n"
    try:
        probe.put(marker_location(settings), name, line.encode())
    except Exception as exc:  # noqa: BLE001 - reported as the finding
        return RoundTrip(key, written=False, rows_loaded=0, waited_seconds=0, write_error=str(exc))
    started = clock()
    rows, error = 0, ""
    try:
        while True:
            found = probe.sql(marker_rows_query(settings), [key])
            rows = int(found[0]["n"]) if found else 0
            if rows:
                break
            failed = probe.sql(marker_errors_query(settings), [key])
            failed = [r for r in failed if str(r.get("status", "")).lower() not in ("loaded", "")]
            if failed:
                error = f"{failed[0].get('status')}: {failed[0].get('first_error_message')}"
                break
            if clock() - started >= settings.doctor_round_trip_seconds:
                break
            sleep(poll_seconds)
    finally:
        attempt(lambda: probe.sql(marker_cleanup_query(settings)))
        attempt(lambda: probe.sql(remove_marker_query(settings, name)))
    return RoundTrip(key, True, rows, clock() - started, load_error=error)

"""Events for the tests of dbt's state tables (watermarks, retired versions, test scope):
page views written as the Export API writes them, loaded as the loader loads them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tests.dbt_support import insert_raw_rows

DAY = datetime(2026, 3, 2, 10)
# "Today" for the date spine, fixed so that a run's result does not depend on the day.
RUN_VARS = json.dumps({"amplitude__date_range_end": "2026-03-03"})


def page_view(number: int, amplitude_id: int, *, uuid: str, uploaded_after: int = 0) -> str:
    """A page view of `amplitude_id` in its session 1, `number` minutes after DAY, with
    device + insert id `i<number>`: copies of one event share the insert id and differ in
    uuid and in how many seconds after the event Amplitude received them."""
    at = DAY + timedelta(minutes=number)
    upload = (at + timedelta(seconds=uploaded_after)).strftime("%Y-%m-%d %H:%M:%S")
    return json.dumps({"uuid": uuid, "$insert_id": f"i{number}", "event_type": "page",
                       "amplitude_id": amplitude_id, "device_id": f"d{amplitude_id}",
                       "session_id": 1, "event_time": at.strftime("%Y-%m-%d %H:%M:%S"),
                       "server_upload_time": upload,
                       "client_event_time": at.strftime("%Y-%m-%d %H:%M:%S")})  # fmt: skip


def load(warehouse: Path, file: str, loaded_at: datetime, events: list[str]) -> None:
    """One file's events into the raw table, one load time, lines numbered from 1."""
    insert_raw_rows(warehouse, [(e, file, n, loaded_at) for n, e in enumerate(events, start=1)])

from datetime import UTC, datetime
from pathlib import Path

from amplitude_laptop.status import render
from amplitude_queries.laptop_records import LedgerHour, LoadStats, RunRecord, RunStatus

H0 = datetime(2026, 1, 26, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 1, 26, 3, 4, 5, tzinfo=UTC)


def hour(at: int, status: str, **values: object) -> LedgerHour:
    row: dict[str, object] = {
        "files": 0, "events": 0, "bytes": 0, "rejected_lines": 0, "attempts": 1, "error": None,
        "keys": (), "updated_at": WRITTEN, "lease_owner": None, "lease_expires_at": None,
        "failed_runs": 0,
    }  # fmt: skip
    row.update(values)
    return LedgerHour(H0.replace(hour=at), status, **row)  # type: ignore[arg-type]


def test_status_counts_hours_events_and_loads() -> None:
    hours = [
        hour(0, "done", files=2, events=100, bytes=2_000_000),
        hour(1, "empty"),
        hour(2, "failed", attempts=5, error="zip member #0 is corrupt"),
    ]
    loads = LoadStats(2, 100, 1, datetime(2026, 1, 26, 4), [("events/x.json", "Malformed JSON")])
    text = render(hours, loads, Path("l.sqlite"), Path("w.duckdb"))
    assert "1 done, 1 empty, 1 failed, 0 given up, 0 pending (20260126T00 .. 20260126T02)" in text
    assert "100 events in 2 files, 2.0 MB, 0 lines quarantined" in text
    assert "failed     20260126T02 after 5 attempt(s): zip member #0 is corrupt" in text
    assert "last write 2026-01-26 03:04:05 UTC" in text
    assert "loaded     2 files, 100 rows, 1 files failed" in text
    assert "load error events/x.json: Malformed JSON" in text


def test_status_shows_the_last_runs_newest_first_with_their_first_error() -> None:
    started = datetime(2026, 1, 26, 9, 0, 1, tzinfo=UTC)
    runs = [
        RunRecord(3, "extract", started, None, RunStatus.RUNNING, None, None, 4242, "laptop"),
        RunRecord(2, "load", started, started, RunStatus.FAILED, 1, "Malformed JSON", 41, "laptop"),
        RunRecord(1, "run", started, None, RunStatus.DIED, None, "the process ...", 40, "laptop"),
    ]
    text = render([], None, Path("l.sqlite"), Path("w.duckdb"), runs).splitlines()
    assert text[-3:] == [
        "run        extract started 2026-01-26 09:00:01 UTC: running (pid 4242 on laptop)",
        "run        load started 2026-01-26 09:00:01 UTC: failed: Malformed JSON",
        "run        run started 2026-01-26 09:00:01 UTC: died: the process ...",
    ]


def test_status_before_anything_ran() -> None:
    text = render([], None, Path("l.sqlite"), Path("w.duckdb"), [])
    assert "none exported yet" in text
    assert "nothing yet" in text
    assert "run " not in text

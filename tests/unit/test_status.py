from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_laptop.status import LoadStats, render

H0 = datetime(2026, 1, 26, 0, tzinfo=UTC)


def test_status_counts_hours_events_and_loads() -> None:
    records = [
        HourRecord(H0, HourStatus.DONE, files=2, events=100, bytes=2_000_000, attempts=1),
        HourRecord(H0.replace(hour=1), HourStatus.EMPTY, attempts=1),
        HourRecord(
            H0.replace(hour=2), HourStatus.FAILED, attempts=5, error="zip member #0 is corrupt"
        ),
    ]
    loads = LoadStats(2, 100, 1, datetime(2026, 1, 26, 4), [("events/x.json", "Malformed JSON")])
    text = render(records, loads, Path("l.sqlite"), Path("w.duckdb"))
    assert "1 done, 1 empty, 1 failed, 0 given up, 0 pending (20260126T00 .. 20260126T02)" in text
    assert "100 events in 2 files, 2.0 MB, 0 lines quarantined" in text
    assert "failed     20260126T02 after 5 attempt(s): zip member #0 is corrupt" in text
    assert "loaded     2 files, 100 rows, 1 files failed" in text
    assert "load error events/x.json: Malformed JSON" in text


def test_status_before_anything_ran() -> None:
    text = render([], None, Path("l.sqlite"), Path("w.duckdb"))
    assert "none exported yet" in text
    assert "nothing yet" in text

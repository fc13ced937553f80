"""`make demo` end to end: local server -> extract -> loader -> dbt -> report, twice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from amplitude_laptop import demo, report
from amplitude_queries.laptop_records import RunStatus, read_runs
from amplitude_sample_server.generator import HourManifest, generate_hour, iter_hours


def planted(sessions_per_hour: int) -> HourManifest:
    total = HourManifest()
    start = datetime(2026, 1, 26, 0, tzinfo=UTC)
    for hour in iter_hours(start, datetime(2026, 1, 28, 23, tzinfo=UTC)):
        total.add(generate_hour(7, hour, sessions_per_hour)[1])
    return total


@pytest.mark.slow
def test_demo_reports_the_planted_numbers_and_a_second_run_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "demo"
    args = ["--dir", str(root), "--sessions-per-hour", "10"]
    assert demo.main(args) == 0
    first = report.collect(root / "warehouse.duckdb")
    expected = planted(10)
    assert first.raw_rows == expected.rows
    assert first.events == expected.distinct_insert_ids
    assert first.duplicates_removed == expected.resent_rows
    assert first.sessions == expected.sessions
    assert first.users == len(expected.users)
    assert first.repeat_groups == expected.repeat_click_groups + expected.repeat_page_view_groups
    assert sum(events for _, events, _ in first.daily) == expected.distinct_insert_ids
    html = (root / "report.html").read_text()
    assert "sample data" in html
    assert f"<b>{expected.distinct_insert_ids}</b>unique events" in html
    assert (root / "dbt-docs.html").stat().st_size > 100_000  # the static docs site
    out = capsys.readouterr().out
    assert "SAMPLE DATA" in out
    assert f"({expected.resent_rows} duplicates removed)" in out
    assert "freshness  amplitude.events_raw: newest load" in out
    assert "h ago (pass)" in out

    assert demo.main([*args, "--no-docs"]) == 0
    assert report.collect(root / "warehouse.duckdb") == first
    assert "0 done, 0 empty, 0 failed, 72 already done" in capsys.readouterr().out
    # Each demo run is recorded like a CLI run, through the CLI's own run wrapper.
    runs = read_runs(root / "state")
    assert [(r.command, r.status, r.exit_code, r.first_error) for r in runs] == [
        ("demo", RunStatus.SUCCEEDED, 0, None),
        ("demo", RunStatus.SUCCEEDED, 0, None),
    ]

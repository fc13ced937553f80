"""The dashboard through Streamlit's own AppTest, against the demo warehouse.

Every page renders without an exception, and the numbers it shows are the marts' (read
here with plain SQL, not through the dashboard's queries), the ledger's and the loader's.
Then the states a person meets before or around the data: filters too narrow, no
warehouse yet, no marts yet, nothing exported yet, the warehouse busy with a writer, and
a query that fails.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from amplitude_dashboard import units
from amplitude_queries.backends import Backend, DuckDBBackend
from tests.dashboard_support import demo_dir, ledger_scalar, marts_rows, marts_scalar

NOW = datetime(2026, 1, 29, 6, 0)
APP = Path(__file__).resolve().parents[2] / "snowpark" / "amplitude_dashboard" / "streamlit_app.py"


@pytest.fixture(scope="module")
def demo() -> Path:
    return demo_dir()


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_app(backend: Backend | None, now: datetime = NOW) -> AppTest:
    def script(backend, now):  # type: ignore[no-untyped-def]  # run as its own module
        from amplitude_dashboard.app import main

        main(backend, now)

    return AppTest.from_function(script, args=(backend, now), default_timeout=60).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def show(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_the_entry_point_reads_the_warehouse_named_by_the_environment(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMP_WAREHOUSE", str(demo / "warehouse.duckdb"))
    monkeypatch.setenv("AMP_STATE_DIR", str(demo / "state"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"DuckDB warehouse {demo / 'warehouse.duckdb'}" in texts(at.caption)
    hours = ledger_scalar(demo / "state", "select count(*) from hours where status = 'done'")
    assert metrics(at)["Hours exported"] == units.count(hours) == "72"


def test_pipeline_health_shows_the_ledgers_and_the_loaders_numbers(demo: Path) -> None:
    state, warehouse = demo / "state", demo / "warehouse.duckdb"
    at = open_app(DuckDBBackend(warehouse, state))
    assert not at.exception
    assert [s.value for s in at.subheader] == [
        "Exported hours",
        "Files written vs loaded",
        "Freshness",
        "Failed hours",
        "Last runs",
    ]
    shown = metrics(at)
    written = ledger_scalar(state, "select sum(files) from hours where status = 'done'")
    loaded = marts_scalar(warehouse, "select count(distinct file_name) from raw.load_history")
    assert written == loaded == 72  # one part per hour of sample data, every one loaded
    assert shown["Hours exported"] == "72"
    assert shown["Empty hours"] == shown["Failed hours"] == shown["Lines quarantined"] == "0"
    assert shown["Files written"] == shown["Files loaded"] == units.count(written)
    assert shown["Files not loaded"] == "0"
    assert "Every file the export wrote is in the raw table." in texts(at.success)
    assert "No failed hours." in texts(at.success)
    newest = marts_scalar(
        warehouse, "select max(event_time) from analytics.amplitude__event_enhanced"
    )
    assert shown["Newest event"] == units.age(newest, NOW)
    assert shown["Newest event"].endswith("min ago")
    assert shown["Newest event"].startswith("6 h")
    assert shown["Exported up to"] == "Jan 28, 23:00"
    (runs,) = at.dataframe
    frame = runs.value
    assert list(frame["tasks"]) == ["demo"]
    assert list(frame["succeeded"]) == [True]


def test_repeat_clicks_show_the_marts_groups_and_one_groups_session(demo: Path) -> None:
    warehouse = demo / "warehouse.duckdb"
    at = show(open_app(DuckDBBackend(warehouse, demo / "state")), "Repeat clicks")
    groups, interactions, sessions = marts_rows(
        warehouse,
        "select count(*), sum(repeat_count), count(distinct session_key) "
        "from analytics.amplitude__repeat_clicks",
    )[0]
    shown = metrics(at)
    assert shown["Repeat groups"] == units.count(groups)
    assert shown["Interactions in them"] == units.count(interactions)
    assert shown["Sessions with repeats"] == units.count(sessions)
    assert groups > 50  # the sample data plants repeat clicks every hour

    elements, pages_viewed, timeline = (d.value for d in at.dataframe)
    expected = marts_rows(
        warehouse,
        "select element_text, page_title, count(*) as n, sum(repeat_count) as clicks "
        "from analytics.amplitude__repeat_clicks where event_name = 'Element Clicked' "
        "group by all order by n desc, clicks desc, element_text, page_title limit 10",
    )
    shown_rows = elements[["element_text", "page_title", "repeat_groups", "clicks"]]
    assert [tuple(r) for r in shown_rows.itertuples(index=False)] == expected
    top_page = marts_rows(
        warehouse,
        "select page_title, count(*) as n, sum(repeat_count) as views "
        "from analytics.amplitude__repeat_clicks where event_name = 'Page Viewed' "
        "group by all order by n desc, views desc, page_title limit 1",
    )[0]
    assert tuple(pages_viewed[["page_title", "repeat_groups", "views"]].iloc[0]) == top_page

    # The group chosen by default is the largest; its session is drawn event by event.
    pkey, session_key, repeat_count = marts_rows(
        warehouse,
        "select pkey, session_key, repeat_count from analytics.amplitude__repeat_clicks "
        "order by repeat_count desc, first_event_time, pkey limit 1",
    )[0]
    assert at.selectbox(key="group").value == pkey
    events = marts_scalar(
        warehouse,
        "select count(*) from analytics.amplitude__event_enhanced where session_key = ?",
        [session_key],
    )
    assert len(timeline) == events > repeat_count
    assert int(timeline["in_group"].sum()) == repeat_count


def test_sessions_and_users_show_the_marts_counts(demo: Path) -> None:
    warehouse = demo / "warehouse.duckdb"
    at = show(open_app(DuckDBBackend(warehouse, demo / "state")), "Sessions and users")
    shown = metrics(at)
    users = marts_scalar(warehouse, "select count(*) from analytics.amplitude__user_enhanced")
    sessions = marts_scalar(warehouse, "select count(*) from analytics.amplitude__sessions")
    median = marts_scalar(
        warehouse, "select median(session_duration_seconds) from analytics.amplitude__sessions"
    )
    daily = marts_rows(
        warehouse,
        "select event_date, count(*), count(distinct amplitude_id) "
        "from analytics.amplitude__event_enhanced group by event_date order by event_date",
    )
    assert shown["Users"] == units.count(users)
    assert shown["Sessions"] == units.count(sessions)
    # New on the day Amplitude created the user (what daily_performance counts too).
    new_users = marts_scalar(
        warehouse,
        "select sum(new_users) from analytics.amplitude__daily_performance "
        "where event_date between date '2026-01-26' and date '2026-01-28'",
    )
    assert 0 < new_users < users
    assert shown["New users"] == units.count(new_users)
    assert shown["Median session length"] == units.seconds(median)
    assert shown["Daily active users"] == units.count(sum(u for _, _, u in daily) / len(daily))
    lengths, per_day = (d.value for d in at.dataframe)
    assert int(lengths["sessions"].sum()) == sessions
    assert [(r.day, r.events, r.users) for r in per_day.itertuples(index=False)] == daily
    assert len(at.get("arrow_vega_lite_chart")) == 4


def test_a_country_filter_is_bound_and_counts_only_that_country(demo: Path) -> None:
    warehouse = demo / "warehouse.duckdb"
    at = show(open_app(DuckDBBackend(warehouse, demo / "state")), "Sessions and users")
    countries = at.selectbox(key="country").options
    assert countries[0] == "All countries"
    assert "Germany" in countries
    at.selectbox(key="country").set_value("Germany").run()
    users = marts_scalar(
        warehouse,
        "select count(distinct amplitude_id) from analytics.amplitude__event_enhanced "
        "where country = 'Germany'",
    )
    sessions = marts_scalar(
        warehouse,
        "select count(*) from analytics.amplitude__sessions where session_key in "
        "(select session_key from analytics.amplitude__event_enhanced where country = 'Germany')",
    )
    all_users = marts_scalar(warehouse, "select count(*) from analytics.amplitude__user_enhanced")
    assert 0 < users < all_users
    assert metrics(at)["Users"] == units.count(users)
    assert metrics(at)["Sessions"] == units.count(sessions)
    assert "country Germany" in texts(at.caption)


def test_filters_narrower_than_the_data_say_so(demo: Path) -> None:
    at = open_app(DuckDBBackend(demo / "warehouse.duckdb", demo / "state"))
    at.date_input(key="days").set_value((date(2025, 1, 1), date(2025, 1, 2))).run()
    for page in ("Sessions and users", "Repeat clicks"):
        show(at, page)
        message = texts(at.info)
        assert "No events match these filters (2025-01-01 to 2025-01-02)" in message
        assert "Events span 2026-01-26 to 2026-01-28" in message
        assert not at.metric
    show(at, "Pipeline health")
    assert "No hours exported from 2025-01-01 to 2025-01-02." in texts(at.info)


def test_before_any_run_every_page_says_what_to_run(tmp_path: Path) -> None:
    at = open_app(DuckDBBackend(tmp_path / "warehouse.duckdb", tmp_path / "state"))
    for page in ("Pipeline health", "Repeat clicks", "Sessions and users"):
        show(at, page)
        assert not at.error
        assert f"No warehouse at {tmp_path / 'warehouse.duckdb'} yet: run `make demo`" in texts(
            at.info
        )


def test_exported_but_not_transformed_shows_the_ledger_and_says_what_builds_the_marts(
    demo: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as db:  # loaded, never transformed: raw only
        db.execute("create schema raw")
    at = open_app(DuckDBBackend(warehouse, demo / "state"))
    assert metrics(at)["Hours exported"] == "72"
    assert "amplitude-ingest transform" in texts(at.info)  # the freshness section
    assert metrics(at)["Files not loaded"] == "72"  # no load history in this warehouse
    assert metrics(at)["Files loaded"] == "0"
    assert "Written but not loaded (newest first, at most 50):" in texts(at.warning)
    assert len(at.dataframe[0].value) == 50
    show(at, "Sessions and users")
    assert "amplitude-ingest transform" in texts(at.info)


def test_marts_without_a_ledger_say_nothing_was_exported(demo: Path, tmp_path: Path) -> None:
    at = open_app(DuckDBBackend(demo / "warehouse.duckdb", tmp_path / "no-state"))
    assert "Nothing exported yet" in texts(at.info)
    assert "No runs recorded yet." in texts(at.info)


def test_a_warehouse_being_written_is_reported_busy(demo: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes((demo / "warehouse.duckdb").read_bytes())
    holder = subprocess.Popen(  # another process holds the file for writing, as a load does
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        at = show(open_app(DuckDBBackend(warehouse, demo / "state")), "Sessions and users")
        assert "is being written by another run (load or dbt): reload in a moment" in texts(at.info)
    finally:
        holder.kill()
        holder.wait()


class BrokenBackend:
    label = "a backend whose queries fail"

    def version(self) -> str:
        return "broken"

    def query(self, sql: str, params: Any = ()) -> Any:
        raise RuntimeError("permission denied for relation amplitude__sessions")


def test_a_failing_query_is_an_error_in_its_section_not_a_traceback() -> None:
    at = open_app(BrokenBackend())
    assert not at.exception
    assert "Could not read exported hours: permission denied" in texts(at.error)
    show(at, "Sessions and users")
    assert "Could not read activity: permission denied for relation" in texts(at.error)

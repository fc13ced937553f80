"""The dashboard's pure parts: units, filters as parameters, the rules every SQL text keeps
so that it runs unchanged on DuckDB and Snowflake, Snowflake's results normalized, and
what the app may import where Streamlit in Snowflake runs it."""

from __future__ import annotations

import ast
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot

from amplitude_dashboard import units
from amplitude_queries.backends import normalize, run
from amplitude_queries.sql import NEW_USER_SINCE, QUERIES, Filters, Params

SNOWPARK = Path(__file__).resolve().parents[2] / "snowpark"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.84, "0.8 s"),
        (9.96, "10.0 s"),
        (42.4, "42 s"),
        (60, "1 min"),
        (200, "3 min 20 s"),
        (3599.6, "1 h 00 min"),
        (7500, "2 h 05 min"),
        (None, "-"),
        (float("nan"), "-"),
    ],
)
def test_seconds_carry_their_unit(value: float | None, shown: str) -> None:
    assert units.seconds(value) == shown


def test_counts_ages_and_times() -> None:
    assert units.count(1234567) == "1,234,567"
    assert units.count(816.6) == "817"
    assert units.count(None) == "-"
    now = datetime(2026, 1, 29, 6, 0)
    assert units.age(datetime(2026, 1, 29, 5, 59, 30), now) == "just now"
    assert units.age(datetime(2026, 1, 29, 5, 17), now) == "43 min ago"
    assert units.age(datetime(2026, 1, 28, 23, 54, 43), now) == "6 h 05 min ago"
    assert units.age(datetime(2026, 1, 20, 3, 0), now) == "9 d 3 h ago"
    assert units.age(datetime(2026, 1, 29, 7, 0), now) == "in the future (clock skew?)"
    assert units.age(None, now) == "never"
    assert units.utc(datetime(2026, 1, 28, 23, 0)) == "2026-01-28 23:00 UTC"
    assert units.hour(datetime(2026, 1, 28, 23, 0)) == "Jan 28, 23:00"


def test_filters_travel_as_bound_parameters() -> None:
    chosen = Filters(date(2026, 1, 26), date(2026, 1, 28), "Web", None)
    assert chosen.params() == ("2026-01-26", "2026-01-28", "Web", None, None)
    assert Filters(date(2026, 1, 26), date(2026, 1, 28), project=7).params()[4] == 7
    # A value that would break out of a literal is just a value: it never reaches the text.
    hostile = Filters(date(2026, 1, 26), date(2026, 1, 28), "x' or '1'='1", None)
    assert hostile.params()[2] == "x' or '1'='1"
    for query in QUERIES.values():
        assert "x' or" not in query.sql


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_keeps_to_what_both_dialects_share(name: str) -> None:
    query = QUERIES[name]
    text = query.sql
    expected = {Params.NONE: 0, Params.FILTERS: 5, Params.GROUP: 1}[query.params]
    assert text.count("?") == expected
    if query.params is Params.FILTERS:
        assert text.lstrip().startswith("with filters as (")
    lowered = re.sub(r"'[^']*'", "''", text.lower())
    for dialect_only in ("::", " iff(", "qualify", "try_to_", "limit ?", "ilike", "$"):
        assert dialect_only not in lowered, dialect_only
    # Relations by two-part name, in the two schemas the app reads, and nothing else.
    for dialect in ("duckdb", "snowflake"):
        tree = sqlglot.parse_one(text, read=dialect)
        ctes = {cte.alias_or_name for cte in tree.find_all(sqlglot.exp.CTE)}
        tables = {f"{t.db}.{t.name}" if t.db else t.name for t in tree.find_all(sqlglot.exp.Table)}
        assert {t for t in tables if t not in ctes} <= {
            "analytics.amplitude__event_enhanced",
            "analytics.amplitude__sessions",
            "analytics.amplitude__user_enhanced",
            "analytics.amplitude__repeat_clicks",
            "ingest.amplitude_ingest_ledger",
            "ingest.amplitude_files_not_loaded",
            "ingest.amplitude_pipeline_runs",
            "ingest.amplitude_pipeline_health",
        }, dialect


def test_a_new_user_is_counted_as_the_daily_performance_mart_counts_one() -> None:
    # On the day of user_creation_time (Fivetran's definition; dbt/DECISIONLOG.md).
    assert NEW_USER_SINCE == "user_created_at"
    assert "first_event_at" not in "".join(q.sql for q in QUERIES.values())


def test_a_query_binds_exactly_its_parameters() -> None:
    with pytest.raises(ValueError, match="activity_totals binds 5 parameters, got 1"):
        run(object(), "activity_totals", ("2026-01-26",))  # type: ignore[arg-type]


def test_snowflake_results_are_normalized() -> None:
    raw = pd.DataFrame(
        {
            "SESSIONS": [Decimal(3), Decimal(5)],
            "AVG_SESSION_SECONDS": [Decimal("1.5"), Decimal("2.25")],
            "MAYBE": [Decimal(1), None],
            "PAGE_TITLE": ["Home", None],
        }
    )
    out = normalize(raw)
    assert list(out.columns) == ["sessions", "avg_session_seconds", "maybe", "page_title"]
    assert out["sessions"].dtype == "int64"
    assert list(out["sessions"]) == [3, 5]
    assert list(out["avg_session_seconds"]) == [1.5, 2.25]
    assert out["maybe"].dtype == "float64"
    assert list(out["page_title"]) == ["Home", None]


# What Streamlit in Snowflake has: the standard library, Streamlit (and altair, pandas that
# come with it), Snowpark. duckdb is the laptop's and may only be imported inside a function.
SHIPPED = ("amplitude_dashboard", "amplitude_queries")
AVAILABLE = {"streamlit", "altair", "pandas", "snowflake", *SHIPPED}
# The Native App's Streamlit and its queries run only in the app, whose bundle ships the
# amplitude_ingest package beside them (the app's names and procedures' SQL live there).
NATIVE_APP_ONLY = {"amplitude_dashboard/native_app.py", "amplitude_queries/app.py"}


@pytest.mark.parametrize("package", SHIPPED)
def test_what_ships_to_snowflake_imports_only_what_it_has_there(package: str) -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in sorted((SNOWPARK / package).glob("*.py")):
        app_only = f"{package}/{path.name}" in NATIVE_APP_ONLY
        available = AVAILABLE | ({"amplitude_ingest"} if app_only else set())
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            for name in names:
                assert name in stdlib | available, f"{path.name} imports {name} at module level"
        # Never the procedure's package or the laptop application, not even lazily.
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                )
                for module in modules:
                    assert not str(module).startswith("amplitude_laptop")
                    assert app_only or not str(module).startswith("amplitude_ingest")


def test_the_project_filter_keeps_one_projects_events_and_users() -> None:
    """Issue #18 item 9: two Amplitude projects in one warehouse, each numbering its own
    users (amplitude_id 1 in both is two users); the filter keeps one project's."""
    db = duckdb.connect()
    db.execute("create schema analytics")
    db.execute(
        "create table analytics.amplitude__event_enhanced as select * from (values "
        "('e1', date '2026-01-26', 100, 'p100-1', 's1', 'Web', 'Germany'), "
        "('e2', date '2026-01-26', 200, 'p200-1', 's2', 'Web', 'Germany'), "
        "('e3', date '2026-01-26', 200, 'p200-1', 's2', 'Web', 'Germany')) "
        "as t(event_key, event_date, project_id, user_key, session_key, platform, country)"
    )
    totals = QUERIES["activity_totals"].sql
    every = Filters(date(2026, 1, 26), date(2026, 1, 26))
    assert db.execute(totals, every.params()).fetchone() == (3, 2, 2)
    one = Filters(date(2026, 1, 26), date(2026, 1, 26), project=200)
    assert db.execute(totals, one.params()).fetchone() == (2, 1, 1)
    assert db.execute(QUERIES["projects"].sql).fetchall() == [(100,), (200,)]

"""The Snowflake variant of the dashboard, offline.

* Every query of amplitude_queries runs on fakesnow (the Snowflake dialect over DuckDB)
  through the app's SnowparkBackend, against the demo's marts, its ledger and sql/85's
  files-not-loaded view, and returns the same rows as on the DuckDB warehouse.
* The whole app renders every page on that backend and shows the same numbers as on the
  laptop; a file the pipe never loaded and a failed task-graph run show on the health page.
* The Streamlit entity of snowflake.yml builds with the pinned Snowflake CLI's own code:
  the bundle `snow streamlit deploy` uploads, and the CREATE STREAMLIT it runs; the bundle
  alone runs the app.

What fakesnow is not (Snowflake itself): see README, "What was checked only offline".
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
import yaml

from amplitude_queries.backends import DuckDBBackend, SnowparkBackend, run
from amplitude_queries.sql import QUERIES, Filters, Params
from tests.dashboard_support import FakesnowSession, demo_dir, fakesnow_account, marts_rows
from tests.integration.test_dashboard_app import NOW, metrics, open_app, show

ROOT = Path(__file__).resolve().parents[2]
SNOW_PYTHON = ROOT / ".venv-snow" / "bin" / "python"
PAGES = ("Pipeline health", "Repeat clicks", "Sessions and users")
# Read from different sources on purpose: the laptop's runs are its CLI's run records.
LAPTOP_ONLY = {"pipeline_runs"}
# Relative to each side's clock and the laptop's AMP_LAG_HOURS: pinned by
# test_health_backlog.py (sql/85) and test_dashboard_laptop.py (the stand-in) instead.
BY_CLOCK = {"ledger_backlog"}


@pytest.fixture(scope="module")
def demo() -> Path:
    return demo_dir()


@pytest.fixture
def account(demo: Path, tmp_path: Path) -> Iterator[Any]:
    st.cache_data.clear()
    (tmp_path / "fakesnow").mkdir()
    with fakesnow_account(demo, tmp_path / "fakesnow") as connection:
        yield connection
    st.cache_data.clear()


def comparable(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows with dates and times as ISO text and floats rounded: the drivers' types differ
    (DuckDB gives dates as timestamps to pandas, fakesnow as dates), the values must not."""

    def value(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp | datetime):
            stamp = pd.Timestamp(v)
            return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, float):
            return round(v, 6)
        if hasattr(v, "item"):
            return value(v.item())
        return v

    return [tuple(value(v) for v in row) for row in frame.itertuples(index=False)]


def test_every_query_returns_the_same_rows_on_snowflake_as_on_duckdb(
    demo: Path, account: Any
) -> None:
    laptop = DuckDBBackend(demo / "warehouse.duckdb", demo / "state")
    session = FakesnowSession(account)
    snowflake = SnowparkBackend(session)
    (pkey,) = marts_rows(
        demo / "warehouse.duckdb",
        "select pkey from analytics.amplitude__repeat_clicks order by repeat_count desc, pkey "
        "limit 1",
    )[0]
    every_day = Filters(date(2026, 1, 26), date(2026, 1, 28))
    choices = {
        Params.NONE: [()],
        Params.FILTERS: [
            every_day.params(),
            Filters(date(2026, 1, 27), date(2026, 1, 27), "Web", "Germany").params(),
            Filters(date(2026, 1, 26), date(2026, 1, 28), "iOS").params(),  # nothing matches
        ],
        Params.GROUP: [(pkey,)],
    }
    compared = 0
    for name, query in QUERIES.items():
        if name in LAPTOP_ONLY | BY_CLOCK:
            continue
        for params in choices[query.params]:
            on_duckdb = run(laptop, name, params)
            on_snowflake = run(snowflake, name, params)
            assert list(on_snowflake.columns) == list(on_duckdb.columns), name
            assert comparable(on_snowflake) == comparable(on_duckdb), (name, params)
            compared += 1
    assert compared == 9 + 14 * 3 + 1  # every query but the runs, with each of its choices
    assert len(session.queries) == compared  # each one really went through Snowpark's call
    # Snowflake hands back upper-case names and decimals; the backend makes them the same.
    assert run(snowflake, "repeat_totals", every_day.params())["interactions"].dtype == "int64"


def test_the_app_shows_the_same_numbers_on_snowflake_as_on_the_laptop(
    demo: Path, account: Any
) -> None:
    # The lag sql/50 writes to the settings table, which sql/85's view reads.
    laptop = open_app(DuckDBBackend(demo / "warehouse.duckdb", demo / "state", lag_hours=3))
    snowflake = open_app(SnowparkBackend(FakesnowSession(account), source="Snowflake (fakesnow)"))
    assert "Source: Snowflake (fakesnow)." in snowflake.caption[0].value
    for page in PAGES:
        show(laptop, page)
        show(snowflake, page)
        assert not snowflake.error, [e.value for e in snowflake.error]
        # A minute apart by each side's clock: test_health_backlog.py pins the date.
        by_clock = {"Current at this pace"}
        on_snowflake = {k: v for k, v in metrics(snowflake).items() if k not in by_clock}
        assert on_snowflake == {k: v for k, v in metrics(laptop).items() if k not in by_clock}
        assert (page != "Pipeline health") or "Hours behind" in on_snowflake
        assert len(metrics(snowflake)) >= 4


def test_a_file_the_pipe_never_loaded_and_a_failed_run_show_on_snowflake(
    demo: Path, account: Any
) -> None:
    cursor = account.cursor()
    cursor.execute("select min(file_name) from amplitude.raw.amplitude_events_raw")
    (missing,) = cursor.fetchone()
    cursor.execute("delete from amplitude.raw.amplitude_events_raw where file_name = ?", [missing])
    cursor.execute(
        "insert into amplitude.ingest.amplitude_pipeline_runs "
        "select 'graph-7', '2026-01-29 05:20:00'::timestamp_ntz, false, parse_json(?)",
        [
            json.dumps(
                [
                    {"task": "AMPLITUDE_PIPELINE_ROOT", "state": "SUCCEEDED", "attempt": 1},
                    {
                        "task": "AMPLITUDE_WAIT_FOR_LOADS",
                        "state": "FAILED",
                        "attempt": 2,
                        "error": "1 file(s) written by run run-1 are not in the raw table",
                    },
                ]
            )
        ],
    )
    at = open_app(SnowparkBackend(FakesnowSession(account)), NOW)
    shown = metrics(at)
    assert shown["Files not loaded"] == "1"
    assert shown["Files loaded"] == "71"
    not_loaded, runs = (d.value for d in at.dataframe)
    assert list(not_loaded["stage_key"]) == [missing]
    assert list(not_loaded["load_status"]) == ["not seen by the pipe"]
    assert runs.iloc[0]["run"] == "graph-7"
    assert not runs.iloc[0]["succeeded"]
    assert runs.iloc[0]["failed tasks"] == "AMPLITUDE_WAIT_FOR_LOADS"
    assert "are not in the raw table" in runs.iloc[0]["error"]


def test_snow_streamlit_bundles_the_app_and_the_bundle_alone_runs_it(
    demo: Path, tmp_path: Path
) -> None:
    assert SNOW_PYTHON.exists(), "the Snowflake CLI is missing: run `make test`, which installs it"
    project = tmp_path / "project"
    project.mkdir()
    for name in ("snowflake.yml", "environment.yml", "streamlit_app.py"):
        shutil.copy(ROOT / name, project, follow_symlinks=False)
    shutil.copytree(
        ROOT / "snowpark",
        project / "snowpark",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")}
    env["SNOWFLAKE_HOME"] = str(tmp_path / "snowflake-home")
    env["SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT"] = "true"
    result = subprocess.run(
        [
            str(SNOW_PYTHON),
            str(ROOT / "tests" / "integration" / "snow_streamlit_bundle.py"),
            str(project),
            "AMPLITUDE",
            "AMPLITUDE_WH",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = json.loads(result.stdout.strip().splitlines()[-1])
    # The Native App's face ships in the app's bundle only (it imports amplitude_ingest).
    app_only = {"amplitude_dashboard/native_app.py", "amplitude_queries/app.py"}
    packages = {
        f"{package}/{p.name}"
        for package in ("amplitude_dashboard", "amplitude_queries")
        for p in (ROOT / "snowpark" / package).glob("*.py")
    } - app_only
    # The main file at the root, the two packages beside it and the environment, nothing of
    # the procedure or the laptop app. On the warehouse runtime MAIN_FILE must be a file
    # name at the root of the app's folder, not a path (CREATE STREAMLIT): an assumption
    # only an account can confirm, encoded here as the documented rule.
    assert set(built["files"]) == packages | {"streamlit_app.py", "environment.yml"}
    assert built["create"].splitlines() == [
        "CREATE STREAMLIT IF NOT EXISTS IDENTIFIER('AMPLITUDE.dashboard.amplitude_dashboard')",
        "MAIN_FILE = 'streamlit_app.py'",
        "QUERY_WAREHOUSE = AMPLITUDE_WH",
        "TITLE = 'Amplitude pipeline and product analytics'",
        "COMMENT = 'Pipeline health, repeat clicks, sessions and users (amplitude-ingest)';",
    ]
    main_file = re.search(r"MAIN_FILE = '([^']*)'", built["create"]).group(1)  # type: ignore[union-attr]
    assert "/" not in main_file
    # environment.yml is listed in the entity's artifacts, not left to the CLI to add.
    (entity,) = [
        e
        for e in yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"].values()
        if e["type"] == "streamlit"
    ]
    assert {"src": "environment.yml", "dest": "environment.yml"} in entity["artifacts"]
    # The CLI links the files into its deploy root; the stage gets their content: copy it.
    bundle = tmp_path / "stage"
    shutil.copytree(built["bundle"], bundle)
    # Nothing in it imports the laptop app or the procedure's package: the laptop's records
    # it reads (amplitude_queries.laptop_records) are its own, and only the standard library's.
    imported = {
        name.split(".")[0]
        for path in bundle.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert not imported & {"amplitude_laptop", "amplitude_ingest", "amplitude_sample_server"}
    assert "amplitude_queries/laptop_records.py" in built["files"]
    assert "  - streamlit=1.51.0" in (bundle / "environment.yml").read_text().splitlines()

    # The bundle runs the app with nothing of this repository's snowpark/ on sys.path.
    main = bundle / main_file
    # No checkout's snowpark/ (this one, or the one an editable install points at) stays on
    # sys.path; the main file's folder goes first, as `streamlit run` puts it there
    # (streamlit/web/bootstrap.py, _fix_sys_path), which AppTest does not do.
    check = (
        "import sys\n"
        "sys.path = [p for p in sys.path if not p.rstrip('/').endswith('/snowpark')]\n"
        f"sys.path.insert(0, {str(main.parent)!r})\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(main)!r}, default_timeout=60).run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "import amplitude_queries\n"
        "print(amplitude_queries.__file__)\n"
        "print([m.value for m in at.metric][0])\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env={
            **os.environ,
            "AMP_WAREHOUSE": str(demo / "warehouse.duckdb"),
            "AMP_STATE_DIR": str(demo / "state"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    imported, first_metric = ran.stdout.strip().splitlines()[-2:]
    assert imported.startswith(str(bundle))
    assert first_metric == "72"

"""The app's frame: where the data comes from, the filters, the page chosen.

Inside Streamlit in Snowflake the data comes from the app's own Snowpark session
(``get_active_session()``, the owner's rights of the app); anywhere else from the DuckDB
warehouse named by ``AMP_WAREHOUSE`` (default: the demo's, ``.local/demo/warehouse.duckdb``)
and the state folder ``AMP_STATE_DIR`` (default ``.local/demo/state``: the SQLite ledger,
its hours and its runs). ``make dashboard`` sets both. ``AMP_LAG_HOURS``, the extract's lag, lets
the laptop's page say how many hours behind the ledger is.

Every query goes through :func:`cached_query`: results are kept for
:data:`CACHE_SECONDS`, keyed by the query, its parameters and the backend's
:meth:`~amplitude_queries.backends.Backend.version` (on the laptop, the files' modification
times: a new load shows at the next rerun).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import streamlit as st

from amplitude_dashboard import pages
from amplitude_queries.backends import Backend, DuckDBBackend, SnowparkBackend
from amplitude_queries.backends import run as run_query
from amplitude_queries.sql import Filters

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300
DEFAULT_WAREHOUSE = Path(".local/demo/warehouse.duckdb")
DEFAULT_STATE = Path(".local/demo/state")
ALL_PLATFORMS = "All platforms"
ALL_COUNTRIES = "All countries"
ALL_PROJECTS = "All projects"
PAGES: dict[str, Callable[[pages.Data, Filters, datetime], None]] = {
    "Pipeline health": pages.health,
    "Repeat clicks": pages.repeat_clicks,
    "Sessions and users": pages.sessions_and_users,
}


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=512)
def cached_query(_backend: Backend, version: str, name: str, params: tuple[object, ...]) -> Any:
    """One query's DataFrame; ``_backend`` is not hashed, ``version`` stands for it."""
    return run_query(_backend, name, params)


@dataclass
class CachedData:
    """:class:`pages.Data` over a backend, through the cache."""

    backend: Backend

    def get(self, name: str, params: Sequence[object] = ()) -> Any:
        return cached_query(self.backend, self.backend.version(), name, tuple(params))


def snowflake_session() -> Any | None:
    """The app's Snowpark session inside Snowflake; None anywhere else."""
    try:
        from snowflake.snowpark.context import get_active_session
        from snowflake.snowpark.exceptions import SnowparkSessionException
    except ImportError:
        return None
    try:
        return get_active_session()
    except SnowparkSessionException:
        return None


def default_backend() -> Backend:
    session = snowflake_session()
    if session is not None:
        return SnowparkBackend(session, source="Snowflake (this app's session)")
    warehouse = Path(os.environ.get("AMP_WAREHOUSE") or DEFAULT_WAREHOUSE)
    state = Path(os.environ.get("AMP_STATE_DIR") or DEFAULT_STATE)
    # The extract's lag (the CLI reads the same variable): without it, "hours behind" is
    # unknown, since the dashboard cannot know which hours Amplitude has ready.
    lag = os.environ.get("AMP_LAG_HOURS", "").strip()
    return DuckDBBackend(warehouse, state, lag_hours=int(lag) if lag.isdigit() else None)


def _day_bounds(data: pages.Data, today: date) -> tuple[date, date]:
    """The days with events in the marts; else the ledger's hours; else the last week."""
    for name in ("event_date_bounds", "ledger_bounds"):
        try:
            frame = data.get(name)
        except Exception as exc:  # noqa: BLE001 - the page's sections say what failed
            logger.debug("no day bounds from %s: %s", name, exc)
            continue
        first, last = frame["first_day"].iloc[0], frame["last_day"].iloc[0]
        if first is not None and last is not None and first == first:  # NaT != NaT
            return _as_date(first), _as_date(last)
    return today - timedelta(days=6), today


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _options(data: pages.Data, name: str, column: str) -> list[str]:
    try:
        return [str(v) for v in data.get(name)[column].tolist()]
    except Exception:  # noqa: BLE001 - the page's sections say what failed
        return []


def sidebar(data: pages.Data, today: date) -> tuple[str, Filters | None]:
    """The page chosen and the filters; None while the date range is half picked."""
    first, last = _day_bounds(data, today)
    with st.sidebar:
        st.title("Amplitude")
        page = st.radio("Page", list(PAGES), key="page")
        picked = st.date_input(
            "Days (UTC)",
            value=(first, last),
            min_value=date(2000, 1, 1),
            max_value=max(last, today) + timedelta(days=1),
            key="days",
            help=f"Days with events: {first} to {last}",
        )
        platform = st.selectbox(
            "Platform", [ALL_PLATFORMS, *_options(data, "platforms", "platform")], key="platform"
        )
        country = st.selectbox(
            "Country", [ALL_COUNTRIES, *_options(data, "countries", "country")], key="country"
        )
        project = st.selectbox(
            "Amplitude project",
            [ALL_PROJECTS, *_options(data, "projects", "project_id")],
            key="project",
        )
    days = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
    if len(days) != 2:
        return str(page), None
    return str(page), Filters(
        start=days[0],
        end=days[1],
        platform=None if platform == ALL_PLATFORMS else str(platform),
        country=None if country == ALL_COUNTRIES else str(country),
        project=None if project == ALL_PROJECTS else int(float(str(project))),
    )


def main(backend: Backend | None = None, now: datetime | None = None) -> None:
    """Draw the app. ``backend`` and ``now`` are for tests; by default, as described above."""
    st.set_page_config(layout="wide")
    backend = backend or default_backend()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    data = CachedData(backend)
    page, filters = sidebar(data, now.date())
    st.caption(f"Source: {backend.label}. Times are UTC.")
    if filters is None:
        st.info("Pick the last day of the range too.")
        return
    PAGES[page](data, filters, now)

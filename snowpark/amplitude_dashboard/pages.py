"""The three pages: pipeline health, repeat clicks, sessions and users.

Each page is a function of the data, the filters and the current time. Each section
stands alone: when what it reads is missing (no ledger yet, marts not built) it says why
and what to run, and the rest of the page still draws. Numbers shown as metrics carry
their unit; tables keep the exact values (units in the column headers), so what is shown
can be checked against the marts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import altair as alt
import pandas as pd
import streamlit as st

from amplitude_dashboard import units
from amplitude_queries.backends import DataUnavailable
from amplitude_queries.sql import (
    REPEAT_GAP_BUCKETS,
    REPEAT_GAP_LAST,
    SESSION_LENGTH_BUCKETS,
    SESSION_LENGTH_LAST,
    Filters,
)

logger = logging.getLogger(__name__)

NO_EVENTS = (
    "No events in the marts yet. On a laptop: `make demo`, or `amplitude-ingest run`. "
    "In Snowflake: the task graph's dbt step builds them after the first export."
)


class Data(Protocol):
    def get(self, name: str, params: Sequence[object] = ()) -> Any: ...


class Outcome:
    """Whether a section could read its data (the sections after it may need it)."""

    failed = False


@contextmanager
def section(title: str) -> Iterator[Outcome]:
    """A titled part of a page; a failure to read its data is shown in its place."""
    st.subheader(title)
    outcome = Outcome()
    try:
        yield outcome
    except DataUnavailable as exc:
        outcome.failed = True
        st.info(str(exc))
    except Exception as exc:  # an error is shown in its section, never as a traceback
        outcome.failed = True
        logger.exception("section %s failed", title)
        st.error(f"Could not read {title.lower()}: {str(exc).strip().splitlines()[0]}")


def describe(filters: Filters) -> str:
    parts = [f"{filters.start} to {filters.end}"]
    if filters.platform:
        parts.append(f"platform {filters.platform}")
    if filters.country:
        parts.append(f"country {filters.country}")
    if filters.project is not None:
        parts.append(f"project {filters.project}")
    return ", ".join(parts)


def no_match(data: Data, filters: Filters) -> None:
    """Say why there is nothing: no events at all, or filters narrower than the data."""
    bounds = data.get("event_date_bounds")
    first, last = bounds["first_day"].iloc[0], bounds["last_day"].iloc[0]
    if pd.isna(first):
        st.info(NO_EVENTS)
    else:
        st.info(
            f"No events match these filters ({describe(filters)}). Events span "
            f"{pd.Timestamp(first).date()} to {pd.Timestamp(last).date()}: widen the days, "
            "or set platform and country back to all."
        )


def by_day(frame: pd.DataFrame, filters: Filters, columns: list[str]) -> pd.DataFrame:
    """One row per day of the range, zero where a day has none."""
    days = pd.date_range(filters.start, filters.end, freq="D")
    indexed = frame.assign(day=pd.to_datetime(frame["day"])).set_index("day")[columns]
    out = indexed.reindex(days, fill_value=0).fillna(0)
    out.index.name = "day"
    return out.reset_index()


def _metric(column: Any, label: str, value: str, help_text: str | None = None) -> None:
    column.metric(label, value, help=help_text)


def _long(frame: pd.DataFrame, columns: dict[str, str], value: str) -> pd.DataFrame:
    """Day-by-series to long form for a chart with a legend."""
    return (
        frame[["day", *columns]]
        .melt(id_vars=["day"], var_name="series", value_name=value)
        .replace({"series": columns})
    )


STATUS_COLORS = alt.Scale(
    domain=["done", "empty", "failed", "given up", "pending"],
    range=["#0f9d58", "#9aa0a6", "#d93025", "#7b1fa2", "#f9ab00"],
)


def _bars_by_day(
    frame: pd.DataFrame,
    value: str,
    title: str,
    stacked: bool = True,
    colors: alt.Scale | None = None,
) -> None:
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(day):O", title="day (UTC)"),
            y=alt.Y(f"{value}:Q", title=title, stack="zero" if stacked else None),
            color=alt.Color("series:N", title=None, scale=colors or alt.Undefined),
            xOffset=alt.XOffset("series:N") if not stacked else alt.XOffset(),
            tooltip=["yearmonthdate(day):T", "series:N", f"{value}:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")


# ---- pipeline health ------------------------------------------------------------------------


def _ranked_bars(
    chart: pd.DataFrame,
    table: pd.DataFrame,
    label: str,
    tooltip: list[str],
    color: str | None = None,
) -> None:
    """Repeat groups per ``label``, largest first, then the rows behind them."""
    marks = alt.Chart(chart).mark_bar(**({"color": color} if color else {}))
    st.altair_chart(
        marks.encode(
            x=alt.X("repeat_groups:Q", title="repeat groups"),
            y=alt.Y(f"{label}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
            tooltip=tooltip,
        ),
        width="stretch",
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "avg_seconds_between_repeats": st.column_config.NumberColumn(
                "avg gap (s)", format="%.1f s"
            )
        },
    )


def health(data: Data, filters: Filters, now: datetime) -> None:
    st.header("Pipeline health")
    st.caption(
        f"Hours exported, files loaded, freshness and runs; days {filters.start} to "
        f"{filters.end} (platform and country do not apply here)."
    )
    totals: pd.Series | None = None
    with section("Exported hours"):
        totals = data.get("ledger_totals").iloc[0]
        statuses = ("done", "empty", "failed", "given_up", "pending")
        hours = sum(int(totals[f"hours_{s}"]) for s in statuses)
        if hours == 0:
            st.info(
                "Nothing exported yet. On a laptop: `amplitude-ingest extract` (or "
                "`make demo`). In Snowflake: `call ingest_amplitude()`, or resume the task graph."
            )
        else:
            a, b, c, g, d = st.columns(5)
            _metric(a, "Hours exported", units.count(totals["hours_done"]), "hours with events")
            _metric(b, "Empty hours", units.count(totals["hours_empty"]), "no events that hour")
            _metric(c, "Failed hours", units.count(totals["hours_failed"]), "retried next run")
            _metric(
                g,
                "Given-up hours",
                units.count(totals["hours_given_up"]),
                "failed too often: exported again only with force",
            )
            _metric(d, "Lines quarantined", units.count(totals["lines_quarantined"]), "not JSON")
            backlog = data.get("ledger_backlog")
            if not backlog.empty:
                behind_hours, current_at = backlog.iloc[0]
                e, f = st.columns(2)
                if behind_hours is None or pd.isna(behind_hours):
                    _metric(e, "Hours behind", "unknown", "the extract's lag is not known here")
                    _metric(f, "Current at this pace", "unknown")
                else:
                    _metric(
                        e,
                        "Hours behind",
                        units.count(int(behind_hours)),
                        "exportable hours not exported yet (given-up hours aside)",
                    )
                    when = _moment(current_at)
                    shown = units.utc(when) if when else "not gaining"
                    _metric(
                        f,
                        "Current at this pace",
                        "now" if int(behind_hours) == 0 else shown,
                        "from the hours exported in the last 6 hours, less one new hour an hour",
                    )
            daily = data.get("ledger_daily", filters.params())
            if daily.empty:
                st.info(f"No hours exported from {filters.start} to {filters.end}.")
            else:
                series = {
                    "hours_done": "done",
                    "hours_empty": "empty",
                    "hours_failed": "failed",
                    "hours_given_up": "given up",
                    "hours_pending": "pending",
                }
                frame = by_day(daily, filters, [*series, "lines_quarantined"])
                _bars_by_day(_long(frame, series, "hours"), "hours", "hours", colors=STATUS_COLORS)

    with section("Files written vs loaded"):
        written = data.get("ledger_daily", filters.params())
        missing = data.get("files_not_loaded_daily", filters.params())
        files = by_day(written, filters, ["files_written"]).merge(
            by_day(missing, filters, ["files_not_loaded"]), on="day"
        )
        files["files_loaded"] = files["files_written"] - files["files_not_loaded"]
        a, b, c = st.columns(3)
        _metric(a, "Files written", units.count(files["files_written"].sum()), "by the export")
        _metric(b, "Files loaded", units.count(files["files_loaded"].sum()), "in the raw table")
        _metric(c, "Files not loaded", units.count(files["files_not_loaded"].sum()))
        if files["files_written"].sum() > 0:
            _bars_by_day(
                _long(files, {"files_written": "written", "files_loaded": "loaded"}, "files"),
                "files",
                "files",
                stacked=False,
            )
        not_loaded = data.get("files_not_loaded")
        if not_loaded.empty:
            st.success("Every file the export wrote is in the raw table.")
        else:
            st.warning("Written but not loaded (newest first, at most 50):")
            st.dataframe(not_loaded, hide_index=True, width="stretch")

    with section("Freshness"):
        a, b, c, d = st.columns(4)
        if totals is not None:  # the ledger's, shown even when the marts are not built
            watermark = _moment(totals["watermark_hour"])
            last_export = _moment(totals["last_export_at"])
            _metric(
                a, "Exported up to", units.hour(watermark), f"watermark: {units.utc(watermark)}"
            )
            _metric(b, "Last export", units.age(last_export, now), units.utc(last_export))
        fresh = data.get("freshness").iloc[0]
        newest_event = _moment(fresh["newest_event_at"])
        newest_load = _moment(fresh["newest_load_at"])
        _metric(c, "Newest event", units.age(newest_event, now), units.utc(newest_event))
        _metric(d, "Newest load", units.age(newest_load, now), units.utc(newest_load))

    with section("Failed hours"):
        failed = data.get("failed_hours")
        if failed.empty:
            st.success("No failed hours.")
        elif (failed["status"] == "given_up").any():
            st.error(
                "Given-up hours are not exported again by any run: fix the cause, then "
                "`call ingest_amplitude('<hour>', '<hour>', true)` (laptop: `amplitude-ingest "
                "extract --start <hour> --end <hour> --force`)."
            )
            st.dataframe(failed, hide_index=True, width="stretch")
        else:
            st.dataframe(failed, hide_index=True, width="stretch")

    with section("Last runs"):
        runs = data.get("pipeline_runs")
        if runs.empty:
            st.info("No runs recorded yet.")
        else:
            st.dataframe(run_table(runs), hide_index=True, width="stretch")


def _moment(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    moment: datetime = pd.Timestamp(value).to_pydatetime()
    return moment


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: when, whether it succeeded, which tasks failed and why."""
    rows = []
    for run in runs.itertuples(index=False):
        tasks = json.loads(run.tasks) if isinstance(run.tasks, str) and run.tasks else []
        failed = [t for t in tasks if t.get("state") != "SUCCEEDED"]
        rows.append(
            {
                "finished (UTC)": run.finished_at,
                "run": run.run_group_id,
                "succeeded": bool(run.succeeded),
                "tasks": ", ".join(str(t.get("task")) for t in tasks),
                "failed tasks": ", ".join(str(t.get("task")) for t in failed),
                "error": "; ".join(str(t.get("error")) for t in failed if t.get("error")),
            }
        )
    return pd.DataFrame(rows)


# ---- repeat clicks ----------------------------------------------------------------------------


def repeat_clicks(data: Data, filters: Filters, now: datetime) -> None:
    st.header("Repeat clicks")
    st.caption(
        "The same element clicked, or the same page viewed, more than twice in one session "
        f"on one page; groups that started {describe(filters)}."
    )
    with section("Repeated interactions") as first:
        totals = data.get("repeat_totals", filters.params()).iloc[0]
        if int(totals["repeat_groups"]) == 0:
            activity = data.get("activity_totals", filters.params()).iloc[0]
            if int(activity["events"]) == 0:
                no_match(data, filters)
            else:
                st.info(
                    f"No repeated interactions among {units.count(activity['events'])} events "
                    f"({describe(filters)})."
                )
            return
        a, b, c, d = st.columns(4)
        _metric(a, "Repeat groups", units.count(totals["repeat_groups"]))
        _metric(b, "Interactions in them", units.count(totals["interactions"]), "clicks, views")
        _metric(c, "Sessions with repeats", units.count(totals["sessions"]))
        _metric(
            d,
            "Median time between repeats",
            units.seconds(totals["median_seconds_between_repeats"]),
            "median of each group's average gap",
        )
    if first.failed:
        return

    left, right = st.columns(2)
    with left, section("Elements clicked again and again"):
        elements = data.get("repeat_elements", filters.params())
        if elements.empty:
            st.info("No repeated clicks.")
        else:
            labels = elements.assign(
                element=elements["element_text"].fillna("(no text)")
                + " - "
                + elements["page_title"].fillna("(no title)")
            )
            _ranked_bars(labels, elements, "element", ["element", "repeat_groups", "clicks"])
    with right, section("Pages viewed again and again"):
        page_views = data.get("repeat_pages", filters.params())
        if page_views.empty:
            st.info("No repeated page views.")
        else:
            _ranked_bars(
                page_views.fillna({"page_title": "(no title)"}),
                page_views,
                "page_title",
                ["page_title", "repeat_groups", "views"],
                color="#0f9d58",
            )

    left, right = st.columns(2)
    with left, section("Time between repeats"):
        gaps = data.get("repeat_gaps", filters.params())
        order = [label for _, label in REPEAT_GAP_BUCKETS] + [REPEAT_GAP_LAST]
        st.altair_chart(
            alt.Chart(gaps)
            .mark_bar()
            .encode(
                x=alt.X("bucket:N", sort=order, title="average gap in the group"),
                y=alt.Y("repeat_groups:Q", title="repeat groups"),
                color=alt.Color("event_name:N", title=None),
                xOffset="event_name:N",
                tooltip=["bucket", "event_name", "repeat_groups"],
            ),
            width="stretch",
        )
    with right, section("Repeat groups per day"):
        daily = data.get("repeat_daily", filters.params())
        wide = daily.pivot_table(
            index="day", columns="event_name", values="repeat_groups", aggfunc="sum"
        ).reset_index()
        names = [c for c in wide.columns if c != "day"]
        frame = by_day(wide, filters, names)
        st.altair_chart(
            alt.Chart(_long(frame, {n: n for n in names}, "repeat_groups"))
            .mark_line(point=True)
            .encode(
                x=alt.X("yearmonthdate(day):O", title="day (UTC)"),
                y=alt.Y("repeat_groups:Q", title="repeat groups"),
                color=alt.Color("series:N", title=None),
                tooltip=["yearmonthdate(day):T", "series:N", "repeat_groups:Q"],
            ),
            width="stretch",
        )

    with section("One group's session"):
        groups = data.get("repeat_group_list", filters.params())
        if groups.empty:
            st.info("No repeat group to show.")
            return
        labels = {
            row.pkey: (
                f"{row.repeat_count}x {row.event_name}: "
                f"{row.element_text or row.page_title or '(no label)'}"
                f" on {row.page_title or '(no title)'}, {units.utc(_moment(row.first_event_time))}"
            )
            for row in groups.itertuples(index=False)
        }
        pkey = st.selectbox(
            "Repeat group (largest first)",
            list(labels),
            format_func=lambda key: labels[key],
            key="group",
        )
        timeline = data.get("session_timeline", (pkey,))
        timeline = timeline.assign(
            label=timeline["event_name"]
            + ": "
            + timeline["element_text"].fillna(timeline["page_title"]).fillna("")
        )
        st.altair_chart(
            alt.Chart(timeline)
            .mark_circle(size=120)
            .encode(
                x=alt.X("seconds_since_session_start:Q", title="seconds since the session started"),
                y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
                color=alt.Color(
                    "in_group:N",
                    title="in the group",
                    scale=alt.Scale(domain=[True, False], range=["#d93025", "#9aa0a6"]),
                ),
                tooltip=["event_time:T", "event_name", "page_title", "element_text"],
            ),
            width="stretch",
        )
        st.dataframe(
            timeline.drop(columns=["label"]),
            hide_index=True,
            width="stretch",
            column_config={
                "seconds_since_session_start": st.column_config.NumberColumn(
                    "since start (s)", format="%.1f s"
                )
            },
        )


# ---- sessions and users -----------------------------------------------------------------------


def sessions_and_users(data: Data, filters: Filters, now: datetime) -> None:
    st.header("Sessions and users")
    st.caption(f"Sessions that started, and users active, {describe(filters)}.")
    with section("Activity") as first:
        activity = data.get("activity_totals", filters.params()).iloc[0]
        if int(activity["events"]) == 0:
            no_match(data, filters)
            return
        sessions = data.get("session_totals", filters.params()).iloc[0]
        daily = by_day(
            data.get("activity_daily", filters.params()), filters, ["events", "users", "sessions"]
        )
        new_users = by_day(data.get("new_users_daily", filters.params()), filters, ["new_users"])
        a, b, c, d, e = st.columns(5)
        _metric(a, "Users", units.count(activity["users"]), "distinct users with an event")
        _metric(b, "Daily active users", units.count(daily["users"].mean()), "average per day")
        _metric(c, "Sessions", units.count(sessions["sessions"]), "sessions that started")
        _metric(
            d,
            "Median session length",
            units.seconds(sessions["median_session_seconds"]),
            f"average {units.seconds(sessions['avg_session_seconds'])}",
        )
        _metric(e, "New users", units.count(new_users["new_users"].sum()), "first event here")
    if first.failed:
        return

    left, right = st.columns(2)
    with left, section("Daily active users"):
        st.altair_chart(
            alt.Chart(daily)
            .mark_line(point=True)
            .encode(
                x=alt.X("yearmonthdate(day):O", title="day (UTC)"),
                y=alt.Y("users:Q", title="users"),
                tooltip=["yearmonthdate(day):T", "users:Q", "events:Q"],
            ),
            width="stretch",
        )
    with right, section("Sessions per day"):
        started = by_day(
            data.get("sessions_daily", filters.params()),
            filters,
            ["sessions", "first_sessions"],
        )
        started["returning_sessions"] = started["sessions"] - started["first_sessions"]
        _bars_by_day(
            _long(
                started,
                {"first_sessions": "a user's first", "returning_sessions": "returning"},
                "sessions",
            ),
            "sessions",
            "sessions",
        )

    left, right = st.columns(2)
    with left, section("Session length"):
        lengths = data.get("session_lengths", filters.params())
        order = [label for _, label in SESSION_LENGTH_BUCKETS] + [SESSION_LENGTH_LAST]
        every = pd.DataFrame({"bucket": order}).merge(
            lengths[["bucket", "sessions"]], on="bucket", how="left"
        )
        every["sessions"] = every["sessions"].fillna(0).astype("int64")
        st.altair_chart(
            alt.Chart(every)
            .mark_bar(color="#1e61f0")
            .encode(
                x=alt.X("bucket:N", sort=order, title="session length"),
                y=alt.Y("sessions:Q", title="sessions"),
                tooltip=["bucket", "sessions"],
            ),
            width="stretch",
        )
        st.dataframe(every, hide_index=True, width="stretch")
    with right, section("New users per day"):
        st.altair_chart(
            alt.Chart(new_users)
            .mark_bar(color="#0f9d58")
            .encode(
                x=alt.X("yearmonthdate(day):O", title="day (UTC)"),
                y=alt.Y("new_users:Q", title="new users"),
                tooltip=["yearmonthdate(day):T", "new_users:Q"],
            ),
            width="stretch",
        )
    with section("Per day"):
        table = daily.merge(started[["day", "sessions", "first_sessions"]], on="day", how="left")
        table = table.merge(new_users, on="day", how="left").rename(
            columns={
                "sessions_x": "sessions active",
                "sessions_y": "sessions started",
                "first_sessions": "first sessions",
                "new_users": "new users",
            }
        )
        table["day"] = table["day"].dt.date
        st.dataframe(table, hide_index=True, width="stretch")

"""What a person looks at after a run: a text summary and a small HTML report.

Numbers come from the marts in the DuckDB warehouse, the top lists and the daily series
through the dashboard's own queries (:mod:`amplitude_queries`); the charts are inline SVG,
so the report is one self-contained file that opens anywhere without a network (the
dashboard, ``make dashboard``, is the interactive view of the same numbers).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from amplitude_queries.backends import DuckDBBackend, run
from amplitude_queries.laptop_records import RAW_SCHEMA, RAW_TABLE
from amplitude_queries.sql import Filters

MARTS = "analytics"
STAGING = "analytics_staging"


@dataclass(frozen=True)
class Summary:
    raw_rows: int
    events: int
    sessions: int
    users: int
    repeat_groups: int
    top_repeat_elements: list[tuple[str, str, int, int]]  # element, page, groups, clicks
    top_repeat_pages: list[tuple[str, int, int]]  # page, groups, views
    daily: list[tuple[date, int, int]]  # day, events, distinct users

    @property
    def duplicates_removed(self) -> int:
        return self.raw_rows - self.events


def collect(warehouse: Path) -> Summary:
    """The report's numbers; the lists and the daily series are the dashboard's queries
    (:mod:`amplitude_queries`), over every day with events."""
    # Read-write configuration on purpose: dbt-duckdb keeps its connection to the file open
    # in this process, and DuckDB refuses a second one configured differently.
    with duckdb.connect(str(warehouse)) as db:

        def one(sql: str) -> int:
            row = db.execute(sql).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        marts = DuckDBBackend(warehouse, connection=db)
        bounds = run(marts, "event_date_bounds").iloc[0]
        elements: list[tuple[str, str, int, int]] = []
        pages: list[tuple[str, int, int]] = []
        daily: list[tuple[date, int, int]] = []
        if not pd.isna(bounds["first_day"]):
            every_day = Filters(
                start=pd.Timestamp(bounds["first_day"]).date(),
                end=pd.Timestamp(bounds["last_day"]).date(),
            ).params()
            top = run(marts, "repeat_elements", every_day).head(5)
            elements = [
                (str(r.element_text), str(r.page_title), int(r.repeat_groups), int(r.clicks))
                for r in top.itertuples(index=False)
            ]
            top = run(marts, "repeat_pages", every_day).head(5)
            pages = [
                (str(r.page_title), int(r.repeat_groups), int(r.views))
                for r in top.itertuples(index=False)
            ]
            daily = [
                (pd.Timestamp(r.day).date(), int(r.events), int(r.users))
                for r in run(marts, "activity_daily", every_day).itertuples(index=False)
            ]
        return Summary(
            raw_rows=one(f"select count(*) from {RAW_SCHEMA}.{RAW_TABLE}"),
            events=one(f"select count(*) from {STAGING}.stg_amplitude__events"),
            sessions=one(f"select count(*) from {MARTS}.amplitude__sessions"),
            users=one(f"select count(*) from {MARTS}.amplitude__user_enhanced"),
            repeat_groups=one(f"select count(*) from {MARTS}.amplitude__repeat_clicks"),
            top_repeat_elements=elements,
            top_repeat_pages=pages,
            daily=daily,
        )


def render_text(summary: Summary) -> str:
    lines = [
        f"events     {summary.events} unique events from {summary.raw_rows} raw rows "
        f"({summary.duplicates_removed} duplicates removed)",
        f"sessions   {summary.sessions} sessions of {summary.users} users",
        f"repeats    {summary.repeat_groups} repeated interactions (same page or element, "
        "3+ times in one session)",
        "top repeat-click elements:",
    ]
    lines += [
        f"  {clicks:>5} clicks in {groups:>3} groups  {element!r} on {page!r}"
        for element, page, groups, clicks in summary.top_repeat_elements
    ]
    lines.append("top repeated page views:")
    lines += [
        f"  {views:>5} views in {groups:>3} groups  {page!r}"
        for page, groups, views in summary.top_repeat_pages
    ]
    return "\n".join(lines)


def _bars(values: list[tuple[str, int]], width: int = 640, bar: int = 22) -> str:
    """A horizontal bar chart as inline SVG."""
    if not values:
        return "<p>No data.</p>"
    top = max(v for _, v in values) or 1
    label_width = 260
    rows = []
    for i, (label, value) in enumerate(values):
        length = int((width - label_width - 60) * value / top)
        y = i * (bar + 6)
        rows.append(
            f'<text x="0" y="{y + 16}" font-size="13">{html.escape(label[:40])}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar}" fill="#1e61f0"/>'
            f'<text x="{label_width + length + 6}" y="{y + 16}" font-size="13">{value}</text>'
        )
    height = len(values) * (bar + 6)
    return f'<svg width="{width}" height="{height}" role="img">{"".join(rows)}</svg>'


def _columns(values: list[tuple[str, int]], width: int = 640, height: int = 180) -> str:
    """A column chart as inline SVG (daily activity)."""
    if not values:
        return "<p>No data.</p>"
    top = max(v for _, v in values) or 1
    step = width / len(values)
    cols = []
    for i, (label, value) in enumerate(values):
        h = int((height - 40) * value / top)
        x = int(i * step)
        cols.append(
            f'<rect x="{x + 4}" y="{height - 20 - h}" width="{int(step) - 8}" height="{h}" '
            f'fill="#0f9d58"><title>{html.escape(label)}: {value}</title></rect>'
            f'<text x="{x + 4}" y="{height - 5}" font-size="11">{html.escape(label[5:])}</text>'
            f'<text x="{x + 4}" y="{height - 24 - h}" font-size="11">{value}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(cols)}</svg>'


def render_html(summary: Summary, title: str) -> str:
    elements = [(f"{e} ({p})", c) for e, p, _, c in summary.top_repeat_elements]
    pages = [(p, v) for p, _, v in summary.top_repeat_pages]
    daily = [(d.isoformat(), e) for d, e, _ in summary.daily]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;color:#222}}
.kpi{{display:inline-block;margin-right:2em}} .kpi b{{font-size:1.6em;display:block}}
.note{{background:#fff4d6;padding:.5em 1em;border-radius:4px}}</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="kpi"><b>{summary.events}</b>unique events</div>
<div class="kpi"><b>{summary.duplicates_removed}</b>duplicates removed</div>
<div class="kpi"><b>{summary.sessions}</b>sessions</div>
<div class="kpi"><b>{summary.users}</b>users</div>
<div class="kpi"><b>{summary.repeat_groups}</b>repeated interactions</div>
<h2>Repeat clicks by element (clicks in repeat groups)</h2>{_bars(elements)}
<h2>Repeated page views (views in repeat groups)</h2>{_bars(pages)}
<h2>Daily activity (events)</h2>{_columns(daily)}
</body></html>
"""


def write_html(summary: Summary, path: Path, title: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary, title), encoding="utf-8")
    return path

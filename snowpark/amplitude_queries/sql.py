"""Every question the dashboard asks, as one SQL text for DuckDB and Snowflake alike.

Rules every text here follows, so that it runs unchanged on both:

* Relations by two-part name: ``analytics.<mart>`` (dbt's marts) and ``ingest.<table or
  view>`` (the ledger, the run history, the files-not-loaded view). On Snowflake they
  resolve in the app's current database; on the laptop ``analytics`` is the DuckDB file's
  schema and ``ingest`` is built from the SQLite ledger (:mod:`amplitude_queries.laptop`).
* Parameters are ``?`` (qmark), typed by a ``cast`` in the ``filters`` CTE, each bound once.
  A filter that is not set is bound as NULL and the predicate reads ``f.x is null or ...``.
* Functions both dialects have with the same meaning: ``cast``, ``date_trunc('day', ...)``,
  ``count(distinct ...)``, ``median``, ``to_json``, ``is not distinct from``, ``case``.
  No ``::``, no ``iff``, no ``qualify``, no ``limit ?``.

Columns: only those the marts have; a user is new on :data:`NEW_USER_SINCE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

# A user is new on the day of this column of amplitude__user_enhanced: Amplitude's
# user_creation_time, Fivetran's definition, which amplitude__daily_performance.new_users
# counts too, so the dashboard and that mart agree (dbt/DECISIONLOG.md).
NEW_USER_SINCE = "user_created_at"

ALL = None  # a filter that is not set


@dataclass(frozen=True)
class Filters:
    """What the user chose: an inclusive day range, and optionally one platform, one country,
    one Amplitude project (several may share the raw table)."""

    start: date
    end: date
    platform: str | None = ALL
    country: str | None = ALL
    project: int | None = ALL

    def params(self) -> tuple[str, str, str | None, str | None, int | None]:
        # Dates travel as ISO text and are cast in SQL: both drivers bind text the same way.
        return (
            self.start.isoformat(),
            self.end.isoformat(),
            self.platform,
            self.country,
            self.project,
        )


class Params(Enum):
    """What a query binds."""

    NONE = "none"
    FILTERS = "filters"  # Filters.params()
    GROUP = "group"  # one repeat group's pkey


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    params: Params


# ---- building blocks --------------------------------------------------------------------

_FILTERS = """
with filters as (
    select
        cast(? as date) as start_date,
        cast(? as date) as end_date,
        cast(? as varchar) as platform,
        cast(? as varchar) as country,
        cast(? as bigint) as project_id
)"""

# Events in the range, on the platform, in the country and of the project chosen. A user
# is `user_key` (project and amplitude_id: each project numbers its own users).
_EVENTS = """,

events as (
    select
        e.event_key,
        e.event_date,
        e.user_key,
        e.session_key
    from analytics.amplitude__event_enhanced as e
    cross join filters as f
    where
        e.event_date between f.start_date and f.end_date
        and (f.platform is null or e.platform = f.platform)
        and (f.country is null or e.country = f.country)
        and (f.project_id is null or e.project_id = f.project_id)
)"""

# Sessions that started in the range and have an event that matches the filters.
_SESSIONS = """,

sessions as (
    select
        s.session_key,
        s.user_key,
        s.session_number,
        s.session_started_at,
        s.session_duration_seconds,
        s.events
    from analytics.amplitude__sessions as s
    cross join filters as f
    where
        cast(s.session_started_at as date) between f.start_date and f.end_date
        and s.session_key in (select events.session_key from events)
)"""

# Repeat groups that started in the range, in sessions that match the filters.
_REPEATS = """,

repeats as (
    select
        r.pkey,
        r.session_key,
        r.event_name,
        r.page_title,
        r.element_text,
        r.repeat_count,
        r.first_event_time,
        r.repeat_span_seconds,
        r.avg_seconds_between_repeats
    from analytics.amplitude__repeat_clicks as r
    cross join filters as f
    where
        cast(r.first_event_time as date) between f.start_date and f.end_date
        and r.session_key in (select events.session_key from events)
)"""


def _bucketed(column: str, bounds: Sequence[tuple[float, str]], last: str) -> tuple[str, str]:
    """`case` expressions giving a bucket's order and label for a number of seconds."""
    order = " ".join(f"when {column} < {b} then {i}" for i, (b, _) in enumerate(bounds))
    label = " ".join(f"when {column} < {b} then '{name}'" for b, name in bounds)
    return (
        f"case {order} else {len(bounds)} end",
        f"case {label} else '{last}' end",
    )


SESSION_LENGTH_BUCKETS = [
    (10, "under 10 s"),
    (60, "10 s - 1 min"),
    (300, "1 - 5 min"),
    (900, "5 - 15 min"),
    (1800, "15 - 30 min"),
]
SESSION_LENGTH_LAST = "30 min or more"
REPEAT_GAP_BUCKETS = [
    (1, "under 1 s"),
    (2, "1 - 2 s"),
    (5, "2 - 5 s"),
    (10, "5 - 10 s"),
    (30, "10 - 30 s"),
]
REPEAT_GAP_LAST = "30 s or more"

_LENGTH_ORDER, _LENGTH_LABEL = _bucketed(
    "session_duration_seconds", SESSION_LENGTH_BUCKETS, SESSION_LENGTH_LAST
)
_GAP_ORDER, _GAP_LABEL = _bucketed(
    "avg_seconds_between_repeats", REPEAT_GAP_BUCKETS, REPEAT_GAP_LAST
)

# ---- the queries --------------------------------------------------------------------------

_QUERIES = [
    # -- what the filters offer
    Query(
        "event_date_bounds",
        """
select
    min(event_date) as first_day,
    max(event_date) as last_day
from analytics.amplitude__event_enhanced
""",
        Params.NONE,
    ),
    Query(
        "platforms",
        """
select distinct platform
from analytics.amplitude__event_enhanced
where platform is not null
order by platform
""",
        Params.NONE,
    ),
    Query(
        "projects",
        """
select distinct project_id
from analytics.amplitude__event_enhanced
where project_id is not null
order by project_id
""",
        Params.NONE,
    ),
    Query(
        "countries",
        """
select distinct country
from analytics.amplitude__event_enhanced
where country is not null
order by country
""",
        Params.NONE,
    ),
    # -- sessions and users
    Query(
        "activity_totals",
        _FILTERS
        + _EVENTS
        + """

select
    count(*) as events,
    count(distinct user_key) as users,
    count(distinct session_key) as sessions
from events
""",
        Params.FILTERS,
    ),
    Query(
        "activity_daily",
        _FILTERS
        + _EVENTS
        + """

select
    event_date as day,
    count(*) as events,
    count(distinct user_key) as users,
    count(distinct session_key) as sessions
from events
group by event_date
order by day
""",
        Params.FILTERS,
    ),
    Query(
        "session_totals",
        _FILTERS
        + _EVENTS
        + _SESSIONS
        + """

select
    count(*) as sessions,
    count(distinct user_key) as users,
    avg(session_duration_seconds) as avg_session_seconds,
    median(session_duration_seconds) as median_session_seconds,
    avg(events) as avg_events_per_session
from sessions
""",
        Params.FILTERS,
    ),
    Query(
        "sessions_daily",
        _FILTERS
        + _EVENTS
        + _SESSIONS
        + """

select
    cast(session_started_at as date) as day,
    count(*) as sessions,
    count(case when session_number = 1 then 1 end) as first_sessions,
    avg(session_duration_seconds) as avg_session_seconds
from sessions
group by cast(session_started_at as date)
order by day
""",
        Params.FILTERS,
    ),
    Query(
        "session_lengths",
        _FILTERS
        + _EVENTS
        + _SESSIONS
        + f"""

select
    bucket_order,
    bucket,
    count(*) as sessions
from (
    select
        {_LENGTH_ORDER} as bucket_order,
        {_LENGTH_LABEL} as bucket
    from sessions
) as lengths
group by bucket_order, bucket
order by bucket_order
""",
        Params.FILTERS,
    ),
    Query(
        "new_users_daily",
        _FILTERS
        + _EVENTS
        + f"""

select
    cast(u.{NEW_USER_SINCE} as date) as day,
    count(*) as new_users
from analytics.amplitude__user_enhanced as u
cross join filters as f
where
    cast(u.{NEW_USER_SINCE} as date) between f.start_date and f.end_date
    and u.user_key in (select events.user_key from events)
group by cast(u.{NEW_USER_SINCE} as date)
order by day
""",
        Params.FILTERS,
    ),
    # -- repeat clicks
    Query(
        "repeat_totals",
        _FILTERS
        + _EVENTS
        + _REPEATS
        + """

select
    count(*) as repeat_groups,
    cast(coalesce(sum(repeat_count), 0) as bigint) as interactions,
    count(distinct session_key) as sessions,
    median(avg_seconds_between_repeats) as median_seconds_between_repeats
from repeats
""",
        Params.FILTERS,
    ),
    Query(
        "repeat_elements",
        _FILTERS
        + _EVENTS
        + _REPEATS
        + """

select
    element_text,
    page_title,
    count(*) as repeat_groups,
    cast(sum(repeat_count) as bigint) as clicks,
    avg(avg_seconds_between_repeats) as avg_seconds_between_repeats
from repeats
where event_name = 'Element Clicked'
group by element_text, page_title
order by repeat_groups desc, clicks desc, element_text, page_title
limit 10
""",
        Params.FILTERS,
    ),
    Query(
        "repeat_pages",
        _FILTERS
        + _EVENTS
        + _REPEATS
        + """

select
    page_title,
    count(*) as repeat_groups,
    cast(sum(repeat_count) as bigint) as views,
    avg(avg_seconds_between_repeats) as avg_seconds_between_repeats
from repeats
where event_name = 'Page Viewed'
group by page_title
order by repeat_groups desc, views desc, page_title
limit 10
""",
        Params.FILTERS,
    ),
    Query(
        "repeat_gaps",
        _FILTERS
        + _EVENTS
        + _REPEATS
        + f"""

select
    bucket_order,
    bucket,
    event_name,
    count(*) as repeat_groups
from (
    select
        event_name,
        {_GAP_ORDER} as bucket_order,
        {_GAP_LABEL} as bucket
    from repeats
) as gaps
group by bucket_order, bucket, event_name
order by bucket_order, event_name
""",
        Params.FILTERS,
    ),
    Query(
        "repeat_daily",
        _FILTERS
        + _EVENTS
        + _REPEATS
        + """

select
    cast(first_event_time as date) as day,
    event_name,
    count(*) as repeat_groups,
    cast(sum(repeat_count) as bigint) as interactions
from repeats
group by cast(first_event_time as date), event_name
order by day, event_name
""",
        Params.FILTERS,
    ),
    Query(
        "repeat_group_list",
        _FILTERS
        + _EVENTS
        + _REPEATS
        + """

select
    pkey,
    session_key,
    event_name,
    element_text,
    page_title,
    repeat_count,
    repeat_span_seconds,
    avg_seconds_between_repeats,
    first_event_time
from repeats
order by repeat_count desc, first_event_time, pkey
limit 50
""",
        Params.FILTERS,
    ),
    # Every event of one repeat group's session; in_group marks the group's own events (the
    # columns the group's key is made of, compared null-safely).
    Query(
        "session_timeline",
        """
with chosen as (
    select
        session_key,
        event_type,
        page_title,
        page_url,
        element_selector,
        element_text
    from analytics.amplitude__repeat_clicks
    where pkey = ?
)

select
    e.event_time,
    e.event_name,
    e.page_title,
    e.element_text,
    e.seconds_since_session_start,
    (
        e.event_type = chosen.event_type
        and e.page_title is not distinct from chosen.page_title
        and e.page_url is not distinct from chosen.page_url
        and e.element_selector is not distinct from chosen.element_selector
        and e.element_text is not distinct from chosen.element_text
    ) as in_group
from analytics.amplitude__event_enhanced as e
inner join chosen
    on e.session_key = chosen.session_key
order by e.event_time, e.event_key
""",
        Params.GROUP,
    ),
    # -- pipeline health
    Query(
        "freshness",
        """
select
    max(event_time) as newest_event_at,
    max(loaded_at) as newest_load_at
from analytics.amplitude__event_enhanced
""",
        Params.NONE,
    ),
    Query(
        "ledger_bounds",
        """
select
    cast(min(hour) as date) as first_day,
    cast(max(hour) as date) as last_day
from ingest.amplitude_ingest_ledger
""",
        Params.NONE,
    ),
    Query(
        "ledger_totals",
        """
select
    count(case when status = 'done' then 1 end) as hours_done,
    count(case when status = 'empty' then 1 end) as hours_empty,
    count(case when status = 'failed' then 1 end) as hours_failed,
    count(case when status = 'given_up' then 1 end) as hours_given_up,
    count(case when status = 'pending' then 1 end) as hours_pending,
    cast(sum(case when status = 'done' then files else 0 end) as bigint) as files_written,
    cast(sum(case when status = 'done' then events else 0 end) as bigint) as events_exported,
    cast(coalesce(sum(rejected_lines), 0) as bigint) as lines_quarantined,
    max(case when status in ('done', 'empty') then hour end) as watermark_hour,
    max(updated_at) as last_export_at
from ingest.amplitude_ingest_ledger
""",
        Params.NONE,
    ),
    Query(
        # How far behind the ledger is and when it will be current at the present pace:
        # sql/85's figures on Snowflake, the same computed by amplitude_queries.laptop.
        "ledger_backlog",
        """
select
    hours_behind,
    current_at_present_pace
from ingest.amplitude_pipeline_health
""",
        Params.NONE,
    ),
    Query(
        "ledger_daily",
        _FILTERS
        + """

select
    cast(date_trunc('day', l.hour) as date) as day,
    count(case when l.status = 'done' then 1 end) as hours_done,
    count(case when l.status = 'empty' then 1 end) as hours_empty,
    count(case when l.status = 'failed' then 1 end) as hours_failed,
    count(case when l.status = 'given_up' then 1 end) as hours_given_up,
    count(case when l.status = 'pending' then 1 end) as hours_pending,
    cast(sum(case when l.status = 'done' then l.files else 0 end) as bigint) as files_written,
    cast(sum(l.rejected_lines) as bigint) as lines_quarantined
from ingest.amplitude_ingest_ledger as l
cross join filters as f
where cast(l.hour as date) between f.start_date and f.end_date
group by cast(date_trunc('day', l.hour) as date)
order by day
""",
        Params.FILTERS,
    ),
    Query(
        "files_not_loaded_daily",
        _FILTERS
        + """

select
    cast(date_trunc('day', n.hour) as date) as day,
    count(*) as files_not_loaded
from ingest.amplitude_files_not_loaded as n
cross join filters as f
where cast(n.hour as date) between f.start_date and f.end_date
group by cast(date_trunc('day', n.hour) as date)
order by day
""",
        Params.FILTERS,
    ),
    Query(
        "files_not_loaded",
        """
select
    hour,
    stage_key,
    written_at,
    load_status,
    first_error_message
from ingest.amplitude_files_not_loaded
order by written_at desc, stage_key
limit 50
""",
        Params.NONE,
    ),
    Query(
        "failed_hours",
        """
select
    hour,
    status,
    failed_runs,
    attempts,
    error,
    updated_at
from ingest.amplitude_ingest_ledger
where status in ('failed', 'given_up')
order by hour desc
limit 50
""",
        Params.NONE,
    ),
    Query(
        "pipeline_runs",
        """
select
    run_group_id,
    finished_at,
    succeeded,
    to_json(tasks) as tasks
from ingest.amplitude_pipeline_runs
order by finished_at desc
limit 10
""",
        Params.NONE,
    ),
]

QUERIES: dict[str, Query] = {q.name: q for q in _QUERIES}

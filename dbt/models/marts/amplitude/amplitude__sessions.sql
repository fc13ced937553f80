{{
    config(
        unique_key='session_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- One row per user session. Events with session_id -1 (no session) are not sessions and
-- are left out here; amplitude__user_enhanced counts them.
-- Incremental: a session that received or lost events since the last run (a copy replaced
-- by one in another session, an event forgotten) is summed again from all of its events,
-- and deleted when none are left. Its user's sessions are numbered again among all of that user's
-- sessions (the others as already built), and every one of them from the earliest point
-- the run changed onwards is rewritten: a late session shifts the numbers after it.

{%- set session_columns = [
    'session_key', 'project_id', 'user_key', 'amplitude_id', 'session_id', 'user_id', 'device_id',
    'session_started_at', 'session_ended_at', 'events', 'page_views', 'element_clicks',
] %}
{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}

),

{% if is_incremental() %}
touched_sessions as (

    select distinct
        session_key,
        user_key
    from ({{ amplitude_changed_events(since) }}) as changed
    where session_key is not null

),

built_sessions as (

    select * from {{ this }}
    where user_key in (select touched_sessions.user_key from touched_sessions)

),
{% endif %}

session_totals as (

    select
        session_key,
        project_id,
        user_key,
        amplitude_id,
        session_id,
        max(user_id) as user_id,
        min(device_id) as device_id,
        min(event_time) as session_started_at,
        max(event_time) as session_ended_at,
        count(*) as events,
        sum(case when event_name = 'Page Viewed' then 1 else 0 end) as page_views,
        sum(case when event_name = 'Element Clicked' then 1 else 0 end) as element_clicks
    from events
    where session_key is not null
    {%- if is_incremental() %}
        and session_key in (select touched_sessions.session_key from touched_sessions)
    {%- endif %}
    group by
        session_key,
        project_id,
        user_key,
        amplitude_id,
        session_id

),

{% if is_incremental() %}
-- Where each touched user's sessions start to change: the earliest start, before or
-- after this run, of a session the run touched.
rebuild_points as (

    select
        user_key,
        min(start_time) as rebuild_from
    from (
        select
            user_key,
            {{ amplitude_sort_time('session_started_at') }} as start_time
        from session_totals
        union all
        select
            user_key,
            {{ amplitude_sort_time('session_started_at') }} as start_time
        from built_sessions
        where session_key in (select touched_sessions.session_key from touched_sessions)
    ) as session_starts
    group by user_key

),
{% endif %}

user_sessions as (

    select
        {{ session_columns | join(',\n        ') }}
    from session_totals
    {%- if is_incremental() %}
    union all
    select
        {{ session_columns | join(',\n        ') }}
    from built_sessions
    where session_key not in (select touched_sessions.session_key from touched_sessions)
    {%- endif %}

),

sequenced as (

    select
        *,
        row_number() over (
            partition by user_key
            order by {{ amplitude_sort_time('session_started_at') }}, session_key
        ) as session_number,
        lag(session_ended_at) over (
            partition by user_key
            order by {{ amplitude_sort_time('session_started_at') }}, session_key
        ) as previous_session_ended_at
    from user_sessions

),

sessions_to_write as (

    select sequenced.*
    from sequenced
    {%- if is_incremental() %}
    inner join rebuild_points
        on sequenced.user_key = rebuild_points.user_key
    where {{ amplitude_sort_time('sequenced.session_started_at') }} >= rebuild_points.rebuild_from
    {%- endif %}

),

final as (

    select
        session_key,
        project_id,
        user_key,
        amplitude_id,
        session_id,
        user_id,
        device_id,
        session_number,
        session_number = 1 as is_first_user_session,
        session_started_at,
        session_ended_at,
        cast(session_started_at as date) as session_started_at_day,
        cast(session_ended_at as date) as session_ended_at_day,
        {{ amplitude_seconds_between('session_started_at', 'session_ended_at') }}
            as session_duration_seconds,
        events,
        page_views,
        element_clicks,
        previous_session_ended_at,
        {{ amplitude_seconds_between('previous_session_ended_at', 'session_started_at') }}
            as seconds_since_previous_session,
        {{ amplitude_built_at() }} as built_at
    from sessions_to_write

)

select
    {{ amplitude_contract_select('final') }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones('session_key in (select touched_sessions.session_key from touched_sessions)') }}
{%- endif %}

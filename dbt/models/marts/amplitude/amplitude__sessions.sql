-- One row per user session. Events with session_id -1 (no session) are not sessions and
-- are left out here; amplitude__user_enhanced counts them.

with events as (

    select * from {{ ref('stg_amplitude__events') }}
    where session_key is not null

),

session_totals as (

    select
        session_key,
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
    group by
        session_key,
        amplitude_id,
        session_id

),

sequenced as (

    select
        *,
        row_number() over (
            partition by amplitude_id
            order by session_started_at, session_key
        ) as session_number,
        lag(session_ended_at) over (
            partition by amplitude_id
            order by session_started_at, session_key
        ) as previous_session_ended_at
    from session_totals

),

final as (

    select
        session_key,
        amplitude_id,
        session_id,
        user_id,
        device_id,
        session_number,
        session_started_at,
        session_ended_at,
        {{ amplitude_seconds_between('session_started_at', 'session_ended_at') }}
            as session_duration_seconds,
        events,
        page_views,
        element_clicks,
        {{ amplitude_seconds_between('previous_session_ended_at', 'session_started_at') }}
            as seconds_since_previous_session
    from sequenced

)

select * from final

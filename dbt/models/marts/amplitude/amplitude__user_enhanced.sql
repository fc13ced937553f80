-- One row per Amplitude user (amplitude_id): first and last activity, volume, sessions,
-- and where and how they were last seen.

with events as (

    select * from {{ ref('stg_amplitude__events') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

activity as (

    select
        amplitude_id,
        max(user_id) as user_id,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        count(*) as events,
        count(distinct event_date) as active_days,
        sum(case when session_key is null then 1 else 0 end) as events_outside_sessions
    from events
    group by amplitude_id

),

latest_event as (

    select
        amplitude_id,
        country as last_country,
        city as last_city,
        platform as last_platform,
        os_name as last_os_name,
        device_type as last_device_type
    from events
    qualify row_number() over (
        partition by amplitude_id
        order by event_time desc, event_key asc
    ) = 1

),

session_summary as (

    select
        amplitude_id,
        count(*) as sessions,
        avg(session_duration_seconds) as avg_session_duration_seconds,
        avg(events) as avg_events_per_session
    from sessions
    group by amplitude_id

),

final as (

    select
        activity.amplitude_id,
        activity.user_id,
        activity.first_event_at,
        activity.last_event_at,
        activity.events,
        activity.active_days,
        activity.events_outside_sessions,
        coalesce(session_summary.sessions, 0) as sessions,
        session_summary.avg_session_duration_seconds,
        session_summary.avg_events_per_session,
        latest_event.last_country,
        latest_event.last_city,
        latest_event.last_platform,
        latest_event.last_os_name,
        latest_event.last_device_type
    from activity
    left join latest_event
        on activity.amplitude_id = latest_event.amplitude_id
    left join session_summary
        on activity.amplitude_id = session_summary.amplitude_id

)

select * from final

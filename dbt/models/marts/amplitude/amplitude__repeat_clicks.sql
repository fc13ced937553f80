-- One row per repeated interaction (pkey): how often, how fast, and within which session.
-- The gap between repeats is measured within the group (LAG partitioned by pkey), so a
-- click on one page is never compared with a click on another.

with repeated_events as (

    select * from {{ ref('int_amplitude__many_click_sessions') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

with_previous as (

    select
        *,
        lag(event_time) over (
            partition by pkey
            order by event_time, event_key
        ) as previous_event_time
    from repeated_events

),

gaps as (

    select
        *,
        {{ amplitude_seconds_between('previous_event_time', 'event_time') }}
            as seconds_since_previous
    from with_previous

),

per_group as (

    select
        pkey,
        session_key,
        session_id,
        amplitude_id,
        max(user_id) as user_id,
        event_type,
        event_name,
        page_title,
        page_url,
        element_text,
        element_selector,
        count(*) as repeat_count,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        avg(seconds_since_previous) as avg_seconds_between_repeats,
        min(seconds_since_previous) as min_seconds_between_repeats
    from gaps
    group by
        pkey,
        session_key,
        session_id,
        amplitude_id,
        event_type,
        event_name,
        page_title,
        page_url,
        element_text,
        element_selector

),

final as (

    select
        per_group.pkey,
        per_group.session_key,
        per_group.session_id,
        per_group.amplitude_id,
        per_group.user_id,
        per_group.event_type,
        per_group.event_name,
        per_group.page_title,
        per_group.page_url,
        per_group.element_text,
        per_group.element_selector,
        per_group.repeat_count,
        per_group.first_event_time,
        per_group.last_event_time,
        {{ amplitude_seconds_between('per_group.first_event_time', 'per_group.last_event_time') }}
            as repeat_span_seconds,
        per_group.avg_seconds_between_repeats,
        per_group.min_seconds_between_repeats,
        sessions.session_duration_seconds
    from per_group
    left join sessions
        on per_group.session_key = sessions.session_key

)

select * from final

{{
    config(
        unique_key='user_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- One row per Amplitude user (`user_key`: project and amplitude_id): when they were
-- created, first and last activity, volume, sessions, and where and how they were last seen.
-- Incremental by user: a user with events built or retired since the last run is summed
-- again from all of their events and sessions, and deleted when none are left.

{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

{% if is_incremental() %}
touched_users as (

    select distinct user_key
    from ({{ amplitude_changed_events(since) }}) as changed

),
{% endif %}

user_events as (

    select * from events
    {%- if is_incremental() %}
    where user_key in (select touched_users.user_key from touched_users)
    {%- endif %}

),

user_sessions as (

    select * from sessions
    {%- if is_incremental() %}
    where user_key in (select touched_users.user_key from touched_users)
    {%- endif %}

),

activity as (

    select
        user_key,
        project_id,
        -- With grain 'user_id' a user may span several amplitude_ids (amplitude__user_map).
        min(amplitude_id) as amplitude_id,
        count(distinct amplitude_id) as amplitude_ids,
        max(user_id) as user_id,
        min(user_creation_time) as user_created_at,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        count(*) as events,
        count(distinct event_date) as active_days,
        sum(case when session_key is null then 1 else 0 end) as events_outside_sessions
    from user_events
    group by
        user_key,
        project_id

),

latest_event as (

    select
        user_key,
        country as last_country,
        city as last_city,
        platform as last_platform,
        os_name as last_os_name,
        device_type as last_device_type
    from user_events
    qualify row_number() over (
        partition by user_key
        order by event_time desc nulls last, event_key asc
    ) = 1

),

session_summary as (

    select
        user_key,
        count(*) as sessions,
        min(session_started_at) as first_session_at,
        max(session_ended_at) as last_session_at,
        avg(session_duration_seconds) as avg_session_duration_seconds,
        avg(events) as avg_events_per_session,
        avg(seconds_since_previous_session) as avg_seconds_between_sessions
    from user_sessions
    group by user_key

),

final as (

    select
        activity.user_key,
        activity.project_id,
        activity.amplitude_id,
        activity.amplitude_ids,
        activity.user_id,
        activity.user_created_at,
        activity.first_event_at,
        activity.last_event_at,
        activity.events,
        activity.active_days,
        activity.events_outside_sessions,
        coalesce(session_summary.sessions, 0) as sessions,
        session_summary.first_session_at,
        session_summary.last_session_at,
        session_summary.avg_session_duration_seconds,
        session_summary.avg_events_per_session,
        session_summary.avg_seconds_between_sessions,
        latest_event.last_country,
        latest_event.last_city,
        latest_event.last_platform,
        latest_event.last_os_name,
        latest_event.last_device_type,
        {{ amplitude_built_at() }} as built_at
    from activity
    left join latest_event
        on activity.user_key = latest_event.user_key
    left join session_summary
        on activity.user_key = session_summary.user_key

)

select
    {{ amplitude_contract_select('final') }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones('user_key in (select touched_users.user_key from touched_users)') }}
{%- endif %}

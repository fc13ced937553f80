{{
    config(
        unique_key='event_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

-- Every event with its session and user context. Incremental: events loaded since the
-- last run (minus the lookback) are merged; their sessions are renumbered from staging.

with new_events as (

    select * from {{ ref('stg_amplitude__events') }}
    {% if is_incremental() %}
        where loaded_at > {{ amplitude_incremental_since('loaded_at') }}
    {% endif %}

),

all_events as (

    select * from {{ ref('stg_amplitude__events') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

users as (

    select * from {{ ref('amplitude__user_enhanced') }}

),

touched_sessions as (

    select distinct session_key
    from new_events
    where session_key is not null

),

event_order as (

    select
        all_events.event_key,
        row_number() over (
            partition by all_events.session_key
            order by all_events.event_time, all_events.event_key
        ) as event_number_in_session
    from all_events
    inner join touched_sessions
        on all_events.session_key = touched_sessions.session_key

),

final as (

    select
        new_events.*,
        event_order.event_number_in_session,
        sessions.session_number,
        sessions.session_started_at,
        {{ amplitude_seconds_between('sessions.session_started_at', 'new_events.event_time') }}
            as seconds_since_session_start,
        users.first_event_at as user_first_event_at
    from new_events
    left join event_order
        on new_events.event_key = event_order.event_key
    left join sessions
        on new_events.session_key = sessions.session_key
    left join users
        on new_events.amplitude_id = users.amplitude_id

)

select * from final

{{
    config(
        unique_key='daily_key',
        incremental_strategy='merge',
    )
}}

-- Per day and event type: events, sessions, users and new users. Incremental: a run
-- recomputes only the days that received events since the last run (minus the lookback).

with events as (

    select * from {{ ref('stg_amplitude__events') }}

),

{% if is_incremental() %}
changed_days as (

    select distinct event_date
    from events
    where loaded_at > {{ amplitude_incremental_since('max_loaded_at') }}

),
{% endif %}

first_seen as (

    select
        amplitude_id,
        min(event_date) as first_event_date
    from events
    group by amplitude_id

),

days_to_build as (

    select * from events
    {% if is_incremental() %}
        where event_date in (select changed_days.event_date from changed_days)
    {% endif %}

),

daily as (

    select
        days_to_build.event_date,
        days_to_build.event_type,
        days_to_build.event_name,
        count(*) as events,
        count(distinct days_to_build.session_key) as sessions,
        count(distinct days_to_build.amplitude_id) as users,
        count(distinct case
            when first_seen.first_event_date = days_to_build.event_date
                then days_to_build.amplitude_id
        end) as new_users,
        max(days_to_build.loaded_at) as max_loaded_at
    from days_to_build
    inner join first_seen
        on days_to_build.amplitude_id = first_seen.amplitude_id
    group by
        days_to_build.event_date,
        days_to_build.event_type,
        days_to_build.event_name

),

final as (

    select
        {{ amplitude_surrogate_key(['event_date', 'event_type']) }} as daily_key,
        *
    from daily

)

select * from final

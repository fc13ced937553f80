{{
    config(
        unique_key='daily_key',
        incremental_strategy='delete+insert',
    )
}}

-- Per UTC day and event type: events, sessions, users and new users, with a row for every
-- day from the type's first event to the last day with any event (zero when none).
-- A new user is counted on the day of their `user_creation_time`, as Fivetran does: a
-- day's figures depend on that day's events alone. Incremental by day and event type: a
-- run recounts the (day, type) cells that received events since it last ran and adds the
-- cells the spine gained (a later last day, an earlier first day of a type).

{%- if is_incremental() %}
    {%- set since = amplitude_watermark() -%}
{%- endif %}
{#- The days to lay out: those of the events new to this run, and any day between the last
    day built and the new last day. -#}
{%- set span = amplitude_day_span(ref('stg_amplitude__events'), since) %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}
    where event_date is not null

),

{% if is_incremental() %}
changed_events as (

    select * from events
    where built_at > {{ since }}

),

event_types as (

    select
        event_type,
        max(event_name) as event_name,
        min(first_event_date) as first_event_date
    from (
        select
            event_type,
            event_name,
            event_date as first_event_date
        from {{ this }}
        union all
        select
            event_type,
            event_name,
            event_date as first_event_date
        from changed_events
    ) as known_types
    group by event_type

),
{% else %}
event_types as (

    select
        event_type,
        max(event_name) as event_name,
        min(event_date) as first_event_date
    from events
    group by event_type

),
{% endif %}

{% if span is none -%}
cells as (

    select
        cast(null as date) as event_date,
        event_type,
        event_name
    from event_types
    where 1 = 0

),
{%- else -%}
days as (

    {{ dbt.date_spine('day', span[0], span[1]) }}

),
{%- if is_incremental() %}

built_types as (

    select
        event_type,
        min(event_date) as built_from,
        max(event_date) as built_to
    from {{ this }}
    group by event_type

),
{%- endif %}

cells as (

    select
        cast(days.date_day as date) as event_date,
        event_types.event_type,
        event_types.event_name
    from days
    inner join event_types
        on cast(days.date_day as date) >= event_types.first_event_date
    {%- if is_incremental() %}
    left join built_types
        on event_types.event_type = built_types.event_type
    where
        built_types.event_type is null
        or cast(days.date_day as date) < built_types.built_from
        or cast(days.date_day as date) > built_types.built_to
        or exists (
            select 1
            from changed_events
            where
                changed_events.event_date = cast(days.date_day as date)
                and changed_events.event_type = event_types.event_type
        )
    {%- endif %}

),
{%- endif %}

day_events as (

    select * from events
    where event_date in (select cells.event_date from cells)

),

counts as (

    select
        event_date,
        event_type,
        count(*) as events,
        count(distinct session_key) as sessions,
        count(distinct amplitude_id) as users,
        count(distinct case
            when cast(user_creation_time as date) = event_date then amplitude_id
        end) as new_users
    from day_events
    group by
        event_date,
        event_type

),

final as (

    select
        {{ amplitude_surrogate_key(['cells.event_date', 'cells.event_type']) }} as daily_key,
        cells.event_date,
        cells.event_type,
        cells.event_name,
        coalesce(counts.events, 0) as events,
        coalesce(counts.sessions, 0) as sessions,
        coalesce(counts.users, 0) as users,
        coalesce(counts.new_users, 0) as new_users,
        {{ amplitude_built_at() }} as built_at
    from cells
    left join counts
        on
            cells.event_date = counts.event_date
            and cells.event_type = counts.event_type

)

select * from final

{{
    config(
        unique_key='daily_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- Per Amplitude project, UTC day and event type: events, sessions, users and new users, with a row for every
-- day from the type's first event to `amplitude__date_range_end` (today by default), zero
-- when nothing happened, within the vars' date range: events dated outside it (a device
-- clock far off) stay in staging, flagged by `assert_event_dates_in_range`, and are not
-- counted. A new user is counted on the day of their `user_creation_time`, as Fivetran
-- does: a day's figures depend on that day's events alone.
-- Incremental by day and event type: a run recounts the (day, type) cells that gained or
-- lost events since it last ran (a copy replaced by one of another day, an event
-- forgotten), adds the days the spine gained, and deletes cells the spine lost (a type
-- whose first day lost its events, a range that shrank).

{%- set date_range = amplitude_date_range() %}
{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}

),

-- Events dated outside the range (a device clock far off) are not counted.
events_in_range as {{ amplitude_inline() }} (

    select * from events
    where event_date between {{ date_range[0] }} and {{ date_range[1] }}

),

days as (

    {{ dbt.date_spine('day', date_range[0], dbt.dateadd('day', 1, date_range[1])) }}

),

{% if is_incremental() %}
new_events as (

    select
        project_id,
        event_type,
        event_date
    from events_in_range
    where built_at > {{ since }}

),

retired_events as (

    select
        retired.project_id,
        retired.event_type,
        retired.event_date
    from {{ amplitude_retired_events_relation() }} as retired
    where
        retired.retired_at > {{ since }}
        and retired.event_date between {{ date_range[0] }} and {{ date_range[1] }}

),

touched_cells as (

    select
        project_id,
        event_date,
        event_type
    from new_events
    union all
    select
        project_id,
        event_date,
        event_type
    from retired_events

),

built_types as (

    select
        project_id,
        event_type,
        min(event_date) as built_from,
        max(event_date) as built_to
    from {{ this }}
    group by
        project_id,
        event_type

),

-- A type whose first day lost an event may now start later (or be gone): its first day
-- is looked up again in staging. Rare, and limited to those types.
rechecked_types as (

    select distinct
        retired_events.project_id,
        retired_events.event_type
    from retired_events
    inner join built_types
        on
            retired_events.project_id is not distinct from built_types.project_id
            and retired_events.event_type is not distinct from built_types.event_type
    where retired_events.event_date <= built_types.built_from

),

-- Days the range gained since the last run (today moved on) may hold events already in
-- staging (dated ahead by a client clock).
newly_in_range as (

    select
        project_id,
        event_type,
        event_date
    from events_in_range
    where event_date > (select max(built.event_date) from {{ this }} as built)

),

event_types as (

    select
        project_id,
        event_type,
        min(first_event_date) as first_event_date
    from (
        select
            project_id,
            event_type,
            built_from as first_event_date
        from built_types
        where not exists (
            select 1
            from rechecked_types
            where
                rechecked_types.project_id is not distinct from built_types.project_id
                and rechecked_types.event_type is not distinct from built_types.event_type
        )
        union all
        select
            project_id,
            event_type,
            event_date
        from new_events
        union all
        select
            project_id,
            event_type,
            event_date
        from newly_in_range
        union all
        select
            project_id,
            event_type,
            event_date
        from events_in_range
        where exists (
            select 1
            from rechecked_types
            where
                rechecked_types.project_id is not distinct from events_in_range.project_id
                and rechecked_types.event_type is not distinct from events_in_range.event_type
        )
    ) as first_days
    group by
        project_id,
        event_type

),

cells as (

    select
        cast(days.date_day as date) as event_date,
        event_types.project_id,
        event_types.event_type
    from days
    inner join event_types
        on cast(days.date_day as date) >= event_types.first_event_date
    left join built_types
        on
            event_types.project_id is not distinct from built_types.project_id
            and event_types.event_type is not distinct from built_types.event_type
    where
        built_types.built_from is null
        or cast(days.date_day as date) < built_types.built_from
        or cast(days.date_day as date) > built_types.built_to
        or exists (
            select 1
            from touched_cells
            where
                touched_cells.event_date = cast(days.date_day as date)
                and touched_cells.project_id is not distinct from event_types.project_id
                and touched_cells.event_type is not distinct from event_types.event_type
        )

),
{% else %}
event_types as (

    select
        project_id,
        event_type,
        min(event_date) as first_event_date
    from events_in_range
    group by
        project_id,
        event_type

),

cells as (

    select
        cast(days.date_day as date) as event_date,
        event_types.project_id,
        event_types.event_type
    from days
    inner join event_types
        on cast(days.date_day as date) >= event_types.first_event_date

),
{% endif %}

day_events as (

    select * from events_in_range
    where event_date in (select cells.event_date from cells)

),

counts as (

    select
        event_date,
        project_id,
        event_type,
        count(*) as events,
        count(distinct session_key) as sessions,
        count(distinct user_key) as users,
        count(distinct case
            when cast(user_creation_time as date) = event_date then user_key
        end) as new_users
    from day_events
    group by
        event_date,
        project_id,
        event_type

),

final as (

    select
        {{ amplitude_surrogate_key(['cells.project_id', 'cells.event_date', 'cells.event_type']) }}
            as daily_key,
        cells.project_id,
        cells.event_date,
        cells.event_type,
        {{ amplitude_event_name('cells.event_type') }} as event_name,
        coalesce(counts.events, 0) as events,
        coalesce(counts.sessions, 0) as sessions,
        coalesce(counts.users, 0) as users,
        coalesce(counts.new_users, 0) as new_users,
        {{ amplitude_built_at() }} as built_at
    from cells
    left join counts
        on
            cells.event_date = counts.event_date
            and cells.project_id is not distinct from counts.project_id
            and cells.event_type is not distinct from counts.event_type

)

select
    {{ amplitude_contract_select('final') }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones(
    'tombstone.event_date < ' ~ date_range[0]
    ~ ' or tombstone.event_date > ' ~ date_range[1]
    ~ ' or not exists (select 1 from event_types where event_types.event_type'
    ~ ' is not distinct from tombstone.event_type'
    ~ ' and event_types.project_id is not distinct from tombstone.project_id'
    ~ ' and event_types.first_event_date <= tombstone.event_date)'
) }}
{%- endif %}

-- Reconciliation: every (project, day, event type) cell the latest run wrote counts exactly
-- the events staging holds for it within the date range. Returns the cells that differ.

{%- set date_range = amplitude_date_range() %}

{%- set latest_batch = '1 = 1' if var('amplitude__test_all_rows')
    else 'built_at = (select max(batch.built_at) from daily as batch)' %}

with daily as (

    select * from {{ ref('amplitude__daily_performance') }}

),

events as (

    select * from {{ ref('stg_amplitude__events') }}

),

latest_cells as (

    select
        project_id,
        event_date,
        event_type,
        events
    from daily
    where {{ latest_batch }}

),

staged as (

    select
        project_id,
        event_date,
        event_type,
        count(*) as events
    from events
    where
        event_date between {{ date_range[0] }} and {{ date_range[1] }}
        and event_date in (select latest_cells.event_date from latest_cells)
    group by
        project_id,
        event_date,
        event_type

),

final as (

    select
        latest_cells.project_id,
        latest_cells.event_date,
        latest_cells.event_type,
        latest_cells.events as events_in_cell,
        coalesce(staged.events, 0) as events_in_staging
    from latest_cells
    left join staged
        on
            latest_cells.project_id is not distinct from staged.project_id
            and latest_cells.event_date = staged.event_date
            and latest_cells.event_type is not distinct from staged.event_type
    where coalesce(staged.events, 0) <> latest_cells.events

)

select * from final

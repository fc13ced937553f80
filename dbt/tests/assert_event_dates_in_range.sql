-- Events of the latest batch staging wrote dated outside the date range
-- (`amplitude__date_range_start` .. `amplitude__date_range_end`): a device clock far off.
-- They stay in staging and are left out of amplitude__daily_performance, whose spine the
-- range bounds (one event dated 2099 would otherwise lay out every type to 2099). Warns.
{{ config(severity='warn') }}

{%- set date_range = amplitude_date_range() %}

with events as (

    select * from {{ ref('stg_amplitude__events') }}

),

latest_batch as (

    select *
    from events
    where built_at = (select max(batch.built_at) from events as batch)

),

final as (

    select
        event_key,
        file_name,
        file_row_number,
        event_time
    from latest_batch
    where
        event_date < {{ date_range[0] }}
        or event_date > {{ date_range[1] }}

)

select * from final

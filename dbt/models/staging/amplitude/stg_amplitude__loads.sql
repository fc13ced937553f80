{{
    config(
        unique_key='load_key',
        incremental_strategy='append',
    )
}}

-- One row per load of a stage file into the raw table (a file and its load time): the
-- ledger of what dbt has seen. A run appends the loads it has not recorded yet, with
-- `built_at` set to the run; stg_amplitude__events then reads exactly the raw rows of
-- the loads recorded since it last ran, so no row is read twice and none is skipped,
-- whatever the order in which files were loaded or became visible. Reads two narrow
-- columns of the raw table, never the JSON.

{%- if is_incremental() and execute %}
    {%- set newest_query -%}
        select
            max(loaded_at) as lower_bound,
            max(loaded_at) as upper_bound
        from {{ this }}
    {%- endset -%}
    {%- set newest = amplitude_time_bounds(newest_query) -%}
{%- endif %}

-- The doctor's round-trip markers (stage files under events/_doctor/) reach the raw table
-- as a pipe's proof of life; they are not events, and no model reads them.
with source as (

    select * from {{ source('amplitude', 'events_raw') }}
    where
        {% if is_incremental() and newest is not none -%}
        loaded_at > {{ dbt.dateadd('hour', -1 * var('amplitude__load_lookback_hours'), newest[1]) }}
        and {% endif -%}
        position('events/_doctor/' in file_name) = 0

),

loads as (

    select
        file_name,
        loaded_at,
        count(*) as row_count
    from source
    group by
        file_name,
        loaded_at

),

{% if is_incremental() %}
new_loads as (

    select loads.*
    from loads
    left join {{ this }} as recorded
        on
            loads.file_name = recorded.file_name
            and loads.loaded_at = recorded.loaded_at
    where recorded.load_key is null

),
{% else %}
new_loads as (

    select * from loads

),
{% endif %}

final as (

    select
        {{ amplitude_surrogate_key(['file_name', amplitude_timestamp_text('loaded_at')]) }}
            as load_key,
        file_name,
        loaded_at,
        row_count,
        {{ amplitude_built_at() }} as built_at
    from new_loads

)

select * from final

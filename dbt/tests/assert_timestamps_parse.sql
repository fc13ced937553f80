-- Timestamps that are present in the raw JSON but do not parse become null in
-- base_amplitude__events rather than failing the build. This test returns those rows:
-- it warns on any, and fails past var('amplitude__max_unparseable_timestamps').
-- It checks the rows loaded within the lookback of the latest load, which is what the
-- latest runs brought in: older rows were checked when they arrived.
{{
    config(
        warn_if='>0',
        error_if='>' ~ var('amplitude__max_unparseable_timestamps'),
    )
}}

with source as (

    select * from {{ source('amplitude', 'events_raw') }}

),

recent as (

    select *
    from source
    where loaded_at > (
        select
            {{ dbt.dateadd('day', -1 * var('amplitude__lookback_days'), 'max(latest.loaded_at)') }}
        from source as latest
    )

),

raw_times as (

    select
        file_name,
        file_row_number,
        {{ amplitude_json_text('raw_json', ['event_time']) }} as event_time_text,
        {{ amplitude_json_text('raw_json', ['server_upload_time']) }} as server_upload_time_text
    from recent

),

final as (

    select *
    from raw_times
    where
        (event_time_text is not null and {{ amplitude_timestamp('event_time_text') }} is null)
        or (
            server_upload_time_text is not null
            and {{ amplitude_timestamp('server_upload_time_text') }} is null
        )

)

select * from final

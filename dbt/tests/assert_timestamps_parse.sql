-- Timestamps that are missing or do not parse become null in base_amplitude__events rather
-- than failing the build. This test returns the events of the latest batch staging wrote
-- whose event_time or server_upload_time is null: it warns on any, and fails past
-- var('amplitude__max_unparseable_timestamps'). Older batches were checked when they
-- arrived; a full refresh writes (and so checks) every event.
{{
    config(
        warn_if='>0',
        error_if='>' ~ var('amplitude__max_unparseable_timestamps'),
    )
}}

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
        event_time,
        server_upload_time
    from latest_batch
    where
        event_time is null
        or server_upload_time is null

)

select * from final

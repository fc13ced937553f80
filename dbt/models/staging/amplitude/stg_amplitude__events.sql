{{
    config(
        unique_key='event_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

-- One row per real event: duplicates from re-delivered rows (same uuid) and client retries
-- (same device and $insert_id, new uuid) are removed. Incremental on load time: each run
-- reads the raw rows loaded since the high-water mark minus the lookback, and only adds
-- events whose key is not in the table yet, so running it twice changes nothing.

with events as (

    select * from {{ ref('base_amplitude__events') }}
    {% if is_incremental() %}
        where loaded_at > {{ amplitude_incremental_since('loaded_at') }}
    {% endif %}

),

unique_rows as (

    select *
    from events
    qualify row_number() over (
        partition by coalesce(event_uuid, file_name || ':' || cast(file_row_number as {{ dbt.type_string() }}))
        order by loaded_at, file_name, file_row_number
    ) = 1

),

keyed as (

    select
        *,
        case
            when insert_id is not null
                then {{ amplitude_surrogate_key(["'insert_id'", 'device_id', 'insert_id']) }}
            else {{ amplitude_surrogate_key(["'uuid'", 'event_uuid', 'file_name', 'file_row_number']) }}
        end as event_key
    from unique_rows

),

unique_events as (

    select *
    from keyed
    qualify row_number() over (
        partition by event_key
        order by server_upload_time, event_uuid
    ) = 1

),

new_events as (

    select unique_events.*
    from unique_events
    {% if is_incremental() %}
        left join {{ this }} as existing
            on unique_events.event_key = existing.event_key
        where existing.event_key is null
    {% endif %}

),

final as (

    select
        event_key,
        event_uuid,
        insert_id,
        event_id,
        event_type,
        case
            when event_type like '[Amplitude] %' then substr(event_type, 13)
            else event_type
        end as event_name,
        project_id,
        amplitude_id,
        user_id,
        device_id,
        nullif(session_id, -1) as session_id,
        case
            when session_id is not null and session_id <> -1
                then {{ amplitude_surrogate_key(['amplitude_id', 'session_id']) }}
        end as session_key,
        event_time,
        cast(event_time as date) as event_date,
        client_event_time,
        client_upload_time,
        server_received_time,
        server_upload_time,
        processed_time,
        user_creation_time,
        platform,
        os_name,
        os_version,
        device_type,
        device_family,
        device_brand,
        device_manufacturer,
        device_model,
        device_carrier,
        country,
        region,
        city,
        dma,
        language,
        ip_address,
        location_lat,
        location_lng,
        library,
        version_name,
        start_version,
        data_type,
        paying,
        page_domain,
        page_location,
        page_path,
        page_title,
        coalesce(page_url, page_location) as page_url,
        page_counter,
        element_text,
        element_tag,
        element_selector,
        event_properties,
        user_properties,
        group_properties,
        groups,
        file_name,
        file_row_number,
        loaded_at
    from new_events

)

select * from final

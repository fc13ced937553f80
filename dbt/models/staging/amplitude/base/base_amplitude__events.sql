-- The only model that reads JSON: every documented top-level field, typed, plus the
-- web autocapture page and element properties. Everything downstream is portable SQL.

with source as (

    select * from {{ source('amplitude', 'events_raw') }}

),

parsed as (

    select
        {{ amplitude_json_text('raw_json', ['uuid']) }} as event_uuid,
        {{ amplitude_json_text('raw_json', ['$insert_id']) }} as insert_id,
        {{ amplitude_json_number('raw_json', ['event_id']) }} as event_id,
        {{ amplitude_json_text('raw_json', ['event_type']) }} as event_type,
        {{ amplitude_json_number('raw_json', ['app']) }} as project_id,
        {{ amplitude_json_number('raw_json', ['amplitude_id']) }} as amplitude_id,
        {{ amplitude_json_text('raw_json', ['user_id']) }} as user_id,
        {{ amplitude_json_text('raw_json', ['device_id']) }} as device_id,
        {{ amplitude_json_number('raw_json', ['session_id']) }} as session_id,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['event_time'])) }} as event_time,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['client_event_time'])) }}
            as client_event_time,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['client_upload_time'])) }}
            as client_upload_time,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['server_received_time'])) }}
            as server_received_time,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['server_upload_time'])) }}
            as server_upload_time,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['processed_time'])) }}
            as processed_time,
        {{ amplitude_timestamp(amplitude_json_text('raw_json', ['user_creation_time'])) }}
            as user_creation_time,
        {{ amplitude_json_text('raw_json', ['platform']) }} as platform,
        {{ amplitude_json_text('raw_json', ['os_name']) }} as os_name,
        {{ amplitude_json_text('raw_json', ['os_version']) }} as os_version,
        {{ amplitude_json_text('raw_json', ['device_type']) }} as device_type,
        {{ amplitude_json_text('raw_json', ['device_family']) }} as device_family,
        {{ amplitude_json_text('raw_json', ['device_brand']) }} as device_brand,
        {{ amplitude_json_text('raw_json', ['device_manufacturer']) }} as device_manufacturer,
        {{ amplitude_json_text('raw_json', ['device_model']) }} as device_model,
        {{ amplitude_json_text('raw_json', ['device_carrier']) }} as device_carrier,
        {{ amplitude_json_text('raw_json', ['country']) }} as country,
        {{ amplitude_json_text('raw_json', ['region']) }} as region,
        {{ amplitude_json_text('raw_json', ['city']) }} as city,
        {{ amplitude_json_text('raw_json', ['dma']) }} as dma,
        {{ amplitude_json_text('raw_json', ['language']) }} as language,
        {{ amplitude_json_text('raw_json', ['ip_address']) }} as ip_address,
        {{ amplitude_json_number('raw_json', ['location_lat'], 'double') }} as location_lat,
        {{ amplitude_json_number('raw_json', ['location_lng'], 'double') }} as location_lng,
        {{ amplitude_json_text('raw_json', ['library']) }} as library,
        {{ amplitude_json_text('raw_json', ['version_name']) }} as version_name,
        {{ amplitude_json_text('raw_json', ['start_version']) }} as start_version,
        {{ amplitude_json_text('raw_json', ['data_type']) }} as data_type,
        {{ amplitude_json_text('raw_json', ['paying']) }} as paying,
        {{ amplitude_json_value('raw_json', ['event_properties']) }} as event_properties,
        {{ amplitude_json_value('raw_json', ['user_properties']) }} as user_properties,
        {{ amplitude_json_value('raw_json', ['group_properties']) }} as group_properties,
        {{ amplitude_json_value('raw_json', ['groups']) }} as groups,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Page Domain']) }}
            as page_domain,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Page Location']) }}
            as page_location,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Page Path']) }}
            as page_path,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Page Title']) }}
            as page_title,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Page URL']) }}
            as page_url,
        {{ amplitude_json_number('raw_json', ['event_properties', '[Amplitude] Page Counter']) }}
            as page_counter,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Element Text']) }}
            as element_text,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Element Tag']) }}
            as element_tag,
        {{ amplitude_json_text('raw_json', ['event_properties', '[Amplitude] Element Selector']) }}
            as element_selector,
        file_name,
        file_row_number,
        loaded_at
    from source

)

select * from parsed

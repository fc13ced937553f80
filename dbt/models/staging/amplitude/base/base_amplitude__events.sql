-- The only model that reads JSON: every documented top-level field, typed, plus the web
-- autocapture page and element properties. Everything downstream is portable SQL. Each
-- row's JSON is parsed once (see macros/amplitude_json.sql).

{#- Every field read: output column, JSON keys, type. The order is the model's columns. -#}
{%- set fields = [
    ('event_uuid', ['uuid'], 'text'),
    ('insert_id', ['$insert_id'], 'text'),
    ('event_id', ['event_id'], 'bigint'),
    ('event_type', ['event_type'], 'text'),
    ('project_id', ['app'], 'bigint'),
    ('amplitude_id', ['amplitude_id'], 'bigint'),
    ('user_id', ['user_id'], 'text'),
    ('device_id', ['device_id'], 'text'),
    ('session_id', ['session_id'], 'bigint'),
    ('event_time', ['event_time'], 'timestamp'),
    ('client_event_time', ['client_event_time'], 'timestamp'),
    ('client_upload_time', ['client_upload_time'], 'timestamp'),
    ('server_received_time', ['server_received_time'], 'timestamp'),
    ('server_upload_time', ['server_upload_time'], 'timestamp'),
    ('processed_time', ['processed_time'], 'timestamp'),
    ('user_creation_time', ['user_creation_time'], 'timestamp'),
    ('platform', ['platform'], 'text'),
    ('os_name', ['os_name'], 'text'),
    ('os_version', ['os_version'], 'text'),
    ('device_type', ['device_type'], 'text'),
    ('device_family', ['device_family'], 'text'),
    ('device_brand', ['device_brand'], 'text'),
    ('device_manufacturer', ['device_manufacturer'], 'text'),
    ('device_model', ['device_model'], 'text'),
    ('device_carrier', ['device_carrier'], 'text'),
    ('country', ['country'], 'text'),
    ('region', ['region'], 'text'),
    ('city', ['city'], 'text'),
    ('dma', ['dma'], 'text'),
    ('language', ['language'], 'text'),
    ('ip_address', ['ip_address'], 'text'),
    ('location_lat', ['location_lat'], 'double'),
    ('location_lng', ['location_lng'], 'double'),
    ('library', ['library'], 'text'),
    ('version_name', ['version_name'], 'text'),
    ('start_version', ['start_version'], 'text'),
    ('data_type', ['data_type'], 'text'),
    ('paying', ['paying'], 'text'),
    ('event_properties', ['event_properties'], 'json'),
    ('user_properties', ['user_properties'], 'json'),
    ('group_properties', ['group_properties'], 'json'),
    ('groups', ['groups'], 'json'),
    ('page_domain', ['event_properties', '[Amplitude] Page Domain'], 'text'),
    ('page_location', ['event_properties', '[Amplitude] Page Location'], 'text'),
    ('page_path', ['event_properties', '[Amplitude] Page Path'], 'text'),
    ('page_title', ['event_properties', '[Amplitude] Page Title'], 'text'),
    ('page_url', ['event_properties', '[Amplitude] Page URL'], 'text'),
    ('page_counter', ['event_properties', '[Amplitude] Page Counter'], 'bigint'),
    ('element_text', ['event_properties', '[Amplitude] Element Text'], 'text'),
    ('element_tag', ['event_properties', '[Amplitude] Element Tag'], 'text'),
    ('element_selector', ['event_properties', '[Amplitude] Element Selector'], 'text'),
] %}

with source as (

    select * from {{ source('amplitude', 'events_raw') }}

),

parsed as (

    select
        {{ amplitude_json_record('raw_json', fields) }} as record,
        file_name,
        file_row_number,
        loaded_at
    from source

),

unpacked as (

    select
        *
        {{ amplitude_json_nested('record', fields) }}
    from parsed

),

typed as (

    select
        {%- for field in fields %}
        {{ amplitude_json_field('unpacked.record', field, fields) }} as {{ field[0] }},
        {%- endfor %}
        unpacked.file_name,
        unpacked.file_row_number,
        unpacked.loaded_at
    from unpacked

)

select * from typed

{{
    config(
        unique_key='event_key',
        incremental_strategy='amplitude_merge',
    )
}}

-- One row per event, whatever was delivered twice: a row re-exported (same uuid), a
-- client retry (same device and $insert_id, new uuid), an event with neither loaded
-- again under another file name (same content). Incremental on loads: a run reads the
-- raw rows of the loads recorded since it last ran, keeps one copy of each event, and
-- merges it against what is already built. A copy is written only when its event is new
-- or it comes before the copy held (see amplitude_copy_comes_first), so a run writes the
-- same rows as a full rebuild would, whatever order the loads came in. Events matching a
-- forget request are left out, and removed once built.

{%- set user_grain = amplitude_user_grain() %}

{#- Forget requests: whether there are any (every event read is checked against them), and
    on an incremental run, any recorded since the last (their events built are removed). -#}
{%- set requests = ref('stg_amplitude__forget_requests') %}
{%- set request_counts = [0, 0] %}
{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
    {%- set bounds_query -%}
        select
            min(loaded_at) as lower_bound,
            max(loaded_at) as upper_bound
        from {{ ref('stg_amplitude__loads') }}
        where built_at > {{ since }}
    {%- endset -%}
    {%- set load_bounds = amplitude_time_bounds(bounds_query) -%}
{%- endif %}
{%- if execute and requests is not string and requests.schema and requests.identifier and load_relation(requests) is not none %}
    {%- set counts_query -%}
        select
            count(*) as all_requests,
            count(case when {{ 'built_at > ' ~ since if is_incremental() else '1 = 0' }} then 1 end)
                as new_requests
        from {{ requests }}
    {%- endset -%}
    {%- set request_counts = run_query(counts_query).rows[0] -%}
{%- endif %}

with loads as (

    select * from {{ ref('stg_amplitude__loads') }}
    {%- if is_incremental() %}
        where built_at > {{ since }}
    {%- endif %}

),

raw_events as (

    select * from {{ ref('base_amplitude__events') }}
    {%- if is_incremental() %}
        {%- if load_bounds is none %}
        where 1 = 0
        {%- else %}
        where loaded_at between {{ load_bounds[0] }} and {{ load_bounds[1] }}
        {%- endif %}
    {%- endif %}

),

loaded_events as (

    select raw_events.*
    from raw_events
    inner join loads
        on
            raw_events.file_name = loads.file_name
            and raw_events.loaded_at = loads.loaded_at

),

-- Events of a user someone asked to forget never enter staging, whether or not their raw
-- rows are gone yet (a later load, a re-export).
kept_events as (

    select * from loaded_events
    {%- if request_counts[0] > 0 %}
    where not {{ amplitude_forgotten('loaded_events', requests) }}
    {%- endif %}

),

keyed as (

    select
        {{ amplitude_event_key() }} as event_key,
        *
    from kept_events

),

-- Most events arrive once: only the keys seen more than once go through the window that
-- picks their first copy (a window over every row costs a sort of every row).
repeated_keys as (

    select event_key
    from keyed
    group by event_key
    having count(*) > 1

),

first_copies as (

    select *
    from keyed
    where event_key not in (select repeated_keys.event_key from repeated_keys)
    union all
    select *
    from keyed
    where event_key in (select repeated_keys.event_key from repeated_keys)
    qualify row_number() over (
        partition by event_key
        order by {{ amplitude_copy_order_by() }}
    ) = 1

),

copies_to_write as (

    select first_copies.*
    from first_copies
    {%- if is_incremental() %}
    left join {{ this }} as held
        on first_copies.event_key = held.event_key
    where
        held.event_key is null
        or {{ amplitude_copy_comes_first('first_copies', 'held') }}
    {%- endif %}

),

{% if user_grain == 'user_id' %}
{% if is_incremental() %}
-- The amplitude_ids whose user may change: those of the copies written, and those the
-- copies they replace or the events forgotten now leave.
touched_amplitude_ids as (

    select distinct
        project_id,
        amplitude_id
    from (
        select
            project_id,
            amplitude_id
        from copies_to_write
        union all
        select
            held.project_id,
            held.amplitude_id
        from {{ this }} as held
        where
            held.event_key in (select copies_to_write.event_key from copies_to_write)
            {%- if request_counts[1] > 0 %}
            or {{ amplitude_forgotten('held', '(select * from ' ~ requests ~ ' where built_at > ' ~ since ~ ')') }}
            {%- endif %}
    ) as touched

),

-- The events built of those amplitude_ids that stay as they are (not replaced, not
-- forgotten): their user is looked up again with the new copies.
held_events as (

    select held.*
    from {{ this }} as held
    inner join touched_amplitude_ids
        on
            held.project_id is not distinct from touched_amplitude_ids.project_id
            and held.amplitude_id is not distinct from touched_amplitude_ids.amplitude_id
    where
        held.event_key not in (select copies_to_write.event_key from copies_to_write)
        {%- if request_counts[1] > 0 %}
        and not {{ amplitude_forgotten('held', '(select * from ' ~ requests ~ ' where built_at > ' ~ since ~ ')') }}
        {%- endif %}

),
{% endif %}

-- With grain 'user_id', an amplitude_id seen with a user_id is that user (the least, if
-- several), all of its events: the anonymous ones before the user_id arrived too.
identified_ids as (

    select
        project_id,
        amplitude_id,
        min(user_id) as person_user_id
    from (
        select
            project_id,
            amplitude_id,
            user_id
        from copies_to_write
        {%- if is_incremental() %}
        union all
        select
            project_id,
            amplitude_id,
            user_id
        from held_events
        {%- endif %}
    ) as seen
    where user_id is not null
    group by
        project_id,
        amplitude_id

),
{% endif %}

copies_with_user as (

    select
        copies_to_write.*,
        {{ amplitude_user_key_of('copies_to_write', 'identified_ids' if user_grain == 'user_id' else none) }}
            as user_key
    from copies_to_write
    {%- if user_grain == 'user_id' %}
    left join identified_ids
        on
            copies_to_write.project_id is not distinct from identified_ids.project_id
            and copies_to_write.amplitude_id is not distinct from identified_ids.amplitude_id
    {%- endif %}

),

final as (

    select
        event_key,
        event_uuid,
        insert_id,
        event_id,
        event_type,
        {{ amplitude_event_name('event_type') }} as event_name,
        project_id,
        user_key,
        amplitude_id,
        user_id,
        device_id,
        nullif(session_id, -1) as session_id,
        case
            when session_id is not null and session_id <> -1
                then {{ amplitude_surrogate_key(['project_id', 'amplitude_id', 'session_id']) }}
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
        loaded_at,
        {{ amplitude_built_at() }} as built_at
    from copies_with_user

)

-- Events built whose user changed (a user_id that arrived late for their amplitude_id, or
-- a copy that brought a lesser one): written again under the new user, the old version
-- retired like any replaced copy, so every mart rebuilds both users.
-- Tombstones for the events built of users forgotten since the last run: removed, retired.
select * from final
{%- if is_incremental() and user_grain == 'user_id' %}
{{ amplitude_restamped_users('held_events', 'identified_ids') }}
{%- endif %}
{%- if is_incremental() and request_counts[1] > 0 %}
{{ amplitude_tombstones(amplitude_forgotten(
    'tombstone', '(select * from ' ~ requests ~ ' where built_at > ' ~ since ~ ')'
)) }}
{%- endif %}

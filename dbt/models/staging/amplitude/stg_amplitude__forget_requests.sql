{{
    config(
        unique_key='request_id',
        incremental_strategy='append',
    )
}}

-- One row per forget request, appended the first time a run sees it, with `built_at` set to
-- that run: stg_amplitude__events removes the events of the requests recorded since it
-- last ran from what it built, and leaves out the events of every request when it reads
-- raw rows. Only the hash of the id is read, never the id.

with source as (

    select * from {{ source('amplitude', 'forget_requests') }}

),

{% if is_incremental() %}
new_requests as (

    select source.*
    from source
    where source.request_id not in (select recorded.request_id from {{ this }} as recorded)

),
{% else %}
new_requests as (

    select * from source

),
{% endif %}

final as (

    select
        request_id,
        requested_at,
        id_kind,
        lower(id_sha256) as id_sha256,
        {{ amplitude_built_at() }} as built_at
    from new_requests

)

select * from final

{{
    config(
        unique_key='amplitude_user_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- The stitching the Export API leaves to the warehouse: per Amplitude project, every
-- amplitude_id (Amplitude's user, merged across the devices Amplitude linked) with the
-- user_id it was seen with, and the user it belongs to under `amplitude__user_grain`.
-- With grain 'user_id', every amplitude_id seen with one user_id is that one user, its
-- anonymous events before the user_id arrived included; an amplitude_id seen with several
-- user_ids belongs to the least of them. Incremental by amplitude_id: one with events
-- built or retired since the last run is looked up again from all of its events.

{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}

),

{% if is_incremental() %}
touched_amplitude_ids as (

    select distinct
        project_id,
        amplitude_id
    from ({{ amplitude_changed_events(since) }}) as changed

),
{% endif %}

amplitude_id_events as (

    select events.*
    from events
    {%- if is_incremental() %}
    inner join touched_amplitude_ids
        on
            events.project_id is not distinct from touched_amplitude_ids.project_id
            and events.amplitude_id is not distinct from touched_amplitude_ids.amplitude_id
    {%- endif %}

),

final as (

    select
        {{ amplitude_surrogate_key(['project_id', 'amplitude_id']) }} as amplitude_user_key,
        project_id,
        amplitude_id,
        -- Staging gives every event of an amplitude_id the same user.
        max(user_key) as user_key,
        min(user_id) as user_id,
        count(distinct user_id) as user_ids_seen,
        min(event_time) as first_event_at,
        min(case when user_id is not null then event_time end) as first_identified_at,
        {{ amplitude_built_at() }} as built_at
    from amplitude_id_events
    group by
        project_id,
        amplitude_id

)

select
    {{ amplitude_contract_select('final') }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones(
    'exists (select 1 from touched_amplitude_ids where touched_amplitude_ids.project_id'
    ~ ' is not distinct from tombstone.project_id and touched_amplitude_ids.amplitude_id'
    ~ ' is not distinct from tombstone.amplitude_id)'
) }}
{%- endif %}

{{
    config(
        unique_key='session_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- One row per repeated interaction (pkey): how often, how fast, and within which session.
-- The gap between repeats is measured within the group (LAG partitioned by pkey), so a
-- click on one page is never compared with a click on another.
-- Incremental by session: a run rewrites the groups of every session that received or
-- lost events since it last ran (any event: the session's duration is a column here),
-- deleting those no longer repeated.

-- depends_on: {{ ref('stg_amplitude__events') }}
{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with repeated_events as (

    select * from {{ ref('int_amplitude__repeated_interaction_events') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

{% if is_incremental() %}
touched_sessions as (

    select distinct session_key
    from ({{ amplitude_changed_events(since) }}) as changed
    where session_key is not null

),
{% endif %}

session_repeats as (

    select * from repeated_events
    {%- if is_incremental() %}
    where session_key in (select touched_sessions.session_key from touched_sessions)
    {%- endif %}

),

with_previous as (

    select
        *,
        lag(event_time) over (
            partition by pkey
            order by event_time, event_key
        ) as previous_event_time
    from session_repeats

),

gaps as (

    select
        *,
        {{ amplitude_seconds_between('previous_event_time', 'event_time') }}
            as seconds_since_previous
    from with_previous

),

-- Grouped by pkey alone: the columns that make the key are the same across a group;
-- the others (an element's text when only its selector is in the key, say) take the
-- greatest value, so a group is one row whatever `amplitude__repeat_element_columns` is.
per_group as (

    select
        pkey,
        max(session_key) as session_key,
        max(session_id) as session_id,
        max(project_id) as project_id,
        max(amplitude_id) as amplitude_id,
        max(user_id) as user_id,
        max(event_type) as event_type,
        max(event_name) as event_name,
        max(page_title) as page_title,
        max(page_url) as page_url,
        max(element_text) as element_text,
        max(element_selector) as element_selector,
        count(*) as repeat_count,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        avg(seconds_since_previous) as avg_seconds_between_repeats,
        min(seconds_since_previous) as min_seconds_between_repeats
    from gaps
    group by pkey

),

final as (

    select
        per_group.pkey,
        per_group.session_key,
        per_group.session_id,
        per_group.project_id,
        per_group.amplitude_id,
        per_group.user_id,
        per_group.event_type,
        per_group.event_name,
        per_group.page_title,
        per_group.page_url,
        per_group.element_text,
        per_group.element_selector,
        per_group.repeat_count,
        per_group.first_event_time,
        per_group.last_event_time,
        {{ amplitude_seconds_between('per_group.first_event_time', 'per_group.last_event_time') }}
            as repeat_span_seconds,
        per_group.avg_seconds_between_repeats,
        per_group.min_seconds_between_repeats,
        sessions.session_duration_seconds,
        {{ amplitude_built_at() }} as built_at
    from per_group
    left join sessions
        on per_group.session_key = sessions.session_key

)

select
    {{ amplitude_contract_select('final') }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones('session_key in (select touched_sessions.session_key from touched_sessions)') }}
{%- endif %}

{{
    config(
        unique_key='session_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- Page views and element clicks repeated more than `amplitude__repeat_threshold` times in
-- one session on the same page (and, for clicks, the same element): the events of each
-- such group, with `pkey` naming the group. Events outside a session are never grouped.
-- Incremental by session: a run regroups every session that received or lost an event
-- since it last ran, from all of that session's events, and replaces its rows (deleting
-- them when no group is left).

{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}

),

{% if is_incremental() %}
touched_sessions as (

    select distinct session_key
    from ({{ amplitude_changed_events(since) }}) as changed
    where session_key is not null

),
{% endif %}

session_events as (

    select * from events
    {%- if is_incremental() %}
    where session_key in (select touched_sessions.session_key from touched_sessions)
    {%- endif %}

),

interactions as (

    select
        event_key,
        session_key,
        session_id,
        project_id,
        amplitude_id,
        user_id,
        event_type,
        event_name,
        event_time,
        page_title,
        page_url,
        element_text,
        element_selector
    from session_events
    where
        session_key is not null
        and event_name in ('Page Viewed', 'Element Clicked')

),

-- Grouped on the columns themselves: the key's md5 is computed for the repeated events
-- only, not for every interaction.
repeat_groups as (

    select
        {{ amplitude_repeat_columns() | join(',\n        ') }},
        count(*) as repeat_count
    from interactions
    group by
        {{ amplitude_repeat_columns() | join(',\n        ') }}
    having count(*) > {{ var('amplitude__repeat_threshold') }}

),

final as (

    select
        interactions.*,
        {{ amplitude_repeat_key('interactions') }} as pkey,
        repeat_groups.repeat_count,
        {{ amplitude_built_at() }} as built_at
    from interactions
    inner join repeat_groups
        on
        {%- for column in amplitude_repeat_columns() %}
            {% if not loop.first %}and {% endif -%}
            interactions.{{ column }} is not distinct from repeat_groups.{{ column }}
        {%- endfor %}

)

select * from final
{%- if is_incremental() %}
{{ amplitude_tombstones('session_key in (select touched_sessions.session_key from touched_sessions)') }}
{%- endif %}

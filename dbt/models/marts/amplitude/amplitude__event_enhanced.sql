{%- set pivots = amplitude_property_pivots() %}
{{
    config(
        unique_key='event_key',
        incremental_strategy='amplitude_replace',
        contract={'enforced': pivots | length == 0},
    )
}}

-- Every event with its place in its session and in its user's history, its session's
-- context (start, end, events, length, time since the user's previous session) and its
-- user's first event (taken here, from the events, so this model need not wait for
-- amplitude__user_enhanced), and the event and user properties named in the vars
-- `amplitude__event_properties_to_pivot` / `amplitude__user_properties_to_pivot` as columns
-- (a pivot adds columns no yml lists: the contract is enforced only without pivots).
-- Incremental by user (`user_key`, by `amplitude__user_grain`): for each user with events
-- built or retired since the last run, every event from the earliest one the run changed
-- onwards (in event time) is written again, the events it changed included (an event gone
-- from staging is deleted). A late event earlier than rows already built renumbers
-- everything after it in its session and in its user's history, and may start its
-- session or its user earlier; events before that point keep their numbers. Besides,
-- every event of a session that amplitude__sessions wrote since the last run is written
-- again: an event appended to a session changes the session's end, events and length on
-- its earlier events, and a session that starts, ends or moves changes the "since the
-- previous session" of the user's next one (which sessions rewrites too).

{%- if is_incremental() %}
    {%- set since = amplitude_watermark_value() -%}
{%- endif %}

with events as {{ amplitude_inline() }} (

    select * from {{ ref('stg_amplitude__events') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

{% if is_incremental() %}
-- The events built or retired since the last run: a retired version has the user and
-- time the event had before (a copy replaced by one received earlier, an event
-- forgotten), so the history it left is renumbered too.
changed_events as (

    select
        event_key,
        user_key,
        event_time
    from ({{ amplitude_changed_events(since) }}) as changed

),

-- Sessions amplitude__sessions wrote since the last run: their events are written again
-- with the session's values as they are now.
refreshed_sessions as (

    select sessions.session_key
    from sessions
    where sessions.built_at > {{ since }}

),

rebuild_points as (

    select
        user_key,
        min({{ amplitude_sort_time('event_time') }}) as rebuild_from
    from changed_events
    group by user_key

),

user_events as {{ amplitude_inline() }} (

    select
        events.*,
        {{ amplitude_sort_time('events.event_time') }} >= rebuild_points.rebuild_from
            as is_rebuilt
    from events
    inner join rebuild_points
        on events.user_key is not distinct from rebuild_points.user_key

),

-- Per touched user: how many events come before the rebuilt ones, and the first of all.
user_history as (

    select
        user_key,
        count(case when not is_rebuilt then 1 end) as user_events_before,
        min(event_time) as user_first_event_at
    from user_events
    group by user_key

),

events_to_build as {{ amplitude_inline() }} (

    select
        user_events.*,
        user_history.user_events_before,
        user_history.user_first_event_at
    from user_events
    inner join user_history
        on user_events.user_key is not distinct from user_history.user_key
    where user_events.is_rebuilt

),
{% else %}
user_history as (

    select
        user_key,
        0 as user_events_before,
        min(event_time) as user_first_event_at
    from events
    group by user_key

),

events_to_build as {{ amplitude_inline() }} (

    select
        events.*,
        true as is_rebuilt,
        user_history.user_events_before,
        user_history.user_first_event_at
    from events
    inner join user_history
        on events.user_key is not distinct from user_history.user_key

),
{% endif %}

-- The sessions with a rebuilt event, and those amplitude__sessions rewrote.
sessions_to_number as (

    select events_to_build.session_key
    from events_to_build
    where events_to_build.session_key is not null
    {%- if is_incremental() %}
    union all
    select refreshed_sessions.session_key
    from refreshed_sessions
    {%- endif %}

),

-- Every event of those sessions, to number them within the session.
session_events as (

    select
        event_key,
        row_number() over (
            partition by session_key
            order by {{ amplitude_sort_time('event_time') }}, event_key
        ) as event_number_in_session
    from events
    where session_key in (select sessions_to_number.session_key from sessions_to_number)

),

-- Numbered on the narrow columns the order needs, then joined back: a window carrying
-- every column of every event costs a sort of all of them.
user_order as (

    select
        event_key,
        user_events_before + row_number() over (
            partition by user_key
            order by {{ amplitude_sort_time('event_time') }}, event_key
        ) as user_event_number
    from events_to_build

),

numbered as (

    select
        events_to_build.*,
        session_events.event_number_in_session,
        user_order.user_event_number
    from events_to_build
    inner join user_order
        on events_to_build.event_key = user_order.event_key
    left join session_events
        on events_to_build.event_key = session_events.event_key
    {%- if is_incremental() %}
    union all
    -- The other events of the refreshed sessions: before their user's rebuild point (or
    -- of a user with nothing new), so their place in the user's history is as built.
    select
        events.*,
        false as is_rebuilt,
        0 as user_events_before,
        built.user_first_event_at,
        session_events.event_number_in_session,
        built.user_event_number
    from events
    inner join {{ this }} as built
        on events.event_key = built.event_key
    inner join session_events
        on events.event_key = session_events.event_key
    where
        events.session_key in (select refreshed_sessions.session_key from refreshed_sessions)
        and events.event_key not in (select events_to_build.event_key from events_to_build)
    {%- endif %}

),

final as (

    select
        numbered.*,
        sessions.session_number,
        sessions.is_first_user_session,
        sessions.session_started_at,
        {{ amplitude_seconds_between('sessions.session_started_at', 'numbered.event_time') }}
            as seconds_since_session_start,
        sessions.session_ended_at,
        sessions.events as events_per_session,
        sessions.session_duration_seconds,
        {%- for pivot in pivots %}
        {{ amplitude_property_value('numbered.' ~ pivot.source, pivot.property) }} as {{ pivot.column }},
        {%- endfor %}
        sessions.seconds_since_previous_session
    from numbered
    left join sessions
        on numbered.session_key = sessions.session_key

)

-- The contracted columns: staging's, then the event's place and context. `built_at` is
-- this run's, not the one staging's row carries.
select
    {{ amplitude_contract_select('final', {'built_at': amplitude_built_at()}, pivots | map(attribute='column') | list) }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones('event_key in (select changed_events.event_key from changed_events)') }}
{%- endif %}

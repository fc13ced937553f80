{{
    config(
        unique_key='event_key',
        incremental_strategy='amplitude_replace',
    )
}}

-- Every event with its place in its session and in its user's history, and its session's
-- and user's context (the user's first event is taken here, from the events, so this
-- model need not wait for amplitude__user_enhanced).
-- Incremental by user (project and amplitude_id: `user_key`): for each user with events built or retired since the last run,
-- every event from the earliest one the run changed onwards (in event time) is written
-- again, the events it changed included (an event gone from staging is deleted). A late event earlier than rows already built renumbers
-- everything after it in its session and in its user's history, and may start its
-- session or its user earlier; events before that point keep every value they have (no
-- session before it starts, ends or moves). In steady state that is the new events
-- alone.

{%- if is_incremental() %}
    {%- set since = amplitude_watermark() -%}
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

-- Every event of every session with a rebuilt event, to number them within the session.
session_events as (

    select
        event_key,
        row_number() over (
            partition by session_key
            order by {{ amplitude_sort_time('event_time') }}, event_key
        ) as event_number_in_session
    from events
    where
        session_key in (
            select events_to_build.session_key
            from events_to_build
            where events_to_build.session_key is not null
        )

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

),

final as (

    select
        numbered.*,
        sessions.session_number,
        sessions.is_first_user_session,
        sessions.session_started_at,
        {{ amplitude_seconds_between('sessions.session_started_at', 'numbered.event_time') }}
            as seconds_since_session_start
    from numbered
    left join sessions
        on numbered.session_key = sessions.session_key

)

-- The contracted columns: staging's, then the event's place and context. `built_at` is
-- this run's, not the one staging's row carries.
select
    {{ amplitude_contract_select('final', {'built_at': amplitude_built_at()}) }}
from final
{%- if is_incremental() %}
{{ amplitude_tombstones('event_key in (select changed_events.event_key from changed_events)') }}
{%- endif %}

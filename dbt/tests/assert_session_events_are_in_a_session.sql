-- Reconciliation: every event of the latest batch staging wrote that has a session key is
-- in amplitude__sessions (whose key is unique, so in exactly one session). Returns the
-- events whose session is missing.

with events as (

    select * from {{ ref('stg_amplitude__events') }}

),

sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

latest_events as (

    select
        event_key,
        session_key
    from events
    where
        session_key is not null
        {% if not var('amplitude__test_all_rows') -%}
        and built_at = (select max(batch.built_at) from events as batch)
        {%- endif %}

),

final as (

    select
        latest_events.event_key,
        latest_events.session_key
    from latest_events
    where not exists (
        select 1
        from sessions
        where sessions.session_key = latest_events.session_key
    )

)

select * from final

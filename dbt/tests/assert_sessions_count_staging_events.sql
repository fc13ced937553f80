-- Reconciliation: every session the latest run wrote counts exactly the events staging
-- holds for it. Returns the sessions whose count differs.

{%- set latest_batch = '1 = 1' if var('amplitude__test_all_rows')
    else 'built_at = (select max(batch.built_at) from sessions as batch)' %}

with sessions as (

    select * from {{ ref('amplitude__sessions') }}

),

events as (

    select * from {{ ref('stg_amplitude__events') }}

),

latest_sessions as (

    select
        session_key,
        events
    from sessions
    where {{ latest_batch }}

),

staged as (

    select
        session_key,
        count(*) as events
    from events
    where session_key in (select latest_sessions.session_key from latest_sessions)
    group by session_key

),

final as (

    select
        latest_sessions.session_key,
        latest_sessions.events as events_in_session,
        staged.events as events_in_staging
    from latest_sessions
    left join staged
        on latest_sessions.session_key = staged.session_key
    where staged.events is null or staged.events <> latest_sessions.events

)

select * from final

-- Page views and element clicks repeated more than `amplitude__repeat_threshold` times in
-- one session on the same page (and, for clicks, the same element): the events of each
-- such group, with `pkey` naming the group. Events outside a session are never grouped.

with events as (

    select * from {{ ref('stg_amplitude__events') }}

),

interactions as (

    select
        event_key,
        session_key,
        session_id,
        amplitude_id,
        user_id,
        event_type,
        event_name,
        event_time,
        page_title,
        page_url,
        element_text,
        element_selector,
        {{ amplitude_surrogate_key([
            'session_key', 'event_type', 'page_title', 'page_url',
            'element_selector', 'element_text',
        ]) }} as pkey
    from events
    where
        session_key is not null
        and event_name in ('Page Viewed', 'Element Clicked')

),

group_sizes as (

    select
        pkey,
        count(*) as repeat_count
    from interactions
    group by pkey

),

final as (

    select
        interactions.*,
        group_sizes.repeat_count
    from interactions
    inner join group_sizes
        on interactions.pkey = group_sizes.pkey
    where group_sizes.repeat_count > {{ var('amplitude__repeat_threshold') }}

)

select * from final

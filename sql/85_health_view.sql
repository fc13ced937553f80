-- =============================================================================
-- 85  Pipeline health at a glance
-- Creates: INGEST.AMPLITUDE_PIPELINE_HEALTH, one row joining the ledger (hours done,
--          empty, failed, the watermark), the pipe's copy history over the last 24 hours
--          and the last run of the task graph.
-- Run as:  the pipeline role; readers may select it.
-- Idempotent: pure definition (`or replace`).
-- =============================================================================

use role <% pipeline_role %>;
use database <% database %>;
use schema ingest;

create or replace view amplitude_pipeline_health
comment = 'Ledger, pipe loads and the last task graph run, in one row'
as
with ledger as (
    select
        count_if(status = 'done') as hours_done,
        count_if(status = 'empty') as hours_empty,
        count_if(status = 'failed') as hours_failed,
        count_if(status = 'pending') as hours_pending,
        max(iff(status in ('done', 'empty'), hour, null)) as watermark_hour,
        sum(events) as events_exported,
        sum(rejected_lines) as lines_quarantined
    from amplitude_ingest_ledger
),

loads as (
    select
        count(*) as files_loaded_24h,
        coalesce(sum(row_count), 0) as rows_loaded_24h,
        count_if(status <> 'Loaded') as files_not_loaded_24h,
        max(last_load_time) as last_load_time
    from table(
        information_schema.copy_history(
            table_name => '<% database %>.RAW.AMPLITUDE_EVENTS_RAW',
            start_time => dateadd(hour, -24, current_timestamp())
        )
    )
),

last_run as (
    select
        finished_at as last_run_finished_at,
        succeeded as last_run_succeeded
    from amplitude_pipeline_runs
    qualify row_number() over (order by finished_at desc) = 1
)

select
    ledger.*,
    loads.*,
    last_run.last_run_finished_at,
    last_run.last_run_succeeded
from ledger
cross join loads
left join last_run on true;

grant select on view amplitude_pipeline_health to role <% reader_role %>;

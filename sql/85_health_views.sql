-- =============================================================================
-- 85  Pipeline health at a glance
-- Creates: INGEST.AMPLITUDE_FILES_NOT_LOADED, one row per stage file the ledger says was
--          written in the last 14 days that no row of the raw table came from (with the
--          pipe's load error when it has one), and INGEST.AMPLITUDE_PIPELINE_HEALTH, one row
--          joining the ledger (hours done, empty, failed, the watermark), those files, the
--          pipe's copy history over the last 24 hours and the last run of the task graph.
-- Run as:  the admin role, which owns everything the views read; readers may select them
--          (they have USAGE on the INGEST schema from 10).
-- Idempotent: views are pure definition (`or replace ... copy grants`).
-- Matching: a ledger key is loaded when a raw row's FILE_NAME equals it or ends with
--          '/' || key (METADATA$FILENAME "includes the path to the data file"; the test
--          of the wait step uses the same rule, amplitude_ingest/reconcile.py).
-- Windows: 14 days, Snowpipe's load-history window (COPY_HISTORY) and the ledger rows a
--          re-run could still need; REFRESHABLE says whether ALTER PIPE ... REFRESH, which
--          only queues files staged in the last 7 days, can still load a missing file.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;

create or replace view amplitude_files_not_loaded
copy grants
comment = 'Stage files the ledger says were written (14 days) that never reached the raw table'
as
with written as (
    select
        ledger.hour,
        ledger.run_id,
        ledger.updated_at as written_at,
        -- A file amplitude_forget() rewrote was replaced, not lost (sql/55_forget.sql).
        coalesce(rewrites.rewritten_to, stage_key.value::varchar) as stage_key
    from <% database %>.ingest.amplitude_ingest_ledger as ledger,
        lateral flatten(input => try_parse_json(ledger.stage_keys)) as stage_key
    left join <% database %>.raw.amplitude_stage_rewrites as rewrites
        on rewrites.file_name = stage_key.value::varchar
    where
        ledger.status = 'done'
        and ledger.updated_at >= dateadd(day, -14, sysdate())
        and startswith(stage_key.value::varchar, 'events/')
        and not (rewrites.file_name is not null and rewrites.rewritten_to is null)
),

loaded as (
    select distinct raw_rows.file_name
    from <% database %>.raw.amplitude_events_raw as raw_rows
    where raw_rows.loaded_at >= dateadd(day, -15, sysdate())
),

load_errors as (
    select
        history.file_name,
        history.status,
        history.first_error_message
    from table(
        information_schema.copy_history(
            table_name => '<% database %>.RAW.AMPLITUDE_EVENTS_RAW',
            start_time => dateadd(day, -14, current_timestamp())
        )
    ) as history
    where history.status <> 'Loaded'
    qualify row_number() over (
        partition by history.file_name order by history.last_load_time desc
    ) = 1
)

select
    written.hour,
    written.run_id,
    written.stage_key,
    written.written_at,
    datediff(minute, written.written_at, sysdate()) as minutes_since_written,
    coalesce(load_errors.status, 'not seen by the pipe') as load_status,
    load_errors.first_error_message,
    written.written_at >= dateadd(day, -7, sysdate()) as refreshable
from written
left join loaded
    on loaded.file_name = written.stage_key
    or endswith(loaded.file_name, '/' || written.stage_key)
left join load_errors
    on load_errors.file_name = written.stage_key
    or endswith(load_errors.file_name, '/' || written.stage_key)
where loaded.file_name is null;

create or replace view amplitude_pipeline_health
copy grants
comment = 'Ledger, files not loaded, pipe loads and the last task graph run, in one row'
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
    from <% database %>.ingest.amplitude_ingest_ledger
),

missing as (
    -- Snowpipe usually loads a file within minutes; younger files are still on their way.
    select
        count_if(minutes_since_written >= 30) as files_not_loaded,
        count_if(minutes_since_written < 30) as files_awaiting_load,
        min(iff(minutes_since_written >= 30, written_at, null)) as oldest_file_not_loaded_at
    from <% database %>.ingest.amplitude_files_not_loaded
),

loads as (
    select
        count(*) as files_loaded_24h,
        coalesce(sum(row_count), 0) as rows_loaded_24h,
        count_if(status <> 'Loaded') as files_failed_24h,
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
    from <% database %>.ingest.amplitude_pipeline_runs
    qualify row_number() over (order by finished_at desc) = 1
)

select
    ledger.*,
    missing.*,
    loads.*,
    last_run.last_run_finished_at,
    last_run.last_run_succeeded
from ledger
cross join missing
cross join loads
left join last_run on true;

grant select on view amplitude_files_not_loaded to role <% reader_role %>;
grant select on view amplitude_pipeline_health to role <% reader_role %>;

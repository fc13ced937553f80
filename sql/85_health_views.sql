-- =============================================================================
-- 85  Pipeline health at a glance
-- Creates: INGEST.AMPLITUDE_FILES_NOT_LOADED, one row per stage file the ledger says was
--          written in the last 14 days that no row of the raw table came from (with the
--          pipe's load error when it has one), and INGEST.AMPLITUDE_PIPELINE_HEALTH, one row
--          joining the ledger (hours done, empty, failed, given up, the watermark, how many
--          hours behind and when current at the present pace), those files, the pipe's
--          loads over the last 24 hours and the last run of the task graph, each with its
--          age. The pipe's loads come from the finalizer's snapshot of COPY_HISTORY
--          (AMPLITUDE_LOAD_HISTORY, sql/50 and sql/70), never from COPY_HISTORY itself, so
--          readers see what the pipeline role saw.
-- Run as:  the admin role, which owns everything the views read; readers may select them
--          (they have USAGE on the INGEST schema from 10).
-- Idempotent: views are pure definition (`or replace ... copy grants`).
-- Matching: a ledger key is loaded when a raw row's FILE_NAME equals it or ends with
--          '/' || key (METADATA$FILENAME "includes the path to the data file"; the test
--          of the wait step uses the same rule, amplitude_ingest/in_snowflake/wait_step.py).
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
    -- The finalizer's snapshot of COPY_HISTORY (sql/50, AMPLITUDE_LOAD_HISTORY), never
    -- COPY_HISTORY itself: that answers only a role with MONITOR on the account or a
    -- privilege on the table (sql-reference/functions/copy_history), and whether it
    -- answers a reader through this view is not documented.
    select
        history.file_name,
        history.status,
        history.first_error_message
    from <% database %>.ingest.amplitude_load_history as history
    where
        history.status <> 'Loaded'
        and history.last_load_time >= dateadd(day, -14, current_timestamp())
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
    -- How far behind: every exportable hour not settled (done, empty or given up), what a
    -- call without a range would export however many calls it takes (the procedure's
    -- hours_behind); exportable means at least lag_hours old (the settings table's row).
    -- When current: at the pace of the last 6 hours (hours settled per hour) less the one
    -- new hour that becomes exportable each hour; NULL when that pace is not gaining.
    select
        behind.*,
        case
            when behind.hours_behind = 0 then sysdate()
            -- behind / (exported / 6 - 1) hours, as whole numbers: 360 * behind / (exported - 6)
            when behind.hours_exported_last_6h > 6
                then dateadd(
                    minute,
                    ceil(360 * behind.hours_behind / (behind.hours_exported_last_6h - 6)),
                    sysdate()
                )
        end as current_at_present_pace
    from (
        select
            counts.*,
            counts.hours_unfinished + greatest(
                0,
                datediff(
                    hour,
                    coalesce(counts.settled_up_to_hour, counts.newest_exportable_hour),
                    counts.newest_exportable_hour
                )
            ) as hours_behind
        from (
            select
                count_if(hours.status = 'done') as hours_done,
                count_if(hours.status = 'empty') as hours_empty,
                count_if(hours.status = 'failed') as hours_failed,
                -- Failed in give_up_after_failed_runs calls: exported again only with force.
                count_if(hours.status = 'given_up') as hours_given_up,
                count_if(hours.status = 'pending') as hours_pending,
                max(iff(hours.status in ('done', 'empty'), hours.hour, null)) as watermark_hour,
                sum(hours.events) as events_exported,
                sum(hours.rejected_lines) as lines_quarantined,
                max(iff(hours.status in ('done', 'empty', 'given_up'), hours.hour, null))
                    as settled_up_to_hour,
                any_value(newest.hour) as newest_exportable_hour,
                count_if(hours.status in ('pending', 'failed') and hours.hour <= newest.hour)
                    as hours_unfinished,
                count_if(
                    hours.status in ('done', 'empty')
                    and hours.updated_at >= dateadd(hour, -6, sysdate())
                ) as hours_exported_last_6h
            from <% database %>.ingest.amplitude_ingest_ledger as hours
            -- Without a lag_hours row the counts stay; only the behind figures are NULL.
            left join (
                select
                    dateadd(
                        hour, -try_cast(settings.value as number), date_trunc('hour', sysdate())
                    ) as hour
                from <% database %>.ingest.amplitude_ingest_settings as settings
                where settings.name = 'lag_hours'
            ) as newest on true
        ) as counts
    ) as behind
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
    -- From the finalizer's latest snapshot (see load_errors above). With no snapshot the
    -- numbers are null, not 0, and LOAD_HISTORY_AGE_MINUTES says how old the one shown is:
    -- a graph that stopped running shows an old snapshot, never a quiet pipeline.
    select
        count_if(file_name is not null) as files_loaded_24h,
        coalesce(sum(row_count), 0) as rows_loaded_24h,
        count_if(status <> 'Loaded') as files_failed_24h,
        max(last_load_time) as last_load_time,
        max(taken_at) as load_history_taken_at,
        datediff(minute, max(taken_at), sysdate()) as load_history_age_minutes
    from <% database %>.ingest.amplitude_load_history
    where file_name is null or last_load_time >= dateadd(hour, -24, current_timestamp())
    having count(*) > 0
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
    last_run.last_run_succeeded,
    datediff(minute, last_run.last_run_finished_at, sysdate()) as last_run_age_minutes
from ledger
cross join missing
left join loads on true
left join last_run on true;

grant select on view amplitude_files_not_loaded to role <% reader_role %>;
grant select on view amplitude_pipeline_health to role <% reader_role %>;

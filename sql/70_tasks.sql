-- =============================================================================
-- 70  The task graph
--   amplitude_pipeline_root      cron    CALL ingest_amplitude()  (exports new hours)
--   amplitude_wait_for_pipe      after   waits for the pipe to drain
--   amplitude_dbt_build          after   EXECUTE DBT PROJECT ... build
--   amplitude_pipeline_finalizer finalize  records the run in amplitude_pipeline_runs
-- Run as:  the pipeline role (tasks run as their owner).
-- Idempotent: pure definition (`or replace`); the root is suspended first because a
--          task graph cannot change while it is running, and every task is created
--          suspended: 80_resume_tasks.sql starts the graph.
-- =============================================================================

use role <% pipeline_role %>;
use database <% database %>;
use schema ingest;

alter task if exists amplitude_pipeline_root suspend;

create or replace task amplitude_pipeline_root
    warehouse = <% warehouse %>
    schedule = 'USING CRON <% schedule_cron %> UTC'
    task_auto_retry_attempts = 2
    suspend_task_after_num_failures = 3
    user_task_timeout_ms = 3600000
    comment = 'Exports the hours Amplitude has ready since the last run'
as
    call ingest_amplitude();

create or replace task amplitude_wait_for_pipe
    warehouse = <% warehouse %>
    user_task_timeout_ms = 1200000
    comment = 'Waits until Snowpipe has loaded what the export wrote'
    after amplitude_pipeline_root
as
    call wait_for_pipe('<% database %>.ingest.amplitude_events_pipe', 60, 900);

create or replace task amplitude_dbt_build
    warehouse = <% warehouse %>
    user_task_timeout_ms = 3600000
    comment = 'Builds and tests the dbt models on the newly loaded events'
    after amplitude_wait_for_pipe
as
    execute dbt project <% database %>.ingest.amplitude_dbt args = 'build --target prod';

create or replace task amplitude_pipeline_finalizer
    warehouse = <% warehouse %>
    comment = 'Records how every task of the run ended, success or not'
    finalize = amplitude_pipeline_root
as
    insert into amplitude_pipeline_runs (run_group_id, finished_at, succeeded, tasks)
    select
        system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID'),
        current_timestamp()::timestamp_ntz,
        count_if(state <> 'SUCCEEDED') = 0,
        array_agg(
            object_construct(
                'task', name,
                'state', state,
                'error', error_message,
                'return_value', return_value
            )
        )
    from table(
        information_schema.task_history(
            scheduled_time_range_start => dateadd(day, -1, current_timestamp()),
            result_limit => 1000
        )
    )
    where
        graph_run_group_id = system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID')
        and name <> 'AMPLITUDE_PIPELINE_FINALIZER';

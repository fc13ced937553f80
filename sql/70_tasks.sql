-- =============================================================================
-- 70  The task graph
--   amplitude_pipeline_root      cron      CALL ingest_amplitude()    exports new hours
--   amplitude_wait_for_loads     after     CALL amplitude_wait_for_loads()
--                                          every file the run wrote is in the raw table
--   amplitude_dbt_build          after     EXECUTE DBT PROJECT ... build
--   amplitude_catch_up           after     (the dbt build) EXECUTE TASK on the root when
--                                          the export reported more than one call left
--   amplitude_source_freshness   after     EXECUTE DBT PROJECT ... source freshness
--                                          (beside the build: stale data fails this task,
--                                          and the finalizer's record, not the build)
--   amplitude_pipeline_finalizer finalize  records the run in amplitude_pipeline_runs (every
--                                          task of the graph, DID_NOT_RUN when missing) and
--                                          snapshots COPY_HISTORY for the health views;
--                                          calls amplitude_send_alerts()
-- Run as:  the pipeline role (tasks run as their owner; CREATE TASK needs CREATE TASK on
--          the schema and USAGE on the warehouse).
-- Never auto-suspended: every task here sets suspend_task_after_num_failures = 0. On the
--          root it counts the consecutive failed runs of any task of the graph (CREATE TASK:
--          the parameter is set on a standalone or root task); since bundle 2023_08 every
--          task, child or not, also defaults to 10 and then sits FAILED_AND_AUTO_SUSPENDED
--          (release-notes/bcr-bundles/2023_08/bcr-1412), so each child sets it too. A run
--          that fails is told to people by alerts instead, and the next run may succeed.
--          The root keeps task_auto_retry_attempts = 2 (CREATE TASK: root task only).
-- Idempotent: tasks are pure definition (`or replace`); the root is suspended first
--          because a task graph cannot change while it is scheduled, and every task is
--          created suspended. 80_resume_tasks.sql starts the graph, and `make deploy` runs
--          it only when `make doctor` passes.
-- =============================================================================

use role <% pipeline_role %>;
use database <% database %>;
use schema ingest;

alter task if exists amplitude_pipeline_root suspend;
-- The first version's wait task had another name: remove it so it cannot hang off the root.
drop task if exists amplitude_wait_for_pipe;

create or replace task amplitude_pipeline_root
    warehouse = <% warehouse %>
    schedule = 'USING CRON <% schedule_cron %> UTC'
    task_auto_retry_attempts = 2
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 3600000
    comment = 'Exports the hours Amplitude has ready since the last run'
as
    call <% database %>.ingest.ingest_amplitude();

-- Reads the root's return value (SYSTEM$GET_PREDECESSOR_RETURN_VALUE) for the run id,
-- then waits up to wait_timeout_seconds (settings) for every file of that run to reach
-- the raw table; fails, naming the missing files, when any are still missing. The task
-- timeout leaves room above the default 900 s.
create or replace task amplitude_wait_for_loads
    warehouse = <% warehouse %>
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 1200000
    comment = 'Fails unless every file the export wrote has been loaded by Snowpipe'
    after amplitude_pipeline_root
as
    call <% database %>.ingest.amplitude_wait_for_loads();

-- The project object runs the dbt version it was deployed with (`make deploy` passes
-- --dbt-version; EXECUTE DBT PROJECT).
-- Unit tests check the models' logic on hand-made rows: they belong to CI (make test),
-- not to every scheduled build.
create or replace task amplitude_dbt_build
    warehouse = <% warehouse %>
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 3600000
    comment = 'Builds and tests the dbt models on the newly loaded events'
    after amplitude_wait_for_loads
as
    execute dbt project <% database %>.ingest.amplitude_dbt
        args = 'build --target prod --exclude-resource-type unit_test';

-- Catch-up at full speed: when the root's summary says more than one call's worth is left
-- (catch_up: its call was capped at max_hours or stopped at its time budget, it exported
-- something, and no hour failed), the graph runs again as soon as this run is built,
-- instead of at the next cron time. It hangs off the dbt build (each load is built before
-- the next) and reads the root's return value by name (SYSTEM$GET_PREDECESSOR_RETURN_VALUE
-- returns a matching ancestor's; names are case sensitive): a failed export, wait or
-- build never gets here, so a failing pipeline never loops. EXECUTE TASK starts one asynchronous run of the root
-- (sql-reference/sql/execute-task; the owner needs EXECUTE TASK on the account and owns
-- the root); the root keeps the default OVERLAP_POLICY = NO_OVERLAP, under which a root
-- run is scheduled only after every task of the previous run has finished
-- (release-notes/2026/other/2026-03-13-tasks-overlap-policy), so two graph runs never
-- overlap. Whether Snowflake accepts EXECUTE TASK on the root from a task of the running
-- graph is not documented: a refusal is caught and returned as this task's value, and
-- the cron schedule then works the backlog off as before.
create or replace task amplitude_catch_up
    warehouse = <% warehouse %>
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 120000
    comment = 'Runs the graph again at once while the ledger is more than one call behind'
    after amplitude_dbt_build
as
    execute immediate $$
    begin
        if (coalesce(try_parse_json(system$get_predecessor_return_value('AMPLITUDE_PIPELINE_ROOT')):catch_up::boolean, false)) then
            execute task <% database %>.ingest.amplitude_pipeline_root;
            return 'catch-up: the graph runs again at once';
        end if;
        return 'no catch-up: the ledger is current or a call from it';
    exception
        when other then
            return 'catch-up not started: ' || sqlerrm;
    end;
    $$;

-- How long ago the newest raw row was loaded, against the thresholds in the dbt sources
-- (warn after 6 h, error after 24 h): an export that stopped arriving fails this task,
-- which the finalizer records and SHOW TASKS / the health view show.
create or replace task amplitude_source_freshness
    warehouse = <% warehouse %>
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 600000
    comment = 'dbt source freshness on load time: says when the raw events stop arriving'
    after amplitude_wait_for_loads
as
    execute dbt project <% database %>.ingest.amplitude_dbt
        args = 'source freshness --target prod';

-- One row per graph run, then a snapshot of the raw table's load history.
-- The run: every task of the graph, by its last attempt. A retried task appears in
-- TASK_HISTORY once per attempt (ATTEMPT_NUMBER), so only each task's last attempt counts:
-- a retry that succeeded is a success. The tasks the run should have had are the graph
-- itself, as TASK_DEPENDENTS lists it from the root (the root first, then every task
-- after it; the finalizer, which is not AFTER any task, is left out by name): a task of
-- the graph missing from TASK_HISTORY for this run (suspended, or never reached) is
-- recorded as DID_NOT_RUN and fails the run. The finalizer may run again when the graph
-- is retried, hence MERGE. GRAPH_RUN_GROUP_ID is compared as text:
-- SYSTEM$TASK_RUNTIME_INFO returns it as a string. TASK_HISTORY and TASK_DEPENDENTS answer
-- the tasks' owner, the role this task runs as (sql-reference/functions/task_history,
-- sql-reference/functions/task_dependents).
-- The snapshot: COPY_HISTORY answers this role (it holds SELECT on the raw table,
-- sql-reference/functions/copy_history); the health views of sql/85 read the snapshot,
-- never COPY_HISTORY. Its first row, with no file, marks when it was taken (loads or
-- not). Delete and insert are one transaction, so readers see the old
-- snapshot or the new one (BEGIN TRANSACTION inside a Snowflake Scripting block:
-- sql-reference/transactions). Last, amplitude_send_alerts() tells the alert channels
-- (sql/75-77) when this run failed, still fails, or recovered; it sends nothing while no
-- channel is set, and an error there fails this task, visibly. A task body may be a
-- Snowflake Scripting block (sql-reference/sql/create-task, "AS sql").
create or replace task amplitude_pipeline_finalizer
    warehouse = <% warehouse %>
    comment = 'Records how every task of the run ended, success or not'
    finalize = amplitude_pipeline_root
as
    execute immediate $$
    begin
        merge into <% database %>.ingest.amplitude_pipeline_runs as target
        using (
            select
                system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID') as run_group_id,
                sysdate() as finished_at,
                count_if(outcome.state <> 'SUCCEEDED') = 0 as succeeded,
                array_agg(
                    object_construct(
                        'task', outcome.name,
                        'state', outcome.state,
                        'attempt', outcome.attempt_number,
                        'error', outcome.error_message,
                        'return_value', outcome.return_value
                    )
                ) as tasks
            from (
                select
                    coalesce(last_attempt.name, expected.name) as name,
                    coalesce(last_attempt.state, 'DID_NOT_RUN') as state,
                    last_attempt.attempt_number,
                    iff(
                        last_attempt.name is null,
                        'not in TASK_HISTORY for this graph run: suspended, or never reached',
                        last_attempt.error_message
                    ) as error_message,
                    last_attempt.return_value
                from (
                    select dependent.name
                    from table(
                        information_schema.task_dependents(
                            task_name => '<% database %>.ingest.amplitude_pipeline_root',
                            recursive => true
                        )
                    ) as dependent
                    where dependent.name <> 'AMPLITUDE_PIPELINE_FINALIZER'
                ) as expected
                full outer join (
                    select
                        history.name,
                        history.state,
                        history.attempt_number,
                        history.error_message,
                        history.return_value
                    from table(
                        information_schema.task_history(
                            scheduled_time_range_start => dateadd(day, -1, current_timestamp()),
                            result_limit => 1000
                        )
                    ) as history
                    where
                        to_varchar(history.graph_run_group_id)
                        = system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID')
                        and history.name <> 'AMPLITUDE_PIPELINE_FINALIZER'
                    qualify row_number() over (
                        partition by history.name
                        order by history.attempt_number desc, history.scheduled_time desc
                    ) = 1
                ) as last_attempt
                    on last_attempt.name = expected.name
            ) as outcome
        ) as source
        on target.run_group_id = source.run_group_id
        when matched then update set
            target.finished_at = source.finished_at,
            target.succeeded = source.succeeded,
            target.tasks = source.tasks
        when not matched then insert (run_group_id, finished_at, succeeded, tasks)
            values (source.run_group_id, source.finished_at, source.succeeded, source.tasks);

        begin transaction;
        delete from <% database %>.ingest.amplitude_load_history;
        insert into <% database %>.ingest.amplitude_load_history
            (taken_at, file_name, status, row_count, first_error_message, last_load_time)
        select sysdate(), null, null, null, null, null
        union all
        select
            sysdate(),
            history.file_name,
            history.status,
            history.row_count,
            history.first_error_message,
            history.last_load_time
        from table(
            information_schema.copy_history(
                table_name => '<% database %>.RAW.AMPLITUDE_EVENTS_RAW',
                start_time => dateadd(day, -14, current_timestamp())
            )
        ) as history;
        commit;

        call <% database %>.ingest.amplitude_send_alerts();
    end;
    $$;

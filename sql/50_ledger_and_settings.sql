-- =============================================================================
-- 50  Ledger, settings and run history
-- Creates: the ledger (one row per exported hour, with the run that last wrote it), the
--          procedures' settings and the task graph's run history.
-- Run as:  the admin role, which owns them, on the deploy's warehouse; the pipeline role
--          reads and writes them.
-- Idempotent: tables `if not exists` (they hold state); the RUN_ID, lease and FAILED_RUNS
--          columns are added with ADD COLUMN IF NOT EXISTS (ALTER TABLE) to a ledger
--          created by an older version. Two calls never export the same hour at once: each claims its hours with
--          a lease (LEASE_OWNER, LEASE_EXPIRES_AT) in one MERGE.
--          Settings come in two kinds: what describes this deployment (object names,
--          region, bucket) is set on every deploy; what a user tunes (concurrency, lags,
--          budgets, timeouts) is only inserted when missing, so a re-deploy never resets a
--          tuned value. Change one with:
--            update <db>.ingest.amplitude_ingest_settings set value = '8' where name = 'concurrency';
-- =============================================================================

use role <% admin_role %>;
-- MERGE, UPDATE and DELETE below need a current warehouse the role may use (USE
-- WAREHOUSE); each `snow sql -f` is a new session and the connection need not name one:
-- the deploy's own (sql/10), which the admin role owns.
use warehouse <% warehouse %>;
use database <% database %>;
use schema ingest;

create table if not exists amplitude_ingest_ledger (
    hour timestamp_ntz not null primary key comment 'UTC hour (server_upload_time)',
    status varchar not null comment 'pending, done, empty, failed or given_up',
    files number not null,
    events number not null,
    bytes number not null,
    rejected_lines number not null comment 'Lines quarantined under _quarantine/',
    attempts number not null,
    error varchar,
    stage_keys varchar comment 'JSON array of the stage keys written for the hour',
    updated_at timestamp_ntz not null,
    run_id varchar comment 'The ingest_amplitude() call that last wrote this row',
    lease_owner varchar comment 'The call exporting the hour right now (none when idle)',
    lease_expires_at timestamp_ntz comment 'When that lease lapses if its call was killed',
    failed_runs number default 0 comment 'Calls in a row that failed the hour; given up at the limit'
)
comment = 'What ingest_amplitude() exported, hour by hour; the watermark it resumes from';

alter table amplitude_ingest_ledger add column if not exists run_id varchar
    comment 'The ingest_amplitude() call that last wrote this row';
alter table amplitude_ingest_ledger add column if not exists lease_owner varchar
    comment 'The call exporting the hour right now (none when idle)';
alter table amplitude_ingest_ledger add column if not exists lease_expires_at timestamp_ntz
    comment 'When that lease lapses if its call was killed';
-- An hour that failed in give_up_after_failed_runs calls is given up (status given_up):
-- runs stop planning it, so it cannot fail every run; `force` exports it again.
alter table amplitude_ingest_ledger add column if not exists failed_runs number default 0
    comment 'Calls in a row that failed the hour; given up at the limit';

create table if not exists amplitude_ingest_settings (
    name varchar not null primary key,
    value varchar
)
comment = 'Settings read by the Amplitude procedures on every call';

-- What describes this deployment: fully qualified names, so a procedure never depends on
-- the caller's current database or schema.
merge into amplitude_ingest_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('stage', '<% database | upper %>.INGEST.AMPLITUDE_STAGE'),
        ('ledger_table', '<% database | upper %>.INGEST.AMPLITUDE_INGEST_LEDGER'),
        ('raw_table', '<% database | upper %>.RAW.AMPLITUDE_EVENTS_RAW'),
        ('pipe', '<% database | upper %>.INGEST.AMPLITUDE_EVENTS_PIPE'),
        ('storage_integration', 'AMPLITUDE_S3'),
        ('external_access_integration', 'AMPLITUDE_EXPORT_ACCESS'),
        ('secret', '<% database | upper %>.INGEST.AMPLITUDE_API_CREDENTIALS'),
        ('ingest_procedure', '<% database | upper %>.INGEST.INGEST_AMPLITUDE(VARCHAR, VARCHAR, BOOLEAN, VARCHAR)'),
        ('marker_cleanup_procedure', '<% database | upper %>.INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS'),
        ('storage_check_procedure', '<% database | upper %>.INGEST.AMPLITUDE_CHECK_STORAGE_INTEGRATION'),
        ('dbt_project', '<% database | upper %>.INGEST.AMPLITUDE_DBT'),
        ('dbt_version', '<% dbt_version %>'),
        ('task_schema', '<% database | upper %>.INGEST'),
        ('root_task', 'AMPLITUDE_PIPELINE_ROOT'),
        ('s3_url', '<% s3_url %>'),
        ('export_host', '<% amplitude_host %>'),
        ('region', '<% amplitude_region %>'),
        ('project', '<% amplitude_project %>')
) as source
on target.name = source.name
when matched then update set target.value = source.value
when not matched then insert (name, value) values (source.name, source.value);

-- max_hours was called max_hours_per_call before: keep a value a user tuned under the old
-- name (the procedure rejects names it does not know).
update amplitude_ingest_settings
set name = 'max_hours'
where
    name = 'max_hours_per_call'
    and not exists (select 1 from amplitude_ingest_settings where name = 'max_hours');
delete from amplitude_ingest_settings where name = 'max_hours_per_call';

-- What a user tunes: inserted once, never overwritten by a deploy.
merge into amplitude_ingest_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('concurrency', '4'),
        ('lag_hours', '3'),
        ('max_hours', '168'),
        ('time_budget_seconds', '2700'),
        ('wait_timeout_seconds', '900'),
        ('wait_poll_seconds', '20'),
        ('doctor_round_trip_seconds', '240')
) as source
on target.name = source.name
when not matched then insert (name, value) values (source.name, source.value);

create table if not exists amplitude_pipeline_runs (
    run_group_id varchar not null primary key,
    finished_at timestamp_ntz not null,
    succeeded boolean not null,
    tasks variant comment 'Each task, its last attempt: name, state, attempt, error, return value'
)
comment = 'One row per run of the task graph, written (and rewritten on retry) by its finalizer';

-- What COPY_HISTORY said about the raw table's loads (14 days), as the finalizer last saw
-- it. COPY_HISTORY answers only a role with MONITOR on the account or a privilege on the
-- table (sql-reference/functions/copy_history), and whether it answers a reader through a
-- view is not documented: the health views (sql/85) read this snapshot instead, and show
-- its age, so a graph that stopped running never looks healthy. Each snapshot replaces
-- the last; its one row with a null FILE_NAME marks when it was taken.
create table if not exists amplitude_load_history (
    taken_at timestamp_ntz not null comment 'When the finalizer took this snapshot (UTC)',
    file_name varchar comment 'As COPY_HISTORY gives it; null in the row that marks the snapshot',
    status varchar comment 'Loaded, Load failed, Partially loaded, ...',
    row_count number,
    first_error_message varchar,
    last_load_time timestamp_ltz
)
comment = 'The latest snapshot of COPY_HISTORY for the raw table, written by the finalizer';

-- The ledger's MERGE (Snowpark Table.merge) needs SELECT, INSERT and UPDATE; the
-- finalizer's MERGE into the run history the same, and its snapshot DELETE and INSERT.
grant select, insert, update on table amplitude_ingest_ledger to role <% pipeline_role %>;
grant select on table amplitude_ingest_settings to role <% pipeline_role %>;
grant select, insert, update on table amplitude_pipeline_runs to role <% pipeline_role %>;
grant insert, delete on table amplitude_load_history to role <% pipeline_role %>;

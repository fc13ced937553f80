-- =============================================================================
-- 50  Ledger, settings and run history
-- Creates: the ledger (one row per exported hour), the procedure's settings and the
--          task graph's run history.
-- Run as:  the admin role; the pipeline role reads and writes them.
-- Idempotent: tables `if not exists` (they hold state); settings are merged, so a
--          re-run updates values without duplicating rows.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;

create table if not exists amplitude_ingest_ledger (
    hour timestamp_ntz not null primary key comment 'UTC hour (server_upload_time)',
    status varchar not null comment 'pending, done, empty or failed',
    files number not null,
    events number not null,
    bytes number not null,
    rejected_lines number not null comment 'Lines quarantined under _quarantine/',
    attempts number not null,
    error varchar,
    stage_keys varchar comment 'JSON array of the stage keys written for the hour',
    updated_at timestamp_ntz not null
)
comment = 'What ingest_amplitude() exported, hour by hour; the watermark it resumes from';

create table if not exists amplitude_ingest_settings (
    name varchar not null primary key,
    value varchar
)
comment = 'Settings read by ingest_amplitude() on every call';

merge into amplitude_ingest_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('stage', 'AMPLITUDE_STAGE'),
        ('ledger_table', 'AMPLITUDE_INGEST_LEDGER'),
        ('region', '<% amplitude_region %>'),
        ('project', '<% amplitude_project %>'),
        ('concurrency', '4'),
        ('lag_hours', '3'),
        ('max_hours_per_call', '168'),
        ('time_budget_seconds', '2700')
) as source
on target.name = source.name
when matched then update set target.value = source.value
when not matched then insert (name, value) values (source.name, source.value);

create table if not exists amplitude_pipeline_runs (
    run_group_id varchar not null primary key,
    finished_at timestamp_ntz not null,
    succeeded boolean not null,
    tasks variant comment 'Each task: name, state, error, return value'
)
comment = 'One row per run of the task graph, written by its finalizer';

grant select, insert, update on table amplitude_ingest_ledger to role <% pipeline_role %>;
grant select on table amplitude_ingest_settings to role <% pipeline_role %>;
grant select, insert on table amplitude_pipeline_runs to role <% pipeline_role %>;

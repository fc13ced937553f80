-- =============================================================================
-- Amplitude connector (Native App): the setup script
-- Runs:     as the app itself, on every CREATE APPLICATION and every upgrade (`snow app
--           run`, ALTER APPLICATION ... UPGRADE). Nothing here is run by hand.
-- Creates:  application roles app_reader and app_admin; schemas code (versioned:
--           procedures and the Streamlit), state (settings, ledger, run and load history,
--           forget requests, the internal stage, the file format, the tasks) and data (the
--           raw table and the reader views); the warehouse the tasks and the Streamlit run
--           on; the network rule, the secret, the external access integration and its app
--           specification; the task graph, suspended.
-- Rules this script keeps (developer-guide/native-apps/creating-setup-script): no USE
--           statement, no EXECUTE AS CALLER, IMPORTS only from files in the package (paths
--           starting with '/'), no call of code outside the package. Tasks, application
--           roles and grants live outside the versioned schema
--           (developer-guide/native-apps/versioned-schema).
-- Upgrades: every statement is safe to run again. What holds data or state is created
--           `if not exists` (a replace would lose rows, the consumer's key pair, the
--           approval or a resumed schedule); what is pure definition (views, procedures,
--           the Streamlit) is `or replace`; the versioned schema is `or alter`.
-- tests/unit/test_native_app_setup_script.py checks all of this statement by statement.
-- =============================================================================


-- ---- 1. Application roles ------------------------------------------------------
-- app_reader: reads the raw table, the ledger, the run and load history and the health
-- views, and opens the Streamlit. app_admin: all of that, plus settings, credentials,
-- schedule, forget and the doctor. Both are granted to the role that installed the app
-- (creating-setup-script, "Application roles"); the consumer grants app_reader on to the
-- role that runs dbt (README, "Deploy as a Native App").
create application role if not exists app_reader;
create application role if not exists app_admin;
grant application role app_reader to application role app_admin;


-- ---- 2. Schemas ----------------------------------------------------------------
-- code is versioned: its procedures and Streamlit are replaced with each version, and a
-- consumer mid-call keeps the version it started on (developer-guide/native-apps/
-- versioned-schema). state and data are plain: they hold rows across versions.
create or alter versioned schema code;
create schema if not exists state;
create schema if not exists data;

grant usage on schema code to application role app_reader;
grant usage on schema state to application role app_reader;
grant usage on schema data to application role app_reader;


-- ---- 3. Warehouse --------------------------------------------------------------
-- The tasks and the Streamlit run on a small warehouse the app creates (manifest:
-- CREATE WAREHOUSE, granted at install with manifest_version 2: developer-guide/
-- native-apps/requesting-auto-privs). Serverless tasks may call Python procedures
-- (user-guide/tasks-python-jvm), but no page says a serverless task of an app may reach
-- an external access integration, and the Streamlit needs a warehouse anyway.
-- `if not exists`: a consumer who resized it keeps the size across upgrades.
create warehouse if not exists amplitude_connector_wh
    warehouse_size = xsmall
    auto_suspend = 60
    auto_resume = true
    initially_suspended = true
    comment = 'Amplitude connector: its tasks and its Streamlit';


-- ---- 4. Settings ---------------------------------------------------------------
-- The same name/value rows the procedures read in the S3 form (amplitude_ingest/
-- in_snowflake/ingest.py, ProcedureConfig). Defaults are inserted only where a row is
-- missing, so an upgrade never overwrites what the consumer set. `region` picks the
-- Amplitude host: change it with CALL code.amplitude_set_region('eu') (step 8).
create table if not exists state.amplitude_ingest_settings (
    name varchar not null primary key,
    value varchar
)
comment = 'Settings read by the Amplitude procedures on every call';

merge into state.amplitude_ingest_settings as target
using (
    select
        column1 as name,
        column2 as value
    from values
        ('stage', 'STATE.EVENTS_STAGE'),
        ('ledger_table', 'STATE.AMPLITUDE_INGEST_LEDGER'),
        ('raw_table', 'DATA.AMPLITUDE_EVENTS_RAW'),
        ('file_format', 'STATE.AMPLITUDE_JSON'),
        ('run_history_table', 'STATE.AMPLITUDE_RUN_HISTORY'),
        ('load_history_table', 'STATE.AMPLITUDE_LOAD_HISTORY'),
        ('forget_requests_table', 'STATE.AMPLITUDE_FORGET_REQUESTS'),
        ('stage_rewrites_table', 'STATE.AMPLITUDE_STAGE_REWRITES'),
        ('external_access_integration', 'AMPLITUDE_EXPORT_ACCESS'),
        ('secret', 'STATE.AMPLITUDE_API_CREDENTIALS'),
        ('task_schema', 'STATE'),
        ('root_task', 'AMPLITUDE_INGEST_ROOT'),
        ('schedule_cron', '15 * * * *'),
        ('region', 'us'),
        ('export_host', 'amplitude.com'),
        ('project', 'default'),
        ('concurrency', '4'),
        ('lag_hours', '3'),
        ('max_hours', '168'),
        ('time_budget_seconds', '2700'),
        ('forget_rows_procedure', 'CODE.AMPLITUDE_FORGET_ROWS'),
        -- Well below COPY's 64-day load metadata (the retention procedure allows at most
        -- 56): a file removed before then can never be seen by COPY again, so it can
        -- never load twice (sql-reference/sql/copy-into-table, "Load metadata").
        ('stage_retention_days', '7')
) as source
    on target.name = source.name
when not matched then insert (name, value) values (source.name, source.value);

grant select, insert, update on table state.amplitude_ingest_settings
to application role app_admin;


-- ---- 5. State: ledger, run history, load history, forget requests ---------------
-- The ledger has the S3 form's columns (sql/50_ledger_and_settings.sql), so the same
-- ledger code (in_snowflake/ledger_table.py) reads and writes it.
create table if not exists state.amplitude_ingest_ledger (
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

-- One row per step of a run: the task graph's (step 'graph', written by the finalizer)
-- and each procedure's own (ingest, load, retention, set_credentials, schedule,
-- specification): what the S3 form's finalizer and health views read.
create table if not exists state.amplitude_run_history (
    run_id varchar not null comment 'Task graph run group id, or the call''s run id',
    step varchar not null comment 'graph, ingest, load, retention, set_credentials, schedule, specification',
    started_at timestamp_ntz comment 'UTC',
    ended_at timestamp_ntz comment 'UTC; null while running',
    status varchar not null comment 'SUCCEEDED or FAILED; the callback and schedule steps say what happened',
    summary variant comment 'graph: each task (name, state, attempt, error, return value)',
    first_error varchar comment 'The first failed task or step and its error',
    primary key (run_id, step)
)
comment = 'One row per step of a run of the task graph or of a CALL';

-- Written by code.amplitude_load() from each COPY's own result (no COPY_HISTORY: the app
-- knows what it loaded).
create table if not exists state.amplitude_load_history (
    file_name varchar not null comment 'Stage path of the file',
    status varchar not null comment 'LOADED, LOAD_FAILED, PARTIALLY_LOADED, ...',
    rows_parsed number,
    rows_loaded number,
    first_error varchar,
    loaded_at timestamp_ntz not null comment 'UTC',
    run_id varchar comment 'The run whose load step copied it'
)
comment = 'Every file COPY reported on, with its result';

-- The S3 form's raw.amplitude_forget_requests and raw.amplitude_stage_rewrites
-- (sql/55_forget.sql), so amplitude_forget() works the same.
create table if not exists state.amplitude_forget_requests (
    request_id varchar not null primary key comment 'Derived from the kind and the hash: one row per id',
    requested_at timestamp_ntz not null comment 'First request, UTC',
    id_kind varchar not null comment 'amplitude_id, user_id or device_id',
    id_sha256 varchar not null comment 'Lowercase hex SHA-256 of the id as the events hold it',
    raw_rows_deleted number not null comment 'The user''s raw rows deleted',
    stage_files_rewritten number not null comment 'events/ files rewritten without the user',
    quarantine_lines_removed number not null comment 'The user''s lines removed from _quarantine/'
)
comment = 'Privacy requests: users forgotten by amplitude_forget() (the id only as a hash)';

create table if not exists state.amplitude_stage_rewrites (
    file_name varchar not null primary key comment 'Stage key of the file as it was written',
    rewritten_to varchar comment 'The key that replaces it now (null: nothing was left)',
    request_id varchar not null comment 'The forget request that rewrote it',
    lines_removed number not null,
    rewritten_at timestamp_ntz not null
)
comment = 'Stage files rewritten by amplitude_forget(): replaced, not lost';

grant select on table state.amplitude_ingest_ledger to application role app_reader;
grant select on table state.amplitude_run_history to application role app_reader;
grant select on table state.amplitude_load_history to application role app_reader;
grant select on table state.amplitude_forget_requests to application role app_admin;


-- ---- 6. Internal stage and file format ------------------------------------------
-- The procedure writes parts with put_stream to this stage; the load step copies them.
-- Server-side encryption, so the stage's files can be read by COPY and by the forget
-- rewrite alike (sql-reference/sql/create-stage, internal stage parameters). `if not
-- exists`: a replace would drop every staged file and COPY's load metadata with it.
create stage if not exists state.events_stage
    encryption = (type = 'SNOWFLAKE_SSE')
    comment = 'Export parts (events/, _quarantine/) written by ingest_amplitude()';

-- The S3 form's options (sql/30_storage.sql). `if not exists`, then ALTER sets the
-- options on every upgrade without replacing the object.
create file format if not exists state.amplitude_json
    type = json
    compression = auto
    strip_outer_array = false
    comment = 'One Amplitude event per line (.json or .json.gz)';

alter file format state.amplitude_json set
    compression = auto
    strip_outer_array = false;


-- ---- 7. Data: the raw table and the reader views ---------------------------------
-- The S3 form's raw table (sql/40_raw_table_and_pipe.sql), so the dbt project reads it
-- with only its vars changed (amplitude_raw_database/schema/table).
create table if not exists data.amplitude_events_raw (
    raw_json variant not null comment 'The event exactly as exported',
    file_name varchar not null comment 'Stage path of the file (METADATA$FILENAME)',
    file_row_number number not null comment 'Line in the file (METADATA$FILE_ROW_NUMBER)',
    loaded_at timestamp_ntz not null comment 'Load time, UTC (METADATA$START_SCAN_TIME)'
)
comment = 'Raw Amplitude Export API events; deduplicated downstream by dbt';

-- Change tracking, so a consumer may follow the loads with a stream of its own instead of
-- a schedule offset (README, "Deploy as a Native App"). Only a table's owner can enable
-- it (user-guide/streams-manage, "Enabling change tracking"): the app, here.
alter table data.amplitude_events_raw set change_tracking = true;

grant select on table data.amplitude_events_raw to application role app_reader;

-- One row: how far the ledger is, the last run, the files that failed to load.
create or replace view data.amplitude_pipeline_health
comment = 'Ledger, last run and load failures of the Amplitude connector, in one row'
as
with ledger as (
    select
        count_if(hours.status = 'done') as hours_done,
        count_if(hours.status = 'empty') as hours_empty,
        count_if(hours.status = 'failed') as hours_failed,
        count_if(hours.status = 'given_up') as hours_given_up,
        count_if(hours.status = 'pending') as hours_pending,
        max(iff(hours.status in ('done', 'empty'), hours.hour, null)) as watermark_hour,
        sum(hours.events) as events_exported,
        sum(hours.rejected_lines) as lines_quarantined
    from state.amplitude_ingest_ledger as hours
),

last_run as (
    select
        runs.run_id as last_run_id,
        runs.started_at as last_run_started_at,
        runs.ended_at as last_run_ended_at,
        runs.status as last_run_status,
        runs.first_error as last_run_error
    from state.amplitude_run_history as runs
    where runs.step in ('graph', 'ingest', 'load')
    qualify row_number() over (order by runs.started_at desc nulls last) = 1
),

last_success as (
    select max(runs.ended_at) as last_success_at
    from state.amplitude_run_history as runs
    where runs.step in ('graph', 'ingest', 'load') and runs.status = 'SUCCEEDED'
),

loads as (
    select
        count_if(history.status = 'LOADED') as files_loaded_7d,
        count_if(history.status <> 'LOADED') as files_failed_7d,
        sum(history.rows_loaded) as rows_loaded_7d
    from state.amplitude_load_history as history
    where history.loaded_at >= dateadd(day, -7, sysdate())
)

select
    ledger.hours_done,
    ledger.hours_empty,
    ledger.hours_failed,
    ledger.hours_given_up,
    ledger.hours_pending,
    ledger.watermark_hour,
    ledger.events_exported,
    ledger.lines_quarantined,
    last_run.last_run_id,
    last_run.last_run_started_at,
    last_run.last_run_ended_at,
    last_run.last_run_status,
    last_run.last_run_error,
    last_success.last_success_at,
    loads.files_loaded_7d,
    loads.files_failed_7d,
    loads.rows_loaded_7d
from ledger
left join last_run on true
left join last_success on true
left join loads on true;

-- Every failure a person should hear about, one row each: the view a consumer's own
-- ALERT watches (README, "Deploy as a Native App"), since no page documents an app
-- creating a notification integration.
create or replace view data.amplitude_failures
comment = 'Failed runs, files that failed to load and hours that failed to export'
as
select
    'run' as failure_kind,
    runs.run_id as subject,
    coalesce(runs.ended_at, runs.started_at) as failed_at,
    runs.step || ': ' || coalesce(runs.first_error, 'failed') as detail
from state.amplitude_run_history as runs
where runs.status = 'FAILED'
union all
select
    'load' as failure_kind,
    history.file_name as subject,
    history.loaded_at as failed_at,
    history.first_error as detail
from state.amplitude_load_history as history
where history.status <> 'LOADED'
union all
select
    'hour' as failure_kind,
    to_varchar(hours.hour, 'YYYY-MM-DD"T"HH24') as subject,
    hours.updated_at as failed_at,
    hours.error as detail
from state.amplitude_ingest_ledger as hours
where hours.status in ('failed', 'given_up');

grant select on view data.amplitude_pipeline_health to application role app_reader;
grant select on view data.amplitude_failures to application role app_reader;


-- ---- 8. External access: network rule, secret, integration, app specification -----
-- The method Snowflake recommends for apps (developer-guide/native-apps/
-- requesting-app-specs-eai): the app holds CREATE EXTERNAL ACCESS INTEGRATION (manifest),
-- creates the rule and the integration, and asks the consumer to approve exactly the
-- rule's hosts; nothing reaches Amplitude until the consumer approves.
-- The rule is created for the default region (the `region` setting, 'us') and kept on
-- upgrade (`if not exists`); code.amplitude_apply_region() below sets its hosts and the
-- specification's from the `region` setting, on install, on upgrade and when the
-- consumer changes region. VALUE_LIST takes no wildcards (developer-guide/
-- external-network-access/external-network-access-limitations).
create network rule if not exists state.amplitude_export_rule
    mode = egress
    type = host_port
    value_list = ('amplitude.com:443')
    comment = 'Amplitude Export API host for the region in the settings table';

-- A PASSWORD secret (username = project API key, password = secret key), created with
-- placeholders and set by the consumer through code.amplitude_set_credentials() or the
-- Streamlit; `if not exists`, so an upgrade never resets the key pair. The doctor reports
-- the placeholder as "no key pair set".
create secret if not exists state.amplitude_api_credentials
    type = password
    username = 'not-set'
    password = 'not-set'
    comment = 'Amplitude project API key (username) and secret key (password)';

-- An integration the app owns (requesting-app-specs-eai). `if not exists`, then ALTER
-- sets its rule and secret: replacing it would drop the procedures' hold on it.
create external access integration if not exists amplitude_export_access
    allowed_network_rules = (state.amplitude_export_rule)
    allowed_authentication_secrets = (state.amplitude_api_credentials)
    enabled = true
    comment = 'Lets the Amplitude connector reach the Export API of its region, and nothing else';

alter external access integration amplitude_export_access set
    allowed_network_rules = (state.amplitude_export_rule)
    allowed_authentication_secrets = (state.amplitude_api_credentials)
    enabled = true;

-- Sets the rule's hosts and the app specification's HOST_PORTS from the `region`
-- setting: one literal pair per region, the same hosts in both statements
-- (amplitude_ingest/config.py, Region.base_url). Changing HOST_PORTS asks the consumer to
-- approve again (sql-reference/sql/alter-application-set-app-spec). An app can run ALTER
-- APPLICATION SET SPECIFICATION at runtime, not only in the setup script
-- (requesting-app-specs-eai). Owner's rights: the only kind an app may create.
create or replace procedure code.amplitude_apply_region()
returns varchar
language sql
execute as owner
comment = 'Points the network rule and the app specification at the region''s Amplitude host'
as
$$
declare
    region varchar default '';
    unknown_region exception (-20001, 'The region setting must be us or eu: CALL code.amplitude_set_region(''us'') or (''eu'').');
begin
    select lower(settings.value) into :region
    from state.amplitude_ingest_settings as settings
    where settings.name = 'region';
    if (region = 'us') then
        alter network rule state.amplitude_export_rule set value_list = ('amplitude.com:443');
        alter application set specification amplitude_export_access
            type = external_access
            label = 'Amplitude Export API'
            description = 'Reads your Amplitude project''s events from the Export API (HTTPS, US data region)'
            host_ports = ('amplitude.com:443');
        update state.amplitude_ingest_settings
        set value = 'amplitude.com'
        where name = 'export_host';
    elseif (region = 'eu') then
        alter network rule state.amplitude_export_rule set value_list = ('analytics.eu.amplitude.com:443');
        alter application set specification amplitude_export_access
            type = external_access
            label = 'Amplitude Export API'
            description = 'Reads your Amplitude project''s events from the Export API (HTTPS, EU data region)'
            host_ports = ('analytics.eu.amplitude.com:443');
        update state.amplitude_ingest_settings
        set value = 'analytics.eu.amplitude.com'
        where name = 'export_host';
    else
        raise unknown_region;
    end if;
    return 'Amplitude host set for region ' || region || ' (approve the app specification if Snowsight asks again)';
end;
$$;

-- The consumer's way to change region (app_admin): records the setting, then applies it.
create or replace procedure code.amplitude_set_region(region varchar)
returns varchar
language sql
execute as owner
comment = 'Sets the Amplitude data region (us or eu) and re-points the network rule'
as
$$
declare
    unknown_region exception (-20001, 'region must be us or eu');
begin
    if (lower(region) not in ('us', 'eu')) then
        raise unknown_region;
    end if;
    merge into state.amplitude_ingest_settings as target
    using (select 'region' as name, lower(:region) as value) as source
        on target.name = source.name
    when matched then update set target.value = source.value
    when not matched then insert (name, value) values (source.name, source.value);
    call code.amplitude_apply_region();
    return 'Region set to ' || lower(region) || ': approve the app specification again in Snowsight';
end;
$$;

call code.amplitude_apply_region();

grant usage on procedure code.amplitude_set_region(varchar) to application role app_admin;


-- ---- 9. The procedures -----------------------------------------------------------
-- Handlers in amplitude_ingest/in_snowflake/native_app/ (helper i17-procs), imported
-- from the package's own files (IMPORTS paths start with '/': creating-setup-script).
-- The whole package folder is one import, so its sub-packages keep their places.
-- Owner's rights throughout (app procedures cannot be EXECUTE AS CALLER). PACKAGES: the
-- names of requirements.txt, from Snowflake's Anaconda channel (the whole package is
-- imported, so every procedure gets every runtime dependency of it).
create or replace procedure code.ingest_amplitude(
    start_hour varchar default null,
    end_hour varchar default null,
    force boolean default false
)
returns variant
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.ingest_step.ingest_amplitude'
external_access_integrations = (amplitude_export_access)
secrets = ('amplitude_credentials' = state.amplitude_api_credentials)
execute as owner
comment = 'Exports the hours Amplitude has ready into @state.events_stage';

create or replace procedure code.amplitude_load()
returns variant
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.load_step.amplitude_load'
execute as owner
comment = 'COPY INTO data.amplitude_events_raw from the stage; records every file''s result';

create or replace procedure code.amplitude_doctor()
returns table (check_name varchar, status varchar, detail varchar, fix varchar)
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.doctor_checks.amplitude_doctor'
external_access_integrations = (amplitude_export_access)
secrets = ('amplitude_credentials' = state.amplitude_api_credentials)
execute as owner
comment = 'Every check the schedule needs to pass, with what to do when one fails';

create or replace procedure code.amplitude_set_credentials(api_key varchar, secret_key varchar)
returns varchar
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.credentials.amplitude_set_credentials'
execute as owner
comment = 'Stores the Amplitude key pair in the app''s secret; never echoes it';

create or replace procedure code.amplitude_start_schedule()
returns varchar
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.schedule.amplitude_start_schedule'
-- No integration, no secret: it weighs CALL code.amplitude_doctor()'s rows, and the
-- doctor probes Amplitude with its own.
execute as owner
comment = 'Resumes the task graph once the spec is approved, the key pair set and the doctor passes';

create or replace procedure code.amplitude_stop_schedule()
returns varchar
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.schedule.amplitude_stop_schedule'
execute as owner
comment = 'Suspends the task graph''s root';

create or replace procedure code.amplitude_forget(id_kind varchar, id varchar)
returns variant
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.forget_step.amplitude_forget'
execute as owner
comment = 'Forgets one user: their raw rows and their lines in every staged file';

create or replace procedure code.amplitude_apply_retention()
returns variant
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.retention.amplitude_apply_retention'
execute as owner
comment = 'Removes loaded files older than stage_retention_days from the stage';

-- The after_specification_change lifecycle callback (manifest.yml; developer-guide/
-- native-apps/callbacks): asynchronous, so its signature carries no status; the handler
-- reads SHOW SPECIFICATIONS. Callbacks need no grant to any application role (callbacks,
-- "Permissions"): the framework calls it, and no role can.
create or replace procedure code.on_specification_change()
returns varchar
language python
runtime_version = '3.11'
packages = ('snowflake-snowpark-python', 'requests', 'urllib3', 'tenacity', 'pydantic')
imports = ('/amplitude_ingest/')
handler = 'amplitude_ingest.in_snowflake.native_app.specification.on_specification_change'
execute as owner
comment = 'Records an approved or declined app specification; a decline stops the schedule';

-- The rows half of a forget (amplitude_forget() calls it through the
-- forget_rows_procedure setting): sql/55_forget.sql's amplitude_forget_rows() over the
-- app's tables, statement for statement (tests/unit/test_native_app_setup_script.py holds
-- the two bodies equal). Granted to no role: only amplitude_forget() calls it.
create or replace procedure code.amplitude_forget_rows(
    request_id varchar, id_kind varchar, id_sha256 varchar
)
returns variant
language sql
execute as owner
comment = 'Records a forget request; deletes the raw rows of its id hash and of its rewritten files, only those. Takes the hash, never the id: a CALL''s arguments stay in query history'
as
$$
declare
    deleted number default 0;
    replaced number default 0;
    outcome variant default null;
    bad_request exception (-20001, 'id_kind must be amplitude_id, user_id or device_id, and id_sha256 64 lowercase hex digits');
begin
    if (not (:id_kind in ('amplitude_id', 'user_id', 'device_id'))
        or not regexp_like(:id_sha256, '[0-9a-f]{64}')) then
        raise bad_request;
    end if;
    insert into state.amplitude_forget_requests
        (request_id, requested_at, id_kind, id_sha256, raw_rows_deleted,
         stage_files_rewritten, quarantine_lines_removed)
    select :request_id, sysdate(), :id_kind, :id_sha256, 0, 0, 0
    where not exists (
        select 1 from state.amplitude_forget_requests
        where request_id = :request_id
    );
    -- A path per kind, not get(raw_json, :id_kind): each is a plain `:path::varchar`, a
    -- string without its JSON quotes, a number as its decimal text (the hash's input).
    delete from data.amplitude_events_raw
    where sha2(
        case :id_kind
            when 'amplitude_id' then raw_json:amplitude_id::varchar
            when 'user_id' then raw_json:user_id::varchar
            else raw_json:device_id::varchar
        end, 256
    ) = :id_sha256;
    deleted := sqlrowcount;
    -- What is left of each rewritten file: its new file, under a new path, is loaded by
    -- the load step like any other, so these rows are replaced, not loaded twice.
    delete from data.amplitude_events_raw as raw_rows
    using state.amplitude_stage_rewrites as rewrites
    where
        rewrites.request_id = :request_id
        and startswith(rewrites.file_name, 'events/')
        and (raw_rows.file_name = rewrites.file_name
            or endswith(raw_rows.file_name, '/' || rewrites.file_name));
    replaced := sqlrowcount;
    update state.amplitude_forget_requests
    set
        raw_rows_deleted = raw_rows_deleted + :deleted,
        stage_files_rewritten = (
            select count(*) from state.amplitude_stage_rewrites
            where request_id = :request_id and startswith(file_name, 'events/')
        ),
        quarantine_lines_removed = (
            select coalesce(sum(lines_removed), 0) from state.amplitude_stage_rewrites
            where request_id = :request_id and startswith(file_name, '_quarantine/')
        )
    where request_id = :request_id;
    select
        object_construct(
            'raw_rows_deleted', raw_rows_deleted,
            'raw_rows_deleted_now', :deleted,
            'rows_of_rewritten_files_removed', :replaced,
            'stage_files_rewritten', stage_files_rewritten,
            'quarantine_lines_removed', quarantine_lines_removed
        )
    into :outcome
    from state.amplitude_forget_requests
    where request_id = :request_id;
    return outcome;
end;
$$;

grant usage on procedure code.ingest_amplitude(varchar, varchar, boolean)
to application role app_admin;
grant usage on procedure code.amplitude_load() to application role app_admin;
grant usage on procedure code.amplitude_doctor() to application role app_admin;
grant usage on procedure code.amplitude_set_credentials(varchar, varchar)
to application role app_admin;
grant usage on procedure code.amplitude_start_schedule() to application role app_admin;
grant usage on procedure code.amplitude_stop_schedule() to application role app_admin;
grant usage on procedure code.amplitude_forget(varchar, varchar) to application role app_admin;
grant usage on procedure code.amplitude_apply_retention() to application role app_admin;


-- ---- 10. The task graph, suspended -----------------------------------------------
-- root (cron) -> load -> finalizer, in the plain schema state (tasks cannot live in a
-- versioned schema: versioned-schema). Created suspended (sql-reference/sql/create-task);
-- code.amplitude_start_schedule() resumes them once the consumer has approved the
-- specification, set the key pair and the doctor passes. `if not exists` for each task:
-- CREATE OR REPLACE would suspend a running schedule on every upgrade; the bodies call
-- procedures by name, so a new version changes what they run without touching them.
-- The cron is the `schedule_cron` default; code.amplitude_start_schedule() applies the
-- setting (ALTER TASK ... SET SCHEDULE) before resuming.
create task if not exists state.amplitude_ingest_root
    warehouse = amplitude_connector_wh
    schedule = 'USING CRON 15 * * * * UTC'
    task_auto_retry_attempts = 2
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 3600000
    comment = 'Exports the hours Amplitude has ready since the last run'
as
    call code.ingest_amplitude();

create task if not exists state.amplitude_load
    warehouse = amplitude_connector_wh
    suspend_task_after_num_failures = 0
    user_task_timeout_ms = 1800000
    comment = 'Loads the files the export wrote into data.amplitude_events_raw'
    after state.amplitude_ingest_root
as
    call code.amplitude_load();

-- Records how every task of the run ended (success or not) in state.amplitude_run_history,
-- then removes loaded files past their retention.
create task if not exists state.amplitude_finalize
    warehouse = amplitude_connector_wh
    comment = 'Records the run and applies the stage retention'
    finalize = state.amplitude_ingest_root
as
    execute immediate $$
    begin
        merge into state.amplitude_run_history as target
        using (
            select
                system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID') as run_id,
                'graph' as step,
                min(history.query_start_time)::timestamp_ntz as started_at,
                sysdate() as ended_at,
                iff(count_if(history.state <> 'SUCCEEDED') = 0, 'SUCCEEDED', 'FAILED') as status,
                array_agg(
                    object_construct(
                        'task', history.name,
                        'state', history.state,
                        'attempt', history.attempt_number,
                        'error', history.error_message,
                        'return_value', history.return_value
                    )
                ) as summary,
                min(iff(history.state <> 'SUCCEEDED', history.name || ': ' || history.error_message, null))
                    as first_error
            from table(
                information_schema.task_history(
                    scheduled_time_range_start => dateadd(day, -1, current_timestamp()),
                    result_limit => 1000
                )
            ) as history
            where
                to_varchar(history.graph_run_group_id)
                = system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID')
                and history.name <> 'AMPLITUDE_FINALIZE'
            qualify row_number() over (
                partition by history.name order by history.attempt_number desc
            ) = 1
        ) as source
            on target.run_id = source.run_id and target.step = source.step
        when matched then update set
            target.ended_at = source.ended_at,
            target.status = source.status,
            target.summary = source.summary,
            target.first_error = source.first_error
        when not matched then insert (run_id, step, started_at, ended_at, status, summary, first_error)
        values (
            source.run_id, source.step, source.started_at, source.ended_at, source.status,
            source.summary, source.first_error
        );
        call code.amplitude_apply_retention();
        return 'recorded';
    end;
    $$;


-- ---- 11. The Streamlit --------------------------------------------------------------
-- The connector's face (snowpark/amplitude_dashboard/native_app.py, bundled as
-- streamlit/amplitude_app.py): status of the approval and the key pair, settings, pipeline
-- health. MAIN_FILE is a file at the root of the FROM folder (developer-guide/
-- native-apps/adding-streamlit; sql-reference/sql/create-streamlit). The readers open it.
create or replace streamlit code.amplitude_app
    from '/streamlit'
    main_file = 'amplitude_app.py'
    query_warehouse = amplitude_connector_wh
    title = 'Amplitude connector'
    comment = 'Approval, key pair, settings, schedule and pipeline health';

grant usage on streamlit code.amplitude_app to application role app_reader;

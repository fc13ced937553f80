-- =============================================================================
-- 10  Warehouse, database and schemas
-- Creates: the warehouse, the database, schemas RAW (landing), INGEST (procedure, stage,
--          pipe, ledger, tasks) and ANALYTICS (dbt's marts; dbt adds ANALYTICS_STAGING).
-- Run as:  SYSADMIN, then ownership goes to the admin role.
-- Idempotent: `if not exists`: these hold data and must never be replaced.
-- =============================================================================

use role sysadmin;

create warehouse if not exists <% warehouse %>
    warehouse_size = 'xsmall'
    auto_suspend = 60
    auto_resume = true
    initially_suspended = true
    comment = 'Amplitude pipeline: procedure, tasks and dbt';

create database if not exists <% database %>
    comment = 'Amplitude product analytics: raw events and marts';

grant ownership on database <% database %> to role <% admin_role %> copy current grants;
grant ownership on warehouse <% warehouse %> to role <% admin_role %> copy current grants;

use role <% admin_role %>;
use database <% database %>;

create schema if not exists raw comment = 'Raw Amplitude events, as loaded by the pipe';
create schema if not exists ingest comment = 'Ingest machinery: procedure, stage, pipe, tasks';
create schema if not exists analytics comment = 'dbt marts';

-- ---- least privilege for the pipeline role ------------------------------------------
grant usage on warehouse <% warehouse %> to role <% pipeline_role %>;
grant usage on database <% database %> to role <% pipeline_role %>;
grant usage on schema raw to role <% pipeline_role %>;
grant usage on schema ingest to role <% pipeline_role %>;
-- dbt creates and replaces its own schemas and relations.
grant create schema on database <% database %> to role <% pipeline_role %>;
grant usage, create table, create view on schema analytics to role <% pipeline_role %>;
-- The pipeline role owns what it deploys and runs: the procedure, the dbt project, tasks.
grant create procedure, create task, create dbt project, create stage
    on schema ingest to role <% pipeline_role %>;

-- ---- readers see the marts only ------------------------------------------------------
grant usage on warehouse <% warehouse %> to role <% reader_role %>;
grant usage on database <% database %> to role <% reader_role %>;
grant usage on schema analytics to role <% reader_role %>;
grant select on future tables in schema analytics to role <% reader_role %>;
grant select on future views in schema analytics to role <% reader_role %>;

use role accountadmin;
grant execute task on account to role <% pipeline_role %>;

-- =============================================================================
-- 10  Warehouse, database and schemas
-- Creates: the warehouse, the database, schemas RAW (landing), INGEST (procedures, stage,
--          pipe, ledger, tasks, health views) and ANALYTICS (dbt's marts; dbt creates
--          ANALYTICS_STAGING itself).
-- Run as:  SYSADMIN (warehouse, database), then the admin role, which owns them; future
--          grants as SECURITYADMIN; EXECUTE TASK as ACCOUNTADMIN.
-- Idempotent: `if not exists`: these hold data and must never be replaced.
-- =============================================================================

use role sysadmin;

create warehouse if not exists <% warehouse %>
    warehouse_size = 'xsmall'
    auto_suspend = 60
    auto_resume = true
    initially_suspended = true
    comment = 'Amplitude pipeline: procedures, tasks and dbt';

create database if not exists <% database %>
    comment = 'Amplitude product analytics: raw events and marts';

-- GRANT OWNERSHIP: the owner (here SYSADMIN, or on a re-run the admin role SYSADMIN
-- inherits) may transfer it.
grant ownership on database <% database %> to role <% admin_role %> copy current grants;
grant ownership on warehouse <% warehouse %> to role <% admin_role %> copy current grants;

use role <% admin_role %>;
use database <% database %>;

create schema if not exists raw comment = 'Raw Amplitude events, as loaded by the pipe';
create schema if not exists ingest
    comment = 'Ingest machinery: procedures, stage, pipe, ledger, tasks, health views';
create schema if not exists analytics comment = 'dbt marts';

-- ---- least privilege for the pipeline role ------------------------------------------
-- Each grant is needed by a statement replayed in tests/unit/test_privileges.py, which
-- also fails on a grant to the pipeline or reader role that nothing uses.
grant usage on warehouse <% warehouse %> to role <% pipeline_role %>;
grant usage on database <% database %> to role <% pipeline_role %>;
grant usage on schema raw to role <% pipeline_role %>;
grant usage on schema ingest to role <% pipeline_role %>;
-- dbt creates ANALYTICS_STAGING (its base view lives there) and owns what it builds.
grant create schema on database <% database %> to role <% pipeline_role %>;
grant usage, create table on schema analytics to role <% pipeline_role %>;
-- The pipeline role owns what it deploys and runs: the Python procedures (and the
-- internal stage `snow snowpark deploy` uploads them to), the dbt project, the tasks.
grant create procedure, create task, create dbt project, create stage
    on schema ingest to role <% pipeline_role %>;

-- ---- readers see the marts and the health views --------------------------------------
grant usage on warehouse <% warehouse %> to role <% reader_role %>;
grant usage on database <% database %> to role <% reader_role %>;
grant usage on schema analytics to role <% reader_role %>;
-- INGEST holds the health views (85); readers get SELECT on those views only.
grant usage on schema ingest to role <% reader_role %>;

-- Future grants in a schema need MANAGE GRANTS (or the owner of a managed access schema),
-- and owning the schema is not enough (GRANT <privileges> ... TO ROLE; Access control
-- privileges). SECURITYADMIN holds MANAGE GRANTS; the schema stays a regular one, so dbt
-- (which owns the tables it builds) keeps working as it does everywhere else.
use role securityadmin;
grant select on future tables in schema <% database %>.analytics to role <% reader_role %>;
grant select on future views in schema <% database %>.analytics to role <% reader_role %>;
-- Marts dbt built before this grant existed (a re-deploy over an older version).
grant select on all tables in schema <% database %>.analytics to role <% reader_role %>;

-- Tasks run as their owner, which needs the global EXECUTE TASK to run and resume them
-- (ALTER TASK; SYSTEM$TASK_DEPENDENTS_ENABLE).
use role accountadmin;
grant execute task on account to role <% pipeline_role %>;

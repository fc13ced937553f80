-- =============================================================================
-- 00  Roles
-- Creates: AMPLITUDE_ADMIN (owns the set-up), AMPLITUDE_PIPELINE (runs the procedure,
--          the pipe's table, the tasks and dbt), AMPLITUDE_READER (reads the marts).
-- Run as:  USERADMIN (roles) and SECURITYADMIN (grants).
-- Idempotent: `if not exists` everywhere; grants are repeatable.
-- =============================================================================

use role useradmin;

create role if not exists <% admin_role %>
    comment = 'Amplitude pipeline: set-up and ownership';
create role if not exists <% pipeline_role %>
    comment = 'Amplitude pipeline: runs ingest, loads, tasks and dbt';
create role if not exists <% reader_role %>
    comment = 'Amplitude pipeline: reads the marts';

use role securityadmin;

-- reader < pipeline < admin < sysadmin: each role can do what the one below it can.
grant role <% reader_role %> to role <% pipeline_role %>;
grant role <% pipeline_role %> to role <% admin_role %>;
grant role <% admin_role %> to role sysadmin;

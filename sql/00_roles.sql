-- =============================================================================
-- 00  Roles
-- Creates: AMPLITUDE_ADMIN (owns the set-up), AMPLITUDE_PIPELINE (owns and runs the
--          procedures, tasks and the dbt project), AMPLITUDE_READER (reads the marts and
--          the health views, opens the dashboard), AMPLITUDE_DASHBOARD (owns the dashboard).
-- Run as:  USERADMIN (CREATE ROLE) and SECURITYADMIN (MANAGE GRANTS, for GRANT ROLE).
-- Idempotent: `if not exists` everywhere; grants are repeatable.
-- Docs:    CREATE ROLE; GRANT ROLE ("OWNERSHIP on the role, or a role with the global
--          MANAGE GRANTS privilege. Only the SECURITYADMIN role, or a higher role, has
--          this privilege by default"). sql/privileges.yml has one row per statement kind.
-- =============================================================================

use role useradmin;

create role if not exists <% admin_role %>
    comment = 'Amplitude pipeline: set-up and ownership';
create role if not exists <% pipeline_role %>
    comment = 'Amplitude pipeline: runs ingest, the wait step, tasks and dbt';
create role if not exists <% reader_role %>
    comment = 'Amplitude pipeline: reads the marts and the health views';
create role if not exists <% dashboard_role %>
    comment = 'Amplitude pipeline: owns the Streamlit dashboard (readers may only open it)';

use role securityadmin;

-- reader < pipeline < admin < sysadmin: each role can do what the one below it can, and
-- SYSADMIN (hence ACCOUNTADMIN) inherits the whole tree, so the deploying user can USE
-- every one of them.
grant role <% reader_role %> to role <% pipeline_role %>;
grant role <% pipeline_role %> to role <% admin_role %>;
grant role <% admin_role %> to role sysadmin;
-- The dashboard runs with its owner's rights and its owner may edit it (Privileges required
-- to create and use a Streamlit app), so a role of its own owns it: it reads what a reader
-- reads (the reader role is granted to it: its SELECT grants, future grants included) and
-- may create Streamlit apps in DASHBOARD (sql/90). Readers are not granted it: they get
-- USAGE on the app only (sql/91). Granted to the admin role, so admins manage the app.
grant role <% reader_role %> to role <% dashboard_role %>;
grant role <% dashboard_role %> to role <% admin_role %>;

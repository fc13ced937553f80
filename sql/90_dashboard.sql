-- =============================================================================
-- 90  The dashboard's schema and what it reads
-- Creates: schema DASHBOARD, where `snow streamlit deploy` creates the Streamlit app
--          AMPLITUDE_DASHBOARD (snowflake.yml) as the dashboard role. The app runs with its
--          owner's rights, and its owner may edit it, so neither is the reader: the dashboard
--          role (sql/00) owns it and reads what a reader reads, as the reader role is granted
--          to it: the marts (future grants, 10), AMPLITUDE_FILES_NOT_LOADED (85), and,
--          granted here, the ledger and the task graph's run history, which its health page
--          charts. Readers get USAGE on the schema here and on the app in sql/91, nothing
--          that creates or replaces it.
-- Run as:  the admin role, which owns the database, the ledger and the run history.
-- Idempotent: `if not exists` for the schema; grants are repeatable.
-- Docs:    Privileges required to create and use a Streamlit app (CREATE STREAMLIT on the
--          schema, USAGE on the query warehouse); sql/privileges.yml, `create streamlit`.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;

create schema if not exists dashboard comment = 'The Streamlit dashboard (make deploy-dashboard)';

grant usage, create streamlit on schema dashboard to role <% dashboard_role %>;
-- Opening an app in a schema needs USAGE on its database and schema, and on the app.
grant usage on schema dashboard to role <% reader_role %>;
grant select on table ingest.amplitude_ingest_ledger to role <% reader_role %>;
grant select on table ingest.amplitude_pipeline_runs to role <% reader_role %>;

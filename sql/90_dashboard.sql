-- =============================================================================
-- 90  The dashboard's schema and what it reads
-- Creates: schema DASHBOARD, where `snow streamlit deploy` creates the Streamlit app
--          AMPLITUDE_DASHBOARD (snowflake.yml) as the reader role. The app runs with its
--          owner's rights, so owned by the reader it reads what a reader reads: the marts
--          (future grants, 10), AMPLITUDE_FILES_NOT_LOADED (85), and, granted here, the
--          ledger and the task graph's run history, which its health page charts.
-- Run as:  the admin role, which owns the database, the ledger and the run history.
-- Idempotent: `if not exists` for the schema; grants are repeatable.
-- Docs:    Privileges required to create and use a Streamlit app (CREATE STREAMLIT on the
--          schema, USAGE on the query warehouse); sql/privileges.yml, `create streamlit`.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;

create schema if not exists dashboard comment = 'The Streamlit dashboard (make deploy-dashboard)';

grant usage, create streamlit on schema dashboard to role <% reader_role %>;
grant select on table ingest.amplitude_ingest_ledger to role <% reader_role %>;
grant select on table ingest.amplitude_pipeline_runs to role <% reader_role %>;

-- =============================================================================
-- 99  Teardown: removes everything this project created. DROPS DATA.
-- Run as:  ACCOUNTADMIN, deliberately: `make teardown SNOWFLAKE_CONNECTION=...` (which sets
--          the Snowflake CLI feature flag the project definition needs; running
--          `snow sql -f sql/99_teardown.sql` by hand from the repository root needs
--          SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT=true exported, because the
--          CLI reads snowflake.yml to render templates).
-- Order:   stop the schedule first, then the pipe (so nothing loads mid-teardown), then
--          objects, then the database, integrations and roles. Files on S3 are left:
--          delete the bucket prefix yourself if you mean to. ACCOUNTADMIN may drop all of
--          it: every custom role is granted up to SYSADMIN, so it inherits their ownership.
-- Idempotent: `if exists` everywhere.
-- =============================================================================

use role accountadmin;

alter task if exists <% database %>.ingest.amplitude_pipeline_root suspend;
drop task if exists <% database %>.ingest.amplitude_pipeline_finalizer;
drop task if exists <% database %>.ingest.amplitude_catch_up;
drop task if exists <% database %>.ingest.amplitude_dbt_build;
drop task if exists <% database %>.ingest.amplitude_source_freshness;
drop task if exists <% database %>.ingest.amplitude_wait_for_loads;
drop task if exists <% database %>.ingest.amplitude_pipeline_root;
drop pipe if exists <% database %>.ingest.amplitude_events_pipe;

drop database if exists <% database %>;
drop warehouse if exists <% warehouse %>;
drop integration if exists amplitude_export_access;
drop integration if exists amplitude_s3;
-- The alert channels (sql/76, sql/77), when `make deploy-alerts` made them.
drop integration if exists amplitude_alert_email;
drop integration if exists amplitude_alert_webhook;

drop role if exists <% dashboard_role %>;
drop role if exists <% reader_role %>;
drop role if exists <% pipeline_role %>;
drop role if exists <% admin_role %>;

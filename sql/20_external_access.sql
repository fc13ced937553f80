-- =============================================================================
-- 20  Network rule, secret and external access integration
-- Creates: a network rule allowing egress to the Amplitude Export API host of your
--          region only, the secret holding the project's API key and secret key, and the
--          external access integration the procedure runs through.
-- Run as:  the admin role for the rule and secret; ACCOUNTADMIN for the integration.
-- Secrets: read from the environment of the shell running `snow sql`
--          (AMP_API_KEY, AMP_SECRET_KEY), never from a file or the command line.
-- Idempotent: the rule and integration are pure definition (`or replace`); the secret is
--          `if not exists`, so re-running never overwrites a rotated key (rotate with
--          `alter secret ... set password = ...`).
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;

create or replace network rule amplitude_export_api
    mode = egress
    type = host_port
    value_list = ('<% amplitude_host %>:443')
    comment = 'Amplitude Export API for this project''s data region';

create secret if not exists amplitude_api_credentials
    type = password
    username = '<% ctx.env.AMP_API_KEY %>'
    password = '<% ctx.env.AMP_SECRET_KEY %>'
    comment = 'Amplitude project API key (username) and secret key (password)';

use role accountadmin;

create or replace external access integration amplitude_export_access
    allowed_network_rules = (<% database %>.ingest.amplitude_export_api)
    allowed_authentication_secrets = (<% database %>.ingest.amplitude_api_credentials)
    enabled = true
    comment = 'Lets ingest_amplitude() reach the Amplitude Export API, and nothing else';

grant usage on integration amplitude_export_access to role <% pipeline_role %>;

use role <% admin_role %>;
grant read on secret <% database %>.ingest.amplitude_api_credentials to role <% pipeline_role %>;
grant usage on network rule <% database %>.ingest.amplitude_export_api to role <% pipeline_role %>;

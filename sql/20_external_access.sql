-- =============================================================================
-- 20  Network rule, secret and external access integration
-- Creates: a network rule allowing egress to the Amplitude Export API host of your region
--          only, the secret holding the project's API key and secret key, and the external
--          access integration the procedures run through.
-- Run as:  the admin role for the rule and secret; ACCOUNTADMIN (CREATE INTEGRATION) for
--          the integration, on the deploy's warehouse (the check for it queries).
-- Idempotent: nothing here is ever replaced. The rule is `create or alter` (CREATE NETWORK
--          RULE documents the variant; a changed region updates its host in place). The
--          secret is `if not exists`: a re-run never overwrites a rotated key (rotate with
--          `alter secret ... set username = ..., password = ...`). The integration is
--          created once and then altered to the wanted state, because a replaced
--          integration is a new object and the procedures bound to the old one would not
--          be re-created by `snow snowpark deploy --replace` when their own definition is
--          unchanged.
-- Secrets: AMP_API_KEY and AMP_SECRET_KEY are read from the environment of the shell that
--          runs `snow sql` (ctx.env), never from a file or the command line. They are
--          escaped into the SQL string constants here, in the template, with the escape
--          rules of single-quoted string constants (String & binary data types, "Escape
--          sequences in single-quoted string constants"): every backslash doubled, every
--          single quote written \'. No value can end the literal early, which also makes
--          the connector's statement splitter (which honours \' ) keep it one statement.
--          tests/integration/test_snowflake_cli.py renders this with the pinned CLI's own
--          renderer and hostile values and checks the literal round-trips exactly.
--          CREATE SECRET takes no bind variables, so escaping is the safe option left.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;

create or alter network rule amplitude_export_api
    mode = egress
    type = host_port
    value_list = ('<% amplitude_host %>:443')
    comment = 'Amplitude Export API for this project''s data region';

create secret if not exists amplitude_api_credentials
    type = password
    username = '<% ctx.env.AMP_API_KEY | replace("\\", "\\\\") | replace("\x27", "\\\x27") %>'
    password = '<% ctx.env.AMP_SECRET_KEY | replace("\\", "\\\\") | replace("\x27", "\\\x27") %>'
    comment = 'Amplitude project API key (username) and secret key (password)';

use role accountadmin;
-- The block below queries (RESULT_SCAN): a query needs a current warehouse the role may
-- use (USE WAREHOUSE). Each `snow sql -f` is a new session and the connection need not
-- name one, so use the deploy's own (sql/10; the admin role owns it, ACCOUNTADMIN
-- inherits it through SYSADMIN).
use warehouse <% warehouse %>;

-- CREATE EXTERNAL ACCESS INTEGRATION documents no IF NOT EXISTS (only OR REPLACE), so the
-- integration is created only when SHOW INTEGRATIONS does not find it.
execute immediate $$
declare
    existing integer default 0;
begin
    show integrations like 'AMPLITUDE_EXPORT_ACCESS';
    select count(*) into :existing from table(result_scan(last_query_id()));
    if (existing = 0) then
        create external access integration amplitude_export_access
            allowed_network_rules = (<% database %>.ingest.amplitude_export_api)
            allowed_authentication_secrets = (<% database %>.ingest.amplitude_api_credentials)
            enabled = true;
    end if;
    return existing;
end;
$$;

-- ALTER EXTERNAL ACCESS INTEGRATION (the owner may): the wanted state on every deploy.
alter external access integration amplitude_export_access set
    allowed_network_rules = (<% database %>.ingest.amplitude_export_api)
    allowed_authentication_secrets = (<% database %>.ingest.amplitude_api_credentials)
    enabled = true
    comment = 'Lets the Amplitude procedures reach the Export API, and nothing else';

-- Creating a procedure with EXTERNAL_ACCESS_INTEGRATIONS needs USAGE on the integration
-- and, with SECRETS, READ on the secret (CREATE PROCEDURE). The network rule needs no
-- grant: the integration carries it.
grant usage on integration amplitude_export_access to role <% pipeline_role %>;

use role <% admin_role %>;
grant read on secret <% database %>.ingest.amplitude_api_credentials to role <% pipeline_role %>;

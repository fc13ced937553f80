-- =============================================================================
-- 77  Alert channel: a Slack webhook (`export AMP_ALERT_WEBHOOK_SECRET=...`, then
--     `make deploy-alerts`)
-- Creates: the GENERIC_STRING secret AMPLITUDE_ALERT_WEBHOOK_SECRET holding the secret part
--          of the webhook URL (what follows https://hooks.slack.com/services/), the
--          WEBHOOK notification integration AMPLITUDE_ALERT_WEBHOOK that fills it in, and
--          the settings row that turns the channel on (webhook_integration).
-- Run as:  the admin role for the secret; ACCOUNTADMIN (CREATE INTEGRATION, and USAGE on
--          the secret through the role hierarchy) for the integration.
-- Secrets: AMP_ALERT_WEBHOOK_SECRET is read from the environment of the shell that runs
--          `snow sql` (ctx.env), never from a file or the command line, and escaped into its
--          literal as sql/20 escapes the Amplitude keys. The URL itself never leaves
--          Snowflake: the integration's WEBHOOK_URL names the SNOWFLAKE_WEBHOOK_SECRET
--          placeholder (user-guide/notifications/webhook-notifications). Microsoft Teams or
--          PagerDuty: same shape, with the URL and body template their section of that page
--          gives; name that integration in webhook_integration.
-- Idempotent: the secret and the integration `if not exists` (rotate the webhook with
--          `alter secret ... set secret_string = '...'`); the settings row rewritten.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;
-- The MERGEs below need a current warehouse (sql-reference/sql/use-warehouse).
use warehouse <% warehouse %>;

create secret if not exists amplitude_alert_webhook_secret
    type = generic_string
    secret_string = '<% ctx.env.AMP_ALERT_WEBHOOK_SECRET | replace("\\", "\\\\") | replace("\x27", "\\\x27") %>'
    comment = 'The secret part of the alert webhook URL (after /services/)';

use role accountadmin;

-- Creating it needs USAGE on the secret (user-guide/notifications/webhook-notifications):
-- ACCOUNTADMIN holds the admin role's objects through SYSADMIN (sql/00).
create notification integration if not exists amplitude_alert_webhook
    type = webhook
    enabled = true
    webhook_url = 'https://hooks.slack.com/services/SNOWFLAKE_WEBHOOK_SECRET'
    webhook_secret = <% database %>.ingest.amplitude_alert_webhook_secret
    webhook_body_template = '{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}'
    webhook_headers = ('Content-Type' = 'application/json')
    comment = 'Amplitude pipeline alerts to a Slack channel';

-- Sending needs USAGE on the integration and READ on its secret (same page).
grant usage on integration amplitude_alert_webhook to role <% pipeline_role %>;

use role <% admin_role %>;
grant read on secret <% database %>.ingest.amplitude_alert_webhook_secret to role <% pipeline_role %>;

merge into amplitude_alert_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('webhook_integration', 'AMPLITUDE_ALERT_WEBHOOK')
) as source
on target.name = source.name
when matched then update set target.value = source.value
when not matched then insert (name, value) values (source.name, source.value);

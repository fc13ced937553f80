-- =============================================================================
-- 76  Alert channel: email (`make deploy-alerts ALERT_EMAILS=a@example.com,b@example.com`)
-- Creates: the EMAIL notification integration AMPLITUDE_ALERT_EMAIL, limited to those
--          addresses (ALLOWED_RECIPIENTS), usable by the pipeline role, and the settings
--          rows that turn the channel on (email_integration, email_recipients).
-- Run as:  ACCOUNTADMIN (CREATE INTEGRATION), then the admin role for the settings.
-- Recipients: SYSTEM$SEND_EMAIL reaches only verified email addresses of users of this
--          account, and CREATE NOTIFICATION INTEGRATION fails when an address in
--          ALLOWED_RECIPIENTS is not verified (user-guide/notifications/
--          email-notifications): each recipient verifies their address first (Snowsight,
--          Profile; or an admin calls SYSTEM$START_USER_EMAIL_VERIFICATION). The doctor
--          checks the recipients against ALLOWED_RECIPIENTS and can send a test message.
-- Idempotent: the integration is created once, then altered to the wanted list on every
--          run (a replaced integration would drop its grants); settings rows rewritten.
--          ALERT_EMAILS is not a secret; the template escapes it into its literals.
-- =============================================================================

use role accountadmin;

create notification integration if not exists amplitude_alert_email
    type = email
    enabled = true
    allowed_recipients = ('<% alert_emails | replace(" ", "") | replace("\\", "\\\\") | replace("\x27", "\\\x27") | replace(",", "\x27, \x27") %>')
    comment = 'Amplitude pipeline alerts by email';

alter notification integration amplitude_alert_email set
    enabled = true
    allowed_recipients = ('<% alert_emails | replace(" ", "") | replace("\\", "\\\\") | replace("\x27", "\\\x27") | replace(",", "\x27, \x27") %>');

-- SYSTEM$SEND_EMAIL needs USAGE on the integration (user-guide/notifications/
-- email-notifications).
grant usage on integration amplitude_alert_email to role <% pipeline_role %>;

use role <% admin_role %>;
use database <% database %>;
use schema ingest;
-- The MERGEs below need a current warehouse (sql-reference/sql/use-warehouse).
use warehouse <% warehouse %>;

merge into amplitude_alert_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('email_integration', 'AMPLITUDE_ALERT_EMAIL'),
        ('email_recipients', '<% alert_emails | replace(" ", "") | replace("\\", "\\\\") | replace("\x27", "\\\x27") %>')
) as source
on target.name = source.name
when matched then update set target.value = source.value
when not matched then insert (name, value) values (source.name, source.value);

-- =============================================================================
-- 75  Alerts: the state they keep, and the ALERT for a graph that stopped running
-- Creates: AMPLITUDE_ALERT_SETTINGS (which channels; how long without a good run before
--          anyone is told), AMPLITUDE_ALERTS_SENT (every message sent, so reminders come at
--          most once a day and "recovered" once), and the ALERT
--          AMPLITUDE_NO_SUCCESSFUL_RUN, which calls amplitude_send_alerts() when no graph
--          run has succeeded for no_success_hours: a finalizer cannot report a run that
--          never happened (the root suspended, the warehouse gone). The finalizer (sql/70)
--          calls the same procedure after every run; amplitude_ingest/in_snowflake/alerts.py decides.
-- Run as:  the admin role for the tables and grants; ACCOUNTADMIN for EXECUTE ALERT (a
--          global privilege); the pipeline role owns the ALERT, which runs with its
--          owner's rights (sql-reference/sql/execute-alert) and may call the procedure.
-- Idempotent: tables `if not exists`; what describes the deployment is rewritten, what a
--          user tunes (no_success_hours) only inserted when missing; the alert is pure
--          definition (`or replace`), then resumed (alerts are created suspended:
--          sql-reference/sql/create-alert).
-- Channels: none here, so nothing is sent until `make deploy-alerts` runs sql/76 (email)
--          and/or sql/77 (webhook). The alert's condition runs hourly on the warehouse
--          either way.
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;
-- The MERGEs below need a current warehouse (sql-reference/sql/use-warehouse).
use warehouse <% warehouse %>;

create table if not exists amplitude_alert_settings (
    name varchar not null primary key,
    value varchar
)
comment = 'Settings of amplitude_send_alerts(): channels, and hours without a good run';

merge into amplitude_alert_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('runs_table', '<% database | upper %>.INGEST.AMPLITUDE_PIPELINE_RUNS'),
        ('sent_table', '<% database | upper %>.INGEST.AMPLITUDE_ALERTS_SENT')
) as source
on target.name = source.name
when matched then update set target.value = source.value
when not matched then insert (name, value) values (source.name, source.value);

merge into amplitude_alert_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('no_success_hours', '24')
) as source
on target.name = source.name
when not matched then insert (name, value) values (source.name, source.value);

create table if not exists amplitude_alerts_sent (
    sent_at timestamp_ntz not null comment 'UTC',
    kind varchar not null comment 'failure, reminder, no_run, recovered or test',
    run_group_id varchar comment 'The graph run the message is about',
    subject varchar not null,
    channels varchar not null comment 'email, webhook: where it went'
)
comment = 'Every alert amplitude_send_alerts() sent (reminders at most daily)';

grant select on table amplitude_alert_settings to role <% pipeline_role %>;
grant select, insert on table amplitude_alerts_sent to role <% pipeline_role %>;
-- CREATE ALERT needs CREATE ALERT on the schema, USAGE on the warehouse and EXECUTE ALERT
-- on the account (sql-reference/sql/create-alert); resuming it the same global privilege.
grant create alert on schema ingest to role <% pipeline_role %>;

use role accountadmin;
grant execute alert on account to role <% pipeline_role %>;

use role <% pipeline_role %>;

-- Fires when the newest successful run is older than no_success_hours (a run that failed
-- is reported by the finalizer; this is for runs that do not happen at all). The
-- procedure decides whether that is news: at most one message a day.
create or replace alert amplitude_no_successful_run
    warehouse = <% warehouse %>
    schedule = '60 minute'
    comment = 'Tells the alert channels when no pipeline run has succeeded for a while'
    if (exists (
        select 1
        from <% database %>.ingest.amplitude_pipeline_runs as runs
        having max(iff(runs.succeeded, runs.finished_at, null)) < dateadd(
            hour,
            -1 * coalesce((
                select try_to_number(alert_settings.value)
                from <% database %>.ingest.amplitude_alert_settings as alert_settings
                where alert_settings.name = 'no_success_hours'
            ), 24),
            sysdate()
        )
    ))
    then
        call <% database %>.ingest.amplitude_send_alerts();

alter alert amplitude_no_successful_run resume;

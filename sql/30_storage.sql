-- =============================================================================
-- 30  Storage integration, file format and external stage
-- Creates: the S3 storage integration (trust the IAM role it reports: README, "The AWS
--          side"), the JSON file format, the external stage the procedure writes to and
--          the pipe reads from, and AMPLITUDE_CHECK_STORAGE_INTEGRATION(), the doctor's
--          window onto the integration.
-- Run as:  ACCOUNTADMIN (CREATE INTEGRATION) for the integration; the admin role for the
--          rest.
-- Least privilege: only the admin role holds USAGE on the integration. USAGE is what lets
--          a role name it in CREATE STAGE ... STORAGE_INTEGRATION (CREATE STAGE) and in
--          COPY INTO 's3://...' STORAGE_INTEGRATION = ... with no stage at all (COPY INTO
--          <location>), so the pipeline role, which holds CREATE STAGE on INGEST for
--          `snow snowpark deploy`'s code stage, could point new stages, or unloads, at the
--          bucket. Taking CREATE STAGE from it would leave the second way open; taking the
--          integration from it closes both. The doctor's two integration checks
--          (SYSTEM$VALIDATE_STORAGE_INTEGRATION, DESC INTEGRATION) run inside an
--          owner's-rights procedure the admin role owns, fixed to this integration and this
--          prefix, which the pipeline role may only call (CREATE PROCEDURE: EXECUTE AS
--          OWNER), so `call amplitude_doctor()` from a worksheet still returns every row.
-- Idempotent: nothing here is ever replaced. Replacing the integration would change its
--          external id and break the IAM trust; replacing the stage would orphan the pipe;
--          replacing the file format would stop the pipe (SYSTEM$PIPE_STATUS reports
--          STOPPED_FILE_FORMAT_DROPPED). So: `if not exists`, and the file format's options
--          are set with ALTER FILE FORMAT, which keeps the object.
-- =============================================================================

use role accountadmin;

create storage integration if not exists amplitude_s3
    type = external_stage
    storage_provider = 's3'
    enabled = true
    storage_aws_role_arn = '<% s3_role_arn %>'
    storage_allowed_locations = ('<% s3_url %>')
    comment = 'The S3 prefix behind the Amplitude stage';

-- CREATE STAGE ... STORAGE_INTEGRATION = needs USAGE on the integration (admin role). No
-- other role gets it (above): the pipeline role reaches S3 through the stage only.
grant usage on integration amplitude_s3 to role <% admin_role %>;

use role <% admin_role %>;
use database <% database %>;
use schema ingest;

create file format if not exists amplitude_json
    type = json
    compression = auto
    strip_outer_array = false
    comment = 'One Amplitude event per line (.json or .json.gz)';
alter file format amplitude_json set
    compression = auto
    strip_outer_array = false
    comment = 'One Amplitude event per line (.json or .json.gz)';

-- A named file format goes in FILE_FORMAT = ( FORMAT_NAME = '...' ) (CREATE STAGE), as the
-- pipe's COPY names it (sql/40).
create stage if not exists amplitude_stage
    url = '<% s3_url %>'
    storage_integration = amplitude_s3
    file_format = (format_name = 'ingest.amplitude_json')
    comment = 'Decompressed Amplitude NDJSON: events/ is loaded, _quarantine/ is not';

-- External stages take USAGE only (Access control privileges: READ and WRITE are for
-- internal stages). USAGE lets the procedures PUT (put_stream), LIST and REMOVE on it.
-- The pipe reads as its owner (the admin role), so the pipeline role needs nothing more,
-- and no USAGE on the file format either.
grant usage on stage amplitude_stage to role <% pipeline_role %>;

-- The doctor's integration checks, as the admin role (EXECUTE AS OWNER), for the pipeline
-- role to call: SYSTEM$VALIDATE_STORAGE_INTEGRATION on the stage's prefix (read, write,
-- list, delete of one test file) and the IAM trust values of DESC INTEGRATION, which the
-- doctor prints into its fix. Fixed to this integration and prefix: a caller chooses
-- nothing. DESCRIBE runs in owner's-rights procedures (release notes 10.3, "Owner's rights
-- contexts: Allow INFORMATION_SCHEMA, SHOW, and DESCRIBE"); RESULT_SCAN post-processes its
-- output (DESCRIBE INTEGRATION, usage notes). A query: the caller's warehouse runs it.
create or replace procedure amplitude_check_storage_integration()
returns variant
language sql
execute as owner
comment = 'amplitude_doctor(): validates AMPLITUDE_S3 on the stage prefix, returns its IAM trust values'
as
$$
declare
    validation varchar;
    trust variant;
begin
    select
        system$validate_storage_integration(
            'AMPLITUDE_S3',
            '<% s3_url %>',
            'amplitude_doctor_validate_' || uuid_string() || '.txt',
            'all'
        )
    into :validation;
    describe integration amplitude_s3;
    select object_agg("property", "property_value"::variant)
    into :trust
    from table(result_scan(last_query_id()))
    where "property" in (
        'STORAGE_AWS_ROLE_ARN',
        'STORAGE_AWS_IAM_USER_ARN',
        'STORAGE_AWS_EXTERNAL_ID',
        'STORAGE_ALLOWED_LOCATIONS'
    );
    return object_construct('validation', :validation, 'integration', :trust);
end;
$$;

grant usage on procedure amplitude_check_storage_integration() to role <% pipeline_role %>;

-- =============================================================================
-- 30  Storage integration, file format and external stage
-- Creates: the S3 storage integration (trust the IAM role it reports: README, "The AWS
--          side"), the JSON file format and the external stage the procedure writes to and
--          the pipe reads from.
-- Run as:  ACCOUNTADMIN (CREATE INTEGRATION) for the integration; the admin role for the
--          rest.
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

-- CREATE STAGE ... STORAGE_INTEGRATION = needs USAGE on the integration (admin role).
grant usage on integration amplitude_s3 to role <% admin_role %>;
-- The doctor (owned by the pipeline role) runs SYSTEM$VALIDATE_STORAGE_INTEGRATION and
-- DESC INTEGRATION to report the IAM trust values. STORAGE_ALLOWED_LOCATIONS keeps it to
-- the same prefix the pipeline already writes through the stage.
grant usage on integration amplitude_s3 to role <% pipeline_role %>;

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

create stage if not exists amplitude_stage
    url = '<% s3_url %>'
    storage_integration = amplitude_s3
    file_format = amplitude_json
    comment = 'Decompressed Amplitude NDJSON: events/ is loaded, _quarantine/ is not';

-- External stages take USAGE only (Access control privileges: READ and WRITE are for
-- internal stages). USAGE lets the procedures PUT (put_stream), LIST and REMOVE on it.
-- The pipe reads as its owner (the admin role), so the pipeline role needs nothing more,
-- and no USAGE on the file format either.
grant usage on stage amplitude_stage to role <% pipeline_role %>;

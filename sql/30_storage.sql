-- =============================================================================
-- 30  Storage integration, file format and external stage
-- Creates: the S3 storage integration (trust the IAM role it reports: see README), the
--          JSON file format and the external stage the procedure writes to and the pipe
--          reads from.
-- Run as:  ACCOUNTADMIN for the integration; the admin role for the rest.
-- Idempotent: the integration and stage are `if not exists` (replacing the integration
--          changes its external id and breaks the IAM trust; replacing the stage would
--          orphan the pipe); the file format is pure definition (`or replace`).
-- =============================================================================

use role accountadmin;

create storage integration if not exists amplitude_s3
    type = external_stage
    storage_provider = 's3'
    enabled = true
    storage_aws_role_arn = '<% s3_role_arn %>'
    storage_allowed_locations = ('<% s3_url %>')
    comment = 'The S3 prefix behind the Amplitude stage';

grant usage on integration amplitude_s3 to role <% admin_role %>;

use role <% admin_role %>;
use database <% database %>;
use schema ingest;

create or replace file format amplitude_json
    type = json
    compression = auto
    strip_outer_array = false
    comment = 'One Amplitude event per line (.json or .json.gz)';

create stage if not exists amplitude_stage
    url = '<% s3_url %>'
    storage_integration = amplitude_s3
    file_format = amplitude_json
    comment = 'Decompressed Amplitude NDJSON: events/ is loaded, _quarantine/ is not';

-- The procedure writes (PUT via put_stream), lists and removes parts; the pipe reads.
grant usage, read, write on stage amplitude_stage to role <% pipeline_role %>;
grant usage on file format amplitude_json to role <% pipeline_role %>;

-- =============================================================================
-- 40  Raw table and auto-ingest pipe
-- Creates: RAW.AMPLITUDE_EVENTS_RAW and the pipe that copies every new events/ file
--          into it, with the file name, row number and load time of each row.
-- Run as:  the admin role; the pipeline role may insert and read.
-- Idempotent: both `if not exists`. Never `create or replace pipe`: a new pipe forgets
--          its load history and would load every file on the stage a second time.
-- After:   wire the bucket's event notifications to the pipe's notification_channel
--          (`show pipes` / `desc pipe`): see README, "Wiring S3 to the pipe".
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;

create table if not exists raw.amplitude_events_raw (
    raw_json variant not null comment 'The event exactly as exported',
    file_name varchar not null comment 'Stage path of the file (METADATA$FILENAME)',
    file_row_number number not null comment 'Line in the file (METADATA$FILE_ROW_NUMBER)',
    loaded_at timestamp_ntz not null comment 'Load time, UTC (METADATA$START_SCAN_TIME)'
)
comment = 'Raw Amplitude Export API events; deduplicated downstream by dbt';

create pipe if not exists ingest.amplitude_events_pipe
    auto_ingest = true
    comment = 'Loads events/ parts written by ingest_amplitude() into the raw table'
as
copy into raw.amplitude_events_raw (raw_json, file_name, file_row_number, loaded_at)
from (
    select
        $1,
        metadata$filename,
        metadata$file_row_number,
        convert_timezone('UTC', metadata$start_scan_time)::timestamp_ntz
    from @ingest.amplitude_stage
)
pattern = '.*events/.*[.]json([.]gz)?'
file_format = (format_name = 'ingest.amplitude_json');

grant select, insert on table raw.amplitude_events_raw to role <% pipeline_role %>;
grant operate, monitor on pipe ingest.amplitude_events_pipe to role <% pipeline_role %>;

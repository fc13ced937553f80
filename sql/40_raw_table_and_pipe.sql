-- =============================================================================
-- 40  Raw table, auto-ingest pipe, and the doctor's clean-up procedure
-- Creates: RAW.AMPLITUDE_EVENTS_RAW and the pipe that copies every new events/ file into
--          it with the file name, row number and load time of each row; and
--          INGEST.AMPLITUDE_REMOVE_DOCTOR_MARKERS(), which deletes the rows of the
--          doctor's marker files (and nothing else) so the pipeline role needs no DELETE.
-- Run as:  the admin role, which owns all three; the pipeline role may read the table,
--          see the pipe's status and call the clean-up.
-- Idempotent: table and pipe `if not exists`. Never `create or replace pipe`: a new pipe
--          forgets its load history and would load every file on the stage a second time.
--          The procedure is pure definition (`or replace`).
-- After:   wire the bucket's event notifications to the pipe's notification channel
--          (`make doctor` prints the exact step): README, "The AWS side".
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

-- dbt and the wait step read the table; the pipe loads it with its owner's privileges,
-- so the pipeline role needs no INSERT.
grant select on table raw.amplitude_events_raw to role <% pipeline_role %>;
-- SYSTEM$PIPE_STATUS returns results only to the pipe's owner or a role with MONITOR on
-- it (its reference page); the doctor reads the state and the notification channel.
grant monitor on pipe ingest.amplitude_events_pipe to role <% pipeline_role %>;

-- The doctor's round trip puts a marker file under events/_doctor/ through the real pipe.
-- Its rows are removed by this owner's-rights procedure, limited to marker files.
create or replace procedure ingest.amplitude_remove_doctor_markers()
returns number
language sql
execute as owner
comment = 'Deletes the raw rows of amplitude_doctor() marker files (events/_doctor/), only those'
as
$$
begin
    delete from <% database %>.raw.amplitude_events_raw
    where contains(file_name, 'events/_doctor/');
    return sqlrowcount;
end;
$$;

grant usage on procedure ingest.amplitude_remove_doctor_markers() to role <% pipeline_role %>;

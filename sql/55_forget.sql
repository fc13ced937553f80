-- =============================================================================
-- 55  Forgetting a user (a privacy request)
-- Creates: RAW.AMPLITUDE_FORGET_REQUESTS, one row per forgotten id (when, which kind of
--          id, its SHA-256 and how much was removed; never the id), which dbt reads to
--          drop the user from every model and ingest_amplitude() reads to drop their lines
--          from every later export; RAW.AMPLITUDE_STAGE_REWRITES, one row per stage file
--          rewritten without a user's lines (old key, the key that replaced it), which the
--          wait step and AMPLITUDE_FILES_NOT_LOADED read so a rewritten file is not "lost";
--          INGEST.AMPLITUDE_FORGET_ROWS(request_id, id_kind, id_sha256), the admin's
--          owner's-rights procedure that records a request and deletes the raw rows it
--          allows (those of the hash, and those of files recorded as rewritten for it), so
--          the pipeline role needs no DELETE on the raw table; and the settings
--          amplitude_forget() reads. amplitude_forget() itself is a Python procedure of
--          snowflake.yml (owned by the pipeline role, like ingest_amplitude()).
-- Run as:  the admin role, which owns the tables and the procedure; the pipeline role reads
--          the requests (dbt, the extract's filter), records rewrites and calls the procedure.
-- Idempotent: tables `if not exists` (they hold state), the procedure `or replace` (pure
--          definition), the settings rows merged.
-- Pages:   Understanding caller's rights and owner's rights stored procedures
--          (developer-guide/stored-procedure/stored-procedures-rights): an owner's-rights
--          procedure runs with its owner's privileges, so a caller with USAGE on it deletes
--          only what its body deletes; SHA2 (sql-reference/functions/sha2): lowercase hex;
--          Determining the number of rows affected by DML commands
--          (developer-guide/snowflake-scripting/dml-status): SQLROWCOUNT after each DML.
-- Query history: a CALL's literal arguments are part of its text, kept in
--          ACCOUNT_USAGE.QUERY_HISTORY for 365 days (sql-reference/account-usage/
--          query_history): this procedure takes the hash only; amplitude_forget() takes the
--          id, or `sha256:<hex>` to keep the id out of query history (README, "Forgetting a
--          user").
-- =============================================================================

use role <% admin_role %>;
use database <% database %>;
use schema ingest;
-- The settings MERGE below needs a current warehouse (sql-reference/sql/use-warehouse).
use warehouse <% warehouse %>;

create table if not exists raw.amplitude_forget_requests (
    request_id varchar not null primary key comment 'Derived from the kind and the hash: one row per id',
    requested_at timestamp_ntz not null comment 'First request, UTC',
    id_kind varchar not null comment 'amplitude_id, user_id or device_id',
    id_sha256 varchar not null comment 'Lowercase hex SHA-256 of the id as the events hold it',
    raw_rows_deleted number not null comment 'The user''s raw rows deleted',
    stage_files_rewritten number not null comment 'events/ files rewritten without the user',
    quarantine_lines_removed number not null comment 'The user''s lines removed from _quarantine/'
)
comment = 'Privacy requests: users forgotten by amplitude_forget() (the id only as a hash)';

create table if not exists raw.amplitude_stage_rewrites (
    file_name varchar not null primary key comment 'Stage key of the file as it was written',
    rewritten_to varchar comment 'The key that replaces it now (null: nothing was left)',
    request_id varchar not null comment 'The forget request that rewrote it',
    lines_removed number not null,
    rewritten_at timestamp_ntz not null
)
comment = 'Stage files rewritten by amplitude_forget(): replaced, not lost';

-- What amplitude_forget() (the pipeline role) reads from the settings table.
merge into ingest.amplitude_ingest_settings as target
using (
    select column1 as name, column2 as value
    from values
        ('forget_requests_table', '<% database | upper %>.RAW.AMPLITUDE_FORGET_REQUESTS'),
        ('stage_rewrites_table', '<% database | upper %>.RAW.AMPLITUDE_STAGE_REWRITES'),
        ('forget_rows_procedure', '<% database | upper %>.INGEST.AMPLITUDE_FORGET_ROWS')
) as source
on target.name = source.name
when matched then update set target.value = source.value
when not matched then insert (name, value) values (source.name, source.value);

-- dbt reads the requests (source amplitude.forget_requests); so does the extract's filter.
grant select on table raw.amplitude_forget_requests to role <% pipeline_role %>;
-- amplitude_forget() records each rewritten key and re-points older ones; the wait step
-- reads them.
grant select, insert, update on table raw.amplitude_stage_rewrites to role <% pipeline_role %>;
-- Last: sqlglot, which the tests parse scripts with, reads a $$ body to the end of the
-- script (the Snowflake CLI's splitter does not).
create or replace procedure ingest.amplitude_forget_rows(
    request_id varchar, id_kind varchar, id_sha256 varchar
)
returns variant
language sql
execute as owner
comment = 'Records a forget request; deletes the raw rows of its id hash and of its rewritten files, only those. Takes the hash, never the id: a CALL''s arguments stay in query history'
as
$$
declare
    deleted number default 0;
    replaced number default 0;
    outcome variant default null;
    bad_request exception (-20001, 'id_kind must be amplitude_id, user_id or device_id, and id_sha256 64 lowercase hex digits');
begin
    if (not (:id_kind in ('amplitude_id', 'user_id', 'device_id'))
        or not regexp_like(:id_sha256, '[0-9a-f]{64}')) then
        raise bad_request;
    end if;
    insert into <% database %>.raw.amplitude_forget_requests
        (request_id, requested_at, id_kind, id_sha256, raw_rows_deleted,
         stage_files_rewritten, quarantine_lines_removed)
    select :request_id, sysdate(), :id_kind, :id_sha256, 0, 0, 0
    where not exists (
        select 1 from <% database %>.raw.amplitude_forget_requests
        where request_id = :request_id
    );
    -- A path per kind, not get(raw_json, :id_kind): each is a plain `:path::varchar`, a
    -- string without its JSON quotes, a number as its decimal text (the hash's input).
    delete from <% database %>.raw.amplitude_events_raw
    where sha2(
        case :id_kind
            when 'amplitude_id' then raw_json:amplitude_id::varchar
            when 'user_id' then raw_json:user_id::varchar
            else raw_json:device_id::varchar
        end, 256
    ) = :id_sha256;
    deleted := sqlrowcount;
    -- What is left of each rewritten file: its new file, under a new path, is loaded by
    -- the pipe like any other, so these rows are replaced, not loaded twice.
    delete from <% database %>.raw.amplitude_events_raw as raw_rows
    using <% database %>.raw.amplitude_stage_rewrites as rewrites
    where
        rewrites.request_id = :request_id
        and startswith(rewrites.file_name, 'events/')
        and (raw_rows.file_name = rewrites.file_name
            or endswith(raw_rows.file_name, '/' || rewrites.file_name));
    replaced := sqlrowcount;
    update <% database %>.raw.amplitude_forget_requests
    set
        raw_rows_deleted = raw_rows_deleted + :deleted,
        stage_files_rewritten = (
            select count(*) from <% database %>.raw.amplitude_stage_rewrites
            where request_id = :request_id and startswith(file_name, 'events/')
        ),
        quarantine_lines_removed = (
            select coalesce(sum(lines_removed), 0) from <% database %>.raw.amplitude_stage_rewrites
            where request_id = :request_id and startswith(file_name, '_quarantine/')
        )
    where request_id = :request_id;
    select
        object_construct(
            'raw_rows_deleted', raw_rows_deleted,
            'raw_rows_deleted_now', :deleted,
            'rows_of_rewritten_files_removed', :replaced,
            'stage_files_rewritten', stage_files_rewritten,
            'quarantine_lines_removed', quarantine_lines_removed
        )
    into :outcome
    from <% database %>.raw.amplitude_forget_requests
    where request_id = :request_id;
    return outcome;
end;
$$;

grant usage on procedure ingest.amplitude_forget_rows(varchar, varchar, varchar)
to role <% pipeline_role %>;

-- =============================================================================
-- 60  wait_for_pipe(): the step between ingest and dbt
-- Creates: a SQL procedure that waits until the auto-ingest pipe has no file pending,
--          after a grace period for the S3 event notifications to arrive, or fails the
--          task after a timeout (dbt then does not run on half-loaded data; the next run
--          picks the late files up through the incremental lookback anyway).
-- Run as:  the pipeline role.
-- Idempotent: pure definition (`or replace`).
-- =============================================================================

use role <% pipeline_role %>;
use database <% database %>;
use schema ingest;

create or replace procedure wait_for_pipe(
    pipe_name varchar, grace_seconds number, timeout_seconds number
)
returns variant
language sql
execute as owner
comment = 'Wait until a pipe has no pending file; fail after timeout_seconds'
as
$$
declare
    pipe_did_not_drain exception (-20001, 'the pipe still had files pending at the timeout');
    started timestamp_ltz default current_timestamp();
    pending number default 0;
begin
    call system$wait(:grace_seconds);
    loop
        pending := coalesce(
            parse_json(system$pipe_status(:pipe_name)):pendingFileCount::number, 0
        );
        if (pending = 0) then
            return object_construct(
                'pipe', :pipe_name,
                'pending_files', 0,
                'waited_seconds', datediff(second, :started, current_timestamp())
            );
        end if;
        if (datediff(second, :started, current_timestamp()) > :timeout_seconds) then
            raise pipe_did_not_drain;
        end if;
        call system$wait(10);
    end loop;
end;
$$;

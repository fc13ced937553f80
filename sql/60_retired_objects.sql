-- =============================================================================
-- 60  Objects earlier versions created and this one no longer uses
-- Drops:   WAIT_FOR_PIPE(VARCHAR, NUMBER, NUMBER), the first version's wait step. It
--          waited for the pipe's pendingFileCount to reach 0, which is also what an
--          unwired pipe reports forever. The wait step is now AMPLITUDE_WAIT_FOR_LOADS()
--          (snowflake.yml; amplitude_ingest/in_snowflake/wait_step.py): it compares the files the
--          ledger says the run wrote with the files the raw table received.
-- Run as:  the pipeline role, which owned it (DROP PROCEDURE needs OWNERSHIP).
-- Idempotent: `if exists`.
-- =============================================================================

use role <% pipeline_role %>;
use database <% database %>;
use schema ingest;

drop procedure if exists wait_for_pipe(varchar, number, number);

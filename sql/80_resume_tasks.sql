-- =============================================================================
-- 80  Start the schedule
-- Resumes the finalizer explicitly, then every task reachable from the root and the root
-- itself (SYSTEM$TASK_DEPENDENTS_ENABLE), and lists the tasks so the log shows each one
-- `started`. `make deploy` runs this only when `make doctor` passes (or with
-- FORCE_RESUME=1).
-- Run as:  the pipeline role: it owns the tasks and holds EXECUTE TASK, which resuming
--          needs (ALTER TASK; SYSTEM$TASK_DEPENDENTS_ENABLE), on the deploy's warehouse.
-- Idempotent: the root is suspended first (children may only be resumed while it is);
--          resuming a resumed task is a no-op.
-- Pause:   alter task <% database %>.ingest.amplitude_pipeline_root suspend;
-- =============================================================================

use role <% pipeline_role %>;
-- SELECT SYSTEM$TASK_DEPENDENTS_ENABLE is a query: it needs a current warehouse the role
-- may use (USE WAREHOUSE); the pipeline role holds USAGE on the deploy's (sql/10).
use warehouse <% warehouse %>;
use database <% database %>;
use schema ingest;

alter task if exists amplitude_pipeline_root suspend;
alter task amplitude_pipeline_finalizer resume;
select system$task_dependents_enable('<% database %>.ingest.amplitude_pipeline_root');
show tasks like 'AMPLITUDE_%' in schema <% database %>.ingest;

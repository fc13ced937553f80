-- =============================================================================
-- 80  Start the schedule
-- Resumes the finalizer and every task reachable from the root, then the root.
-- Run as:  the pipeline role. Idempotent: resuming a resumed task is a no-op.
-- Pause:   alter task <% database %>.ingest.amplitude_pipeline_root suspend;
-- =============================================================================

use role <% pipeline_role %>;

select system$task_dependents_enable('<% database %>.ingest.amplitude_pipeline_root');

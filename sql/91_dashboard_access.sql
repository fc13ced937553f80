-- =============================================================================
-- 91  Readers may open the dashboard, and only that
-- Grants:  USAGE on the Streamlit app AMPLITUDE_DASHBOARD (created by `snow streamlit
--          deploy` right before this, owned by the dashboard role) to the reader role.
--          USAGE lets a role open and run an app; only its owner edits or replaces it
--          (Privileges required to create and use a Streamlit app; "Share a Streamlit app").
-- Run as:  the dashboard role, the app's owner, which may grant privileges on it.
-- Idempotent: a repeated grant is a no-op; run after every `snow streamlit deploy
--          --replace`, as `make deploy-dashboard` does, since a replaced app starts without
--          the grants of the one it replaced.
-- =============================================================================

use role <% dashboard_role %>;

grant usage on streamlit <% database %>.dashboard.amplitude_dashboard to role <% reader_role %>;

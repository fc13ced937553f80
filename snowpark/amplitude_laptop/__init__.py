"""The embedded default: a DuckDB warehouse, a loader that behaves like Snowpipe, dbt on
the local target, a status view and an HTML report. Local-only: never imported by the
Snowflake procedure."""

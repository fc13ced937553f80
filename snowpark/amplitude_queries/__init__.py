"""The SQL the dashboard and the demo's report run, and the two backends that run it.

One text per question, the same on the embedded DuckDB warehouse and on Snowflake: the
marts in ``analytics`` and the pipeline's records in ``ingest`` are read by their two-part
names, which resolve in Snowflake's current database and in the DuckDB file alike. Filters
are bound parameters (``?``), never spliced into the text.

Imported by ``amplitude_dashboard`` (the Streamlit app) and by ``amplitude_laptop.report``;
it imports neither, nor ``amplitude_ingest``, so it ships into Streamlit in Snowflake as is.
"""

"""The Amplitude dashboard: one Streamlit app for the laptop and Streamlit in Snowflake.

``streamlit_app.py`` is the entry point in both places; :mod:`amplitude_dashboard.app`
picks the backend (the app's Snowpark session inside Snowflake, the DuckDB warehouse
anywhere else) and draws the pages of :mod:`amplitude_dashboard.pages` from the queries of
:mod:`amplitude_queries`.
"""

"""The Native App's procedures: thin handlers over the shipped export, in the app's objects.

One module per procedure of the app (app-contract: ingest_step, load_step, retention,
credentials, schedule, specification, doctor_checks, forget_step), with ``names`` the
Python side's one list of the app's object names and ``run_history`` the app's record
of what each call did. Each module keeps its decisions in plain functions of plain
values; the handler at its bottom is the only part that talks to Snowflake.
"""

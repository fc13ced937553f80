"""The Snowflake side of the shipped package: what runs only inside Snowflake.

The procedures' handlers (the export, the wait step, the doctor, alerts, forget) and the
Snowflake adapters the export plugs into the engine (the stage written with
``put_stream``, the ledger table, the one-thread-at-a-time session). The extract core one
level up never imports from here: arrows point from this sub-package to the core only.
"""

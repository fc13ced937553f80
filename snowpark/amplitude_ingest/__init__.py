"""Amplitude Export API → decompressed NDJSON on a stage, streamed and resumable.

The package is what ships into the Snowflake procedure, and nothing else: it imports only
packages from Snowflake's Anaconda channel at module level (snowflake-snowpark-python,
requests, urllib3, tenacity, pydantic); orjson, isal and pysimdjson are optional
accelerators. The laptop application (amplitude_laptop) builds on it; never the reverse.
"""

__version__ = "0.1.0"

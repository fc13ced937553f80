"""Amplitude Export API → decompressed NDJSON on a stage, streamed and resumable.

The package is what ships into the Snowflake procedure: it imports only packages from
Snowflake's Anaconda channel at module level (requests, urllib3, tenacity, boto3,
snowflake-snowpark-python); orjson and isal are optional accelerators.
"""

__version__ = "0.1.0"

"""A local, Amplitude-compatible Export API server with generated sample data.

Used by the tests, the demo and the benchmark in place of amplitude.com: real HTTP on
loopback, zips of gzipped NDJSON in Amplitude's layout, and injectable faults. It never
ships into the Snowflake procedure.
"""

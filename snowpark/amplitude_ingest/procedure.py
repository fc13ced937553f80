"""The stored procedure handler: ``CALL ingest_amplitude([start_hour, end_hour, force])``.

Thin on purpose: it reads the key pair from the Snowflake secret bound to the procedure and
its settings from a table, then runs the same :func:`~amplitude_ingest.assembly.extraction`
as the CLI with Snowflake's stage writer, the ledger table and worker threads. It returns
the run's summary as a VARIANT and, when a task runs it, hands a bounded copy to the next
task of the graph.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional

from pydantic import Field
from snowflake.snowpark import Session

from amplitude_ingest.assembly import extraction, inline_workers, thread_workers
from amplitude_ingest.config import Credentials, ExtractConfig, validated
from amplitude_ingest.domain import ExtractSummary
from amplitude_ingest.hours import parse_bounds
from amplitude_ingest.redact import redacting
from amplitude_ingest.snowflake_ledger import SnowflakeLedger
from amplitude_ingest.snowflake_session import SessionGate
from amplitude_ingest.snowflake_stage import SnowflakeStage

logger = logging.getLogger("amplitude_ingest")

SETTINGS_TABLE = "AMPLITUDE_INGEST_SETTINGS"
SECRET_ALIAS = "amplitude_credentials"  # noqa: S105 - a name in the SECRETS clause, not a secret
# SYSTEM$SET_RETURN_VALUE takes a string of limited size: the next task gets counts and
# the first few failures, never one message per hour.
RETURN_VALUE_MAX_BYTES = 4000
RETURN_VALUE_MAX_FAILURES = 5
FAILURE_MESSAGE_MAX_CHARS = 300


class ProcedureConfig(ExtractConfig):
    """The rows of the settings table (``name``, ``value``); a name not listed here is an
    error, so a misspelt setting cannot silently change nothing."""

    stage: str = Field("AMPLITUDE_STAGE", description="the external stage the pipe watches")
    ledger_table: str = Field("AMPLITUDE_INGEST_LEDGER", description="the ledger table")
    max_hours: int = Field(24 * 7, ge=1, description="cap on hours per call when resuming")
    # Tasks time out after an hour by default; stop cleanly before, watermark saved.
    time_budget_seconds: float | None = Field(
        45 * 60, gt=0, description="stop starting windows after this long (watermark saved)"
    )

    @classmethod
    def from_rows(cls, rows: dict[str, str | None]) -> ProcedureConfig:
        """Names are case-insensitive; an empty value means the default."""
        values = {name.strip().lower(): value for name, value in rows.items() if value}
        return validated(cls, values, f"settings table {SETTINGS_TABLE}")


def read_credentials() -> Credentials:
    """The key pair from the secret bound as ``amplitude_credentials`` (TYPE = PASSWORD)."""
    import _snowflake

    secret = _snowflake.get_username_password(SECRET_ALIAS)
    return Credentials.of(secret.username, secret.password)


def read_config(gate: SessionGate) -> ProcedureConfig:
    with gate() as session:
        rows = session.table(SETTINGS_TABLE).select("NAME", "VALUE").collect()
    return ProcedureConfig.from_rows({str(r[0]): None if r[1] is None else str(r[1]) for r in rows})


def task_return_value(summary: ExtractSummary, max_bytes: int = RETURN_VALUE_MAX_BYTES) -> str:
    """The summary as JSON within ``max_bytes``: counts always, failures while they fit."""
    for kept in range(RETURN_VALUE_MAX_FAILURES, -1, -1):
        value = summary.as_dict(max_failures=kept)
        value["failures"] = {
            hour: message[:FAILURE_MESSAGE_MAX_CHARS]
            for hour, message in dict(value["failures"]).items()  # type: ignore[call-overload]
        }
        text = json.dumps(value, separators=(",", ":"))
        if len(text.encode()) <= max_bytes:
            return text
    raise ValueError(f"a summary without failures does not fit in {max_bytes} bytes")


def _set_task_return_value(gate: SessionGate, summary: ExtractSummary) -> None:
    """Pass the summary to the next task of the graph, when a task is running this call."""
    with gate() as session:
        try:
            task = session.sql("select system$current_user_task_name()").collect()[0][0]
        except NotImplementedError:  # Snowpark local testing runs no SQL, and no task either
            return
        if task:
            session.sql(
                "call system$set_return_value(?)", params=[task_return_value(summary)]
            ).collect()


def ingest_amplitude(
    session: Session,
    # Snowpark reads these annotations to type the procedure; it knows Optional, not `X | None`.
    start_hour: Optional[str] = None,  # noqa: UP045
    end_hour: Optional[str] = None,  # noqa: UP045
    force: bool = False,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps plain `dict` to the VARIANT it returns
    """Export hours from Amplitude to the external stage; see the module docstring."""
    logging.getLogger("amplitude_ingest").setLevel(logging.INFO)
    start, end = parse_bounds(start_hour, end_hour)  # what the caller typed comes first
    gate = SessionGate(session)
    config = read_config(gate)
    credentials = read_credentials()
    stage_name = gate.qualify(config.stage, "stage")
    ledger = SnowflakeLedger(gate, gate.qualify(config.ledger_table, "ledger table"))
    # Snowpark local testing holds its session for the whole call, so a worker thread could
    # never upload there: with concurrency 1 windows run on the calling thread.
    workers = inline_workers if config.concurrency == 1 else thread_workers
    stage = SnowflakeStage(gate, stage_name)  # one stage, shared by the worker threads
    with (
        redacting(credentials.values()),
        extraction(
            config,
            credentials,
            stage=lambda: stage,
            ledger=ledger,
            workers=workers,
        ) as extractor,
    ):
        summary = extractor.run(extractor.plan(start, end, bool(force)))
        logger.info("ingest_amplitude: %s", summary.one_line())
    _set_task_return_value(gate, summary)
    result: dict[str, Any] = summary.as_dict()
    # Parts are spooled to /tmp, which is memory here: what it held at most, against its
    # bound of one data part and one quarantine part per window in flight.
    result["peak_tmp_bytes"] = stage.gauge.peak
    result["tmp_bound_bytes"] = 2 * config.concurrency * config.max_part_bytes
    return result

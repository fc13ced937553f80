"""The stored procedure handler: ``CALL ingest_amplitude([start_hour, end_hour, force])``.

Thin on purpose: it reads the key pair from the Snowflake secret bound to the procedure and
its settings from a table, then runs the same :func:`~amplitude_ingest.assembly.extraction`
as the CLI with Snowflake's stage writer, the ledger table and worker threads. It returns
the run's summary as a VARIANT and, when a task runs it, hands a bounded copy to the next
task of the graph.

A call in which any hour failed fails: once the ledger holds every outcome and the bounded
summary is handed on, it raises :class:`~amplitude_ingest.errors.HoursFailedError` (how
many hours, the first reasons, the run id), so TASK_HISTORY shows FAILED and a worksheet
CALL gets the error. Hours it exported stay done; an hour that failed in
``give_up_after_failed_runs`` calls is given up and no longer fails the calls after it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Optional

from pydantic import Field
from snowflake.snowpark import Session

from amplitude_ingest.assembly import extraction, inline_workers, thread_workers
from amplitude_ingest.config import Credentials, ExtractConfig, validated
from amplitude_ingest.errors import HoursFailedError
from amplitude_ingest.hours import parse_bounds
from amplitude_ingest.in_snowflake import doctor, forget_procedure, wait_step
from amplitude_ingest.in_snowflake.ledger_table import SnowflakeLedger
from amplitude_ingest.in_snowflake.native_app import app_settings
from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.in_snowflake.stage import SnowflakeStage
from amplitude_ingest.redact import redacting, scrub

logger = logging.getLogger("amplitude_ingest")

SETTINGS_TABLE = "AMPLITUDE.INGEST.AMPLITUDE_INGEST_SETTINGS"  # snowflake.yml passes the real one
SECRET_ALIAS = "amplitude_credentials"  # noqa: S105 - a name in the SECRETS clause, not a secret
# Names in the settings table that the other procedures read (the doctor, the wait step):
# known here so that a misspelt name is still an error, not a silent no-op.
OTHER_PROCEDURES_SETTINGS = frozenset(
    {
        *doctor.REQUIRED_SETTINGS,
        *doctor.OPTIONAL_SETTINGS,
        *wait_step.SETTINGS,
        *forget_procedure.SETTINGS,
        *app_settings.SETTINGS,
    }
)


class ProcedureConfig(ExtractConfig):
    """The rows of the settings table (``name``, ``value``); a name not listed here is an
    error, so a misspelt setting cannot silently change nothing."""

    stage: str = Field("AMPLITUDE_STAGE", description="the external stage the pipe watches")
    ledger_table: str = Field("AMPLITUDE_INGEST_LEDGER", description="the ledger table")
    forget_requests_table: str | None = Field(
        None, description="forgotten users, whose lines every export drops (sql/55)"
    )
    max_hours: int = Field(24 * 7, ge=1, description="cap on hours per call when resuming")
    # Tasks time out after an hour by default; stop cleanly before, watermark saved.
    time_budget_seconds: float | None = Field(
        45 * 60, gt=0, description="stop starting windows after this long (watermark saved)"
    )

    @classmethod
    def from_rows(cls, rows: dict[str, str | None], table: str = SETTINGS_TABLE) -> ProcedureConfig:
        """Names are case-insensitive; an empty value means the default; a name no procedure
        reads is an error that names it."""
        values = {name.strip().lower(): value for name, value in rows.items() if value}
        mine = {
            k: v
            for k, v in values.items()
            if k not in OTHER_PROCEDURES_SETTINGS or k in cls.model_fields
        }
        return validated(cls, mine, f"settings table {table}")


def read_credentials() -> Credentials:
    """The key pair from the secret bound as ``amplitude_credentials`` (TYPE = PASSWORD)."""
    import _snowflake

    secret = _snowflake.get_username_password(SECRET_ALIAS)
    return Credentials.of(secret.username, secret.password)


def read_config(gate: SessionGate, table: str) -> ProcedureConfig:
    with gate() as session:
        rows = session.table(table).select("NAME", "VALUE").collect()
    values = {str(r[0]): None if r[1] is None else str(r[1]) for r in rows}
    return ProcedureConfig.from_rows(values, table)


def _set_task_return_value(gate: SessionGate, result: dict[str, Any]) -> None:
    """Pass a bounded summary, with the run id, to the next task of the graph (the wait
    step reads it), when a task is running this call."""
    with gate() as session:
        try:
            task = session.sql("select system$current_user_task_name()").collect()[0][0]
        except NotImplementedError:  # Snowpark local testing runs no SQL, and no task either
            return
        if task:
            text = wait_step.return_value_text(wait_step.bound_summary(result))
            session.sql("call system$set_return_value(?)", params=[text]).collect()


def _forgotten_ids(
    gate: SessionGate, config: ProcedureConfig
) -> forget_procedure.SnowflakeForgottenIds | None:
    """The requests table sql/55 creates; a settings table without the row (a deployment
    from before it) has nobody to forget yet."""
    if config.forget_requests_table is None:
        return None
    table = gate.qualify(config.forget_requests_table, "forget requests table")
    return forget_procedure.SnowflakeForgottenIds(gate, table)


def ingest_amplitude(
    session: Session,
    # Snowpark reads these annotations to type the procedure; it knows Optional, not `X | None`.
    start_hour: Optional[str] = None,  # noqa: UP045
    end_hour: Optional[str] = None,  # noqa: UP045
    force: bool = False,
    settings_table: str = SETTINGS_TABLE,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps plain `dict` to the VARIANT it returns
    """Export hours from Amplitude to the external stage; see the module docstring."""
    logging.getLogger("amplitude_ingest").setLevel(logging.INFO)
    start, end = parse_bounds(start_hour, end_hour)  # what the caller typed comes first
    run_id = uuid.uuid4().hex  # names this call in the ledger, its leases and its summary
    gate = SessionGate(session)
    config = read_config(gate, gate.qualify(settings_table, "settings table"))
    credentials = read_credentials()
    stage_name = gate.qualify(config.stage, "stage")
    ledger = SnowflakeLedger(gate, gate.qualify(config.ledger_table, "ledger table"), run_id)
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
            owner=run_id,
            forgotten=_forgotten_ids(gate, config),
        ) as extractor,
    ):
        summary = extractor.run(extractor.plan(start, end, bool(force)))
        logger.info("ingest_amplitude: %s", summary.one_line())
    # A worksheet CALL shows this line: what was done, and what is left pending for the
    # schedule when the call's time budget ran out.
    result: dict[str, Any] = {"run_id": run_id, **summary.as_dict(), "message": summary.one_line()}
    # Parts are spooled to /tmp, which is memory here: what it held at most, against its
    # bound of one data part and one quarantine part per window in flight.
    result["peak_tmp_bytes"] = stage.gauge.peak
    result["tmp_bound_bytes"] = 2 * config.concurrency * config.max_part_bytes
    _set_task_return_value(gate, result)
    if summary.hours_failed:
        raise HoursFailedError(scrub(summary.failure_message(), credentials.values()))
    return result

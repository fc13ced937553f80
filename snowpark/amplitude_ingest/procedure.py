"""The stored procedure handler: ``CALL ingest_amplitude([start_hour, end_hour, force])``.

Thin on purpose. It reads the key pair from the Snowflake secret bound to the procedure
(through the external access integration), the settings from a small table, and builds the
same :class:`Extractor` the CLI builds, with the Snowflake stage writer, the ledger table
and worker threads. It returns the run's summary as a VARIANT and, when a task runs it, sets
the task's return value for the steps after it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Optional

from snowflake.snowpark import Session

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.export_client import ExportClient
from amplitude_ingest.pipeline import Extractor
from amplitude_ingest.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LAG_HOURS,
    DEFAULT_WINDOW_HOURS,
    Credentials,
    ExtractSettings,
    Region,
    Secret,
    export_url,
)
from amplitude_ingest.snowflake_ledger import SnowflakeLedger
from amplitude_ingest.snowflake_stage import SnowflakeStage
from amplitude_ingest.window_export import WindowExporter
from amplitude_ingest.windows import parse_bounds
from amplitude_ingest.workers import InlineWorkers, ThreadWorkers

logger = logging.getLogger("amplitude_ingest")

SETTINGS_TABLE = "AMPLITUDE_INGEST_SETTINGS"
SECRET_ALIAS = "amplitude_credentials"  # noqa: S105 - a name in the SECRETS clause, not a secret


@dataclass(frozen=True)
class ProcedureConfig:
    """Rows of the settings table (``name``, ``value``), with defaults for what is absent."""

    stage: str = "AMPLITUDE_STAGE"
    ledger_table: str = "AMPLITUDE_INGEST_LEDGER"
    region: Region = Region.US
    api_url: str | None = None
    project: str = "default"
    concurrency: int = DEFAULT_CONCURRENCY
    window_hours: int = DEFAULT_WINDOW_HOURS
    lag_hours: int = DEFAULT_LAG_HOURS
    max_hours_per_call: int = 24 * 7
    initial_hours: int = 24
    # Tasks time out after an hour by default; stop cleanly before, watermark saved.
    time_budget_seconds: float = 45 * 60

    @classmethod
    def from_rows(cls, rows: dict[str, str]) -> ProcedureConfig:
        known = {name.lower(): value for name, value in rows.items() if value not in (None, "")}
        try:
            return cls(
                stage=known.get("stage", cls.stage),
                ledger_table=known.get("ledger_table", cls.ledger_table),
                region=Region(known.get("region", cls.region.value).lower()),
                api_url=known.get("api_url"),
                project=known.get("project", cls.project),
                concurrency=int(known.get("concurrency", cls.concurrency)),
                window_hours=int(known.get("window_hours", cls.window_hours)),
                lag_hours=int(known.get("lag_hours", cls.lag_hours)),
                max_hours_per_call=int(known.get("max_hours_per_call", cls.max_hours_per_call)),
                initial_hours=int(known.get("initial_hours", cls.initial_hours)),
                time_budget_seconds=float(
                    known.get("time_budget_seconds", cls.time_budget_seconds)
                ),
            )
        except ValueError as exc:
            raise ConfigurationError(f"bad value in {SETTINGS_TABLE}: {exc}") from exc

    def extract_settings(self) -> ExtractSettings:
        return ExtractSettings(
            export_url=export_url(self.region, self.api_url),
            project=self.project,
            concurrency=self.concurrency,
            window_hours=self.window_hours,
            lag_hours=self.lag_hours,
            max_hours_per_run=self.max_hours_per_call,
            initial_hours=self.initial_hours,
            time_budget_seconds=self.time_budget_seconds,
        )


def read_credentials() -> Credentials:
    """The key pair from the secret bound as ``amplitude_credentials`` (TYPE = PASSWORD)."""
    import _snowflake

    secret = _snowflake.get_username_password(SECRET_ALIAS)
    return Credentials(Secret(secret.username), Secret(secret.password))


def read_config(session: Session) -> ProcedureConfig:
    rows = session.table(SETTINGS_TABLE).select("NAME", "VALUE").collect()
    return ProcedureConfig.from_rows({str(r[0]): str(r[1]) for r in rows})


def _set_task_return_value(session: Session, summary: dict[str, Any]) -> None:
    """Pass the summary to the next task of the graph, when a task is running this call."""
    try:
        task = session.sql("select system$current_user_task_name()").collect()[0][0]
    except NotImplementedError:  # Snowpark local testing runs no SQL, and no task either
        return
    if task:
        session.sql("call system$set_return_value(?)", params=[json.dumps(summary)]).collect()


def ingest_amplitude(
    session: Session,
    # Snowpark reads these annotations to type the procedure; it knows Optional, not `X | None`.
    start_hour: Optional[str] = None,  # noqa: UP045
    end_hour: Optional[str] = None,  # noqa: UP045
    force: bool = False,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps plain `dict` to the VARIANT it returns
    """Export hours from Amplitude to the external stage; see the module docstring."""
    logging.getLogger("amplitude_ingest").setLevel(logging.INFO)
    config = read_config(session)
    settings = config.extract_settings()
    start, end = parse_bounds(start_hour, end_hour)
    client = ExportClient.for_settings(
        settings, read_credentials(), settings.concurrency, config.region.value
    )
    stage = SnowflakeStage(session, config.stage)
    ledger = SnowflakeLedger(session, config.ledger_table)
    exporter = WindowExporter(settings, client, stage)
    workers: InlineWorkers | ThreadWorkers = (
        InlineWorkers(exporter)
        if settings.concurrency == 1
        else ThreadWorkers(exporter, settings.concurrency)
    )
    try:
        extractor = Extractor(settings, workers, ledger, destination=stage.describe())
        summary = extractor.run(start, end, force=bool(force))
    finally:
        workers.close()
        client.close()
    result = summary.as_dict()
    logger.info("ingest_amplitude: %s", summary.one_line())
    _set_task_return_value(session, result)
    return result

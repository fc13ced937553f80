"""The three steps of a laptop run, as functions of the settings: extract, load, transform.

The CLI prints what they return; the demo calls them directly. Each checks what the user
typed (hours, the stage location, the warehouse file) before what the environment holds
(the keys), and fails with a :class:`~amplitude_ingest.errors.ConfigurationError` that names
the problem before doing any work. Each holds the state folder's run lock while it works:
a second run on the same state stops at once (:mod:`amplitude_laptop.run_lock`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from amplitude_ingest.assembly import extraction
from amplitude_ingest.domain import ExtractPlan, ExtractSummary
from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.extractor import ProgressCallback
from amplitude_ingest.forget import ForgottenIds
from amplitude_ingest.hours import parse_bounds
from amplitude_laptop.process_workers import WORKER_KINDS
from amplitude_laptop.run_lock import run_lock
from amplitude_laptop.settings import LaptopSettings
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_laptop.stage_listing import open_stage_listing
from amplitude_laptop.stages import StageLocation

if TYPE_CHECKING:
    from amplitude_laptop.loader import LoadSummary
from amplitude_laptop.transform import (
    DEFAULT_DBT_PROJECT,
    NodeResult,
    SourceFreshness,
    TransformSummary,
    run_dbt,
    source_freshness,
)


def spool_dir(settings: LaptopSettings) -> Path:
    folder = settings.state_dir / "spool"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def extract(
    settings: LaptopSettings,
    start: str | None = None,
    end: str | None = None,
    *,
    force: bool = False,
    on_plan: Callable[[ExtractPlan], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> ExtractSummary:
    """Export hours to the stage; without ``start``, resume from the ledger."""
    start_hour, end_hour = parse_bounds(start, end)
    spool = spool_dir(settings)
    stage = StageLocation.parse(settings.stage, spool_dir=spool, fsync=settings.fsync)
    credentials = settings.credentials()
    with run_lock(settings.state_dir, "extract"), _ledger(settings) as ledger:
        # No other run holds this state folder, so a lease still in the ledger was left by
        # a run that was killed: it must not keep this one from those hours.
        ledger.release_all()
        with extraction(
            settings.extract_config(),
            credentials,
            stage=stage,
            ledger=ledger,
            workers=WORKER_KINDS[settings.workers],
            spool_dir=spool,
            owner=f"amplitude-ingest:{socket.gethostname()}:{os.getpid()}",
            forgotten=_forgotten_ids(settings),
        ) as extractor:
            plan = extractor.plan(start_hour, end_hour, force)
            if on_plan is not None:
                on_plan(plan)
            return extractor.run(plan, on_progress)


def _forgotten_ids(settings: LaptopSettings) -> ForgottenIds:
    # DuckDB only in this process and only when it is read (see load below).
    from amplitude_laptop.forget import WarehouseForgottenIds

    return WarehouseForgottenIds(settings.warehouse)


def load(settings: LaptopSettings) -> LoadSummary:
    """Load the stage's new event files into the warehouse, once per file and content."""
    # DuckDB is imported here, not at the top: an extract (and its worker processes) would
    # carry its ~25 MB for nothing.
    from amplitude_laptop.loader import Loader, connect

    location = StageLocation.parse(settings.stage, spool_dir=spool_dir(settings))
    if location.folder is not None and not location.folder.is_dir():
        raise ConfigurationError(
            f"stage folder {location.folder} does not exist: run `amplitude-ingest extract` "
            "first, or point --stage (AMP_STAGE) at the folder it wrote"
        )
    with run_lock(settings.state_dir, "load"), connect(settings.warehouse) as connection:
        return Loader(connection).load(open_stage_listing(location))


def transform(
    settings: LaptopSettings,
    *,
    target: str = "local",
    project_dir: Path | None = None,
    full_refresh: bool = False,
    on_node: Callable[[NodeResult], None] | None = None,
) -> TransformSummary:
    """``dbt build`` on the warehouse (or on Snowflake with ``target``)."""
    # On the laptop's DuckDB file a dbt lease still held is a killed run's: this process
    # holds the state folder's run lock, and DuckDB lets one process at a time write the
    # file. Take it over, or a crash would lock the models for amplitude__run_lease_hours.
    # On Snowflake another machine may be building: the lease decides there.
    take_over = ["--vars", "{amplitude__lease_take_over: true}"] if target == "local" else []
    with run_lock(settings.state_dir, "transform"):
        return run_dbt(
            ["build", *(["--full-refresh"] if full_refresh else []), *take_over],
            warehouse=settings.warehouse,
            target=target,
            project_dir=project_dir or DEFAULT_DBT_PROJECT,
            artifacts_dir=settings.state_dir / "dbt",
            on_node=on_node,
        )


def freshness(
    settings: LaptopSettings, *, target: str = "local", project_dir: Path | None = None
) -> list[SourceFreshness]:
    """How long ago the newest raw rows were loaded, against the sources' thresholds."""
    if target == "local" and not settings.warehouse.exists():
        return []
    return source_freshness(
        warehouse=settings.warehouse,
        target=target,
        project_dir=project_dir or DEFAULT_DBT_PROJECT,
        artifacts_dir=settings.state_dir / "dbt-freshness",
    )


@contextmanager
def _ledger(settings: LaptopSettings) -> Iterator[SqliteLedger]:
    ledger = SqliteLedger(settings.state_dir)
    try:
        yield ledger
    finally:
        ledger.close()

"""The one place an extract is wired: config, credentials, stage, ledger and workers.

The CLI, the procedure, the benchmark and the tests all call :func:`extraction`; they differ
only in the stage, ledger and kind of workers they pass. Nothing else builds an
:class:`~amplitude_ingest.exporter.WindowExporter` or an
:class:`~amplitude_ingest.extractor.Extractor`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from amplitude_ingest.config import Credentials, ExtractConfig
from amplitude_ingest.export_client import ExportClient
from amplitude_ingest.exporter import WindowExporter
from amplitude_ingest.extractor import Extractor
from amplitude_ingest.forget import Forgotten, ForgottenIds, NothingForgotten
from amplitude_ingest.ports import Ledger, Stage, Workers
from amplitude_ingest.workers import ThreadWorkers

logger = logging.getLogger(__name__)

StageOpener = Callable[[], Stage]


@dataclass(frozen=True)
class ExporterRecipe:
    """How to build a window exporter; picklable when its stage opener is, so that a worker
    process can build its own (own HTTP pool, own stage client)."""

    config: ExtractConfig
    credentials: Credentials
    open_stage: StageOpener
    spool_dir: Path | None = None
    sleep: Callable[[float], None] = time.sleep
    forgotten: Forgotten | None = None

    def build(self, pool_size: int = 1) -> WindowExporter:
        client = ExportClient(self.config, self.credentials, pool_size=pool_size)
        return WindowExporter(
            self.config,
            client,
            self.open_stage(),
            spool_dir=self.spool_dir,
            sleep=self.sleep,
            forgotten=self.forgotten,
        )


WorkersFactory = Callable[[ExporterRecipe], Workers]


def thread_workers(recipe: ExporterRecipe) -> Workers:
    """Windows on ``concurrency`` threads sharing one exporter."""
    concurrency = recipe.config.concurrency
    return ThreadWorkers.on_threads(recipe.build(pool_size=concurrency), concurrency)


def inline_workers(recipe: ExporterRecipe) -> Workers:
    """Windows one at a time on the calling thread."""
    return ThreadWorkers.inline(recipe.build())


def _utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def extraction(
    config: ExtractConfig,
    credentials: Credentials,
    *,
    stage: StageOpener,
    ledger: Ledger,
    workers: WorkersFactory = thread_workers,
    spool_dir: Path | None = None,
    clock: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
    owner: str | None = None,
    forgotten: ForgottenIds | None = None,
) -> Iterator[Extractor]:
    """An :class:`Extractor` ready to ``plan`` and ``run``; its workers close on exit.

    ``stage`` opens the stage: called here once to name it in logs (and fail early on a bad
    one), then by each exporter the workers build. ``owner`` names the run in the leases it
    takes on hours (a fresh id by default). ``forgotten`` tells which users were forgotten
    (read once, here): their lines never reach the stage. ``clock`` and ``sleep`` are for
    tests.
    """
    destination = stage().describe()
    hashes = (forgotten or NothingForgotten()).forgotten()
    if hashes:  # how many, never whose
        logger.info("%d forgotten id(s): their lines are dropped from every export", len(hashes))
    recipe = ExporterRecipe(config, credentials, stage, spool_dir, sleep, hashes)
    pool = workers(recipe)
    try:
        yield Extractor(config, pool, ledger, destination=destination, clock=clock, owner=owner)
    finally:
        pool.close()

"""Worker processes: concurrency kept in flight on fewer processes, every window answered,
and a worker that dies fails its windows instead of hanging the run."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from amplitude_ingest.assembly import extraction
from amplitude_ingest.config import ExtractConfig
from amplitude_ingest.domain import HourStatus
from amplitude_laptop.process_workers import ProcessWorkers
from amplitude_laptop.sqlite_ledger import SqliteLedger
from amplitude_laptop.stages import LocalStage
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import CREDENTIALS, FIXED_NOW

START = datetime(2026, 1, 26, 0, tzinfo=UTC)
H = timedelta(hours=1)


def config_for(server: LocalAmplitude, **extra: object) -> ExtractConfig:
    return ExtractConfig.model_validate(
        {"api_url": server.url, "retry_wait_initial": 0.01, "retry_wait_max": 0.05, **extra}
    )


def test_four_windows_in_flight_on_two_processes(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude(FaultPlan(response_delay_seconds=0.4))
    ledger = SqliteLedger(tmp_path / "state")
    workers_seen: list[ProcessWorkers] = []

    def two_processes(recipe):  # type: ignore[no-untyped-def]
        workers_seen.append(ProcessWorkers(recipe, cores=2))
        return workers_seen[-1]

    with extraction(
        config_for(server, concurrency=4),
        CREDENTIALS,
        stage=lambda: LocalStage(tmp_path / "stage"),
        ledger=ledger,
        workers=two_processes,
        clock=lambda: FIXED_NOW,
    ) as extractor:
        summary = extractor.run(extractor.plan(START, START + 11 * H))
    ledger.close()
    assert len(workers_seen[0]._processes) == 2
    assert server.max_in_flight == 4
    assert summary.hours_done == 12
    assert summary.events == server.manifest(START, START + 11 * H).rows


def test_a_worker_that_dies_fails_its_windows_and_the_run_goes_on(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude(FaultPlan(response_delay_seconds=1.0))
    ledger = SqliteLedger(tmp_path / "state")
    pools: list[ProcessWorkers] = []

    def killable(recipe):  # type: ignore[no-untyped-def]
        pools.append(ProcessWorkers(recipe, cores=2))
        return pools[-1]

    import threading

    def kill_a_worker() -> None:
        while not pools:
            time.sleep(0.05)
        time.sleep(0.3)  # the first windows are in flight, waiting on the slow server
        os.kill(pools[0]._processes[0].pid, signal.SIGKILL)  # type: ignore[arg-type]

    threading.Thread(target=kill_a_worker, daemon=True).start()
    began = time.monotonic()
    with extraction(
        config_for(server, concurrency=4),
        CREDENTIALS,
        stage=lambda: LocalStage(tmp_path / "stage"),
        ledger=ledger,
        workers=killable,
        clock=lambda: FIXED_NOW,
    ) as extractor:
        summary = extractor.run(extractor.plan(START, START + 7 * H))
    assert time.monotonic() - began < 30  # answered, not hung
    assert summary.hours_failed >= 1
    assert any("worker process died" in m for m in summary.failures.values())
    statuses = {r.status for r in ledger.get([START + n * H for n in range(8)]).values()}
    assert HourStatus.FAILED in statuses
    assert HourStatus.PENDING not in statuses  # every hour has an answer in the ledger
    ledger.close()

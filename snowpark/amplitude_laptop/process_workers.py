"""Windows in worker processes, so that a laptop uses every core.

Validation and line splitting hold Python's GIL, so one process tops out near one core.
Each worker process has its own exporter (HTTP pool, stage client), built from the same
:class:`~amplitude_ingest.assembly.ExporterRecipe` the threads use, never sharing a socket
with its parent.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

from amplitude_ingest.assembly import ExporterRecipe, WorkersFactory, thread_workers
from amplitude_ingest.domain import WindowResult
from amplitude_ingest.exporter import WindowExporter
from amplitude_ingest.hours import HourWindow
from amplitude_ingest.ports import Workers

_process_exporter: WindowExporter | None = None


def _start_worker(recipe: ExporterRecipe) -> None:
    global _process_exporter
    _process_exporter = recipe.build()


def _export_in_worker(window: HourWindow, clean_stale: bool) -> WindowResult:
    assert _process_exporter is not None, "worker process was not initialised"
    return _process_exporter.export(window, clean_stale)


class ProcessWorkers:
    """Windows in ``concurrency`` worker processes, one window at a time each."""

    def __init__(self, recipe: ExporterRecipe) -> None:
        concurrency = recipe.config.concurrency
        if "fork" in multiprocessing.get_all_start_methods():
            # Build the exporter once, before forking: its HTTP pools hold no connection
            # yet, and the workers share its pages (and the interpreter's) instead of each
            # building a copy. gc.freeze keeps the collector from writing to those pages.
            _start_worker(recipe)
            gc.freeze()
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(concurrency, mp_context=context)
        else:  # spawn: each worker builds its own
            self._pool = ProcessPoolExecutor(
                concurrency, initializer=_start_worker, initargs=(recipe,)
            )

    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]:
        return self._pool.submit(_export_in_worker, window, clean_stale)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        global _process_exporter
        if _process_exporter is not None:
            _process_exporter.close()
            _process_exporter = None


def process_workers(recipe: ExporterRecipe) -> Workers:
    return ProcessWorkers(recipe)


def default_workers() -> tuple[str, WorkersFactory]:
    """Processes where there is more than one core to use, else threads."""
    if (os.cpu_count() or 1) > 1:
        return "process", process_workers
    return "thread", thread_workers


WORKER_KINDS: dict[str, WorkersFactory] = {"process": process_workers, "thread": thread_workers}

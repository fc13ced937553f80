"""Where windows run: threads (the procedure, tests) or processes (the CLI, both cores).

Validation and line splitting hold Python's GIL, so one process tops out near one core;
worker processes let a laptop use every core. Each worker process builds its own HTTP
client and stage from an :class:`ExporterRecipe`, never sharing a socket with its parent.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, Protocol, Self, TypeVar

from amplitude_ingest.export_client import ExportClient
from amplitude_ingest.settings import Credentials, ExtractSettings
from amplitude_ingest.stage import open_stage
from amplitude_ingest.window_export import WindowExporter, WindowResult
from amplitude_ingest.windows import HourWindow

P = ParamSpec("P")
T = TypeVar("T")


class Workers(Protocol):
    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]: ...

    def close(self) -> None: ...


class _PoolWorkers:
    def __init__(self, pool: Executor) -> None:
        self._pool = pool

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ThreadWorkers(_PoolWorkers):
    """Windows on threads of this process, sharing one exporter."""

    def __init__(self, exporter: WindowExporter, concurrency: int) -> None:
        super().__init__(ThreadPoolExecutor(concurrency, "amplitude-window"))
        self._exporter = exporter

    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]:
        return self._pool.submit(self._exporter.export, window, clean_stale)


class _InlineExecutor(Executor):
    """Runs each call at once on the calling thread and hands back its finished future."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - what a pool would hand back in the future
            future.set_exception(exc)
        return future


class InlineWorkers(ThreadWorkers):
    """Windows one after another on the calling thread: concurrency 1, no thread at all.

    For a caller that must keep every session call on its own thread (Snowpark local
    testing holds its session lock for the whole of a procedure call).
    """

    def __init__(self, exporter: WindowExporter) -> None:
        _PoolWorkers.__init__(self, _InlineExecutor())
        self._exporter = exporter


@dataclass(frozen=True)
class ExporterRecipe:
    """Everything a worker process needs to build its own exporter (all picklable)."""

    settings: ExtractSettings
    credentials: Credentials
    stage_location: str
    spool_dir: Path | None
    region_hint: str = "us"
    fsync: bool = True

    def build(self, pool_size: int = 1) -> WindowExporter:
        client = ExportClient.for_settings(
            self.settings, self.credentials, pool_size, self.region_hint
        )
        return WindowExporter(
            self.settings,
            client,
            open_stage(self.stage_location, self.spool_dir, self.fsync),
            spool_dir=self.spool_dir,
        )


_process_exporter: WindowExporter | None = None


def _start_worker(recipe: ExporterRecipe) -> None:
    global _process_exporter
    _process_exporter = recipe.build()


def _export_in_worker(window: HourWindow, clean_stale: bool) -> WindowResult:
    assert _process_exporter is not None, "worker process was not initialised"
    return _process_exporter.export(window, clean_stale)


class ProcessWorkers(_PoolWorkers):
    """Windows in worker processes, one window at a time each."""

    def __init__(self, recipe: ExporterRecipe, concurrency: int) -> None:
        if "fork" in multiprocessing.get_all_start_methods():
            # Build the exporter once, before forking: its HTTP pools hold no connection
            # yet, and the workers share its pages (and the interpreter's) instead of each
            # building a copy. gc.freeze keeps the collector from writing to those pages.
            _start_worker(recipe)
            gc.freeze()
            pool = ProcessPoolExecutor(concurrency, mp_context=multiprocessing.get_context("fork"))
        else:  # spawn: each worker builds its own
            pool = ProcessPoolExecutor(concurrency, initializer=_start_worker, initargs=(recipe,))
        super().__init__(pool)

    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]:
        return self._pool.submit(_export_in_worker, window, clean_stale)


def default_worker_kind() -> str:
    """Processes where there is more than one core to use."""
    return "process" if (os.cpu_count() or 1) > 1 else "thread"

"""Windows in worker processes, so that a laptop uses every core.

Validation and line splitting hold Python's GIL, so one process tops out near one core;
downloading mostly waits. So there is one worker process per core (never more than the
concurrency), and each runs its share of the windows on threads: ``concurrency`` requests
stay in flight, every core unpacks, and no more interpreters are paid for (in memory) than
there are cores to run them. Each worker process has its own exporter (HTTP pool, stage
client), built from the same :class:`~amplitude_ingest.assembly.ExporterRecipe` the threads
use, never sharing a socket with its parent.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.queues import Queue
from typing import Any

from amplitude_ingest.assembly import ExporterRecipe, WorkersFactory, thread_workers
from amplitude_ingest.domain import WindowResult
from amplitude_ingest.exporter import WindowExporter
from amplitude_ingest.hours import HourWindow
from amplitude_ingest.ports import Workers

Task = tuple[int, HourWindow, bool] | None
Outcome = tuple[int, bool, Any] | None

_forked_exporter: WindowExporter | None = None  # built before forking, shared by the workers


def _serve(
    recipe: ExporterRecipe, threads: int, tasks: Queue[Task], outcomes: Queue[Outcome]
) -> None:
    """A worker process: take windows while a thread is free, answer each with its result."""
    exporter = _forked_exporter or recipe.build(pool_size=threads)
    free = threading.Semaphore(threads)

    def export(number: int, window: HourWindow, clean_stale: bool) -> None:
        try:
            outcomes.put((number, True, exporter.export(window, clean_stale)))
        except BaseException as exc:  # noqa: BLE001 - handed back to the parent's future
            outcomes.put((number, False, exc))
        finally:
            free.release()

    with ThreadPoolExecutor(threads, "amplitude-window") as pool:
        while True:
            free.acquire()
            task = tasks.get()
            if task is None:
                break
            pool.submit(export, *task)
    exporter.close()


class ProcessWorkers:
    """``concurrency`` windows at once, on ``min(concurrency, cores)`` worker processes."""

    def __init__(self, recipe: ExporterRecipe, cores: int | None = None) -> None:
        global _forked_exporter
        concurrency = recipe.config.concurrency
        processes = max(1, min(concurrency, cores or os.cpu_count() or 1))
        threads = -(-concurrency // processes)  # ceiling: the last process may idle a thread
        forking = "fork" in multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if forking else "spawn")
        self._tasks: Queue[Task] = context.Queue()
        self._outcomes: Queue[Outcome] = context.Queue()
        if forking:
            # Build the exporter once, before forking: its HTTP pools hold no connection
            # yet, and the workers share its pages (and the interpreter's) instead of each
            # building a copy. gc.freeze keeps the collector from writing to those pages.
            _forked_exporter = recipe.build(pool_size=threads)
            gc.freeze()
        self._processes = [
            context.Process(
                target=_serve,
                args=(recipe, threads, self._tasks, self._outcomes),
                name=f"amplitude-worker-{n}",
                daemon=True,
            )
            for n in range(processes)
        ]
        for process in self._processes:
            process.start()
        if forking:
            _forked_exporter.close()  # type: ignore[union-attr]
            _forked_exporter = None
        self._futures: dict[int, Future[WindowResult]] = {}
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._closing = False
        self._broken: str | None = None
        self._collector = threading.Thread(target=self._collect, daemon=True)
        self._collector.start()

    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]:
        future: Future[WindowResult] = Future()
        with self._lock:
            if self._broken is not None:
                future.set_exception(BrokenProcessPool(self._broken))
                return future
            number = next(self._numbers)
            self._futures[number] = future
        self._tasks.put((number, window, clean_stale))
        return future

    def _collect(self) -> None:
        while True:
            try:
                outcome = self._outcomes.get(timeout=0.5)
            except queue.Empty:
                dead = [p for p in self._processes if not p.is_alive()]
                if dead and not self._closing:
                    codes = ", ".join(f"{p.name} exit {p.exitcode}" for p in dead)
                    self._fail_pending(f"a worker process died ({codes})")
                    return
                continue
            if outcome is None:
                return
            number, succeeded, value = outcome
            with self._lock:
                future = self._futures.pop(number)
            if succeeded:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _fail_pending(self, reason: str) -> None:
        with self._lock:
            self._broken = reason
            pending, self._futures = self._futures, {}
        for future in pending.values():
            future.set_exception(BrokenProcessPool(reason))

    def close(self) -> None:
        self._closing = True
        for _ in self._processes:
            self._tasks.put(None)
        for process in self._processes:
            process.join()
        self._outcomes.put(None)
        self._collector.join()
        self._fail_pending("the workers were closed")


def process_workers(recipe: ExporterRecipe) -> Workers:
    return ProcessWorkers(recipe)


WORKER_KINDS: dict[str, WorkersFactory] = {"process": process_workers, "thread": thread_workers}

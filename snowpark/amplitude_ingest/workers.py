"""Where windows run inside one process: on threads, or one after another inline.

Threads suit the procedure (downloads overlap; Python releases the GIL while it waits on
the network and in zlib). Worker processes, which use every core of a laptop, live in
``amplitude_laptop.process_workers``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import ParamSpec, Self, TypeVar

from amplitude_ingest.domain import WindowResult
from amplitude_ingest.exporter import WindowExporter
from amplitude_ingest.hours import HourWindow

P = ParamSpec("P")
T = TypeVar("T")


class _InlineExecutor(Executor):
    """Runs each call at once on the calling thread and hands back its finished future."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - what a pool would hand back in the future
            future.set_exception(exc)
        return future


class ThreadWorkers:
    """Windows on the threads of ``pool``, sharing one exporter (and its HTTP pool)."""

    def __init__(self, exporter: WindowExporter, pool: Executor) -> None:
        self._exporter = exporter
        self._pool = pool

    @classmethod
    def on_threads(cls, exporter: WindowExporter, concurrency: int) -> ThreadWorkers:
        return cls(exporter, ThreadPoolExecutor(concurrency, "amplitude-window"))

    @classmethod
    def inline(cls, exporter: WindowExporter) -> ThreadWorkers:
        """Windows one after another on the calling thread: no thread at all.

        For a caller that must keep every session call on its own thread (Snowpark local
        testing holds its session lock for the whole of a procedure call).
        """
        return cls(exporter, _InlineExecutor())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]:
        return self._pool.submit(self._exporter.export, window, clean_stale)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._exporter.close()

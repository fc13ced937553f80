"""What the engine needs from the world, as small interfaces.

The procedure plugs in Snowflake's (``in_snowflake.stage``, ``in_snowflake.ledger_table``);
the laptop application plugs in a folder, S3, a SQLite ledger and worker processes
(``amplitude_laptop``); tests plug in the same real ones on loopback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from amplitude_ingest.domain import HourRecord, WindowResult
from amplitude_ingest.hours import HourWindow


class PendingPart(Protocol):
    """A part being written: invisible on the stage until ``commit`` publishes it whole
    under ``key`` (known only then: it names the content); gone after ``abort``."""

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self, key: str) -> None: ...

    def abort(self) -> None: ...


class Stage(Protocol):
    """Where parts are written. Keys are relative to the stage's root (``stage_keys``)."""

    def create(self) -> PendingPart: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def describe(self) -> str:
        """Names the stage in logs, never with credentials."""
        ...


class Ledger(Protocol):
    """One record per hour, so a run knows what is done and can resume."""

    def get(self, hours: Sequence[datetime]) -> dict[datetime, HourRecord]: ...

    def save(self, records: Iterable[HourRecord]) -> None:
        """Write final records; an hour saved this way holds no lease any more."""
        ...

    def claim(
        self, hours: Sequence[datetime], owner: str, now: datetime, until: datetime, force: bool
    ) -> set[datetime]:
        """Mark ``hours`` pending under a lease for ``owner`` until ``until`` and return the
        ones ``owner`` now holds, atomically. An hour another owner holds stays with it while
        its lease lasts (past ``now``); a complete or given-up hour is taken only with
        ``force``."""
        ...

    def release(self, owner: str) -> None:
        """Drop what is left of ``owner``'s leases (hours it did not get to stay pending)."""
        ...

    def watermark(self) -> datetime | None:
        """The latest hour that is done, empty or given up (settled)."""
        ...

    def unfinished(self) -> list[datetime]:
        """Hours left pending or failed, oldest first."""
        ...


class ExportSource(Protocol):
    """The Export API: one window per call, its zip as byte chunks while they arrive, or
    None when the window has no data."""

    def open(self, window: HourWindow) -> AbstractContextManager[Iterator[bytes] | None]: ...

    def close(self) -> None: ...


class Workers(Protocol):
    """Runs windows concurrently: threads, inline, or (on a laptop) processes."""

    def submit(self, window: HourWindow, clean_stale: bool) -> Future[WindowResult]: ...

    def close(self) -> None: ...

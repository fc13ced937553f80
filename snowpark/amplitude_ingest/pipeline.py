"""The extract pipeline: plan hours, fetch windows concurrently, write parts, keep the ledger.

Wiring only: HTTP is in :mod:`export_client`, unpacking in :mod:`unpack`, line checks in
:mod:`lines`, keys in :mod:`keys`, retries in :mod:`retry`. The CLI and the Snowflake
procedure build the same :class:`Extractor` with different stages and ledgers.

Guarantees a caller can rely on:

* a part is visible on the stage only once its member passed every integrity check;
* an hour is ``done`` in the ledger only after all of its parts are on the stage, and a
  failed attempt removes what it wrote, so an hour is all there or not there;
* the same export always gives the same keys, so re-running an hour replaces its parts
  instead of adding to them, and leftovers of an interrupted attempt are removed.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from amplitude_ingest.errors import (
    AmplitudeAuthError,
    AmplitudeIngestError,
    SplittableExportError,
)
from amplitude_ingest.export_client import Download
from amplitude_ingest.keys import (
    events_hour_prefix,
    member_fingerprint,
    member_hour,
    part_key,
    quarantine_hour_prefix,
    quarantine_key,
)
from amplitude_ingest.ledger import HourRecord, HourStatus, Ledger
from amplitude_ingest.lines import LineValidator, RejectedLine, ValidatedChunk
from amplitude_ingest.retry import window_retrying
from amplitude_ingest.settings import Compression, ExtractSettings
from amplitude_ingest.stage import GzipObject, Stage, StagedObject
from amplitude_ingest.unpack import ExportArchive, ZipMember
from amplitude_ingest.windows import (
    HourWindow,
    format_hour,
    hour_range,
    newest_exportable_hour,
    plan_windows,
    resume_hours,
    validate_range,
)

logger = logging.getLogger(__name__)


class ExportSource(Protocol):
    """What the pipeline needs of the Export API client."""

    def download(self, window: HourWindow, destination: IO[bytes]) -> Download: ...


@dataclass
class HourOutcome:
    files: int = 0
    events: int = 0
    bytes: int = 0
    rejected_lines: int = 0
    members: int = 0
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WindowResult:
    window: HourWindow
    attempts: int
    hours: dict[datetime, HourOutcome] | None = None
    error: AmplitudeIngestError | None = None

    @property
    def needs_split(self) -> bool:
        return isinstance(self.error, SplittableExportError) and self.window.size > 1


@dataclass
class RunSummary:
    """What a run did; printed by the CLI, returned as a VARIANT by the procedure."""

    hours_planned: int = 0
    hours_done: int = 0
    hours_empty: int = 0
    hours_failed: int = 0
    hours_skipped: int = 0
    files: int = 0
    events: int = 0
    bytes: int = 0
    rejected_lines: int = 0
    windows_split: int = 0
    stopped_early: bool = False
    duration_seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.hours_failed == 0

    def one_line(self) -> str:
        mb = self.bytes / 1e6
        rate = mb / self.duration_seconds if self.duration_seconds > 0 else 0.0
        line = (
            f"hours: {self.hours_done} done, {self.hours_empty} empty, "
            f"{self.hours_failed} failed, {self.hours_skipped} already done | "
            f"{self.files} files, {self.events} events, {mb:.1f} MB JSON "
            f"({rate:.1f} MB/s), {self.rejected_lines} lines quarantined | "
            f"{self.duration_seconds:.1f} s"
        )
        if self.stopped_early:
            line += " | stopped at the time budget; the next run resumes"
        return line

    def as_dict(self) -> dict[str, object]:
        return {
            "hours_planned": self.hours_planned,
            "hours_done": self.hours_done,
            "hours_empty": self.hours_empty,
            "hours_failed": self.hours_failed,
            "hours_skipped": self.hours_skipped,
            "files": self.files,
            "events": self.events,
            "bytes": self.bytes,
            "rejected_lines": self.rejected_lines,
            "windows_split": self.windows_split,
            "stopped_early": self.stopped_early,
            "duration_seconds": round(self.duration_seconds, 3),
            "failures": dict(self.failures),
        }


ProgressCallback = Callable[[HourWindow, HourStatus], None]


class Extractor:
    def __init__(
        self,
        settings: ExtractSettings,
        source: ExportSource,
        stage: Stage,
        ledger: Ledger,
        *,
        spool_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.source = source
        self.stage = stage
        self.ledger = ledger
        self.spool_dir = spool_dir
        self._sleep = sleep
        self._clock = clock

    # -- planning ---------------------------------------------------------------------

    def plan(
        self, start: datetime | None, end: datetime | None, force: bool = False
    ) -> tuple[list[datetime], int]:
        """Hours to export now, and how many of the requested ones were already done."""
        newest = newest_exportable_hour(self._clock(), self.settings.lag_hours)
        if start is None:
            if end is not None:
                raise AmplitudeIngestError("an end hour needs a start hour")
            hours = resume_hours(
                watermark=self.ledger.watermark(),
                unfinished=self.ledger.unfinished(),
                newest_exportable=newest,
                initial_hours=self.settings.initial_hours,
                max_hours=self.settings.max_hours_per_run,
            )
        else:
            end = newest if end is None else end
            validate_range(start, end, newest)
            hours = hour_range(start, end)
        if force:
            return hours, 0
        known = self.ledger.get(hours)
        todo = [h for h in hours if not (h in known and known[h].status.is_complete)]
        return todo, len(hours) - len(todo)

    # -- running ----------------------------------------------------------------------

    def run(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        force: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> RunSummary:
        began = time.monotonic()
        hours, skipped = self.plan(start, end, force)
        summary = RunSummary(hours_planned=len(hours), hours_skipped=skipped)
        queue = deque(plan_windows(hours, self.settings.window_hours))
        budget = self.settings.time_budget_seconds
        deadline = None if budget is None else began + budget
        auth_error: AmplitudeAuthError | None = None
        logger.info(
            "exporting %d hours in %d windows to %s",
            len(hours),
            len(queue),
            self.stage.describe(),
        )
        with ThreadPoolExecutor(self.settings.concurrency, "amplitude-window") as pool:
            in_flight: dict[Future[WindowResult], HourWindow] = {}
            while queue or in_flight:
                while queue and auth_error is None and len(in_flight) < self.settings.concurrency:
                    if deadline is not None and time.monotonic() >= deadline:
                        summary.stopped_early = True
                        queue.clear()
                        break
                    window = queue.popleft()
                    self._mark_pending(window)
                    in_flight[pool.submit(self._process_window, window)] = window
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    window = in_flight.pop(future)
                    try:
                        result = future.result()
                    except AmplitudeAuthError as exc:
                        auth_error = auth_error or exc
                        queue.clear()
                        continue
                    if result.needs_split:
                        first, second = window.halves()
                        logger.warning(
                            "window %s: %s; splitting into %s and %s",
                            window.label(),
                            result.error,
                            first.label(),
                            second.label(),
                        )
                        summary.windows_split += 1
                        queue.extendleft([second, first])
                        continue
                    status = self._record(result, summary)
                    if on_progress is not None:
                        on_progress(window, status)
        summary.duration_seconds = time.monotonic() - began
        if auth_error is not None:
            raise auth_error
        return summary

    def _mark_pending(self, window: HourWindow) -> None:
        known = self.ledger.get(window.hours)
        self.ledger.save(
            known[h].with_status(HourStatus.PENDING, error=None)
            if h in known
            else HourRecord(h, HourStatus.PENDING)
            for h in window.hours
        )

    def _record(self, result: WindowResult, summary: RunSummary) -> HourStatus:
        known = self.ledger.get(result.window.hours)
        records = []
        for hour in result.window.hours:
            previous = known.get(hour, HourRecord(hour, HourStatus.PENDING))
            attempts = previous.attempts + result.attempts
            if result.hours is None:
                message = str(result.error)
                records.append(
                    previous.with_status(HourStatus.FAILED, attempts=attempts, error=message)
                )
                summary.hours_failed += 1
                summary.failures[format_hour(hour)] = message
                continue
            outcome = result.hours[hour]
            has_lines = outcome.events or outcome.rejected_lines
            status = HourStatus.DONE if has_lines else HourStatus.EMPTY
            records.append(
                HourRecord(
                    hour,
                    status,
                    files=outcome.files,
                    events=outcome.events,
                    bytes=outcome.bytes,
                    rejected_lines=outcome.rejected_lines,
                    attempts=attempts,
                    keys=tuple(outcome.keys),
                )
            )
            summary.hours_done += status is HourStatus.DONE
            summary.hours_empty += status is HourStatus.EMPTY
            summary.files += outcome.files
            summary.events += outcome.events
            summary.bytes += outcome.bytes
            summary.rejected_lines += outcome.rejected_lines
        self.ledger.save(records)
        if result.hours is None:
            logger.error("window %s failed: %s", result.window.label(), result.error)
            return HourStatus.FAILED
        logger.info("window %s done after %d attempt(s)", result.window.label(), result.attempts)
        return HourStatus.DONE

    # -- one window ---------------------------------------------------------------------

    def _process_window(self, window: HourWindow) -> WindowResult:
        """Runs on a worker thread. Auth errors propagate; other failures are returned."""
        attempts = 0
        retrying = window_retrying(
            label=window.label(),
            window_hours=window.size,
            max_attempts=self.settings.max_attempts,
            wait_initial=self.settings.retry_wait_initial,
            wait_max=self.settings.retry_wait_max,
            sleep=self._sleep,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    hours = self._attempt(window)
            return WindowResult(window, attempts, hours=hours)
        except AmplitudeAuthError:
            raise
        except AmplitudeIngestError as exc:
            return WindowResult(window, attempts, error=exc)
        except Exception as exc:  # a stage or disk failure: fail these hours, keep going
            logger.exception("window %s: unexpected failure", window.label())
            return WindowResult(
                window, attempts, error=AmplitudeIngestError(f"{type(exc).__name__}: {exc}")
            )

    def _attempt(self, window: HourWindow) -> dict[datetime, HourOutcome]:
        outcomes = {hour: HourOutcome() for hour in window.hours}
        written: list[str] = []
        try:
            with tempfile.TemporaryFile(prefix="amplitude-export-", dir=self.spool_dir) as spool:
                download = self.source.download(window, spool)
                if download.has_data:
                    spool.seek(0)
                    with ExportArchive(spool) as archive:
                        self._write_members(window, archive, outcomes, written)
        except BaseException:
            self._delete_quietly(written)
            raise
        for hour, outcome in outcomes.items():
            self._remove_stale(hour, set(outcome.keys))
        return outcomes

    def _write_members(
        self,
        window: HourWindow,
        archive: ExportArchive,
        outcomes: dict[datetime, HourOutcome],
        written: list[str],
    ) -> None:
        for member in archive.members():
            hour = member_hour(member.name, window)
            if hour is None:
                hour = window.start
                if window.size > 1:
                    logger.warning(
                        "window %s: zip member #%d does not name an hour inside the window; "
                        "filed under %s",
                        window.label(),
                        member.index,
                        format_hour(hour),
                    )
            outcome = outcomes[hour]
            self._write_member(archive, member, hour, outcome.members, outcome, written)
            outcome.members += 1

    def _write_member(
        self,
        archive: ExportArchive,
        member: ZipMember,
        hour: datetime,
        sequence: int,
        outcome: HourOutcome,
        written: list[str],
    ) -> None:
        project = self.settings.project
        extension = self.settings.compression.extension
        fingerprint = member_fingerprint(
            member.crc32, member.compressed_size, member.file_size, extension
        )
        part = _PartWriter(
            data_key=part_key(project, hour, sequence, fingerprint, extension),
            quarantine_key=quarantine_key(project, hour, sequence, fingerprint),
            create_data=self._create,
            create_quarantine=self.stage.create,
            hour=hour,
            member=member,
        )
        validator = LineValidator()
        try:
            for chunk in archive.chunks(member):
                part.add(validator.feed(chunk))
            part.add(validator.finish())
        except BaseException:
            part.abort()
            raise
        committed = part.commit()
        written.extend(committed)
        outcome.keys.extend(committed)
        outcome.files += part.events > 0
        outcome.events += part.events
        outcome.bytes += part.bytes
        outcome.rejected_lines += part.rejected_lines

    def _create(self, key: str) -> StagedObject:
        staged = self.stage.create(key)
        if self.settings.compression is Compression.GZIP:
            return GzipObject(staged)
        return staged

    def _remove_stale(self, hour: datetime, keep: set[str]) -> None:
        project = self.settings.project
        for prefix in (events_hour_prefix(project, hour), quarantine_hour_prefix(project, hour)):
            stale = [k for k in self.stage.list_keys(prefix) if k not in keep]
            if stale:
                logger.info(
                    "hour %s: removing %d part(s) left by an earlier attempt",
                    format_hour(hour),
                    len(stale),
                )
                self.stage.delete(stale)

    def _delete_quietly(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        try:
            self.stage.delete(keys)
        except Exception:
            logger.exception("could not remove %d part(s) of a failed attempt", len(keys))


class _PartWriter:
    """One zip member's output: valid lines to a data part, rejected ones to quarantine.

    Both objects stay invisible until ``commit``; a part with no valid line is not written.
    """

    def __init__(
        self,
        *,
        data_key: str,
        quarantine_key: str,
        create_data: Callable[[str], StagedObject],
        create_quarantine: Callable[[str], StagedObject],
        hour: datetime,
        member: ZipMember,
    ) -> None:
        self._data_key = data_key
        self._quarantine_key = quarantine_key
        self._data = create_data(data_key)
        self._create_quarantine = create_quarantine
        self._quarantine: StagedObject | None = None
        self._hour = format_hour(hour)
        self._member = member.index
        self.events = 0
        self.bytes = 0
        self.rejected_lines = 0
        self._first_rejected: RejectedLine | None = None

    def add(self, checked: ValidatedChunk) -> None:
        if checked.valid:
            self._data.write(checked.valid)
            self.events += checked.valid_lines
            self.bytes += len(checked.valid)
        if checked.rejected:
            self._quarantine_lines(checked.rejected)

    def _quarantine_lines(self, rejected: list[RejectedLine]) -> None:
        if self._quarantine is None:
            self._quarantine = self._create_quarantine(self._quarantine_key)
            self._first_rejected = rejected[0]
        self.rejected_lines += len(rejected)
        records = (
            json.dumps(
                {
                    "hour": self._hour,
                    "zip_member": self._member,
                    "line_number": r.line_number,
                    "reason": r.reason,
                    "line": r.raw.decode("utf-8", errors="replace"),
                }
            )
            + "\n"
            for r in rejected
        )
        self._quarantine.write("".join(records).encode())

    def commit(self) -> list[str]:
        """Publish what was written; returns the keys now visible on the stage."""
        committed = []
        if self.events:
            self._data.commit()
            committed.append(self._data_key)
        else:
            self._data.abort()
        if self._quarantine is not None and self._first_rejected is not None:
            self._quarantine.commit()
            committed.append(self._quarantine_key)
            logger.warning(
                "hour %s, zip member #%d: %d line(s) quarantined to %s (first: line %d, %s)",
                self._hour,
                self._member,
                self.rejected_lines,
                self._quarantine_key,
                self._first_rejected.line_number,
                self._first_rejected.reason,
            )
        return committed

    def abort(self) -> None:
        self._data.abort()
        if self._quarantine is not None:
            self._quarantine.abort()

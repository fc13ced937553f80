"""Exporting one window: download, unpack, validate, write, all or nothing, retried whole.

Runs on a worker thread or in a worker process (``Workers``); the ledger and the plan stay
with :class:`amplitude_ingest.extractor.Extractor`.

What a caller can rely on:

* a part is visible on the stage only once its member passed every integrity check;
* a failed attempt removes what it wrote, so an hour is all there or not there;
* the same export always gives the same keys, so re-running an hour replaces its parts
  instead of adding to them, and leftovers of an interrupted attempt are removed.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from amplitude_ingest.config import Compression, ExtractConfig
from amplitude_ingest.domain import HourOutcome, WindowResult
from amplitude_ingest.errors import AmplitudeAuthError, AmplitudeIngestError
from amplitude_ingest.hours import HourWindow, format_hour
from amplitude_ingest.lines import LineValidator, RejectedLine, ValidatedChunk
from amplitude_ingest.parts import GzipPart
from amplitude_ingest.ports import ExportSource, PendingPart, Stage
from amplitude_ingest.retry import window_retrying
from amplitude_ingest.stage_keys import (
    events_hour_prefix,
    member_fingerprint,
    member_hour,
    part_key,
    quarantine_hour_prefix,
    quarantine_key,
)
from amplitude_ingest.unpack import ExportArchive, ZipMember

logger = logging.getLogger(__name__)


class WindowExporter:
    """Exports windows for one config, source and stage; shared by threads, one per process."""

    def __init__(
        self,
        config: ExtractConfig,
        source: ExportSource,
        stage: Stage,
        *,
        spool_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.source = source
        self.stage = stage
        self.spool_dir = spool_dir
        self._sleep = sleep

    def close(self) -> None:
        self.source.close()

    def export(self, window: HourWindow, clean_stale: bool = True) -> WindowResult:
        """Export one window, retried as a whole. Auth errors propagate; others are returned."""
        attempts = 0
        retrying = window_retrying(
            label=window.label(),
            window_hours=window.size,
            max_attempts=self.config.max_attempts,
            wait_initial=self.config.retry_wait_initial,
            wait_max=self.config.retry_wait_max,
            sleep=self._sleep,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    hours = self._attempt(window, clean_stale)
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

    def _attempt(self, window: HourWindow, clean_stale: bool) -> dict[datetime, HourOutcome]:
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
        if clean_stale:  # only an hour tried before can have leftovers; skip the listing
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
        project = self.config.project
        extension = self.config.compression.extension
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

    def _create(self, key: str) -> PendingPart:
        staged = self.stage.create(key)
        if self.config.compression is Compression.GZIP:
            return GzipPart(staged)
        return staged

    def _remove_stale(self, hour: datetime, keep: set[str]) -> None:
        project = self.config.project
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
        create_data: Callable[[str], PendingPart],
        create_quarantine: Callable[[str], PendingPart],
        hour: datetime,
        member: ZipMember,
    ) -> None:
        self._data_key = data_key
        self._quarantine_key = quarantine_key
        self._data = create_data(data_key)
        self._create_quarantine = create_quarantine
        self._quarantine: PendingPart | None = None
        self._hour = format_hour(hour)
        self._member = member.index
        self.events = 0
        self.bytes = 0
        self.rejected_lines = 0
        self._first_rejected: RejectedLine | None = None

    def add(self, checked: ValidatedChunk) -> None:
        for piece in checked.valid:
            self._data.write(piece)
        self.events += checked.valid_lines
        self.bytes += checked.valid_bytes
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

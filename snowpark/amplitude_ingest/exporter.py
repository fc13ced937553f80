"""Exporting one window: download, unpack, validate, write, all or nothing, retried whole.

Runs on a worker thread or in a worker process (``Workers``); the ledger and the plan stay
with :class:`amplitude_ingest.extractor.Extractor`.

The zip is unpacked while it downloads (:mod:`amplitude_ingest.zip_stream`): nothing
holds a whole response, zip or member, on disk or in memory. An archive that cannot be
read in order is downloaded again whole to a spool file and read from there; that is
logged and counted (``WindowResult.spooled``).

What a caller can rely on:

* a part is visible on the stage only once it is complete, and the member it came from
  passed every integrity check before the attempt counts;
* a failed attempt removes what it wrote, so an hour is all there or not there;
* a part's key is derived from its content (and the hour, member and position), so the
  same export always gives the same keys: re-running an hour replaces its parts instead
  of adding to them, and leftovers of an interrupted attempt are removed;
* parts hold at most about ``max_part_bytes`` of JSON each, cut at line ends, which bounds
  what a stage that spools parts (S3, a Snowflake stage) holds at once;
* a zip entry whose name is not Amplitude's, or names an hour outside the window, never
  reaches the events folder: all its lines are quarantined with the reason.
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
from amplitude_ingest.forget import Forgotten, drop_forgotten
from amplitude_ingest.hours import HourWindow, format_hour
from amplitude_ingest.lines import LineValidator, RejectedLine, ValidatedChunk, split_lines
from amplitude_ingest.parts import GzipPart, RollingParts
from amplitude_ingest.ports import ExportSource, PendingPart, Stage
from amplitude_ingest.retry import window_retrying
from amplitude_ingest.stage_keys import (
    QUARANTINE_EXTENSION,
    events_hour_prefix,
    member_hour,
    part_key,
    quarantine_hour_prefix,
    quarantine_key,
)
from amplitude_ingest.unpack import SpooledArchive, gunzip
from amplitude_ingest.zip_stream import NotStreamableError, RawMember, streamed_members

logger = logging.getLogger(__name__)

UNEXPECTED_NAME = (
    "zip entry name is not Amplitude's <project id>/<project id>_<YYYY-MM-DD>_<H>#<n>.json.gz "
    "for an hour of the requested window"
)


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
        forgotten: Forgotten | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.stage = stage
        self.spool_dir = spool_dir
        self.forgotten = forgotten or Forgotten()
        self._sleep = sleep

    def close(self) -> None:
        self.source.close()

    def export(self, window: HourWindow, clean_stale: bool = True) -> WindowResult:
        """Export one window, retried as a whole. Auth errors propagate; others are returned."""
        attempts = 0
        spooled = False
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
                    hours, spooled = self._attempt(window, clean_stale)
            return WindowResult(window, attempts, hours=hours, spooled=spooled)
        except AmplitudeAuthError:
            raise
        except AmplitudeIngestError as exc:
            return WindowResult(window, attempts, error=exc)
        except Exception as exc:  # a stage or disk failure: fail these hours, keep going
            logger.exception("window %s: unexpected failure", window.label())
            return WindowResult(
                window, attempts, error=AmplitudeIngestError(f"{type(exc).__name__}: {exc}")
            )

    def _attempt(
        self, window: HourWindow, clean_stale: bool
    ) -> tuple[dict[datetime, HourOutcome], bool]:
        written: list[str] = []
        try:
            try:
                outcomes = self._attempt_streaming(window, written)
                spooled = False
            except NotStreamableError as exc:
                logger.warning(
                    "window %s: %s, so the zip cannot be read as it downloads; "
                    "downloading it whole to a spool file instead",
                    window.label(),
                    exc,
                )
                self._delete_quietly(written)
                written.clear()
                outcomes = self._attempt_spooled(window, written)
                spooled = True
        except BaseException:
            self._delete_quietly(written)
            raise
        if clean_stale:  # only an hour tried before can have leftovers; skip the listing
            for hour, outcome in outcomes.items():
                self._remove_stale(hour, set(outcome.keys))
        return outcomes, spooled

    def _attempt_streaming(
        self, window: HourWindow, written: list[str]
    ) -> dict[datetime, HourOutcome]:
        outcomes = {hour: HourOutcome() for hour in window.hours}
        with self.source.open(window) as body:
            if body is not None:
                self._write_members(window, streamed_members(body), outcomes, written)
        return outcomes

    def _attempt_spooled(
        self, window: HourWindow, written: list[str]
    ) -> dict[datetime, HourOutcome]:
        outcomes = {hour: HourOutcome() for hour in window.hours}
        with (
            tempfile.TemporaryFile(prefix="amplitude-export-", dir=self.spool_dir) as spool,
            self.source.open(window) as body,
        ):
            if body is None:
                return outcomes
            for chunk in body:
                spool.write(chunk)
            spool.seek(0)
            with SpooledArchive(spool) as archive:
                self._write_members(window, archive.members(), outcomes, written)
        return outcomes

    def _write_members(
        self,
        window: HourWindow,
        members: Iterable[RawMember],
        outcomes: dict[datetime, HourOutcome],
        written: list[str],
    ) -> None:
        for index, name, raw in members:
            hour = member_hour(name, window)
            rejected = hour is None
            if hour is None:
                hour = window.start
                logger.warning(
                    "window %s: zip member #%d is quarantined whole: %s",
                    window.label(),
                    index,
                    UNEXPECTED_NAME,
                )
            outcome = outcomes[hour]
            writer = _MemberWriter(
                config=self.config,
                create=self._create,
                create_quarantine=self.stage.create,
                hour=hour,
                sequence=outcome.members,
                member=index,
                forgotten=self.forgotten,
            )
            try:
                chunks = gunzip(raw, f"zip member #{index}")
                if rejected:
                    writer.reject(split_lines(chunks), UNEXPECTED_NAME, entry_name=name)
                else:
                    validator = LineValidator()
                    for chunk in chunks:
                        writer.add(validator.feed(chunk))
                    writer.add(validator.finish())
                writer.finish()
            except BaseException:
                writer.abort()
                written.extend(writer.committed)
                raise
            written.extend(writer.committed)
            outcome.keys.extend(writer.committed)
            outcome.files += writer.data_parts
            outcome.events += writer.events
            outcome.bytes += writer.bytes
            outcome.rejected_lines += writer.rejected_lines
            outcome.rejected_members += rejected
            outcome.lines_forgotten += writer.lines_forgotten
            outcome.members += 1

    def _create(self) -> PendingPart:
        part = self.stage.create()
        if self.config.compression is Compression.GZIP:
            return GzipPart(part)
        return part

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


class _MemberWriter:
    """One zip member's output: valid lines to data parts, rejected ones to quarantine
    parts, both of bounded size and named by their content."""

    def __init__(
        self,
        *,
        config: ExtractConfig,
        create: Callable[[], PendingPart],
        create_quarantine: Callable[[], PendingPart],
        hour: datetime,
        sequence: int,
        member: int,
        forgotten: Forgotten,
    ) -> None:
        project, extension = config.project, config.compression.extension
        self._forgotten = forgotten
        self._hour = format_hour(hour)
        self._member = member
        self._entry_name: str | None = None
        self._data = RollingParts(
            create,
            config.max_part_bytes,
            extension,
            lambda piece, fp: part_key(project, hour, sequence, piece, fp, extension),
        )
        self._quarantine = RollingParts(
            create_quarantine,
            config.max_part_bytes,
            QUARANTINE_EXTENSION,
            lambda piece, fp: quarantine_key(project, hour, sequence, piece, fp),
        )
        self._first_rejected: RejectedLine | None = None
        self.events = 0
        self.bytes = 0
        self.rejected_lines = 0
        self.lines_forgotten = 0

    @property
    def committed(self) -> list[str]:
        return [*self._data.committed, *self._quarantine.committed]

    @property
    def data_parts(self) -> int:
        return len(self._data.committed)

    def add(self, checked: ValidatedChunk) -> None:
        checked, dropped = drop_forgotten(checked, self._forgotten)
        self.lines_forgotten += dropped
        for buffer in checked.valid:
            self._data.write(buffer)
        self.events += checked.valid_lines
        self.bytes += checked.valid_bytes
        if checked.rejected:
            self._quarantine_lines(checked.rejected)

    def reject(self, lines: Iterable[bytes], reason: str, entry_name: str) -> None:
        """Quarantine every line, valid or not, with ``reason`` (and the untrusted entry
        name, as data in the quarantine file only)."""
        self._entry_name = entry_name
        batch: list[RejectedLine] = []
        for number, line in enumerate(lines, start=1):
            if self._forgotten and self._forgotten.matches_line(line):
                self.lines_forgotten += 1
                continue
            batch.append(RejectedLine(number, reason, line))
            if len(batch) >= 1000:
                self._quarantine_lines(batch)
                batch = []
        if batch:
            self._quarantine_lines(batch)

    def _quarantine_lines(self, rejected: list[RejectedLine]) -> None:
        if self._first_rejected is None:
            self._first_rejected = rejected[0]
        self.rejected_lines += len(rejected)
        name = {} if self._entry_name is None else {"zip_entry_name": self._entry_name}
        records = "".join(
            json.dumps(
                {
                    "hour": self._hour,
                    "zip_member": self._member,
                    **name,
                    "line_number": r.line_number,
                    "reason": r.reason,
                    "line": r.raw.decode("utf-8", errors="replace"),
                }
            )
            + "\n"
            for r in rejected
        )
        self._quarantine.write(records.encode())

    def finish(self) -> None:
        """Publish the last data part and quarantine part, if any."""
        self._data.flush()
        self._quarantine.flush()
        if self.lines_forgotten:  # how many, never whose
            logger.info(
                "hour %s, zip member #%d: %d line(s) of forgotten users dropped",
                self._hour,
                self._member,
                self.lines_forgotten,
            )
        if self._first_rejected is not None:
            logger.warning(
                "hour %s, zip member #%d: %d line(s) quarantined to %s (first: line %d, %s)",
                self._hour,
                self._member,
                self.rejected_lines,
                ", ".join(self._quarantine.committed),
                self._first_rejected.line_number,
                self._first_rejected.reason,
            )

    def abort(self) -> None:
        """Drop what is not committed yet; the caller removes what is."""
        self._data.abort()
        self._quarantine.abort()

"""What an extract knows and reports, as plain values: hours, windows, plans, summaries.

Every other module speaks in these types; none of them does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from amplitude_ingest.errors import AmplitudeIngestError, SplittableExportError
from amplitude_ingest.hours import HourWindow


class HourStatus(StrEnum):
    PENDING = "pending"  # planned or in flight; a crash leaves it so, and resume retries it
    DONE = "done"
    EMPTY = "empty"  # Amplitude has no events for the hour (404, or a zip with none)
    FAILED = "failed"

    @property
    def is_complete(self) -> bool:
        return self in (HourStatus.DONE, HourStatus.EMPTY)


@dataclass(frozen=True)
class HourRecord:
    """The ledger's row for one hour."""

    hour: datetime
    status: HourStatus
    files: int = 0
    events: int = 0
    bytes: int = 0
    rejected_lines: int = 0
    attempts: int = 0
    error: str | None = None
    keys: tuple[str, ...] = field(default=(), repr=False)
    updated_at: datetime | None = None

    def with_status(self, status: HourStatus, **changes: object) -> HourRecord:
        return replace(self, status=status, **changes)  # type: ignore[arg-type]


@dataclass
class HourOutcome:
    """What one attempt wrote for one hour of a window."""

    files: int = 0
    events: int = 0
    bytes: int = 0
    rejected_lines: int = 0
    rejected_members: int = 0  # zip entries whose name is not Amplitude's: quarantined whole
    lines_forgotten: int = 0  # lines of forgotten users dropped (amplitude_ingest.forget)
    members: int = 0
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WindowResult:
    """A window's end: its hours' outcomes, or the error that failed it after every try."""

    window: HourWindow
    attempts: int
    hours: dict[datetime, HourOutcome] | None = None
    error: AmplitudeIngestError | None = None
    spooled: bool = False  # the zip could not be read as it downloaded (see exporter)

    @property
    def needs_split(self) -> bool:
        return isinstance(self.error, SplittableExportError) and self.window.size > 1


@dataclass(frozen=True)
class ExtractPlan:
    """The hours a run will export, and how many of those asked for were already done."""

    hours: list[datetime]
    already_done: int = 0
    force: bool = False  # export hours the ledger holds as complete again


@dataclass
class ExtractSummary:
    """What an extract did; printed by the CLI, returned as a VARIANT by the procedure."""

    hours_planned: int = 0
    hours_done: int = 0
    hours_empty: int = 0
    hours_failed: int = 0
    hours_skipped: int = 0
    hours_held_elsewhere: int = 0  # another run holds their lease: it is exporting them
    files: int = 0
    events: int = 0
    bytes: int = 0
    rejected_lines: int = 0
    rejected_members: int = 0
    lines_forgotten: int = 0
    windows_split: int = 0
    windows_spooled: int = 0
    stopped_early: bool = False
    duration_seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was quarantined whole (a zip entry not Amplitude's)."""
        return self.hours_failed == 0 and self.rejected_members == 0

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
        if self.hours_held_elsewhere:
            line += f" | {self.hours_held_elsewhere} hour(s) left to another run holding them"
        if self.rejected_members:
            line += (
                f" | {self.rejected_members} zip member(s) quarantined whole: "
                "their names are not Amplitude's"
            )
        if self.lines_forgotten:
            line += f" | {self.lines_forgotten} line(s) of forgotten users dropped"
        if self.windows_spooled:
            line += f" | {self.windows_spooled} window(s) spooled (zip not readable as a stream)"
        if self.stopped_early:
            line += " | stopped at the time budget; the next run resumes"
        return line

    def as_dict(self, max_failures: int | None = None) -> dict[str, object]:
        """Plain values; ``max_failures`` keeps the first few failures (oldest hours first)."""
        failures = sorted(self.failures.items())
        kept = failures if max_failures is None else failures[:max_failures]
        return {
            "hours_planned": self.hours_planned,
            "hours_done": self.hours_done,
            "hours_empty": self.hours_empty,
            "hours_failed": self.hours_failed,
            "hours_skipped": self.hours_skipped,
            "hours_held_elsewhere": self.hours_held_elsewhere,
            "files": self.files,
            "events": self.events,
            "bytes": self.bytes,
            "rejected_lines": self.rejected_lines,
            "rejected_members": self.rejected_members,
            "lines_forgotten": self.lines_forgotten,
            "windows_split": self.windows_split,
            "windows_spooled": self.windows_spooled,
            "stopped_early": self.stopped_early,
            "duration_seconds": round(self.duration_seconds, 3),
            "failures": dict(kept),
            "failures_not_shown": len(failures) - len(kept),
        }

"""What an extract knows and reports, as plain values: hours, windows, plans, summaries.

Every other module speaks in these types; none of them does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from amplitude_ingest.errors import AmplitudeIngestError, SplittableExportError, shorten
from amplitude_ingest.hours import HourWindow


class HourStatus(StrEnum):
    PENDING = "pending"  # planned or in flight; a crash leaves it so, and resume retries it
    DONE = "done"
    EMPTY = "empty"  # Amplitude has no events for the hour (404, or a zip with none)
    FAILED = "failed"
    # Failed in ``give_up_after_failed_runs`` runs: no longer planned (only ``force`` exports
    # it again), so one hour that keeps failing cannot fail every run after it.
    GIVEN_UP = "given_up"

    @property
    def is_complete(self) -> bool:
        return self in (HourStatus.DONE, HourStatus.EMPTY)

    @property
    def is_settled(self) -> bool:
        """No run plans it again without ``force``: complete, or given up."""
        return self.is_complete or self is HourStatus.GIVEN_UP


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
    failed_runs: int = 0  # runs in a row in which the hour failed; a done hour resets it

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
    force: bool = False  # export hours the ledger holds as complete, or given up, again
    given_up: int = 0  # hours asked for that the ledger holds as given up (left out)
    explicit: bool = False  # a range the caller gave, not a resume from the ledger


@dataclass
class ExtractSummary:
    """What an extract did; printed by the CLI, returned as a VARIANT by the procedure."""

    hours_planned: int = 0
    hours_done: int = 0
    hours_empty: int = 0
    hours_failed: int = 0
    hours_given_up: int = 0  # failed in this run for the give_up_after_failed_runs-th time
    hours_skipped: int = 0
    hours_skipped_given_up: int = 0  # asked for, but given up earlier: left out without force
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
    # Claimed but not reached (the time budget): left pending, the next run exports them.
    hours_left_pending: int = 0
    # After the run: exportable hours not yet settled, whatever the number of calls needed.
    hours_behind: int = 0
    catch_up: bool = False  # more than one call's worth is left and nothing failed
    duration_seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)
    run_id: str = ""  # the run's name in the ledger's leases and rows

    def failure_message(self, max_reasons: int = 3, max_reason_chars: int = 200) -> str:
        """What a failed run says when it fails: how many hours failed, the first reasons
        (oldest hours, each cut short: a message must stay readable and bounded) and the
        run id to look it up by. The reasons are the ledger's, where keys never go."""
        reasons = []
        for hour, message in sorted(self.failures.items())[:max_reasons]:
            reasons.append(f"{hour}: {shorten(message, max_reason_chars)}")
        more = len(self.failures) - len(reasons)
        given_up = (
            f", {self.hours_given_up} of them given up (not exported again unless forced)"
            if self.hours_given_up
            else ""
        )
        return (
            f"run {self.run_id or '(unnamed)'}: {self.hours_failed} hour(s) failed{given_up}; "
            f"{self.hours_done + self.hours_empty} done stay done. First: "
            + "; ".join(reasons)
            + (f"; and {more} more" if more > 0 else "")
        )

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
        if self.hours_given_up:
            line += (
                f" | {self.hours_given_up} hour(s) given up: no run exports them again "
                "unless forced"
            )
        if self.hours_skipped_given_up:
            line += (
                f" | {self.hours_skipped_given_up} hour(s) left out: given up earlier "
                "(force exports them)"
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
            line += (
                f" | stopped at the time budget: {self.hours_left_pending} hour(s) left "
                "pending, the next run (the schedule) exports them"
            )
        if self.hours_behind:
            # Counted from the ledger's newest hour to now, whatever range this run had: after
            # a backfill of old hours it is the gap a run with no range would export.
            line += (
                f" | {self.hours_behind} exportable hour(s) up to now not yet exported "
                "(a run with no range exports them)"
            )
        return line

    def as_dict(self, max_failures: int | None = None) -> dict[str, object]:
        """Plain values; ``max_failures`` keeps the first few failures (oldest hours first).

        The keys are an interface: the task graph's wait step and alerts read them from the
        procedure's return value. Keep them stable; in particular ``hours_failed``,
        ``hours_given_up`` (given up by this run), ``hours_skipped_given_up``,
        ``hours_left_pending``, ``hours_behind`` and ``catch_up``.
        """
        failures = sorted(self.failures.items())
        kept = failures if max_failures is None else failures[:max_failures]
        return {
            "hours_planned": self.hours_planned,
            "hours_done": self.hours_done,
            "hours_empty": self.hours_empty,
            "hours_failed": self.hours_failed,
            "hours_given_up": self.hours_given_up,
            "hours_skipped": self.hours_skipped,
            "hours_skipped_given_up": self.hours_skipped_given_up,
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
            "hours_left_pending": self.hours_left_pending,
            "hours_behind": self.hours_behind,
            "catch_up": self.catch_up,
            "duration_seconds": round(self.duration_seconds, 3),
            "failures": dict(kept),
            "failures_not_shown": len(failures) - len(kept),
        }

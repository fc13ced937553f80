"""``amplitude-ingest status``: the ledger and the load history at a glance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from amplitude_ingest.domain import HourRecord, HourStatus
from amplitude_ingest.hours import format_hour


@dataclass(frozen=True)
class LoadStats:
    files_loaded: int
    rows_loaded: int
    files_failed: int
    last_loaded_at: datetime | None
    errors: list[tuple[str, str]]


def read_load_stats(warehouse: Path) -> LoadStats | None:
    """The loader's history, or None when the warehouse has not been created yet."""
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as db:
        tables = {r[0] for r in db.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()}  # fmt: skip
        if "load_history" not in tables:
            return None
        files, rows, last = db.execute(
            "select count(*), coalesce(sum(rows_loaded), 0), max(loaded_at) from raw.load_history"
        ).fetchone() or (0, 0, None)
        errors = db.execute(
            "select file_name, error from raw.load_errors order by failed_at desc limit 5"
        ).fetchall()
        failed = db.execute("select count(*) from raw.load_errors").fetchone()
    return LoadStats(
        int(files),
        int(rows),
        int(failed[0] if failed else 0),
        last,
        [(str(f), str(e)) for f, e in errors],
    )


def render(
    records: list[HourRecord], loads: LoadStats | None, ledger: Path, warehouse: Path
) -> str:
    """Plain text, one fact a line, for a terminal or a log."""
    lines = [f"ledger     {ledger}"]
    if not records:
        lines.append("hours      none exported yet")
    else:
        counts = Counter(r.status for r in records)
        first, last = records[0].hour, records[-1].hour
        lines.append(
            f"hours      {counts[HourStatus.DONE]} done, {counts[HourStatus.EMPTY]} empty, "
            f"{counts[HourStatus.FAILED]} failed, {counts[HourStatus.GIVEN_UP]} given up, "
            f"{counts[HourStatus.PENDING]} pending ({format_hour(first)} .. {format_hour(last)})"
        )
        done = [r for r in records if r.status.is_complete]
        lines.append(
            f"exported   {sum(r.events for r in done)} events in {sum(r.files for r in done)} "
            f"files, {sum(r.bytes for r in done) / 1e6:.1f} MB, "
            f"{sum(r.rejected_lines for r in records)} lines quarantined"
        )
        for record in [r for r in records if r.status is HourStatus.FAILED][:5]:
            lines.append(
                f"failed     {format_hour(record.hour)} after {record.attempts} attempt(s): "
                f"{record.error}"
            )
        given_up = [r for r in records if r.status is HourStatus.GIVEN_UP]
        for record in given_up[:5]:
            lines.append(
                f"given up   {format_hour(record.hour)} after failing in {record.failed_runs} "
                "run(s); `extract --start ... --force` exports it again"
            )
        if len(given_up) > 5:
            lines.append(f"given up   and {len(given_up) - 5} more")
        updated = max((r.updated_at for r in records if r.updated_at), default=None)
        if updated:
            lines.append(f"last run   {updated:%Y-%m-%d %H:%M:%S} UTC")
    lines.append(f"warehouse  {warehouse}")
    if loads is None:
        lines.append("loaded     nothing yet")
    else:
        lines.append(
            f"loaded     {loads.files_loaded} files, {loads.rows_loaded} rows, "
            f"{loads.files_failed} files failed"
            + (
                f", last at {loads.last_loaded_at:%Y-%m-%d %H:%M:%S} UTC"
                if loads.last_loaded_at
                else ""
            )
        )
        for name, error in loads.errors:
            lines.append(f"load error {name}: {error}")
    return "\n".join(lines)

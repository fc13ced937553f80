"""``amplitude-ingest status``: the ledger, the load history and the last runs at a glance.

Everything is read through :mod:`amplitude_queries.laptop_records`, read-only: looking
never creates or changes a ledger or a warehouse.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

from amplitude_ingest.domain import HourStatus
from amplitude_ingest.hours import format_hour
from amplitude_queries.laptop_records import LedgerHour, LoadStats, RunRecord
from amplitude_queries.laptop_records import read_load_stats as _read_load_stats

RUNS_SHOWN = 5


def read_load_stats(warehouse: Path) -> LoadStats | None:
    """The loader's history, or None when the warehouse has not been created yet."""
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return _read_load_stats(db)


def render(
    hours: list[LedgerHour],
    loads: LoadStats | None,
    ledger: Path,
    warehouse: Path,
    runs: list[RunRecord] | None = None,
) -> str:
    """Plain text, one fact a line, for a terminal or a log. ``runs`` newest first."""
    lines = [f"ledger     {ledger}"]
    if not hours:
        lines.append("hours      none exported yet")
    else:
        counts = Counter(HourStatus(h.status) for h in hours)
        first, last = hours[0].hour, hours[-1].hour
        lines.append(
            f"hours      {counts[HourStatus.DONE]} done, {counts[HourStatus.EMPTY]} empty, "
            f"{counts[HourStatus.FAILED]} failed, {counts[HourStatus.GIVEN_UP]} given up, "
            f"{counts[HourStatus.PENDING]} pending ({format_hour(first)} .. {format_hour(last)})"
        )
        done = [h for h in hours if HourStatus(h.status).is_complete]
        lines.append(
            f"exported   {sum(h.events for h in done)} events in {sum(h.files for h in done)} "
            f"files, {sum(h.bytes for h in done) / 1e6:.1f} MB, "
            f"{sum(h.rejected_lines for h in hours)} lines quarantined"
        )
        for hour in [h for h in hours if h.status == HourStatus.FAILED][:5]:
            lines.append(
                f"failed     {format_hour(hour.hour)} after {hour.attempts} attempt(s): "
                f"{hour.error}"
            )
        given_up = [h for h in hours if h.status == HourStatus.GIVEN_UP]
        for hour in given_up[:5]:
            lines.append(
                f"given up   {format_hour(hour.hour)} after failing in {hour.failed_runs} "
                "run(s); `extract --start ... --force` exports it again"
            )
        if len(given_up) > 5:
            lines.append(f"given up   and {len(given_up) - 5} more")
        updated = max(h.updated_at for h in hours)
        lines.append(f"last write {updated:%Y-%m-%d %H:%M:%S} UTC")
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
    for run in (runs or [])[:RUNS_SHOWN]:
        lines.append(f"run        {run.one_line()}")
    return "\n".join(lines)

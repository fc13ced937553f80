"""dbt benchmark: a full `dbt build` over 30 days of history vs an incremental one.

Generates about ``--million`` million events over 30 days with the bundled generator,
loads them with the Snowpipe-like loader into a fresh DuckDB warehouse, times a full
`dbt build`, then loads one more day and times the incremental `dbt build` (and a run with
nothing new). Not a test: run with `make bench-dbt`. Target: incremental <= 15 % of full.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "dbt"
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
EVENTS_PER_SESSION = 8.7  # measured from the generator


def _loaded_on(day: int) -> datetime:
    """History is loaded as it would have been: each day early the next morning."""
    return FIRST_DAY + timedelta(days=day + 1, hours=3)


def _write_day(args: tuple[int, int, str]) -> int:
    import orjson

    from amplitude_sample_server.generator import generate_hour

    day, sessions, stage = args
    written = 0
    for hour in range(24):
        start = FIRST_DAY + timedelta(days=day, hours=hour)
        events, _ = generate_hour(3, start, sessions)
        folder = Path(stage) / "events" / "bench" / start.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        body = b"".join(orjson.dumps(e) + b"\n" for e in events)
        (folder / f"bench_{start:%Y%m%dT%H}_0000.json").write_bytes(body)
        written += len(events)
    return written


def _timed_build(warehouse: Path, *extra: str) -> float:
    from amplitude_laptop.transform import run_dbt

    began = time.perf_counter()
    result = run_dbt(["build", "--quiet", *extra], warehouse=warehouse, artifacts_dir=OUT / "dbt")
    seconds = time.perf_counter() - began
    if not result.ok:
        raise SystemExit(f"dbt build failed: {result.failures}")
    return seconds


def _load(stage: Path, warehouse: Path, day: int) -> tuple[int, float]:
    from amplitude_laptop.loader import Loader, connect
    from amplitude_laptop.stage_listing import LocalStageListing

    began = time.perf_counter()
    with connect(warehouse) as db:
        loader = Loader(db, clock=lambda: _loaded_on(day))
        rows = loader.load(LocalStageListing(stage)).rows_loaded
    return rows, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--million", type=float, default=2.0)
    args = parser.parse_args()
    sessions = max(1, int(args.million * 1e6 / (DAYS * 24 * EVENTS_PER_SESSION)))
    shutil.rmtree(OUT, ignore_errors=True)
    stage, warehouse = OUT / "stage", OUT / "warehouse.duckdb"
    print(f"generating {DAYS} days x 24 hours x {sessions} sessions (~{args.million} M events)")
    began = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        events = sum(pool.map(_write_day, [(d, sessions, str(stage)) for d in range(DAYS)]))
    print(f"  {events} events in {time.perf_counter() - began:.0f} s")
    rows = 0
    load_seconds = 0.0
    generated = OUT / "generated"
    (stage / "events").rename(generated)
    for day in range(DAYS):  # land each day's files, then load them "the next morning"
        month = generated / "bench" / (FIRST_DAY + timedelta(days=day)).strftime("%Y/%m/%d")
        target = stage / "events" / "bench" / month.relative_to(generated / "bench")
        target.parent.mkdir(parents=True, exist_ok=True)
        month.rename(target)
        loaded, seconds = _load(stage, warehouse, day)
        rows += loaded
        load_seconds += seconds
    print(f"  loaded {rows} rows in {load_seconds:.1f} s, one day at a time")

    # `dbt build` runs at the load time of the last day, as a scheduled run would.
    full = _timed_build(warehouse)
    print(f"full build over {DAYS} days:        {full:7.1f} s")
    nothing_new = _timed_build(warehouse)
    print(f"incremental, nothing new:          {nothing_new:7.1f} s ({nothing_new / full:.0%})")
    new_events = _write_day((DAYS, sessions, str(stage)))
    _load(stage, warehouse, DAYS)
    incremental = _timed_build(warehouse)
    print(
        f"incremental after a new day:       {incremental:7.1f} s ({incremental / full:.0%}) "
        f"[{new_events} new events]"
    )
    (OUT / "results.json").write_text(
        json.dumps(
            {
                "events": events,
                "full_seconds": full,
                "incremental_nothing_new_seconds": nothing_new,
                "incremental_new_day_seconds": incremental,
                "ratio": incremental / full,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

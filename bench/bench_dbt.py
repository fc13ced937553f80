"""dbt benchmark: the full build against DuckDB's own single pass over the same raw rows,
and hourly runs (right after a backfill, then in steady state) against the full build.

Generates ``--days`` days of hourly export files (about ``--million`` million events) with
the bundled generator, loads them all at once as a backfill would be loaded, and measures
in one run:

* DuckDB's single pass over the raw rows extracting the fields the models read (one
  ``json_extract_string`` over a list of paths, written to a table): the engine's speed;
* the full ``dbt build`` of every model;
* ``--hours`` hourly runs, each after one more hour of files is loaded an hour after the
  previous load, as the task graph runs them: the first right after the backfill, the
  others in steady state; and a run with nothing new.

Every build is ``dbt build --exclude-resource-type unit_test``: models and data tests, as
a scheduled run should be (unit tests check logic on fixed rows: CI's job, not every
hour's). Not a test: ``make bench-dbt``. Targets: full build <= 4x the single pass;
every hourly run <= 10 % of the full build. Times from a shared machine are noisy:
compare the ratios, which are measured in the same run.

With several sizes (``--million 1 5``) each size runs in a process of its own, one after
the other, and the summary adds how the cost grows with what is stored: the steady hourly
run at the largest size against the smallest (target <= 1.5x: an hourly run costs what is
new, not what is stored), and the peak PSS of the process tree during its builds (dbt runs
in the bench's process), per size. To measure what is stored and nothing else, every size
gets the same hourly traffic (the smallest size's: ``--days`` days of it) and a longer
backfill (5 M events: five times the days), so each hourly run brings as many new events
at every size. The summary says for each target whether it was met.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_extract import _tree_pss_kb

OUT = Path(__file__).resolve().parent / "out" / "dbt"
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS_PER_SESSION = 8.7  # measured from the generator
BUILD = ("build", "--exclude-resource-type", "unit_test")

# The JSON fields base_amplitude__events reads (every one, nested ones included).
TOP_LEVEL = [
    "uuid", "$insert_id", "event_id", "event_type", "app", "amplitude_id", "user_id",
    "device_id", "session_id", "event_time", "client_event_time", "client_upload_time",
    "server_received_time", "server_upload_time", "processed_time", "user_creation_time",
    "platform", "os_name", "os_version", "device_type", "device_family", "device_brand",
    "device_manufacturer", "device_model", "device_carrier", "country", "region", "city",
    "dma", "language", "ip_address", "location_lat", "location_lng", "library",
    "version_name", "start_version", "data_type", "paying", "event_properties",
    "user_properties", "group_properties", "groups",
]  # fmt: skip
AUTOCAPTURE = [
    "Page Domain", "Page Location", "Page Path", "Page Title", "Page URL", "Page Counter",
    "Element Text", "Element Tag", "Element Selector",
]  # fmt: skip
FIELDS = [*TOP_LEVEL, *(f"event_properties/[Amplitude] {name}" for name in AUTOCAPTURE)]


def _write_hours(args: tuple[int, int, int, str]) -> int:
    import orjson

    from amplitude_sample_server.generator import generate_hour

    first, count, sessions, stage = args
    written = 0
    for offset in range(first, first + count):
        start = FIRST_DAY + timedelta(hours=offset)
        events, _ = generate_hour(3, start, sessions)
        folder = Path(stage) / start.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        body = b"".join(orjson.dumps(e) + b"\n" for e in events)
        (folder / f"bench_{start:%Y%m%dT%H}_0000.json").write_bytes(body)
        written += len(events)
    return written


def _load(stage: Path, warehouse: Path, at: datetime) -> int:
    from amplitude_laptop.loader import Loader, connect
    from amplitude_laptop.stage_listing import LocalStageListing

    with connect(warehouse) as db:
        return Loader(db, clock=lambda: at).load(LocalStageListing(stage)).rows_loaded


def _land(generated: Path, stage: Path, hour: datetime) -> None:
    """Move one generated hour into the stage, where the loader will find it."""
    relative = Path(hour.strftime("%Y/%m/%d/%H"))
    target = stage / "events" / "bench" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    (generated / relative).rename(target)


def _pss_bytes() -> int:
    """The proportional set size of this process (where dbt runs) and any process it
    started, from /proc (Linux; 0 where /proc does not say)."""
    return _tree_pss_kb(os.getpid()) * 1024


class PeakMemory:
    """The highest PSS of this process tree while inside the ``with`` (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _pss_bytes())
            self._done.wait(0.05)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _pss_bytes())


PEAKS: dict[str, int] = {}


def _timed_build(warehouse: Path, label: str) -> float:
    """One `dbt build`, timed, its peak PSS kept; per-node timings in runs/<label>.json."""
    from amplitude_laptop.transform import run_dbt

    began = time.perf_counter()
    with PeakMemory() as memory:
        result = run_dbt([*BUILD], warehouse=warehouse, artifacts_dir=OUT / "dbt")
    seconds = time.perf_counter() - began
    PEAKS[label] = memory.peak
    if not result.ok:
        raise SystemExit(f"dbt build failed: {result.failures}")
    (OUT / "runs").mkdir(exist_ok=True)
    shutil.copyfile(OUT / "dbt" / "target" / "run_results.json", OUT / "runs" / f"{label}.json")
    return seconds


def _warm_up(warehouse: Path) -> None:
    from amplitude_laptop.transform import run_dbt

    if not run_dbt(["parse"], warehouse=warehouse, artifacts_dir=OUT / "dbt").ok:
        raise SystemExit("dbt parse failed")


def _single_pass(warehouse: Path) -> float:
    """DuckDB's own speed on these rows: one json_extract_string over every path."""
    import duckdb

    pointers = ", ".join("'/" + f.replace("'", "''") + "'" for f in FIELDS)
    with duckdb.connect(str(warehouse)) as db:
        began = time.perf_counter()
        db.execute(
            "create or replace temp table single_pass as "
            f"select json_extract_string(raw_json, [{pointers}]) as fields, "
            "file_name, file_row_number, loaded_at from raw.amplitude_events_raw"
        )
        seconds = time.perf_counter() - began
        db.execute("drop table single_pass")
    return seconds


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--million", type=float, nargs="+", default=[1.0], help="events in the backfill (sizes)"
    )
    parser.add_argument(
        "--days", type=int, default=20, help="days in the backfill (of the smallest size)"
    )
    parser.add_argument("--hours", type=int, default=6, help="hourly runs after it")
    parser.add_argument("--out", type=Path, default=OUT, help=argparse.SUPPRESS)
    parser.add_argument("--sessions-per-hour", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if len(args.million) > 1:
        _compare_sizes(args.million, args.days, args.hours)
        return
    OUT = args.out
    rate = args.sessions_per_hour or _sessions_per_hour(args.million[0], args.days)
    _one_size(args.million[0], rate, args.hours)


def _sessions_per_hour(million: float, days: int) -> int:
    """The hourly traffic that makes `million` events in `days` days."""
    return max(1, int(million * 1e6 / (days * 24 * EVENTS_PER_SESSION)))


def _met(met: bool) -> str:
    return "met" if met else "NOT MET"


def _compare_sizes(sizes: list[float], days: int, hours: int) -> None:
    """Each size in a process of its own (a clean peak PSS), all at the smallest size's
    hourly traffic, then how cost grows."""
    rate = _sessions_per_hour(min(sizes), days)
    results = []
    for size in sizes:
        out = OUT / f"{size:g}M"
        print(f"==== {size:g} M events ====", flush=True)
        command = [sys.executable, __file__, "--million", str(size), "--days", str(days),
                   "--hours", str(hours), "--out", str(out),
                   "--sessions-per-hour", str(rate)]  # fmt: skip
        subprocess.run(command, check=True)
        results.append(json.loads((out / "results.json").read_text()))
    small, large = results[0], results[-1]
    print()
    print(f"{'size':>8} {'full/pass':>10} {'steady hourly s':>16} {'peak PSS full':>14} "
          f"{'peak PSS hourly':>16}")  # fmt: skip
    for size, r in zip(sizes, results, strict=True):
        ratio, steady = r["full_over_single_pass"], r["steady_hourly_seconds"]
        full_mb, hourly_mb = r["peak_pss_full_bytes"] / 2**20, r["peak_pss_hourly_bytes"] / 2**20
        print(f"{size:>7g}M {ratio:>9.1f}x {steady:>16.2f} {full_mb:>11.0f} MB "
              f"{hourly_mb:>13.0f} MB")  # fmt: skip
    growth = large["steady_hourly_seconds"] / small["steady_hourly_seconds"]
    print()
    for size, r in zip(sizes, results, strict=True):
        ratio = r["full_over_single_pass"]
        print(f"full build <= 4x the single pass at {size:g} M: {_met(ratio <= 4)} ({ratio:.1f}x)")
    print(f"steady hourly run at {sizes[-1]:g} M <= 1.5x at {sizes[0]:g} M: "
          f"{_met(growth <= 1.5)} ({growth:.2f}x; each hourly run adds "
          f"{large['hourly'][-1]['rows']} / {small['hourly'][-1]['rows']} rows, so the "
          "difference is what is stored)")  # fmt: skip
    summary = {
        "sizes_million": sizes,
        "sessions_per_hour": rate,
        "results": results,
        "hourly_growth": growth,
        "targets_met": {
            **{f"full_over_single_pass_{size:g}M": r["full_over_single_pass"] <= 4
               for size, r in zip(sizes, results, strict=True)},
            "hourly_growth": growth <= 1.5,
        },
    }  # fmt: skip
    (OUT / "sizes.json").write_text(json.dumps(summary, indent=2))


def _one_size(million: float, sessions: int, hours: int) -> None:
    """`million` events of backfill at `sessions` an hour (as many days as that takes),
    then `hours` hourly runs at the same traffic."""
    days = max(1, round(million * 1e6 / (sessions * 24 * EVENTS_PER_SESSION)))
    args = argparse.Namespace(million=million, days=days, hours=hours)
    hours_total = args.days * 24 + args.hours
    shutil.rmtree(OUT, ignore_errors=True)
    stage, warehouse, generated = OUT / "stage", OUT / "warehouse.duckdb", OUT / "generated"
    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} cores (shared with other work: compare ratios, not seconds)")
    print(f"generating {args.days} days + {args.hours} hours x {sessions} sessions an hour")
    began = time.perf_counter()
    chunks = [(first, min(24, hours_total - first), sessions, str(generated))
              for first in range(0, hours_total, 24)]  # fmt: skip
    with ProcessPoolExecutor(min(2, cpus)) as pool:
        events = sum(pool.map(_write_hours, chunks))
    print(f"  {events} events in {time.perf_counter() - began:.0f} s")

    backfill_hours = args.days * 24
    for hour in range(backfill_hours):
        _land(generated, stage, FIRST_DAY + timedelta(hours=hour))
    loaded_at = FIRST_DAY + timedelta(hours=backfill_hours + 3)
    rows = _load(stage, warehouse, loaded_at)
    print(f"  backfill: {rows} raw rows loaded at once")

    single_pass = _single_pass(warehouse)
    # dbt's imports and its parse of the project, once, untimed: every timed build below
    # then starts as warm as the next (a scheduled run in a fresh process pays both on top
    # of any figure here, full build and hourly run alike).
    _warm_up(warehouse)
    full = _timed_build(warehouse, "full")
    print()
    print(f"{'run':52} {'seconds':>8}  ratio")
    print(f"{'DuckDB single pass over the raw rows (the engine)':52} {single_pass:8.2f}")
    print(f"{'full build':52} {full:8.2f}  {full / single_pass:.1f}x the single pass")

    hourly: list[dict[str, Any]] = []
    for hour in range(args.hours):
        start = FIRST_DAY + timedelta(hours=backfill_hours + hour)
        _land(generated, stage, start)
        loaded_at += timedelta(hours=1)
        added = _load(stage, warehouse, loaded_at)
        seconds = _timed_build(warehouse, f"hourly-{hour + 1}")
        label = "hourly, right after the backfill" if hour == 0 else "hourly, steady state"
        print(f"{label + f' (+{added} rows)':52} {seconds:8.2f}  {seconds / full:.1%} of full")
        hourly.append({"rows": added, "seconds": seconds, "ratio": seconds / full})
    nothing_new = _timed_build(warehouse, "nothing-new")
    print(f"{'nothing new':52} {nothing_new:8.2f}  {nothing_new / full:.1%} of full")

    steady = [h["seconds"] for h in hourly[1:]] or [hourly[0]["seconds"]]
    hourly_peak = max(peak for label, peak in PEAKS.items() if label.startswith("hourly"))
    print(f"peak PSS during the full build: {PEAKS['full'] / 2**20:.0f} MB")
    print(f"peak PSS during the hourly runs: {hourly_peak / 2**20:.0f} MB")
    print()
    print(
        f"full build / single pass: {full / single_pass:.1f}x (target <= 4x: "
        f"{_met(full / single_pass <= 4)})"
    )
    print(
        f"hourly / full build: first {hourly[0]['ratio']:.1%}, steady median "
        f"{statistics.median(steady) / full:.1%}, worst {max(h['ratio'] for h in hourly):.1%} "
        "(target <= 10 %)"
    )
    (OUT / "results.json").write_text(
        json.dumps(
            {
                "events": events,
                "days": args.days,
                "sessions_per_hour": sessions,
                "backfill_rows": rows,
                "cores": cpus,
                "single_pass_seconds": single_pass,
                "full_seconds": full,
                "full_over_single_pass": full / single_pass,
                "hourly": hourly,
                "nothing_new_seconds": nothing_new,
                "steady_hourly_seconds": statistics.median(steady),
                "peak_pss_full_bytes": PEAKS["full"],
                "peak_pss_hourly_bytes": hourly_peak,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

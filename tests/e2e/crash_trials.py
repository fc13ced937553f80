"""Crash trials: ``amplitude-ingest run`` killed with SIGKILL (its whole process group) at a
seeded moment, sometimes killed again while it recovers, then run to completion. The
warehouse must then hold exactly what a run that was never interrupted builds.

Shared by the short form in ``make test`` and the full form of ``make crash-trials``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tests.support import API_KEY, SECRET_KEY

START, END = "2026-01-26T00", "2026-01-26T05"
PHASES = ("extract", "load", "transform")
MODELS = (
    "analytics_staging.stg_amplitude__events",
    "analytics.amplitude__sessions",
    "analytics.amplitude__user_enhanced",
    "analytics.amplitude__repeat_clicks",
    "analytics.amplitude__daily_performance",
    "analytics.amplitude__event_enhanced",
)


@dataclass
class Run:
    """One ``amplitude-ingest run`` in its own process group, its output read as it comes."""

    process: subprocess.Popen[str]
    logs: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    working: float | None = None  # when the run's log file appeared: imports are done

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._watch_log, daemon=True).start()

    def _watch_log(self) -> None:
        before = set(self.logs.glob("*.log")) if self.logs.is_dir() else set()
        while self.process.poll() is None and self.working is None:
            if self.logs.is_dir() and set(self.logs.glob("*.log")) - before:
                self.working = time.monotonic() - self.started
            time.sleep(0.005)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.started, line.rstrip()))

    def reached(self, phase: str) -> float | None:
        """Seconds into the run at which ``phase`` had ended (its summary line printed)."""
        marker = {"extract": "extract ", "load": "load ", "transform": "transform "}[phase]
        return next((t for t, line in self.lines if line.startswith(marker)), None)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def finish(self, timeout: float = 300) -> int:
        return self.process.wait(timeout)


def start_run(root: Path, api_url: str, stage: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMP_")}
    env |= {"AMP_API_KEY": API_KEY, "AMP_SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "amplitude_laptop.cli", "run",
        "--start", START, "--end", END, "--api-url", api_url,
        "--stage", stage, "--state", str(root / "state"),
        "--warehouse", str(root / "warehouse.duckdb"), "--env-file", "/dev/null",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: the kill takes workers and all
    )
    return Run(process, root / "state" / "logs")


def phase_times(run: Run) -> dict[str, tuple[float, float]]:
    """When each phase ran in a run that completed: (start, end) in seconds. The extract
    starts when the run's log file appears, not at the process start: a kill during the
    interpreter's imports would try nothing."""
    ends = [run.reached(p) for p in PHASES]
    assert all(e is not None for e in ends), run.lines
    assert run.working is not None
    bounds = [run.working, *(e for e in ends if e is not None)]
    return {p: (bounds[i], bounds[i + 1]) for i, p in enumerate(PHASES)}


# Where and when a row was loaded (and built) differs from run to run by design; what was built from
# the events must not.
LOAD_METADATA = ("loaded_at", "file_name", "file_row_number", "built_at")


def snapshot(root: Path) -> dict[str, list[tuple[str, ...]]]:
    """Every model's rows, sorted, as text, without the load metadata columns."""
    found = {}
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as db:
        for model in MODELS:
            cursor = db.execute(f"select * from {model}")
            names = [d[0] for d in cursor.description]
            keep = [i for i, n in enumerate(names) if not any(m in n for m in LOAD_METADATA)]
            found[model] = sorted(tuple(str(row[i]) for i in keep) for row in cursor.fetchall())
    return found


def half_written(root: Path) -> list[Path]:
    stage = root / "stage"
    return [
        p
        for p in stage.rglob("*")
        if p.is_file() and (".writing" in p.parts or p.name.endswith(".partial"))
    ]


@dataclass
class Trial:
    seed: int
    phase: str
    delay: float
    second_kill: float | None

    def describe(self) -> str:
        again = (
            ""
            if self.second_kill is None
            else f", killed again {self.second_kill:.2f} s into recovery"
        )
        return (
            f"seed {self.seed}: killed {self.delay:.2f} s into the run, during {self.phase}{again}"
        )


def plan_trial(seed: int, phases: dict[str, tuple[float, float]]) -> Trial:
    """A kill moment spread over the phases (each equally likely, then uniform within it)."""
    rng = random.Random(seed)
    phase = rng.choice(PHASES)
    start, end = phases[phase]
    delay = rng.uniform(start, end)
    total = phases["transform"][1]
    second = rng.uniform(0, total) if rng.random() < 0.3 else None
    return Trial(seed, phase, delay, second)


def run_trial(trial: Trial, root: Path, api_url: str, stage: str) -> None:
    """Kill, maybe kill again, then complete; raises if the completing run fails."""
    first = start_run(root, api_url, stage)
    time.sleep(trial.delay)
    first.kill()
    if trial.second_kill is not None:
        recovering = start_run(root, api_url, stage)
        time.sleep(trial.second_kill)
        recovering.kill()
    final = start_run(root, api_url, stage)
    status = final.finish()
    assert status == 0, f"{trial.describe()}: the completing run exited {status}:\n" + "\n".join(
        line for _, line in final.lines
    )

"""`amplitude-ingest` as a user stops it: Ctrl-C mid-extract is recorded as a failed run
with that reason, and a run killed with SIGKILL reads as died, never as running or done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from amplitude_queries.laptop_records import RunRecord, RunStatus, read_runs
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import API_KEY, SECRET_KEY


def start_extract(server: LocalAmplitude, cwd: Path) -> subprocess.Popen[str]:
    (cwd / ".env").write_text(f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMP_")}
    return subprocess.Popen(
        [sys.executable, "-m", "amplitude_laptop.cli", "extract", "--start", "2026-01-26T00",
         "--end", "2026-01-26T23", "--api-url", server.url, "--workers", "thread",
         "--concurrency", "1"],
        cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def running_record(state: Path, server: LocalAmplitude) -> RunRecord:
    """The run's record once it is under way: recorded running, a request in flight."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = read_runs(state)
        if runs and server.requests:
            return runs[0]
        time.sleep(0.05)
    raise AssertionError("the run never started")


@pytest.mark.parametrize(
    ("stop", "status", "exit_code", "error"),
    [
        (signal.SIGINT, RunStatus.FAILED, 1, "interrupted (Ctrl-C)"),
        (signal.SIGKILL, RunStatus.DIED, None, "the process (pid {pid} on {host}) ended"),
    ],
)
def test_a_run_stopped_midway_is_recorded_as_not_done(
    amplitude: Callable[..., LocalAmplitude],
    tmp_path: Path,
    stop: signal.Signals,
    status: RunStatus,
    exit_code: int | None,
    error: str,
) -> None:
    server = amplitude(FaultPlan(response_delay_seconds=1.0))
    process = start_extract(server, tmp_path)
    state = tmp_path / ".local/state"
    try:
        record = running_record(state, server)
        assert (record.command, record.status, record.pid) == (
            "extract",
            RunStatus.RUNNING,
            process.pid,
        )
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == (1 if stop is signal.SIGINT else -signal.SIGKILL), stderr
    (run,) = read_runs(state)
    assert (run.run_id, run.status, run.exit_code) == (record.run_id, status, exit_code)
    assert (run.first_error or "").startswith(error.format(pid=process.pid, host=run.host))
    assert (run.ended_at is None) is (stop is signal.SIGKILL)

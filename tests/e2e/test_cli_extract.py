"""``amplitude-ingest extract`` as a user runs it: a subprocess, a .env file, exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import API_KEY, SECRET_KEY


def run_cli(
    cwd: Path, *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMP_")}
    env.update(environment or {})
    return subprocess.run(
        [sys.executable, "-m", "amplitude_laptop.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_extract_from_dotenv_with_summary_log_and_exit_status(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude(FaultPlan(corrupt_hours={"20260126T05"}))
    (tmp_path / ".env").write_text(f"AMP_API_KEY = '{API_KEY}'\nAMP_SECRET_KEY = '{SECRET_KEY}'\n")
    result = run_cli(
        tmp_path,
        "extract",
        "--start", "2026-01-26T03",
        "--end", "20260126T05",
        "--api-url", server.url,
        "--concurrency", "2",
        "--max-attempts", "2",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # one hour failed
    assert "hours: 2 done, 0 empty, 1 failed" in result.stdout
    assert "failed 20260126T05" in result.stderr
    assert re.search(
        r"extract failed: run amplitude-ingest:\S+: 1 hour\(s\) failed; 2 done", result.stderr
    )
    (log,) = (tmp_path / ".local/state/logs").glob("extract_*.log")
    text = log.read_text()
    assert "window 20260126T05 failed" in text
    assert API_KEY not in text
    assert SECRET_KEY not in text
    assert len(list((tmp_path / ".local/stage/events").rglob("*.json"))) == 2

    server.faults.corrupt_hours.clear()
    again = run_cli(tmp_path, "extract", "--start", "2026-01-26T03", "--end", "2026-01-26T05",
                    "--api-url", server.url)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "hours: 1 done, 0 empty, 0 failed, 2 already done" in again.stdout


def test_an_hour_given_up_fails_its_run_then_is_left_out_and_shown_by_status(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude(FaultPlan(corrupt_hours={"20260126T04"}))
    (tmp_path / ".env").write_text(
        f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\nAMP_GIVE_UP_AFTER_FAILED_RUNS=2\n"
    )
    args = ("extract", "--start", "2026-01-26T03", "--end", "2026-01-26T05",
            "--api-url", server.url, "--max-attempts", "1")  # fmt: skip
    first = run_cli(tmp_path, *args)
    assert first.returncode == 1, first.stderr
    assert "1 hour(s) failed;" in first.stderr
    second = run_cli(tmp_path, *args)
    assert second.returncode == 1, second.stderr
    assert "1 hour(s) failed, 1 of them given up" in second.stderr
    third = run_cli(tmp_path, *args)
    assert third.returncode == 0, third.stderr  # the given-up hour no longer fails runs
    assert "1 hour(s) left out: given up earlier" in third.stdout
    status = run_cli(tmp_path, "status")
    assert "2 done, 0 empty, 0 failed, 1 given up, 0 pending" in status.stdout
    assert "given up   20260126T04 after failing in 2 run(s)" in status.stdout


def test_usage_errors_exit_2_before_any_request(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude()
    (tmp_path / ".env").write_text(f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n")
    backwards = run_cli(tmp_path, "extract", "--start", "2026-01-26T05", "--end", "2026-01-26T01",
                        "--api-url", server.url)  # fmt: skip
    assert backwards.returncode == 2
    assert "backwards" in backwards.stderr
    future = run_cli(tmp_path, "extract", "--start", "2099-01-01", "--api-url", server.url)
    assert future.returncode == 2
    assert re.search(  # no --end was typed: the start is named, not a backwards range
        r"start 20990101T00 is after the newest exportable hour \d{8}T\d{2}: nothing from "
        r"that hour on can be exported yet \(Amplitude needs about 2 hours after an hour "
        r"ends; see --lag-hours\)",
        " ".join(future.stderr.split()),
    ), future.stderr
    assert "backwards" not in future.stderr
    assert server.requests == []


def test_wrong_keys_say_so_and_name_the_region(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude()
    (tmp_path / ".env").write_text("AMP_API_KEY=wrong-key-1\nAMP_SECRET_KEY=wrong-secret-2\n")
    result = run_cli(tmp_path, "extract", "--start", "2026-01-26", "--end", "2026-01-26",
                     "--api-url", server.url)  # fmt: skip
    assert result.returncode == 2
    assert "refused the credentials (401)" in result.stderr
    assert "--region eu" in result.stderr
    assert "wrong-secret-2" not in result.stderr + result.stdout
    assert len(server.requests) <= 4


def test_dotenv_stage_and_project_are_honoured_and_a_flag_beats_the_environment(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude()
    (tmp_path / ".env").write_text(
        f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n"
        "AMP_STAGE=custom-stage\nAMP_PROJECT=web\nAMP_CONCURENCY=2\n"
    )
    hour = ("--start", "2026-01-26T03", "--end", "2026-01-26T03", "--api-url", server.url)
    from_dotenv = run_cli(tmp_path, "extract", *hour)
    assert from_dotenv.returncode == 0, from_dotenv.stderr
    assert list((tmp_path / "custom-stage/events/web").rglob("*.json"))
    # the typo is reported, once, with the setting it was probably meant to be
    assert from_dotenv.stderr.count("AMP_CONCURENCY") == 1
    assert "did you mean AMP_CONCURRENCY?" in from_dotenv.stderr

    flagged = run_cli(
        tmp_path, "extract", *hour, "--project", "flagged", "--force",
        environment={"AMP_PROJECT": "from-environment"},
    )  # fmt: skip
    assert flagged.returncode == 0, flagged.stderr
    assert list((tmp_path / "custom-stage/events/flagged").rglob("*.json"))
    assert not (tmp_path / "custom-stage/events/from-environment").exists()

    from_environment = run_cli(
        tmp_path, "extract", *hour, "--force", environment={"AMP_PROJECT": "from-environment"}
    )
    assert from_environment.returncode == 0, from_environment.stderr
    assert list((tmp_path / "custom-stage/events/from-environment").rglob("*.json"))


def test_an_error_is_printed_once(amplitude: Callable[..., LocalAmplitude], tmp_path: Path) -> None:
    server = amplitude()
    result = run_cli(tmp_path, "extract", "--start", "2026-01-26T05", "--end", "2026-01-26T01",
                     "--api-url", server.url)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("backwards") == 1
    assert "AMP_API_KEY" not in result.stderr  # what the user typed is checked first


def test_a_second_run_on_the_same_state_says_who_holds_it_and_exits_2(
    amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude(FaultPlan(response_delay_seconds=0.5))
    (tmp_path / ".env").write_text(f"AMP_API_KEY={API_KEY}\nAMP_SECRET_KEY={SECRET_KEY}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMP_")}
    args = [sys.executable, "-m", "amplitude_laptop.cli", "extract", "--start", "2026-01-26T00",
            "--end", "2026-01-26T07", "--api-url", server.url]  # fmt: skip
    first = subprocess.Popen(args, cwd=tmp_path, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    lock = tmp_path / ".local/state/run.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_cli(tmp_path, "extract", "--start", "2026-01-26T00", "--end", "2026-01-26T07",
                     "--api-url", server.url)  # fmt: skip
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2
    assert f"pid {first.pid}" in second.stderr
    assert "in use by another run" in second.stderr
    assert second.stderr.count("in use by another run") == 1
    assert len([r for r in server.requests if r.status == 200]) == 8  # each hour once
    logs = list((tmp_path / ".local/state/logs").glob("extract_*.log"))
    assert len(logs) == 2  # one file per run, even when started in the same second

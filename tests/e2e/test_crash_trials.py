"""Kill the pipeline anywhere, any number of times: the models end up exactly as if it had
never been interrupted, and nothing half-written is left on the stage.

The short form runs in ``make test`` (CRASH_TRIALS=3 local, CRASH_TRIALS_S3=1); the full
form is ``make crash-trials`` (20 local, 10 on S3). Each trial prints its seed; replay one
with ``CRASH_TRIAL_SEEDS=<seed> pytest tests/e2e/test_crash_trials.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from amplitude_queries.laptop_records import RunStatus, read_runs
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.e2e.crash_trials import (
    half_written,
    phase_times,
    plan_trial,
    run_trial,
    snapshot,
    start_run,
)

pytestmark = pytest.mark.slow

LOCAL_TRIALS = int(os.environ.get("CRASH_TRIALS", "3"))
S3_TRIALS = int(os.environ.get("CRASH_TRIALS_S3", "1"))
FIRST_SEED = int(os.environ.get("CRASH_TRIAL_FIRST_SEED", "1000"))


def seeds(count: int, offset: int) -> list[int]:
    chosen = os.environ.get("CRASH_TRIAL_SEEDS")
    if chosen:
        return [int(s) for s in chosen.split(",")]
    return [FIRST_SEED + offset + n for n in range(count)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAmplitude]:
    """A slow-ish Amplitude, so that the extract lasts long enough to be killed inside."""
    cache = tmp_path_factory.mktemp("crash-cache")
    with LocalAmplitude(
        api_key="test-api-key-0001",
        secret_key="test-secret-key-0002",
        cache_dir=cache,
        sessions_per_hour=30,
        events_per_member=300,
        faults=FaultPlan(response_delay_seconds=0.4, zip_layout="streamed"),
    ) as local:
        yield local


@pytest.fixture(scope="module")
def reference(server: LocalAmplitude, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run never interrupted: its models, and how long each phase took."""
    root = tmp_path_factory.mktemp("reference")
    run = start_run(root, server.url, str(root / "stage"))
    assert run.finish() == 0, run.lines
    return {"models": snapshot(root), "phases": phase_times(run)}


def check(root: Path, reference: dict[str, Any], describe: str) -> None:
    # The run records: the completing run succeeded; each killed one (if it got as far as
    # starting its record) is died, never running or a success.
    final, *killed = read_runs(root / "state")
    assert (final.command, final.status) == ("run", RunStatus.SUCCEEDED), describe
    assert [r.status for r in killed] == [RunStatus.DIED] * len(killed), describe
    assert len(killed) <= 2, describe
    got = snapshot(root)
    for model, rows in reference["models"].items():
        assert got[model] == rows, f"{describe}: {model} differs from an uninterrupted run"
    if (root / "stage").exists():
        assert not half_written(root), f"{describe}: half-written files on the stage"
        assert not list((root / "stage").rglob("_quarantine/*")), describe


@pytest.mark.parametrize("seed", seeds(LOCAL_TRIALS, 0))
def test_killed_anywhere_on_the_local_stage(
    seed: int, server: LocalAmplitude, reference: dict[str, Any], tmp_path: Path
) -> None:
    trial = plan_trial(seed, reference["phases"])
    print(trial.describe())
    run_trial(trial, tmp_path, server.url, str(tmp_path / "stage"))
    check(tmp_path, reference, trial.describe())


@pytest.mark.parametrize("seed", seeds(S3_TRIALS, 500))
def test_killed_anywhere_on_s3(
    seed: int,
    server: LocalAmplitude,
    reference: dict[str, Any],
    tmp_path: Path,
    s3_endpoint: str,
) -> None:
    bucket = f"crash-{seed}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    trial = plan_trial(seed, reference["phases"])
    print(trial.describe())
    run_trial(trial, tmp_path, server.url, f"s3://{bucket}/amplitude")
    check(tmp_path, reference, trial.describe())
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [k for k in keys if "_quarantine" in k or k.endswith(".partial")]

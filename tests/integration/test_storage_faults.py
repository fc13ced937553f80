"""The stage failing under the extract: the disk filling up, S3 going away and coming back.
Each ends in a clear error and a ledger that names the failed hours; a re-run completes
with every event exactly once and nothing half-written left behind."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

from amplitude_ingest.domain import HourStatus
from amplitude_ingest.hours import hour_range
from amplitude_ingest.ports import PendingPart
from amplitude_laptop.stages import LocalStage, S3Stage
from amplitude_sample_server.server import LocalAmplitude
from tests.support import Harness, TcpProxy

START = datetime(2026, 1, 26, 3, tzinfo=UTC)
H = timedelta(hours=1)
HOURS = 6


class FillingDisk(LocalStage):
    """A real folder whose disk 'fills up' after ``budget`` bytes: writes then fail with
    ENOSPC, as they would on a full file system."""

    def __init__(self, root: Path, budget: int) -> None:
        super().__init__(root)
        self.budget = budget

    def create(self) -> PendingPart:
        part = super().create()
        write = part.write
        stage = self

        def write_until_full(data: bytes | memoryview) -> None:
            if stage.budget < len(data):
                # what the file object raises on a full disk, inside the stage's own handler
                def full(_: object) -> int:
                    raise OSError(errno.ENOSPC, "No space left on device")

                part._file.write = full  # type: ignore[attr-defined,method-assign]
            stage.budget -= len(data)
            write(data)

        part.write = write_until_full  # type: ignore[method-assign]
        return part


def stage_rows(root: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((root / "events").rglob("*.json"))
        for line in path.read_text().splitlines()
    ]


def test_a_full_disk_fails_the_hours_clearly_and_a_rerun_completes_exactly(
    harness: Callable[..., Harness], amplitude: Callable[..., LocalAmplitude], tmp_path: Path
) -> None:
    server = amplitude()
    root = tmp_path / "stage"
    full = harness(server=server, stage=FillingDisk(root, budget=3_000_000), concurrency=1)
    summary = full.run(START, START + (HOURS - 1) * H)
    assert summary.hours_failed >= 1
    message = next(iter(summary.failures.values()))
    assert "the disk is full" in message
    assert str(root) in message
    failed = [
        h
        for h, r in full.ledger.get(hour_range(START, START + (HOURS - 1) * H)).items()
        if r.status is HourStatus.FAILED
    ]
    assert len(failed) == summary.hours_failed
    assert not list((root / ".writing").glob("*"))  # nothing half-written
    full.close()

    again = harness(server=server, stage=LocalStage(root), concurrency=1)
    resumed = again.run(START, START + (HOURS - 1) * H)  # the done hours are skipped
    assert resumed.hours_failed == 0
    planted = server.manifest(START, START + (HOURS - 1) * H)
    rows = stage_rows(root)
    assert len(rows) == planted.rows
    assert len({r["uuid"] for r in rows}) == planted.distinct_uuids


class CutAfter(S3Stage):
    """The real S3 stage, through a proxy that is cut after ``uploads`` parts went up."""

    def __init__(self, proxy: TcpProxy, uploads: int, bucket: str) -> None:
        client = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2),
        )
        super().__init__(bucket, "raw", client=client)
        self.proxy = proxy
        self.uploads = uploads

    def _upload(self, spooled: IO[bytes], key: str, crc32: int) -> None:
        if self.uploads == 0:
            self.proxy.cut()
        self.uploads -= 1
        super()._upload(spooled, key, crc32)


def bucket_objects(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def test_s3_going_away_mid_run_and_coming_back(
    harness: Callable[..., Harness],
    amplitude: Callable[..., LocalAmplitude],
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    server = amplitude(events_per_member=400)  # several parts an hour
    proxy = TcpProxy(int(s3_endpoint.rsplit(":", 1)[1])).start()
    try:
        cut = harness(server=server, stage=CutAfter(proxy, 3, s3_bucket), concurrency=1)
        summary = cut.run(START, START + (HOURS - 1) * H)
        assert summary.hours_failed >= 1
        assert any("bucket is reachable" in m for m in summary.failures.values())
        cut.close()

        proxy.start()  # S3 is back
        again = harness(server=server, stage=CutAfter(proxy, 10**6, s3_bucket), concurrency=1)
        resumed = again.run(START, START + (HOURS - 1) * H)
        assert resumed.hours_failed == 0
    finally:
        proxy.cut()
    planted = server.manifest(START, START + (HOURS - 1) * H)
    stored = bucket_objects(s3_bucket)
    rows = [json.loads(line) for body in stored.values() for line in body.splitlines()]
    assert len(rows) == planted.rows  # nothing lost, and no part of a failed attempt left
    assert len({r["uuid"] for r in rows}) == planted.distinct_uuids

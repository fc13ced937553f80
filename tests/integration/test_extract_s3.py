"""The extractor writing to S3: moto's S3 server in its own process, over real HTTP."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from amplitude_ingest.config import Compression
from amplitude_laptop.stages import S3Stage, StageLocation
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import Harness

START = datetime(2026, 1, 26, 3, tzinfo=UTC)
H = timedelta(hours=1)


def objects(bucket: str, prefix: str = "") -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def test_parts_land_under_the_prefix_with_every_event(
    harness: Callable[..., Harness], s3_bucket: str
) -> None:
    client = boto3.client("s3")
    sent: dict[str, str] = {}  # key -> the CRC-32 header its PUT carried

    def record(request: Any, **_: Any) -> None:
        if request.method == "PUT":
            sent[request.url.split(f"/{s3_bucket}/", 1)[1]] = request.headers.get(
                "x-amz-checksum-crc32", ""
            )

    client.meta.events.register("before-send.s3.PutObject", record)
    h = harness(stage=S3Stage(s3_bucket, "amplitude/raw", client=client))
    summary = h.run(START, START + 2 * H)
    stored = objects(s3_bucket)
    assert len(stored) == 3
    assert all(k.startswith("amplitude/raw/events/default/2026/01/26/") for k in stored)
    rows = [json.loads(line) for body in stored.values() for line in body.splitlines()]
    assert summary.events == len(rows) == h.server.manifest(START, START + 2 * H).rows
    for key, body in stored.items():  # each PUT carried the CRC-32 of exactly its bytes,
        # for S3 to check (moto does not, so the header is checked here)
        header = sent[key]
        header = header.decode() if isinstance(header, bytes) else header
        assert header == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def test_large_parts_go_up_as_multipart_uploads(
    amplitude: Callable[..., LocalAmplitude], harness: Callable[..., Harness], s3_bucket: str
) -> None:
    server = amplitude(sessions_per_hour=900)  # about 15 MB of JSON in one hour
    stage = S3Stage(s3_bucket, "", multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
    h = harness(server=server, stage=stage)
    summary = h.run(START, START)
    (key,) = objects(s3_bucket)
    head = boto3.client("s3").head_object(Bucket=s3_bucket, Key=key)
    assert summary.bytes > 10 << 20
    assert head["ContentLength"] == summary.bytes
    assert "-" in head["ETag"]  # a multipart ETag: "<md5>-<number of parts>"
    assert not boto3.client("s3").list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_gzip_parts_on_s3(harness: Callable[..., Harness], s3_bucket: str) -> None:
    stage = StageLocation.parse(f"s3://{s3_bucket}/gz")()
    h = harness(stage=stage, compression=Compression.GZIP)
    summary = h.run(START, START)
    stored = objects(s3_bucket)
    (key,) = stored
    assert key.endswith(".json.gz")
    lines = gzip.decompress(stored[key]).splitlines()
    assert len(lines) == summary.events == h.server.manifest(START, START).rows


def test_a_failed_hour_leaves_no_object_and_no_open_upload(
    harness: Callable[..., Harness], s3_bucket: str
) -> None:
    stage = S3Stage(s3_bucket, "")
    h = harness(FaultPlan(corrupt_hours={"20260126T04"}), stage=stage, max_attempts=2)
    summary = h.run(START, START + 2 * H)
    assert summary.hours_failed == 1
    assert not objects(s3_bucket, "events/default/2026/01/26/04/")
    assert not boto3.client("s3").list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    assert objects(s3_bucket, "events/default/2026/01/26/05/")

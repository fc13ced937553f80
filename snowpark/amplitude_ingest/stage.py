"""Stage writers: where decompressed NDJSON parts go.

One small interface, three places: a local folder (the embedded default), S3 (the bucket
behind Snowflake's external stage) and a Snowflake stage through Snowpark (the procedure,
in :mod:`amplitude_ingest.snowflake_stage`). Keys are relative to the stage's root and
always built by :mod:`amplitude_ingest.keys`.

Every writer makes an object visible under its final name only on ``commit``: a temporary
file renamed into place, or an S3 multipart upload completed. ``abort`` leaves nothing.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from amplitude_ingest.errors import ConfigurationError, StageWriteError
from amplitude_ingest.keys import normalize_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

try:
    from isal.isal_zlib import compressobj
except ImportError:  # pragma: no cover - exercised where isal is absent
    from zlib import compressobj  # type: ignore[assignment]

PARTIAL_SUFFIX = ".partial"
S3_PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB keeps memory small


class StagedObject(Protocol):
    """An object being written: invisible until ``commit``, gone after ``abort``."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Stage(Protocol):
    """Where parts are written. ``describe`` names it in logs (never with credentials)."""

    def create(self, key: str) -> StagedObject: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def describe(self) -> str: ...


class _LocalObject:
    def __init__(self, final: Path) -> None:
        self._final = final
        self._temp = final.with_name(f".{final.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        final.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._temp.open("wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._temp.replace(self._final)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalStage:
    """A folder standing in for the external stage; what the local loader reads."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / normalize_prefix(key)).resolve()
        if not path.is_relative_to(self.root):
            raise StageWriteError(f"key {key!r} escapes the stage folder")
        return path

    def create(self, key: str) -> StagedObject:
        return _LocalObject(self._path(key))

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix.strip("/") else self.root
        if not folder.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root)


class _S3Object:
    """Streams through a multipart upload; objects under one part use a single PUT."""

    def __init__(self, client: S3Client, bucket: str, key: str, part_size: int) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._part_size:
            self._flush_part()

    def _flush_part(self) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._buffer.clear()

    def commit(self) -> None:
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer))
            return
        if self._buffer:
            self._flush_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},  # type: ignore[typeddict-item]
        )

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )


class S3Stage:
    """The S3 bucket and prefix behind the external stage; credentials come from boto3's
    usual chain (environment, profile, instance role), endpoint from AWS_ENDPOINT_URL."""

    def __init__(
        self, bucket: str, prefix: str = "", client: S3Client | None = None, part_size: int = 0
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self._client = client
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self._part_size = part_size or S3_PART_SIZE

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def create(self, key: str) -> StagedObject:
        full_key = self._full(normalize_prefix(key))
        return _S3Object(self._client, self.bucket, full_key, self._part_size)

    def list_keys(self, prefix: str) -> list[str]:
        full = self._full(prefix)
        cut = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(item["Key"][cut:] for item in page.get("Contents", []))
        return sorted(keys)

    def delete(self, keys: Iterable[str]) -> None:
        batch = [{"Key": self._full(k)} for k in keys]
        for offset in range(0, len(batch), 1000):
            self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": batch[offset : offset + 1000], "Quiet": True},  # type: ignore[typeddict-item]
            )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class GzipObject:
    """Wraps a staged object so that what is written lands gzip-compressed.

    The gzip header carries no timestamp, so the same input gives the same bytes.
    """

    def __init__(self, inner: StagedObject, level: int = 1) -> None:
        self._inner = inner
        self._compressor = compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        out = self._compressor.compress(data)
        if out:
            self._inner.write(out)

    def commit(self) -> None:
        self._inner.write(self._compressor.flush())
        self._inner.commit()

    def abort(self) -> None:
        self._inner.abort()


def open_stage(location: str) -> Stage:
    """``s3://bucket/prefix`` or a local folder path."""
    if location.startswith("s3://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise ConfigurationError(f"{location!r} names no bucket: use s3://bucket/prefix")
        return S3Stage(parts.netloc, parts.path)
    if "://" in location:
        raise ConfigurationError(f"unsupported stage {location!r}: use a folder or s3://")
    return LocalStage(Path(location))

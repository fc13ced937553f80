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
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol
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
WRITEBACK_EVERY = 16 * 1024 * 1024
S3_MULTIPART_THRESHOLD = 1024 * 1024 * 1024
S3_MULTIPART_CHUNK = 16 * 1024 * 1024


class StagedObject(Protocol):
    """An object being written: invisible until ``commit``, gone after ``abort``."""

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Stage(Protocol):
    """Where parts are written. ``describe`` names it in logs (never with credentials)."""

    def create(self, key: str) -> StagedObject: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def describe(self) -> str: ...


class _LocalObject:
    def __init__(self, final: Path, fsync: bool) -> None:
        self._final = final
        self._fsync = fsync
        self._temp = final.with_name(f".{final.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        final.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._temp.open("wb")
        self._unsynced = 0

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._unsynced += len(data)
        if self._unsynced >= WRITEBACK_EVERY:
            self._start_writeback()

    def _start_writeback(self) -> None:
        # Ask the kernel to start writing what we have so far, so that the fsync at commit
        # waits for the tail only and disk I/O overlaps with unpacking the next chunks.
        self._file.flush()
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        self._unsynced = 0

    def commit(self) -> None:
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        self._temp.replace(self._final)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalStage:
    """A folder standing in for the external stage; what the local loader reads.

    With ``fsync`` (the default) a part is on disk before it is renamed into place, so a
    machine crash cannot leave an empty file that the ledger counts as done; without it,
    a process crash still loses nothing, and writes are about a quarter faster.
    """

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = root.resolve()
        self._fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / normalize_prefix(key)).resolve()
        if not path.is_relative_to(self.root):
            raise StageWriteError(f"key {key!r} escapes the stage folder")
        return path

    def create(self, key: str) -> StagedObject:
        return _LocalObject(self._path(key), self._fsync)

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


class SpooledObject:
    """Written to an unnamed temporary file, published whole by ``publish`` on commit.

    For stages that take a finished file: an S3 object (one PUT, or boto3's managed
    multipart upload past its threshold) or a Snowflake stage (``put_stream``). Memory stays
    flat; local disk holds one part per worker at most.
    """

    def __init__(self, publish: Callable[[IO[bytes]], None], spool_dir: Path | None) -> None:
        self._publish = publish
        self._file = tempfile.TemporaryFile(prefix="amplitude-part-", dir=spool_dir)  # noqa: SIM115 - closed by commit or abort

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)

    def commit(self) -> None:
        try:
            self._file.flush()
            self._file.seek(0)
            self._publish(self._file)
        finally:
            self._file.close()

    def abort(self) -> None:
        self._file.close()


class S3Stage:
    """The S3 bucket and prefix behind the external stage; credentials come from boto3's
    usual chain (environment, profile, instance role), endpoint from AWS_ENDPOINT_URL."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: S3Client | None = None,
        *,
        spool_dir: Path | None = None,
        multipart_threshold: int = S3_MULTIPART_THRESHOLD,
        multipart_chunksize: int = S3_MULTIPART_CHUNK,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig

        self._client = client or boto3.client("s3")
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self._spool_dir = spool_dir
        # Parts are uploaded one at a time per worker; S3 takes up to 5 GB in one PUT, and
        # above the threshold boto3 switches to a multipart upload of bounded chunks.
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=2,
            use_threads=True,
        )

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def create(self, key: str) -> StagedObject:
        full_key = self._full(normalize_prefix(key))

        def upload(spooled: IO[bytes]) -> None:
            self._client.upload_fileobj(spooled, self.bucket, full_key, Config=self._transfer)

        return SpooledObject(upload, self._spool_dir)

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

    def write(self, data: bytes | memoryview) -> None:
        out = self._compressor.compress(data)
        if out:
            self._inner.write(out)

    def commit(self) -> None:
        self._inner.write(self._compressor.flush())
        self._inner.commit()

    def abort(self) -> None:
        self._inner.abort()


def open_stage(location: str, spool_dir: Path | None = None, fsync: bool = True) -> Stage:
    """``s3://bucket/prefix`` or a local folder path."""
    if location.startswith("s3://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise ConfigurationError(f"{location!r} names no bucket: use s3://bucket/prefix")
        return S3Stage(parts.netloc, parts.path, spool_dir=spool_dir)
    if "://" in location:
        raise ConfigurationError(f"unsupported stage {location!r}: use a folder or s3://")
    return LocalStage(Path(location), fsync=fsync)

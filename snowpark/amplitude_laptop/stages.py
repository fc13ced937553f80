"""The laptop's stage writers: a local folder (the embedded default) and S3 (the bucket
behind Snowflake's external stage).

Both make a part visible under its final name only on ``commit``: a temporary file renamed
into place, or one S3 upload of a spooled file. ``abort`` leaves nothing. Keys are relative
to the stage's root and always built by :mod:`amplitude_ingest.stage_keys`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from amplitude_ingest.errors import ConfigurationError, StageWriteError
from amplitude_ingest.parts import SpooledPart
from amplitude_ingest.ports import PendingPart, Stage
from amplitude_ingest.stage_keys import normalize_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PARTIAL_SUFFIX = ".partial"
WRITEBACK_EVERY = 16 * 1024 * 1024
S3_MULTIPART_THRESHOLD = 1024 * 1024 * 1024
S3_MULTIPART_CHUNK = 16 * 1024 * 1024


class _LocalPart:
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

    def create(self, key: str) -> PendingPart:
        return _LocalPart(self._path(key), self._fsync)

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

    def create(self, key: str) -> PendingPart:
        full_key = self._full(normalize_prefix(key))

        def upload(spooled: IO[bytes]) -> None:
            self._client.upload_fileobj(spooled, self.bucket, full_key, Config=self._transfer)

        return SpooledPart(upload, self._spool_dir)

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


@dataclass(frozen=True)
class StageLocation:
    """Where the stage is, as the user wrote it: a folder or ``s3://bucket/prefix``.

    Checked when parsed, opened later and anywhere: it pickles, so a worker process opens
    its own stage (and its own S3 client) from it.
    """

    folder: Path | None = None
    bucket: str | None = None
    prefix: str = ""
    spool_dir: Path | None = None
    fsync: bool = True

    @classmethod
    def parse(
        cls, text: str, *, spool_dir: Path | None = None, fsync: bool = True
    ) -> StageLocation:
        if text.startswith("s3://"):
            parts = urlsplit(text)
            if not parts.netloc:
                raise ConfigurationError(f"stage {text!r} names no bucket: use s3://bucket/prefix")
            return cls(
                bucket=parts.netloc, prefix=normalize_prefix(parts.path), spool_dir=spool_dir
            )
        if "://" in text:
            raise ConfigurationError(
                f"unsupported stage {text!r}: use a folder or s3://bucket/prefix"
            )
        return cls(folder=Path(text), spool_dir=spool_dir, fsync=fsync)

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    def __call__(self) -> Stage:
        """Open the stage (the extract's stage opener)."""
        if self.bucket is not None:
            return S3Stage(self.bucket, self.prefix, spool_dir=self.spool_dir)
        assert self.folder is not None
        return LocalStage(self.folder, fsync=self.fsync)

    def __str__(self) -> str:
        if self.bucket is not None:
            return f"s3://{self.bucket}/{self.prefix}"
        return str(self.folder)

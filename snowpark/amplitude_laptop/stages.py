"""The laptop's stage writers: a local folder (the embedded default) and S3 (the bucket
behind Snowflake's external stage).

Both make a part visible under its final name only on ``commit``: a temporary file renamed
into place, or one S3 upload of a spooled file. ``abort`` leaves nothing. Keys are relative
to the stage's root and always built by :mod:`amplitude_ingest.stage_keys`.
"""

from __future__ import annotations

import base64
import errno
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
READ_CHUNK = 1024 * 1024
WRITEBACK_EVERY = 16 * 1024 * 1024
S3_MULTIPART_THRESHOLD = 1024 * 1024 * 1024
S3_MULTIPART_CHUNK = 16 * 1024 * 1024


@contextmanager
def stage_errors(action: str, where: str) -> Iterator[None]:
    """Disk and S3 failures as :class:`StageWriteError`, saying what failed where and what
    to do; the window's hours are then recorded as failed and a re-run retries them."""
    try:
        yield
    except StageWriteError:
        raise
    except OSError as exc:
        hint = (
            "the disk is full: free some space, then run again"
            if exc.errno == errno.ENOSPC
            else "check the folder's permissions and space, then run again"
        )
        raise StageWriteError(
            f"could not {action} in {where}: {exc.strerror or exc}; {hint}"
        ) from exc
    except Exception as exc:  # botocore's errors; boto3 is imported lazily
        if type(exc).__module__.split(".")[0] not in ("botocore", "boto3", "s3transfer"):
            raise
        raise StageWriteError(
            f"could not {action} in {where}: {type(exc).__name__}: {exc}; check that the "
            "bucket is reachable and the credentials allow it, then run again"
        ) from exc


class _LocalPart:
    """A file in the stage's ``.writing/`` folder, renamed to its key on commit (the same
    file system, so the rename is atomic)."""

    def __init__(self, stage: LocalStage, fsync: bool) -> None:
        self._stage = stage
        self._fsync = fsync
        self._temp = stage.partial_folder / f".{os.getpid()}-{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
        self._where = stage.describe()
        with stage_errors("start a part", self._where):
            self._file = self._temp.open("wb")
        self._unsynced = 0

    def write(self, data: bytes | memoryview) -> None:
        with stage_errors("write a part", self._where):
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

    def commit(self, key: str) -> None:
        final = self._stage.path(key)
        with stage_errors("publish a part", self._where):
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            final.parent.mkdir(parents=True, exist_ok=True)
            self._temp.replace(final)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalStage:
    """A folder standing in for the external stage; what the local loader reads.

    With ``fsync`` (the default) a part is on disk before it is renamed into place, so a
    machine crash cannot leave an empty file that the ledger counts as done; without it,
    a process crash still loses nothing, and writes are about a quarter faster.
    """

    PARTIAL_FOLDER = ".writing"

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = root.resolve()
        self._fsync = fsync
        self.partial_folder = self.root / self.PARTIAL_FOLDER
        self.partial_folder.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Parts left half-written by a process that died: named by its pid, which is gone."""
        for path in self.partial_folder.glob(f".*{PARTIAL_SUFFIX}"):
            pid = path.name[1:].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / normalize_prefix(key)).resolve()
        if not path.is_relative_to(self.root):
            raise StageWriteError(f"key {key!r} escapes the stage folder")
        return path

    def create(self) -> PendingPart:
        return _LocalPart(self, self._fsync)

    def list_keys(self, prefix: str) -> list[str]:
        folder = self.path(prefix) if prefix.strip("/") else self.root
        if not folder.is_dir():
            return []
        with stage_errors("list parts", str(folder)):
            return sorted(
                p.relative_to(self.root).as_posix()
                for p in folder.rglob("*")
                if p.is_file() and not p.name.startswith(".") and self.PARTIAL_FOLDER not in p.parts
            )

    @contextmanager
    def read(self, key: str) -> Iterator[Iterator[bytes]]:
        """A part's bytes as stored, in chunks (what ``forget`` rewrites)."""
        with stage_errors("read a part", str(self.root)), self.path(key).open("rb") as file:
            yield iter(lambda: file.read(READ_CHUNK), b"")

    def delete(self, keys: Iterable[str]) -> None:
        with stage_errors("remove parts", str(self.root)):
            for key in keys:
                self.path(key).unlink(missing_ok=True)

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
        self._multipart_threshold = multipart_threshold
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

    def create(self) -> PendingPart:
        return SpooledPart(self._upload, self._spool_dir)

    def _upload(self, spooled: IO[bytes], key: str, crc32: int) -> None:
        full_key = self._full(normalize_prefix(key))
        size = os.fstat(spooled.fileno()).st_size
        with stage_errors("upload a part", self.describe()):
            if size >= self._multipart_threshold:
                self._client.upload_fileobj(spooled, self.bucket, full_key, Config=self._transfer)
                return
            # One PUT of a seekable file with the CRC-32 of its bytes, taken as they were
            # written: S3 checks it, botocore need not read the file again to compute one.
            # (upload_fileobj would stream it with an aws-chunked trailer, a third slower.)
            checksum = base64.b64encode(crc32.to_bytes(4, "big")).decode()
            self._client.put_object(
                Bucket=self.bucket, Key=full_key, Body=spooled, ChecksumCRC32=checksum
            )

    def list_keys(self, prefix: str) -> list[str]:
        full = self._full(prefix)
        cut = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        with stage_errors("list parts", self.describe()):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(item["Key"][cut:] for item in page.get("Contents", []))
        return sorted(keys)

    @contextmanager
    def read(self, key: str) -> Iterator[Iterator[bytes]]:
        """A part's bytes as stored, streamed in chunks (what ``forget`` rewrites)."""
        with stage_errors("read a part", self.describe()):
            body = self._client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
            try:
                yield body.iter_chunks(READ_CHUNK)
            finally:
                body.close()

    def delete(self, keys: Iterable[str]) -> None:
        batch = [{"Key": self._full(k)} for k in keys]
        with stage_errors("remove parts", self.describe()):
            for offset in range(0, len(batch), 1000):
                self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": batch[offset : offset + 1000], "Quiet": True},  # type: ignore[typeddict-item]
                )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


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

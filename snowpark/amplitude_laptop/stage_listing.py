"""What the loader sees of a stage: the event files on it, each with a content id.

The content id plays the part of Snowpipe's load-history key: a file is loaded once per
(path, content). Locally it is size and modification time; on S3 the ETag.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from amplitude_ingest.stage_keys import EVENTS_FOLDER, normalize_prefix
from amplitude_laptop.stages import StageLocation

# What the Snowflake pipe's PATTERN matches too: data parts under events/, never the
# _quarantine/ folder or a file still being written (.partial, dot-files).
EVENT_FILE = re.compile(rf"^{EVENTS_FOLDER}/(?:[^/]+/)*[^./][^/]*\.json(?:\.gz)?$")


@dataclass(frozen=True, order=True)
class EventFile:
    key: str  # relative to the stage root, as METADATA$FILENAME would show it
    content_id: str
    size: int


class StageListing(Protocol):
    def list(self) -> list[EventFile]: ...

    def local_copy(self, file: EventFile) -> AbstractContextManager[Path]: ...


class LocalStageListing:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def list(self) -> list[EventFile]:
        folder = self.root / EVENTS_FOLDER
        if not folder.is_dir():
            return []
        files = []
        for path in folder.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and EVENT_FILE.match(key):
                info = path.stat()
                files.append(EventFile(key, f"{info.st_size}-{info.st_mtime_ns}", info.st_size))
        return sorted(files)

    @contextmanager
    def local_copy(self, file: EventFile) -> Iterator[Path]:
        yield self.root / file.key


class S3StageListing:
    """Event files in ``s3://bucket/prefix``, fetched one at a time to a temporary file
    (DuckDB's httpfs extension cannot be installed offline, and this keeps memory flat)."""

    def __init__(self, bucket: str, prefix: str = "", spool_dir: Path | None = None) -> None:
        import boto3

        self._client = boto3.client("s3")
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self._spool_dir = spool_dir

    def list(self) -> list[EventFile]:
        start = f"{self.prefix}/" if self.prefix else ""
        files = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start + EVENTS_FOLDER + "/"):
            for item in page.get("Contents", []):
                key = item["Key"][len(start) :]
                if EVENT_FILE.match(key):
                    files.append(EventFile(key, item["ETag"].strip('"'), item["Size"]))
        return sorted(files)

    @contextmanager
    def local_copy(self, file: EventFile) -> Iterator[Path]:
        suffix = ".json.gz" if file.key.endswith(".gz") else ".json"
        with tempfile.TemporaryDirectory(dir=self._spool_dir) as folder:
            target = Path(folder) / f"part{suffix}"
            full_key = f"{self.prefix}/{file.key}" if self.prefix else file.key
            self._client.download_file(self.bucket, full_key, str(target))
            yield target


def open_stage_listing(location: StageLocation) -> StageListing:
    if location.bucket is not None:
        return S3StageListing(location.bucket, location.prefix, location.spool_dir)
    assert location.folder is not None
    return LocalStageListing(location.folder)

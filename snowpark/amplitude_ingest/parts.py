"""Building blocks for stage writers: a part spooled to disk and put whole, and gzip.

A stage that takes a finished file (an S3 object, a Snowflake stage through
``put_stream``) writes through :class:`SpooledPart`; :class:`GzipPart` wraps any part when
``compression = gzip``. Both keep memory flat: the data goes through, never accumulates.
"""

from __future__ import annotations

import tempfile
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from amplitude_ingest.errors import StageWriteError
from amplitude_ingest.ports import PendingPart
from amplitude_ingest.stage_keys import content_fingerprint

try:  # python-isal: the same gzip and CRC-32, several times faster
    from isal.isal_zlib import compressobj, crc32
except ImportError:  # pragma: no cover - exercised where isal is absent
    from zlib import compressobj, crc32  # type: ignore[assignment]


class SpoolGauge:
    """Bytes held in spooled parts right now, and the most ever held at once.

    Inside a Snowflake procedure the spool is ``/tmp``, which is memory: this is what the
    procedure reports so that its bound (``concurrency`` x ``max_part_bytes``) can be seen.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def add(self, size: int) -> None:
        with self._lock:
            self.current += size
            self.peak = max(self.peak, self.current)

    def release(self, size: int) -> None:
        with self._lock:
            self.current -= size


class SpooledPart:
    """Written to an unnamed temporary file, handed whole to ``publish`` on commit, with its
    key and the CRC-32 of its bytes (a stage that can send it lets the store verify it).

    Local disk holds one part per worker at most; ``abort`` (or a crash) leaves nothing,
    since the file has no name.
    """

    def __init__(
        self,
        publish: Callable[[IO[bytes], str, int], None],
        spool_dir: Path | None,
        gauge: SpoolGauge | None = None,
    ) -> None:
        self._publish = publish
        self._spool_dir = spool_dir
        self._gauge = gauge or SpoolGauge()
        self._size = 0
        self._crc32 = 0
        self._file = tempfile.TemporaryFile(prefix="amplitude-part-", dir=spool_dir)  # noqa: SIM115 - closed by commit or abort

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            where = self._spool_dir or tempfile.gettempdir()
            raise StageWriteError(
                f"could not spool a part in {where}: {exc.strerror or exc}; free some space "
                "(or point the spool elsewhere), then run again"
            ) from exc
        self._size += len(data)
        self._crc32 = crc32(data, self._crc32)
        self._gauge.add(len(data))

    def commit(self, key: str) -> None:
        try:
            self._file.flush()
            self._file.seek(0)
            self._publish(self._file, key, self._crc32)
        finally:
            self._close()

    def abort(self) -> None:
        self._close()

    def _close(self) -> None:
        if not self._file.closed:
            self._file.close()
            self._gauge.release(self._size)


class GzipPart:
    """Wraps a part so that what is written lands gzip-compressed.

    The gzip header carries no timestamp, so the same input gives the same bytes.
    """

    def __init__(self, inner: PendingPart, level: int = 1) -> None:
        self._inner = inner
        self._compressor = compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes | memoryview) -> None:
        out = self._compressor.compress(data)
        if out:
            self._inner.write(out)

    def commit(self, key: str) -> None:
        self._inner.write(self._compressor.flush())
        self._inner.commit(key)

    def abort(self) -> None:
        self._inner.abort()


class RollingParts:
    """Whole lines into parts of at most about ``max_bytes``, each cut at the first line end
    past the limit (so the cut depends on the content alone) and committed at once under
    the key ``key_for(piece number, content fingerprint)``."""

    def __init__(
        self,
        create: Callable[[], PendingPart],
        max_bytes: int,
        extension: str,
        key_for: Callable[[int, str], str],
    ) -> None:
        self._create = create
        self._max_bytes = max_bytes
        self._extension = extension
        self._key_for = key_for
        self._part: PendingPart | None = None
        self._crc = 0
        self._bytes = 0
        self.committed: list[str] = []

    def write(self, buffer: bytes | memoryview) -> None:
        """``buffer`` holds whole lines, each ending in a newline."""
        while buffer:
            if self._part is None:
                self._part, self._crc, self._bytes = self._create(), 0, 0
            room = self._max_bytes - self._bytes
            if len(buffer) < room:
                self._append(buffer)
                return
            cut = bytes(buffer).find(b"\n", max(room - 1, 0)) + 1
            self._append(buffer[:cut])
            buffer = buffer[cut:]
            self.flush()

    def _append(self, data: bytes | memoryview) -> None:
        assert self._part is not None
        self._part.write(data)
        self._crc = crc32(data, self._crc)
        self._bytes += len(data)

    def flush(self) -> None:
        """Commit the part being written, if it holds anything. A part that fails to
        publish leaves nothing behind."""
        part, self._part = self._part, None
        if part is None:
            return
        if not self._bytes:
            part.abort()
            return
        fingerprint = content_fingerprint(self._crc, self._bytes, self._extension)
        key = self._key_for(len(self.committed), fingerprint)
        try:
            part.commit(key)
        except BaseException:
            part.abort()
            raise
        self.committed.append(key)

    def abort(self) -> None:
        if self._part is not None:
            self._part.abort()
            self._part = None

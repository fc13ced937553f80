"""Streaming unpack of an export: zip → gzip members → decompressed byte chunks.

The zip is read from a spooled file (the central directory is at its end), one member at a
time, in chunks, so memory stays flat whatever the export's size. Integrity is checked at
both layers: zipfile verifies each member's CRC-32, gzip verifies its CRC-32 and length.
Any failure becomes a :class:`CorruptExportError` naming the member's position, never its
untrusted name as a path.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Self, cast

from amplitude_ingest.errors import CorruptExportError

try:  # python-isal decompresses 2-3x faster and can do it on a second core
    from isal import igzip, igzip_threaded, isal_zlib

    _GZIP_ERRORS: tuple[type[BaseException], ...] = (
        OSError,
        EOFError,
        zlib.error,
        cast(type[BaseException], isal_zlib.error),
        zipfile.BadZipFile,
    )
    HAVE_ISAL = True
except ImportError:  # pragma: no cover - exercised where isal is absent
    _GZIP_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
    HAVE_ISAL = False

CHUNK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class ZipMember:
    """What the central directory says about one member. ``name`` is untrusted text."""

    index: int
    name: str
    crc32: int
    compressed_size: int
    file_size: int


def _open_gzip(raw: zipfile.ZipExtFile, stack: ExitStack, threaded: bool) -> IO[bytes]:
    if HAVE_ISAL and threaded:
        return cast(IO[bytes], stack.enter_context(igzip_threaded.open(raw, "rb", threads=1)))  # type: ignore[no-untyped-call]
    if HAVE_ISAL:
        return cast(IO[bytes], stack.enter_context(igzip.IGzipFile(fileobj=raw, mode="rb")))  # type: ignore[no-untyped-call]
    return cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb")))


class ExportArchive:
    """A downloaded export zip, opened for streaming reads of its members."""

    def __init__(self, source: Path | IO[bytes]) -> None:
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CorruptExportError(f"the export is not a readable zip archive: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._zip.close()

    def members(self) -> list[ZipMember]:
        """File members in archive order; directory entries are skipped."""
        return [
            ZipMember(i, info.filename, info.CRC, info.compress_size, info.file_size)
            for i, info in enumerate(self._zip.infolist())
            if not info.is_dir()
        ]

    def chunks(
        self, member: ZipMember, chunk_size: int = CHUNK_SIZE, threaded: bool = True
    ) -> Iterator[bytes]:
        """Decompressed bytes of one member (gunzipped when it is gzip, else as stored).

        The last chunk is yielded only after both CRCs have been verified, which the
        caller relies on: an exception here means the member's output must be discarded.
        """
        info = self._zip.infolist()[member.index]
        where = f"zip member #{member.index}"
        try:
            with ExitStack() as stack:
                raw = cast(zipfile.ZipExtFile, stack.enter_context(self._zip.open(info)))
                is_gzip = raw.peek(2)[:2] == GZIP_MAGIC
                stream = _open_gzip(raw, stack, threaded) if is_gzip else raw
                while chunk := stream.read(chunk_size):
                    yield chunk
                if is_gzip:
                    # zipfile checks the zip CRC when its member is read to the end; a gzip
                    # reader can stop at the gzip trailer before that, so drain the rest.
                    trailing = raw.read()
                    if trailing.strip(b"\0"):
                        raise CorruptExportError(f"{where}: data after the gzip stream")
        except CorruptExportError:
            raise
        except _GZIP_ERRORS as exc:
            raise CorruptExportError(f"{where} is corrupt or truncated: {exc}") from exc

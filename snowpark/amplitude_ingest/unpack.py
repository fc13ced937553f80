"""The gzip layer of an export, and the spooled fallback for zips that cannot stream.

:func:`gunzip` turns a member's bytes (from :mod:`amplitude_ingest.zip_stream` as they
download, or from :class:`SpooledArchive`) into decompressed chunks of bounded size,
checking every gzip member's CRC-32 and length. A member that is not gzip passes through as
stored. Any failure becomes a :class:`CorruptExportError` naming the member's position,
never its untrusted name.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Self, cast

from amplitude_ingest.errors import CorruptExportError
from amplitude_ingest.zip_stream import RawMember

try:  # python-isal decompresses 2-3x faster than zlib
    from isal import isal_zlib

    _decompressobj: Any = isal_zlib.decompressobj
    _GZIP_ERRORS: tuple[type[BaseException], ...] = (
        zlib.error,
        cast(type[BaseException], isal_zlib.error),
    )
except ImportError:  # pragma: no cover - exercised where isal is absent
    _decompressobj = zlib.decompressobj
    _GZIP_ERRORS = (zlib.error,)

CHUNK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 16 + zlib.MAX_WBITS


def gunzip(raw: Iterable[bytes], where: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Decompressed bytes of one member, at most ``chunk_size`` per chunk.

    Concatenated gzip streams are read one after another, as gzip does. The last chunk is
    yielded only after every check passed: an exception means the caller discards what it
    received.
    """
    chunks = iter(raw)
    first = b""
    for first in chunks:
        if first:
            break
    if not first.startswith(GZIP_MAGIC) and len(first) >= 2:
        yield first
        yield from chunks
        return
    if not first:
        return
    inflater = _decompressobj(wbits=GZIP_WBITS)
    pending = first
    try:
        while True:
            if not pending:
                pending = next(chunks, b"")
                if not pending:
                    break
            if inflater.eof:  # a gzip stream ended: another may follow, or zero padding
                if len(pending) < 2:
                    pending += next(chunks, b"")
                if pending.startswith(GZIP_MAGIC):
                    inflater = _decompressobj(wbits=GZIP_WBITS)
                elif pending.strip(b"\0"):
                    raise CorruptExportError(f"{where}: data after the gzip stream")
                else:
                    pending = b""
                    continue
            out = inflater.decompress(pending, chunk_size)
            if out:
                yield out
            pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        if not inflater.eof:
            raise CorruptExportError(f"{where} is truncated: its gzip stream ends early")
    except _GZIP_ERRORS as exc:
        raise CorruptExportError(f"{where} is corrupt: {exc}") from exc


class SpooledArchive:
    """A whole export zip on disk, for the archives :mod:`zip_stream` cannot read in order.

    zipfile reads the central directory at the end first, then each member, checking its
    CRC-32 when it is read to the end.
    """

    def __init__(self, source: IO[bytes]) -> None:
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CorruptExportError(f"the export is not a readable zip archive: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._zip.close()

    def members(self) -> Iterator[RawMember]:
        """(position, untrusted name, raw bytes) of each file member, in archive order."""
        for index, info in enumerate(self._zip.infolist()):
            if not info.is_dir():
                yield index, info.filename, self._raw(index, info)

    def _raw(self, index: int, info: zipfile.ZipInfo) -> Iterator[bytes]:
        try:
            with self._zip.open(info) as stream:
                while chunk := stream.read(CHUNK_SIZE):
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise CorruptExportError(f"zip member #{index} is corrupt or truncated: {exc}") from exc

"""Reading a zip archive front to back as it downloads: no spool, memory flat.

A zip can be read in order because every member is preceded by a local header. Each
member's data is inflated as it arrives and checked against its CRC-32 and sizes, whether
they come in the local header, in a data descriptor after the data (general-purpose bit 3,
what streaming writers produce) or in ZIP64 fields. Once the last member is read, the
central directory that ends the archive is read too and must agree with what was seen:
the same members, in the same order, at the same offsets, with the same CRCs and sizes.

Not everything can be read this way: a stored (uncompressed) member whose size only
follows its data, an encrypted member, or a compression method other than deflate. For
those :class:`NotStreamableError` is raised before any of that member's data is returned,
and the caller falls back to downloading the archive whole (:mod:`amplitude_ingest.unpack`).

Names are untrusted text: they are returned, never used as paths here.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from amplitude_ingest.errors import AmplitudeIngestError, CorruptExportError

LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"
END_OF_CENTRAL = b"PK\x05\x06"
ZIP64_END_OF_CENTRAL = b"PK\x06\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
DATA_DESCRIPTOR = b"PK\x07\x08"
ZIP64_EXTRA = 0x0001
STORED, DEFLATED = 0, 8
FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
READ_SIZE = 1 << 20

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")
_ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")


# A file member of an export: its position in the zip, its untrusted name, its raw bytes.
RawMember = tuple[int, str, Iterator[bytes]]


class NotStreamableError(AmplitudeIngestError):
    """This archive cannot be read as a stream; read it from a spooled copy instead."""


@dataclass(frozen=True)
class MemberRecord:
    """What is known of a member once it has been read (or what the directory says)."""

    name: str
    offset: int
    crc32: int
    compressed_size: int
    file_size: int


class _Feed:
    """Exact reads over an iterator of byte chunks, counting the archive offset."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._at = 0  # read position within _buffer
        self.offset = 0  # bytes of the archive consumed so far

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buffer = self._buffer[self._at :] + chunk
                self._at = 0
                return True
        return False

    def available(self) -> int:
        return len(self._buffer) - self._at

    def take(self, size: int, what: str) -> bytes:
        while self.available() < size:
            if not self._fill():
                raise CorruptExportError(
                    f"the export zip ends in the middle of {what} (offset {self.offset})"
                )
        data = self._buffer[self._at : self._at + size]
        self._at += size
        self.offset += size
        return data

    def take_some(self, limit: int) -> bytes:
        """Up to ``limit`` bytes (at least one), or b"" at the end of the stream."""
        if not self.available() and not self._fill():
            return b""
        data = self._buffer[self._at : self._at + limit]
        self._at += len(data)
        self.offset += len(data)
        return data

    def peek(self, size: int) -> bytes:
        while self.available() < size and self._fill():
            pass
        return self._buffer[self._at : self._at + size]

    def give_back(self, data: bytes) -> None:
        """Return bytes read past the end of a deflate stream."""
        if data:
            self._buffer = data + self._buffer[self._at :]
            self._at = 0
            self.offset -= len(data)

    def rest(self) -> bytes:
        data = self._buffer[self._at :]
        self._at = len(self._buffer)
        return data + b"".join(self._chunks)


def _zip64_sizes(extra: bytes, wanted: list[str]) -> dict[str, int]:
    """Values of the ZIP64 extra field, in the order the header marked as 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + size]
        if tag == ZIP64_EXTRA:
            values = [struct.unpack_from("<Q", body, 8 * i)[0] for i in range(len(body) // 8)]
            return dict(zip(wanted, values, strict=False))
        at += 4 + size
    return {}


def _decode_name(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & 0x0800 else "cp437", errors="replace")


class StreamedMember:
    """One member as it arrives; iterate :meth:`chunks` to the end before the next one."""

    def __init__(
        self,
        feed: _Feed,
        index: int,
        offset: int,
        name: str,
        flags: int,
        method: int,
        crc32: int,
        compressed_size: int | None,
        file_size: int | None,
        zip64: bool,
    ) -> None:
        self._feed = feed
        self.index = index
        self.offset = offset
        self.name = name
        self._flags = flags
        self._method = method
        self._crc32 = crc32
        self._compressed_size = compressed_size
        self._file_size = file_size
        self._zip64 = zip64
        self.record: MemberRecord | None = None  # set once the data has been checked

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    def chunks(self, read_size: int = READ_SIZE) -> Iterator[bytes]:
        """The member's bytes, inflated from the zip layer, verified before the last one
        is handed out: an exception means everything yielded must be discarded."""
        where = f"zip member #{self.index}"
        crc = 0
        produced = 0
        if self._method == STORED:
            assert self._compressed_size is not None  # known, or refused when parsing the header
            remaining = self._compressed_size
            while remaining:
                data = self._feed.take_some(min(read_size, remaining))
                if not data:
                    raise CorruptExportError(f"the export zip ends inside {where}")
                remaining -= len(data)
                crc = zlib.crc32(data, crc)
                produced += len(data)
                yield data
            consumed = self._compressed_size
        else:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            consumed = 0
            while not inflater.eof:
                # JSON deflates about tenfold: smaller reads keep each output chunk small.
                data = self._feed.take_some(max(read_size // 16, 1))
                if not data:
                    raise CorruptExportError(f"the export zip ends inside {where}")
                consumed += len(data)
                try:
                    out = inflater.decompress(data)
                except zlib.error as exc:
                    raise CorruptExportError(f"{where} is corrupt: {exc}") from exc
                if out:
                    crc = zlib.crc32(out, crc)
                    produced += len(out)
                    yield out
            self._feed.give_back(inflater.unused_data)
            consumed -= len(inflater.unused_data)
        expected = self._expected_after_data(crc, consumed, produced)
        self._check(where, expected, crc, consumed, produced)
        self.record = MemberRecord(self.name, self.offset, crc, consumed, produced)

    def _expected_after_data(self, crc: int, consumed: int, produced: int) -> tuple[int, int, int]:
        if not self._flags & FLAG_DATA_DESCRIPTOR:
            assert self._compressed_size is not None
            assert self._file_size is not None
            return self._crc32, self._compressed_size, self._file_size
        # The descriptor's signature is optional and its sizes are 4 or 8 bytes: take the
        # layout that matches what was read (a mismatch in every layout is corruption).
        head = self._feed.peek(24)
        layouts = [(True, 8), (True, 4), (False, 8), (False, 4)]
        if not self._zip64:
            layouts = [(True, 4), (False, 4), (True, 8), (False, 8)]
        for signed, width in layouts:
            start = 4 if signed else 0
            if signed and head[:4] != DATA_DESCRIPTOR:
                continue
            size = start + 4 + 2 * width
            if len(head) < size:
                continue
            code = "<III" if width == 4 else "<IQQ"
            values = struct.unpack_from(code, head, start)
            if values == (crc, consumed, produced):
                self._feed.take(size, "a data descriptor")
                return values
        signed = head[:4] == DATA_DESCRIPTOR
        width = 8 if self._zip64 else 4
        start = 4 if signed else 0
        if len(head) < start + 4 + 2 * width:
            raise CorruptExportError(
                f"the export zip ends in the data descriptor of zip member #{self.index}"
            )
        values = struct.unpack_from("<III" if width == 4 else "<IQQ", head, start)
        return values

    def _check(
        self, where: str, expected: tuple[int, int, int], crc: int, consumed: int, produced: int
    ) -> None:
        if expected[0] != crc:
            raise CorruptExportError(f"{where} fails its CRC-32 check (corrupt download)")
        if (expected[1], expected[2]) != (consumed, produced):
            raise CorruptExportError(
                f"{where} has {consumed} compressed / {produced} bytes, its header says "
                f"{expected[1]} / {expected[2]}"
            )


class ZipStream:
    """Members of a zip archive arriving as ``chunks``, read strictly in order.

    Iterate :meth:`members`; read each member's :meth:`StreamedMember.chunks` to the end
    before asking for the next. When the iteration ends, the central directory has been
    read and checked against every member seen.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._feed = _Feed(chunks)
        self.seen: list[MemberRecord] = []

    def members(self) -> Iterator[StreamedMember]:
        index = 0
        previous: StreamedMember | None = None
        while True:
            if previous is not None:
                if previous.record is None:
                    raise RuntimeError("read each member to its end before the next one")
                self.seen.append(previous.record)
            signature = self._feed.peek(4)
            if signature != LOCAL_HEADER:
                break
            member = self._read_local_header(index)
            previous = member
            index += 1
            yield member
        if not self.seen and signature == b"":
            raise CorruptExportError("the export is empty, not a zip archive")
        if signature not in (CENTRAL_HEADER, END_OF_CENTRAL, ZIP64_END_OF_CENTRAL):
            raise CorruptExportError(
                "the export is not a readable zip archive (unexpected bytes at offset "
                f"{self._feed.offset})"
            )
        self._check_central_directory()

    def _read_local_header(self, index: int) -> StreamedMember:
        offset = self._feed.offset
        fields = _LOCAL.unpack(self._feed.take(_LOCAL.size, "a local file header"))
        _, _, flags, method, _, _, crc, csize, usize, name_length, extra_length = fields
        name = _decode_name(self._feed.take(name_length, "a member name"), flags)
        extra = self._feed.take(extra_length, "a member's extra field")
        wanted = [
            k for k, v in (("file_size", usize), ("compressed_size", csize)) if v == 0xFFFFFFFF
        ]
        zip64 = _zip64_sizes(extra, wanted or ["file_size", "compressed_size"])
        usize = zip64.get("file_size", usize) if usize == 0xFFFFFFFF else usize
        csize = zip64.get("compressed_size", csize) if csize == 0xFFFFFFFF else csize
        where = f"zip member #{index}"
        if flags & FLAG_ENCRYPTED:
            raise NotStreamableError(f"{where} is encrypted")
        if method not in (STORED, DEFLATED):
            raise NotStreamableError(f"{where} uses compression method {method}, not deflate")
        descriptor = bool(flags & FLAG_DATA_DESCRIPTOR)
        if method == STORED and descriptor:
            # Only an empty member (a folder entry, say) can be read without its size: its
            # descriptor follows at once.
            head = self._feed.peek(16)
            empty = (DATA_DESCRIPTOR + bytes(12), bytes(12))
            if not any(head.startswith(form) for form in empty):
                raise NotStreamableError(f"{where} is stored with its size after its data")
        return StreamedMember(
            self._feed,
            index,
            offset,
            name,
            flags,
            method,
            crc,
            (0 if method == STORED else None) if descriptor else csize,
            (0 if method == STORED else None) if descriptor else usize,
            bool(zip64),
        )

    def _check_central_directory(self) -> None:
        directory_offset = self._feed.offset
        entries: list[MemberRecord] = []
        while self._feed.peek(4) == CENTRAL_HEADER:
            entries.append(self._read_central_entry())
        directory_size = self._feed.offset - directory_offset
        total, size, offset = self._read_end_records()
        seen = self.seen
        if total != len(entries):
            raise CorruptExportError(
                f"the zip's end record counts {total} members, its directory lists {len(entries)}"
            )
        if (size, offset) != (directory_size, directory_offset):
            raise CorruptExportError("the zip's end record does not point at its directory")
        if len(entries) != len(seen):
            raise CorruptExportError(
                f"the zip's directory lists {len(entries)} members, {len(seen)} were read"
            )
        for number, (listed, read) in enumerate(zip(entries, seen, strict=True)):
            if listed != read:
                raise CorruptExportError(
                    f"zip member #{number} does not match the zip's directory "
                    "(name, offset, CRC or sizes differ)"
                )

    def _read_central_entry(self) -> MemberRecord:
        fields = _CENTRAL.unpack(self._feed.take(_CENTRAL.size, "the zip's directory"))
        flags, crc, csize, usize = fields[3], fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        offset = fields[16]
        name = _decode_name(self._feed.take(name_length, "the zip's directory"), flags)
        extra = self._feed.take(extra_length, "the zip's directory")
        self._feed.take(comment_length, "the zip's directory")
        wanted = [
            key
            for key, value in (("file_size", usize), ("compressed_size", csize), ("offset", offset))
            if value == 0xFFFFFFFF
        ]
        zip64 = _zip64_sizes(extra, wanted) if wanted else {}
        return MemberRecord(
            name,
            zip64.get("offset", offset),
            crc,
            zip64.get("compressed_size", csize),
            zip64.get("file_size", usize),
        )

    def _read_end_records(self) -> tuple[int, int, int]:
        """(members, directory size, directory offset) from the end records."""
        zip64: tuple[int, int, int] | None = None
        if self._feed.peek(4) == ZIP64_END_OF_CENTRAL:
            fields = _ZIP64_END.unpack(self._feed.take(_ZIP64_END.size, "the zip's end record"))
            record_size = fields[1]
            self._feed.take(record_size - (_ZIP64_END.size - 12), "the zip's end record")
            zip64 = (fields[7], fields[8], fields[9])
            if self._feed.peek(4) == ZIP64_LOCATOR:
                self._feed.take(_ZIP64_LOCATOR.size, "the zip's end record")
        fields = _END.unpack(self._feed.take(_END.size, "the zip's end record"))
        if fields[0] != END_OF_CENTRAL:
            raise CorruptExportError("the zip's end record is missing or damaged")
        self._feed.take(fields[7], "the zip's comment")
        if self._feed.rest().strip(b"\0"):
            raise CorruptExportError("the export has data after the zip's end record")
        total, size, offset = fields[4], fields[5], fields[6]
        if zip64 is not None:
            total = zip64[0] if total == 0xFFFF else total
            size = zip64[1] if size == 0xFFFFFFFF else size
            offset = zip64[2] if offset == 0xFFFFFFFF else offset
        return total, size, offset


def streamed_members(body: Iterable[bytes]) -> Iterator[RawMember]:
    """The file members of a zip while it downloads (folder entries are read and skipped)."""
    for member in ZipStream(body).members():
        chunks = member.chunks()
        if member.is_dir:
            for _ in chunks:
                pass
            continue
        yield member.index, member.name, chunks

"""The streaming zip reader against zipfile's own archives: every layout, every split of the
download, and damage anywhere. Property-based: a failure prints the example and the
hypothesis blob to replay it."""

from __future__ import annotations

import gzip
import io
import itertools
import zipfile
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from amplitude_ingest.errors import CorruptExportError
from amplitude_ingest.unpack import gunzip
from amplitude_ingest.zip_stream import NotStreamableError, ZipStream


class _Unseekable(io.RawIOBase):
    """What a writer that cannot seek back produces: data descriptors after each member."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


Member = tuple[str, bytes]
names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
).filter(lambda n: not n.endswith("/"))
members = st.lists(
    st.tuples(names, st.binary(max_size=3000) | st.just(b"{}\n" * 500)),
    max_size=5,
    unique_by=lambda member: member[0] or "unnamed",  # zip names are unique
)
layouts = st.sampled_from(["seekable", "unseekable"])
methods = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])


def build(content: list[Member], layout: str, method: int, zip64: bool, comment: bytes) -> bytes:
    sink: Any = io.BytesIO() if layout == "seekable" else _Unseekable()
    with zipfile.ZipFile(sink, "w", method) as archive:
        archive.comment = comment
        for name, data in content:
            with archive.open(name or "unnamed", "w", force_zip64=zip64) as out:
                out.write(data)
    return sink.getvalue() if layout == "seekable" else bytes(sink.data)


def read(raw: bytes, cuts: list[int]) -> list[Member]:
    """Read ``raw`` delivered in pieces cut at ``cuts``."""
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]
    return [(m.name, b"".join(m.chunks())) for m in ZipStream(chunks).members()]


def expected(content: list[Member]) -> list[Member]:
    return [(name or "unnamed", data) for name, data in content]


@given(
    content=members,
    layout=layouts,
    method=methods,
    zip64=st.booleans(),
    comment=st.binary(max_size=20),
    cuts=st.lists(st.integers(0, 10**6), max_size=20),
)
def test_any_archive_reads_as_zipfile_wrote_it_however_it_arrives(
    content: list[Member], layout: str, method: int, zip64: bool, comment: bytes, cuts: list[int]
) -> None:
    raw = build(content, layout, method, zip64, comment)
    stored_unsized = layout == "unseekable" and method == zipfile.ZIP_STORED
    if stored_unsized and any(data for _, data in content):
        with pytest.raises(NotStreamableError, match="stored with its size after its data"):
            read(raw, cuts)
        return
    assert read(raw, cuts) == expected(content)


@given(
    content=members.filter(lambda m: any(data for _, data in m)),
    layout=layouts,
    method=methods,
    zip64=st.booleans(),
    where=st.integers(0, 10**6),
    flip=st.integers(1, 255),
)
def test_damage_anywhere_is_caught_or_harmless(
    content: list[Member], layout: str, method: int, zip64: bool, where: int, flip: int
) -> None:
    """A flipped byte either raises, or leaves every name and byte of content intact
    (it hit a field nothing depends on, such as a timestamp)."""
    raw = bytearray(build(content, layout, method, zip64, b""))
    position = where % len(raw)
    raw[position] ^= flip
    note(f"byte {position} of {len(raw)} flipped by {flip:#x}")
    try:
        got = read(bytes(raw), [])
    except (CorruptExportError, NotStreamableError):
        return
    assert got == expected(content)


@given(
    content=members.filter(lambda m: any(data for _, data in m)),
    method=methods,
    keep=st.floats(0, 0.999),
)
def test_a_download_cut_short_is_caught(content: list[Member], method: int, keep: float) -> None:
    raw = build(content, "seekable", method, False, b"")
    with pytest.raises(CorruptExportError):
        read(raw[: int(len(raw) * keep)], [])


def test_members_must_be_read_in_order() -> None:
    raw = build([("a", b"x" * 10), ("b", b"y")], "seekable", zipfile.ZIP_STORED, False, b"")
    stream = ZipStream([raw]).members()
    next(stream)
    with pytest.raises(RuntimeError, match="read each member"):
        next(stream)


def test_what_is_not_a_zip_says_so() -> None:
    with pytest.raises(CorruptExportError, match="not a readable zip"):
        list(ZipStream([b"<html>Service Unavailable</html>"]).members())
    with pytest.raises(CorruptExportError, match="empty"):
        list(ZipStream([b""]).members())


def test_an_encrypted_or_exotic_member_asks_for_the_spooled_path() -> None:
    raw = bytearray(build([("a", b"x" * 10)], "seekable", zipfile.ZIP_STORED, False, b""))
    raw[8] = 12  # compression method 12 (bzip2) in the local header
    with pytest.raises(NotStreamableError, match="compression method 12"):
        read(bytes(raw), [])


# -- the gzip layer ---------------------------------------------------------------------


@given(
    streams=st.lists(st.binary(max_size=5000), min_size=1, max_size=4),
    padding=st.integers(0, 8),
    cuts=st.lists(st.integers(0, 10**5), max_size=20),
    chunk_size=st.integers(1, 5000),
)
def test_gunzip_reads_concatenated_members_however_they_are_cut(
    streams: list[bytes], padding: int, cuts: list[int], chunk_size: int
) -> None:
    raw = b"".join(gzip.compress(s) for s in streams) + b"\0" * padding
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]
    out = list(gunzip(chunks, "m", chunk_size))
    assert b"".join(out) == b"".join(streams)
    assert all(len(c) <= chunk_size for c in out)


@given(data=st.binary(min_size=1, max_size=5000), keep=st.floats(0.05, 0.999))
def test_gunzip_refuses_a_truncated_member(data: bytes, keep: float) -> None:
    raw = gzip.compress(data)
    with pytest.raises(CorruptExportError, match="zip member #3"):
        b"".join(gunzip([raw[: max(2, int(len(raw) * keep))]], "zip member #3"))


def test_gunzip_refuses_data_after_the_stream() -> None:
    with pytest.raises(CorruptExportError, match="data after the gzip stream"):
        b"".join(gunzip([gzip.compress(b"x"), b"trailing"], "m"))

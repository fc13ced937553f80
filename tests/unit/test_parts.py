"""The parts writer (``amplitude_ingest.parts``): whole lines into bounded parts, cut where
the content says, named by the content, published whole or not at all; gzip that gives the
same bytes for the same input. Written to a real folder stage.

Hypothesis draws the lines, the limit and how the lines are grouped into writes; the seed
is printed in a failure (``print_blob``).
"""

from __future__ import annotations

import gzip
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import StageWriteError
from amplitude_ingest.parts import GzipPart, RollingParts, SpooledPart, SpoolGauge
from amplitude_ingest.ports import PendingPart
from amplitude_ingest.stage_keys import content_fingerprint
from amplitude_laptop.stages import LocalStage

lines = st.lists(
    st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"x") + b"\n"),
    min_size=1,
    max_size=60,
)


def key_for(piece: int, fingerprint: str) -> str:
    return f"events/p/2026/01/26/03/p_20260126T03_0_{piece}_{fingerprint}.json"


def write_all(stage: LocalStage, data: list[bytes], groups: list[int], limit: int) -> list[str]:
    writer = RollingParts(stage.create, limit, ".json", key_for)
    at = 0
    for size in groups:
        if at >= len(data):
            break
        writer.write(b"".join(data[at : at + size]))
        at += size
    writer.write(b"".join(data[at:]))
    writer.flush()
    return writer.committed


@given(
    data=lines,
    limit=st.integers(min_value=1, max_value=200),
    groups=st.lists(st.integers(min_value=1, max_value=10), max_size=20),
)
def test_parts_hold_the_lines_in_order_cut_at_the_first_line_end_past_the_limit(
    data: list[bytes], limit: int, groups: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        stage = LocalStage(Path(folder), fsync=False)
        keys = write_all(stage, data, groups, limit)
        parts = [stage.path(key).read_bytes() for key in keys]
        # However the lines were grouped into writes, the parts are the same.
        again = LocalStage(Path(folder) / "again", fsync=False)
        assert write_all(again, data, [len(data)], limit) == keys
    assert b"".join(parts) == b"".join(data)
    for number, (key, part) in enumerate(zip(keys, parts, strict=True)):
        assert part.endswith(b"\n")
        last_line = part[part.rstrip(b"\n").rfind(b"\n") + 1 :]
        assert len(part) - len(last_line) < limit  # the limit lies in the last line
        if number < len(parts) - 1:
            assert len(part) >= limit  # and the part is cut at that line's end
        fingerprint = content_fingerprint(zlib.crc32(part), len(part), ".json")
        assert key == key_for(number, fingerprint)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("writes", "limit", "expected"),
    [
        # A write that fills the part exactly ends it: the next line starts a new part.
        ([b"123456789\n", b"ab\n"], 10, [b"123456789\n", b"ab\n"]),
        # One byte short: the next line is the one that reaches the limit, and stays.
        ([b"12345678\n", b"ab\n", b"c\n"], 10, [b"12345678\nab\n", b"c\n"]),
        # A line longer than the limit is a part of its own, never split.
        ([b"x" * 25 + b"\n" + b"y\n"], 10, [b"x" * 25 + b"\n", b"y\n"]),
        # The limit reached inside a write: cut at that line's end, the rest goes on.
        ([b"aaaa\nbbbb\ncccc\ndd\n"], 7, [b"aaaa\nbbbb\n", b"cccc\ndd\n"]),
    ],
)
def test_where_parts_are_cut(
    tmp_path: Path, writes: list[bytes], limit: int, expected: list[bytes]
) -> None:
    stage = LocalStage(tmp_path, fsync=False)
    writer = RollingParts(stage.create, limit, ".json", key_for)
    for data in writes:
        writer.write(data)
    writer.flush()
    assert [stage.path(key).read_bytes() for key in writer.committed] == expected


def test_nothing_written_commits_nothing(tmp_path: Path) -> None:
    stage = LocalStage(tmp_path)
    writer = RollingParts(stage.create, 100, ".json", key_for)
    writer.write(b"")
    writer.flush()
    assert writer.committed == []
    assert stage.list_keys("events/") == []


def test_abort_leaves_nothing_and_keeps_what_was_committed(tmp_path: Path) -> None:
    stage = LocalStage(tmp_path)
    writer = RollingParts(stage.create, 10, ".json", key_for)
    writer.write(b'{"a": 1234567}\n{"b": 2}\n')  # the first line fills a part: committed
    writer.abort()
    assert stage.list_keys("events/") == writer.committed
    assert len(writer.committed) == 1
    assert not list(stage.partial_folder.iterdir())


class _RefusingPart:
    """A part whose publication fails, as a full disk or a lost bucket would make it."""

    def __init__(self, inner: PendingPart) -> None:
        self.inner = inner
        self.aborted = False

    def write(self, data: bytes | memoryview) -> None:
        self.inner.write(data)

    def commit(self, key: str) -> None:
        raise StageWriteError("the stage refused the part")

    def abort(self) -> None:
        self.aborted = True
        self.inner.abort()


def test_a_part_that_fails_to_publish_is_aborted_and_not_counted(tmp_path: Path) -> None:
    stage = LocalStage(tmp_path)
    made: list[_RefusingPart] = []

    def create() -> PendingPart:
        made.append(_RefusingPart(stage.create()))
        return made[-1]

    writer = RollingParts(create, 100, ".json", key_for)
    writer.write(b'{"a": 1}\n')
    with pytest.raises(StageWriteError):
        writer.flush()
    assert writer.committed == []
    assert [part.aborted for part in made] == [True]
    assert stage.list_keys("events/") == []
    assert not list(stage.partial_folder.iterdir())


def test_gzip_parts_are_the_same_bytes_for_the_same_lines(tmp_path: Path) -> None:
    stage = LocalStage(tmp_path)
    data = b'{"uuid": "a"}\n' * 500
    for key in ("events/a.json.gz", "events/b.json.gz"):
        part = GzipPart(stage.create())
        part.write(data[:1000])
        part.write(memoryview(data)[1000:])
        part.commit(key)
    first, second = (stage.path(k).read_bytes() for k in ("events/a.json.gz", "events/b.json.gz"))
    assert first == second  # no timestamp in the gzip header
    assert gzip.decompress(first) == data


def test_a_spooled_part_is_published_whole_with_its_crc_and_gauged(tmp_path: Path) -> None:
    published: list[tuple[bytes, str, int]] = []
    gauge = SpoolGauge()

    def publish(file: object, key: str, crc: int) -> None:
        published.append((file.read(), key, crc))  # type: ignore[attr-defined]

    parts = [SpooledPart(publish, tmp_path, gauge) for _ in range(2)]
    parts[0].write(b"abc\n")
    parts[1].write(b"defgh\n")
    assert (gauge.current, gauge.peak) == (10, 10)
    parts[0].commit("k0")
    parts[1].abort()
    assert published == [(b"abc\n", "k0", zlib.crc32(b"abc\n"))]
    assert (gauge.current, gauge.peak) == (0, 10)
    assert not list(tmp_path.iterdir())  # the spool files had no name

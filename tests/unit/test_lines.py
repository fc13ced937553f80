"""``amplitude_ingest.lines``: the one line splitter (blank lines are lines) and line
validation over chunks of any size."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.lines import LineValidator, ValidatedChunk, check_line, split_lines

GOOD = b'{"uuid": "a", "event_type": "x"}'


def joined(chunk: ValidatedChunk) -> bytes:
    data = b"".join(bytes(piece) for piece in chunk.valid)
    assert len(data) == chunk.valid_bytes
    return data


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GOOD, None),
        (b'{"a": 1}\r', None),
        (b"", "blank line"),
        (b"   ", "blank line"),
        (b"not json", "not JSON"),
        (b'{"truncated": ', "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (b"42", "JSON int, not an object"),
        (b'"text"', "JSON str, not an object"),
        (b'{"a": "\xff"}', "not JSON"),
    ],
)
def test_check_line(line: bytes, reason: str | None) -> None:
    result = check_line(line)
    if reason is None:
        assert result is None
    else:
        assert result is not None
        assert result.startswith(reason)


def test_valid_lines_pass_through_byte_for_byte_across_chunk_boundaries() -> None:
    data = b"\n".join([GOOD, b'{"b": [1, 2, {"c": null}]}', GOOD]) + b"\n"
    validator = LineValidator()
    out = b""
    for i in range(0, len(data), 7):
        out += joined(validator.feed(data[i : i + 7]))
    out += joined(validator.finish())
    assert out == data


def test_bad_lines_are_numbered_and_the_rest_kept() -> None:
    validator = LineValidator()
    first = validator.feed(GOOD + b"\nnope\n" + GOOD + b"\n[1]\n")
    last = validator.finish()
    assert joined(first) == GOOD + b"\n" + GOOD + b"\n"
    assert first.valid_lines == 2
    assert [(r.line_number, r.raw) for r in first.rejected] == [(2, b"nope"), (4, b"[1]")]
    assert joined(last) == b""
    assert not last.rejected


def test_a_last_line_without_newline_is_validated_at_finish() -> None:
    validator = LineValidator()
    assert joined(validator.feed(GOOD)) == b""
    tail = validator.finish()
    assert joined(tail) == GOOD + b"\n"
    assert tail.valid_lines == 1


@given(
    st.lists(st.sampled_from([GOOD, b"bad", b"[]", b'{"k": "v"}']), max_size=40),
    st.integers(min_value=1, max_value=50),
)
def test_every_line_is_either_kept_or_rejected(lines: list[bytes], chunk: int) -> None:
    data = b"".join(line + b"\n" for line in lines)
    validator = LineValidator()
    kept = b""
    rejected = []
    for i in range(0, len(data), chunk):
        result = validator.feed(data[i : i + chunk])
        kept += joined(result)
        rejected += result.rejected
    result = validator.finish()
    kept += joined(result)
    rejected += result.rejected
    good = [line for line in lines if line.startswith(b"{")]
    assert kept == b"".join(line + b"\n" for line in good)
    assert len(rejected) == len(lines) - len(good)
    assert validator.lines_seen == len(lines)


@given(
    st.text(alphabet="a \r\n", max_size=60).map(str.encode),
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=12),
)
def test_split_lines_keeps_blank_lines_whatever_the_chunking(data: bytes, sizes: list[int]) -> None:
    chunks, at = [], 0
    while at < len(data):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(data[at : at + size])
        at += size
    pieces = data.split(b"\n")
    expected = pieces[:-1] if pieces[-1] == b"" else pieces
    assert list(split_lines(chunks)) == expected
    validator = LineValidator()
    for chunk in chunks:
        validator.feed(chunk)
    validator.finish()
    assert validator.lines_seen == len(expected)

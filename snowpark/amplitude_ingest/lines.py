"""NDJSON line validation over a stream of decompressed chunks.

Snowpipe skips a whole file when one line is bad (``ON_ERROR = SKIP_FILE``), so every line
is checked to be a JSON object before it reaches the stage. Valid lines pass through as
the exact bytes received; invalid ones are handed back with a reason, for quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

try:  # orjson is an optional accelerator (several times faster than json)
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _DECODE_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - exercised where orjson is absent
    import json

    _loads = json.loads
    _DECODE_ERRORS = (ValueError,)

MAX_EXCERPT_BYTES = 1_000_000


def _object_checker() -> Callable[[bytes], bool]:
    """A fast yes/no "is this line one JSON object", never raising.

    pysimdjson validates strictly (RFC 8259, UTF-8) without building Python objects, about
    four times faster than orjson; without it, the full decoder answers. A "no" is always
    confirmed by :func:`check_line`, which also gives the reason.
    """
    try:
        import simdjson
    except ImportError:

        def decode_is_object(line: bytes) -> bool:
            return check_line(line) is None

        return decode_is_object

    parser = simdjson.Parser()  # one per validator: a parser is not thread-safe
    json_object = simdjson.Object

    def simd_is_object(line: bytes) -> bool:
        try:
            # the parsed value is dropped at once, so the parser can be reused
            return isinstance(parser.parse(line), json_object)
        except Exception:  # noqa: BLE001 - any failure means "check it the slow way"
            return False

    return simd_is_object


@dataclass(frozen=True)
class RejectedLine:
    """One line that is not a JSON object, with its 1-based number in its member."""

    line_number: int
    reason: str
    raw: bytes


@dataclass
class ValidatedChunk:
    """Valid lines as buffers to write in order (newline-terminated), and rejected lines.

    The buffers are views into the decompressed chunk where possible: valid data is written
    without being copied.
    """

    valid: list[bytes | memoryview] = field(default_factory=list)
    valid_lines: int = 0
    valid_bytes: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)


def check_line(line: bytes) -> str | None:
    """None when ``line`` is one JSON object, else why not."""
    if not line.strip():
        return "blank line"
    try:
        value = _loads(line)
    except _DECODE_ERRORS as exc:
        return f"not JSON: {exc}"
    if not isinstance(value, dict):
        return f"JSON {type(value).__name__}, not an object"
    return None


class LineSplitter:
    """Whole lines from chunks of any size, without their line ends: the one definition of
    a line in an export member.

    A line is what lies between two newlines; a last piece with no newline after it is a
    line too (``finish``), an empty one is not. A blank or whitespace-only line (``b"\\r"``
    from a CRLF file, say) is a line like any other: whoever reads it decides, nobody
    drops it. The carry holds at most one line.
    """

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes, the first one joined to what was carried over."""
        if b"\n" not in chunk:
            self.carry += chunk
            return []
        lines = chunk.split(b"\n")
        self.carry, lines[0] = lines.pop(), self.carry + lines[0]
        return lines

    def finish(self) -> list[bytes]:
        """The last line, when the data does not end with a newline."""
        rest, self.carry = self.carry, b""
        return [rest] if rest else []


def split_lines(chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """Every line of a stream of chunks (see :class:`LineSplitter`), blank ones included."""
    splitter = LineSplitter()
    for chunk in chunks:
        yield from splitter.feed(bytes(chunk))
    yield from splitter.finish()


class LineValidator:
    """Feed decompressed chunks of any size; get back whole validated lines.

    A line split across chunks is carried over; ``finish`` validates a last line that has
    no trailing newline. The carry holds at most one line, so memory is bounded by the
    longest line (Amplitude events are a few KB).
    """

    def __init__(self) -> None:
        self._splitter = LineSplitter()
        self._is_object = _object_checker()
        self.lines_seen = 0

    def feed(self, chunk: bytes) -> ValidatedChunk:
        lines = self._splitter.feed(chunk)
        if not lines:
            return ValidatedChunk()
        first_newline = chunk.find(b"\n")
        last_newline = len(chunk) - len(self._splitter.carry) - 1
        # When every line is valid, the output is the carried-over head line plus the rest
        # of the chunk up to its last newline, written from a view without a copy.
        body = memoryview(chunk)[first_newline + 1 : last_newline + 1]
        return self._validate(lines, lines[0] + b"\n", body)

    def finish(self) -> ValidatedChunk:
        rest = self._splitter.finish()
        if not rest:
            return ValidatedChunk()
        return self._validate(rest, rest[0] + b"\n", memoryview(b""))

    def _validate(self, lines: list[bytes], head: bytes, body: memoryview) -> ValidatedChunk:
        first_number = self.lines_seen + 1
        self.lines_seen += len(lines)
        is_object = self._is_object
        suspects = [i for i, line in enumerate(lines) if not is_object(line)]
        rejected: list[RejectedLine] = []
        for offset in suspects:
            reason = check_line(lines[offset])
            if reason is not None:
                excerpt = lines[offset][:MAX_EXCERPT_BYTES]
                rejected.append(RejectedLine(first_number + offset, reason, excerpt))
        if not rejected:
            pieces: list[bytes | memoryview] = [head, body] if len(body) else [head]
            return ValidatedChunk(pieces, len(lines), len(head) + len(body))
        bad = {r.line_number - first_number for r in rejected}
        kept = [line for i, line in enumerate(lines) if i not in bad]
        valid = b"\n".join(kept) + b"\n" if kept else b""
        return ValidatedChunk([valid] if valid else [], len(kept), len(valid), rejected)

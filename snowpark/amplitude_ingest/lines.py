"""NDJSON line validation over a stream of decompressed chunks.

Snowpipe skips a whole file when one line is bad (``ON_ERROR = SKIP_FILE``), so every line
is checked to be a JSON object before it reaches the stage. Valid lines pass through as
the exact bytes received; invalid ones are handed back with a reason, for quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class RejectedLine:
    """One line that is not a JSON object, with its 1-based number in its member."""

    line_number: int
    reason: str
    raw: bytes


@dataclass
class ValidatedChunk:
    """Valid lines (newline-terminated bytes, possibly empty) and the rejected ones."""

    valid: bytes
    valid_lines: int
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


class LineValidator:
    """Feed decompressed chunks of any size; get back whole validated lines.

    A line split across chunks is carried over; ``finish`` validates a last line that has
    no trailing newline. The carry holds at most one line, so memory is bounded by the
    longest line (Amplitude events are a few KB).
    """

    def __init__(self) -> None:
        self._carry = b""
        self.lines_seen = 0

    def feed(self, chunk: bytes) -> ValidatedChunk:
        data = self._carry + chunk if self._carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._carry = data
            return ValidatedChunk(b"", 0)
        self._carry = data[cut + 1 :]
        return self._validate(data[:cut])

    def finish(self) -> ValidatedChunk:
        rest, self._carry = self._carry, b""
        if not rest:
            return ValidatedChunk(b"", 0)
        return self._validate(rest)

    def _validate(self, body: bytes) -> ValidatedChunk:
        lines = body.split(b"\n")
        first_number = self.lines_seen + 1
        self.lines_seen += len(lines)
        rejected: list[RejectedLine] = []
        for offset, line in enumerate(lines):
            reason = check_line(line)
            if reason is not None:
                excerpt = line[:MAX_EXCERPT_BYTES]
                rejected.append(RejectedLine(first_number + offset, reason, excerpt))
        if not rejected:
            return ValidatedChunk(body + b"\n", len(lines))
        bad = {r.line_number - first_number for r in rejected}
        kept = [line for i, line in enumerate(lines) if i not in bad]
        valid = b"\n".join(kept) + b"\n" if kept else b""
        return ValidatedChunk(valid, len(kept), rejected)

"""Forgetting a user: which lines are theirs, and a stage part rewritten without them.

A privacy request names one id: an ``amplitude_id``, a ``user_id`` or a ``device_id``. It
is kept only as the SHA-256 of the id's text as it appears in the event (an amplitude_id as
its decimal integer text), the same hash DuckDB's ``sha256()`` and Snowflake's
``sha2(x, 256)`` give, so the laptop, the procedure, dbt and the extract's filter agree on
which events are the user's without ever storing the id.

Two users of this module:

* the extract (:mod:`amplitude_ingest.exporter`) drops the lines of forgotten ids before
  they reach the stage, so a later export or re-export of an old hour does not bring a
  forgotten user back; it gets the hashes from a :class:`ForgottenIds` port that the
  assembly is given (the laptop reads its warehouse, the procedure the requests table);
* ``amplitude-ingest forget`` and ``CALL amplitude_forget()`` rewrite each stage part that
  holds the user's lines (:func:`rewrite_part`): the kept lines go to a new part named by
  its new content through the same stage writer and key naming the extract uses, and the
  caller removes the old part once the warehouse knows about the new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.lines import ValidatedChunk, split_lines
from amplitude_ingest.parts import GzipPart, RollingParts
from amplitude_ingest.ports import PendingPart, Stage
from amplitude_ingest.stage_keys import EVENTS_FOLDER, QUARANTINE_FOLDER, parse_part_key
from amplitude_ingest.unpack import gunzip

try:  # the same optional accelerator lines.py uses
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

    _DECODE_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - exercised where orjson is absent

    def _loads(data: bytes) -> Any:
        return json.loads(data)

    _DECODE_ERRORS = (ValueError,)

# A rewritten part is written whole under one key: it keeps its place (member, piece) and
# is never cut, since it can only shrink.
_NO_CUT = 1 << 62


class IdKind(StrEnum):
    AMPLITUDE_ID = "amplitude_id"
    USER_ID = "user_id"
    DEVICE_ID = "device_id"


def id_text(kind: IdKind, value: str) -> str:
    """The id's text as the events hold it; an amplitude_id must be a decimal integer."""
    if kind is IdKind.AMPLITUDE_ID:
        if not re.fullmatch(r"\s*\d{1,20}\s*", value):
            raise ConfigurationError("an amplitude_id is a decimal integer")
        return str(int(value))
    if not value:
        raise ConfigurationError(f"the {kind.value} to forget is empty")
    return value


def id_sha256(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 text: the only form an id is ever stored in."""
    return hashlib.sha256(text.encode()).hexdigest()


def _event_value(value: object) -> str | None:
    """An id as text, the way DuckDB's ``json_extract_string`` and Snowflake's
    ``::varchar`` render a JSON string or integer."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass(frozen=True)
class Forgotten:
    """The hashes of every forgotten id, by kind. Plain values: it pickles to a worker
    process with the rest of the extract's recipe."""

    by_kind: Mapping[IdKind, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, requests: Iterable[tuple[str, str]]) -> Forgotten:
        """From (id_kind, id_sha256) pairs, as the requests table holds them."""
        found: dict[IdKind, set[str]] = {}
        for kind, digest in requests:
            found.setdefault(IdKind(kind), set()).add(digest.lower())
        return cls({kind: frozenset(digests) for kind, digests in found.items()})

    def __bool__(self) -> bool:
        return any(self.by_kind.values())

    def __len__(self) -> int:
        return sum(len(d) for d in self.by_kind.values())

    def matches_event(self, event: Mapping[str, object]) -> bool:
        for kind, digests in self.by_kind.items():
            text = _event_value(event.get(kind.value))
            if text is not None and id_sha256(text) in digests:
                return True
        return False

    def matches_line(self, line: bytes) -> bool:
        """An event line; a line that is not a JSON object (one the extract quarantined) is
        searched for the id fields' values instead, so quarantined text is forgotten too."""
        try:
            event = _loads(line)
        except _DECODE_ERRORS:
            return self._matches_text(line.decode("utf-8", errors="replace"))
        if isinstance(event, dict):
            return self.matches_event(event)
        return self._matches_text(line.decode("utf-8", errors="replace"))

    def matches_quarantine_record(self, record: bytes) -> bool:
        """A quarantine record (``{"line": <the rejected line>, ...}``)."""
        try:
            parsed = _loads(record)
        except _DECODE_ERRORS:
            return self._matches_text(record.decode("utf-8", errors="replace"))
        line = parsed.get("line") if isinstance(parsed, dict) else None
        if not isinstance(line, str):
            return False
        return self.matches_line(line.encode())

    def _matches_text(self, text: str) -> bool:
        for kind, digests in self.by_kind.items():
            for match in _field_pattern(kind).finditer(text):
                quoted, number = match.group(1), match.group(2)
                value = number if quoted is None else _unescape(quoted)
                if id_sha256(value) in digests:
                    return True
        return False


def _field_pattern(kind: IdKind) -> re.Pattern[str]:
    return re.compile(rf'"{kind.value}"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))')


def _unescape(quoted: str) -> str:
    try:
        value = json.loads(f'"{quoted}"')
    except ValueError:
        return quoted
    return value if isinstance(value, str) else quoted


def request_id(kind: IdKind, digest: str) -> str:
    """One request per forgotten id, on the laptop and on Snowflake alike: a re-run after a
    crash, or a second request for the same id, finds and completes the same record."""
    return hashlib.sha256(f"{kind.value}:{digest}".encode()).hexdigest()[:32]


def parse_digest(value: str) -> str | None:
    """``sha256:<64 hex digits>``: an id hashed by the caller, so the id itself never
    reaches a query's text (and query history); None for anything else."""
    match = re.fullmatch(r"sha256:([0-9a-fA-F]{64})", value.strip())
    return match.group(1).lower() if match else None


class ForgottenIds(Protocol):
    """Where the extract learns which ids are forgotten: the laptop's warehouse, or the
    Snowflake requests table. Read once per extract, before any window."""

    def forgotten(self) -> Forgotten: ...


class NothingForgotten:
    """For an extract with no requests table to read (tests, the benchmark)."""

    def forgotten(self) -> Forgotten:
        return Forgotten()


def drop_forgotten(chunk: ValidatedChunk, forgotten: Forgotten) -> tuple[ValidatedChunk, int]:
    """``chunk`` without the lines of forgotten ids, and how many were dropped.

    Valid lines are events; rejected ones are searched as text (they are quarantined with
    their content, so a forgotten user's broken line must not reach the quarantine either).
    """
    if not forgotten:
        return chunk, 0
    kept: list[bytes] = []
    dropped = 0
    for line in split_lines(chunk.valid):
        if line and forgotten.matches_line(line):
            dropped += 1
        else:
            kept.append(line + b"\n")
    rejected = [r for r in chunk.rejected if not forgotten.matches_line(r.raw)]
    dropped += len(chunk.rejected) - len(rejected)
    if not dropped:
        return chunk, 0
    data = b"".join(kept)
    return ValidatedChunk([data] if data else [], len(kept), len(data), rejected), dropped


@dataclass(frozen=True)
class PartRewrite:
    """One stage part that held a forgotten user's lines.

    ``new_key`` is None when nothing was left to keep (or ``recognised`` is False: the key
    is not one this package writes, so no new key can be named for it).
    """

    old_key: str
    new_key: str | None
    lines_removed: int
    lines_kept: int
    recognised: bool = True

    @property
    def quarantine(self) -> bool:
        name = parse_part_key(self.old_key)
        return name is not None and name.quarantined


def rewrite_part(
    stage: Stage, key: str, content: Iterable[bytes], forgotten: Forgotten
) -> PartRewrite | None:
    """Write ``key``'s lines that are not a forgotten user's to a new part; None (and
    nothing written) when none of its lines is theirs.

    ``content`` is the part's bytes as stored (gzip when the key ends ``.gz``). The new
    part goes through ``stage.create()`` and is named by :func:`parse_part_key`'s reading
    of the old key with the new content's fingerprint: the same key the extract would give
    that content. The old part is left for the caller to remove.
    """
    name = parse_part_key(key)
    chunks: Iterable[bytes] = gunzip(content, key) if key.endswith(".gz") else content
    quarantined = name is not None and name.quarantined
    matches = forgotten.matches_quarantine_record if quarantined else forgotten.matches_line

    def create() -> PendingPart:
        part = stage.create()
        return GzipPart(part) if key.endswith(".gz") else part

    extension = ".json" if name is None else name.extension
    writer = RollingParts(
        create,
        _NO_CUT,
        extension,
        lambda _piece, fingerprint: name.key(fingerprint) if name else key,
    )
    removed = kept = 0
    try:
        for line in split_lines(chunks):
            if not line:
                continue
            if matches(line):
                removed += 1
            else:
                kept += 1
                if name is not None:
                    writer.write(line + b"\n")
        if not removed or name is None:
            writer.abort()
        else:
            writer.flush()
    except BaseException:
        writer.abort()
        raise
    if not removed:
        return None
    if name is None:
        return PartRewrite(key, None, removed, kept, recognised=False)
    new_key = writer.committed[0] if writer.committed else None
    return PartRewrite(key, new_key, removed, kept)


class ReadableStage(Stage, Protocol):
    """A stage whose parts can be read back (what a forget rewrites)."""

    def read(self, key: str) -> AbstractContextManager[Iterable[bytes]]: ...


@dataclass
class StageForget:
    """What :func:`forget_on_stage` did: parts rewritten (new ones written, old ones still
    there), old parts a crashed run had already recorded, and parts it could not name."""

    rewrites: list[PartRewrite] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    not_rewritten: list[str] = field(default_factory=list)

    @property
    def old_keys(self) -> list[str]:
        """What to remove once the rewrites are recorded."""
        return [r.old_key for r in self.rewrites] + self.leftovers

    @property
    def data_lines_removed(self) -> int:
        return sum(r.lines_removed for r in self.rewrites if not r.quarantine)


def forget_on_stage(stage: ReadableStage, forgotten: Forgotten, recorded: set[str]) -> StageForget:
    """Rewrite every data and quarantine part holding a forgotten user's lines.

    ``recorded`` are old keys a crashed run already rewrote and recorded: they are only
    listed for removal, never read again (their replacement exists).
    """
    done = StageForget()
    for folder in (EVENTS_FOLDER, QUARANTINE_FOLDER):
        for key in stage.list_keys(folder + "/"):
            if key in recorded:
                done.leftovers.append(key)
                continue
            with stage.read(key) as content:
                rewrite = rewrite_part(stage, key, content, forgotten)
            if rewrite is None:
                continue
            if rewrite.recognised:
                done.rewrites.append(rewrite)
            else:
                done.not_rewritten.append(key)
    return done

"""Stage object keys: deterministic, safe, and derived from nothing the server names.

A key is built from the project label, the hour, the part's position (its zip member's
place in the hour, then its place in the member) and a fingerprint of the part's own
content (CRC-32 and length of the JSON written). The same export gives the same keys, so a
re-run overwrites rather than duplicates; a changed export gives new keys, so Snowpipe,
which ignores a path it loaded in the last 14 days, loads the new content.

Zip entry names are untrusted: they are only matched against a strict pattern to learn
which hour a member holds, never used to build a path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.hours import HourWindow, format_hour

# Bumped whenever the bytes written for the same input change (validation rules, framing),
# so that content written by an older version is never mistaken for the new one.
OUTPUT_FORMAT_VERSION = 2

EVENTS_FOLDER = "events"
QUARANTINE_FOLDER = "_quarantine"
QUARANTINE_EXTENSION = ".rejected.jsonl"

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._=-]{0,127}$")
# Amplitude's entry names: {project_id}/{project_id}_{YYYY-MM-DD}_{H}#{n}.json.gz, H not
# zero-padded. Matched loosely where Amplitude has varied (the folder, #n and .gz are
# optional; H may be padded) and strictly elsewhere: digits for the project id, the same id
# in the folder as in the file name, nothing else around it.
_MEMBER_NAME = re.compile(
    r"^(?:(?P<folder>\d+)/)?(?P<project>\d+)_(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"_(?P<h>\d{1,2})(?:#\d+)?\.json(?:\.gz)?$"
)


def validate_label(label: str) -> str:
    """A project label goes into keys: letters, digits, ``_`` and ``-`` only."""
    if not _LABEL.match(label):
        raise ConfigurationError(
            f"project label {label!r} must be 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return label


def normalize_prefix(prefix: str) -> str:
    """A key prefix such as ``amplitude/raw``: safe segments, no ``..``, no leading slash."""
    segments = [s for s in prefix.strip("/").split("/") if s]
    for segment in segments:
        if not _PREFIX_SEGMENT.match(segment):
            raise ConfigurationError(f"stage prefix segment {segment!r} is not allowed")
    return "/".join(segments)


def content_fingerprint(crc32: int, length: int, extension: str) -> str:
    """16 hex digits identifying a part's content and how it is written out."""
    identity = f"v{OUTPUT_FORMAT_VERSION}|{crc32}|{length}|{extension}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def hour_folder(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime("%Y/%m/%d/%H")


def events_hour_prefix(project: str, hour: datetime) -> str:
    """Folder holding every data part of one hour, ending in ``/``."""
    return f"{EVENTS_FOLDER}/{project}/{hour_folder(hour)}/"


def quarantine_hour_prefix(project: str, hour: datetime) -> str:
    return f"{QUARANTINE_FOLDER}/{project}/{hour_folder(hour)}/"


def part_key(
    project: str, hour: datetime, member: int, piece: int, fingerprint: str, extension: str
) -> str:
    """``events/{project}/2026/01/26/05/{project}_20260126T05_0000_000_{fp}.json``.

    ``member`` is the zip member's place in the hour, ``piece`` the part's place in the
    member. Keys are relative to the stage's root (a folder, or the external stage's S3
    prefix).
    """
    name = f"{project}_{format_hour(hour)}_{member:04d}_{piece:03d}_{fingerprint}{extension}"
    return events_hour_prefix(project, hour) + name


def quarantine_key(project: str, hour: datetime, member: int, piece: int, fingerprint: str) -> str:
    """Rejected lines of one zip member, outside the ``events/`` folder the pipe loads."""
    name = (
        f"{project}_{format_hour(hour)}_{member:04d}_{piece:03d}_{fingerprint}"
        f"{QUARANTINE_EXTENSION}"
    )
    return quarantine_hour_prefix(project, hour) + name


@dataclass(frozen=True)
class PartName:
    """What a data or quarantine key says: :func:`part_key` and :func:`quarantine_key` read
    backwards, so a part rewritten with other content gets its key from the same code."""

    project: str
    hour: datetime
    member: int
    piece: int
    fingerprint: str
    extension: str

    @property
    def quarantined(self) -> bool:
        return self.extension == QUARANTINE_EXTENSION

    def key(self, fingerprint: str) -> str:
        """The key of this part with other content (another fingerprint)."""
        if self.quarantined:
            return quarantine_key(self.project, self.hour, self.member, self.piece, fingerprint)
        return part_key(
            self.project, self.hour, self.member, self.piece, fingerprint, self.extension
        )


_PART_NAME = re.compile(
    rf"^(?P<folder>{EVENTS_FOLDER}|{QUARANTINE_FOLDER})/(?P<project>[A-Za-z0-9][A-Za-z0-9_-]{{0,63}})"
    r"/(?P<path>\d{4}/\d{2}/\d{2}/\d{2})/(?P=project)_(?P<hour>\d{8}T\d{2})"
    r"_(?P<member>\d{4})_(?P<piece>\d{3})_(?P<fp>[0-9a-f]{16})"
    r"(?P<ext>\.json|\.json\.gz|\.rejected\.jsonl)$"
)


def parse_part_key(key: str) -> PartName | None:
    """The parts of a key this package wrote; None for any other name (a doctor marker, a
    file someone else put there), which must then not be renamed by guesswork."""
    match = _PART_NAME.fullmatch(key)
    if match is None:
        return None
    quarantined = match["folder"] == QUARANTINE_FOLDER
    if quarantined != (match["ext"] == QUARANTINE_EXTENSION):
        return None
    try:
        hour = datetime.strptime(match["hour"], "%Y%m%dT%H").replace(tzinfo=UTC)
    except ValueError:
        return None
    if hour_folder(hour) != match["path"]:
        return None
    name = PartName(
        match["project"], hour, int(match["member"]), int(match["piece"]), match["fp"], match["ext"]
    )
    return name if name.key(name.fingerprint) == key else None


def member_hour(entry_name: str, window: HourWindow) -> datetime | None:
    """The hour a zip member holds, from its name; None when the name is not Amplitude's
    shape or names an hour outside the window (the member is then quarantined)."""
    match = _MEMBER_NAME.fullmatch(entry_name)
    if not match or match["folder"] not in (None, match["project"]):
        return None
    try:
        named = datetime(
            int(match["y"]), int(match["m"]), int(match["d"]), int(match["h"]), tzinfo=UTC
        )
    except ValueError:
        return None
    return named if window.contains(named) else None

"""Stage object keys: deterministic, safe, and derived from nothing the server names.

A key is built from the project label, the hour, the part's position in the hour and a
fingerprint of the zip member it came from (CRC-32 and sizes from the zip's central
directory). The same export gives the same keys, so a re-run overwrites rather than
duplicates; a changed export gives new keys, so Snowpipe, which ignores a path it loaded
in the last 14 days, loads the new content.

Zip entry names are untrusted: they are only matched against a strict pattern to learn
which hour a member holds, never used to build a path.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.hours import HourWindow, format_hour

# Bumped whenever the bytes written for the same input change (validation rules, framing),
# so that content written by an older version is never mistaken for the new one.
OUTPUT_FORMAT_VERSION = 1

EVENTS_FOLDER = "events"
QUARANTINE_FOLDER = "_quarantine"

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._=-]{0,127}$")
# {project_id}_{YYYY-MM-DD}_{H}#{n}.json.gz, H not zero-padded; matched on the last
# path segment only and loosely (any project id, optional #n, optional .gz).
_MEMBER_HOUR = re.compile(r"_(\d{4})-(\d{2})-(\d{2})_(\d{1,2})(?:#\d+)?\.json(?:\.gz)?$")


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


def member_fingerprint(crc32: int, compressed_size: int, file_size: int, extension: str) -> str:
    """16 hex digits identifying a zip member's content and how it is written out."""
    identity = f"v{OUTPUT_FORMAT_VERSION}|{crc32}|{compressed_size}|{file_size}|{extension}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def hour_folder(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime("%Y/%m/%d/%H")


def events_hour_prefix(project: str, hour: datetime) -> str:
    """Folder holding every data part of one hour, ending in ``/``."""
    return f"{EVENTS_FOLDER}/{project}/{hour_folder(hour)}/"


def quarantine_hour_prefix(project: str, hour: datetime) -> str:
    return f"{QUARANTINE_FOLDER}/{project}/{hour_folder(hour)}/"


def part_key(project: str, hour: datetime, sequence: int, fingerprint: str, extension: str) -> str:
    """``events/{project}/2026/01/26/05/{project}_20260126T05_0000_{fp}.json``.

    Keys are relative to the stage's root (a folder, or the external stage's S3 prefix).
    """
    name = f"{project}_{format_hour(hour)}_{sequence:04d}_{fingerprint}{extension}"
    return events_hour_prefix(project, hour) + name


def quarantine_key(project: str, hour: datetime, sequence: int, fingerprint: str) -> str:
    """Rejected lines of one part, outside the ``events/`` folder the pipe loads from."""
    name = f"{project}_{format_hour(hour)}_{sequence:04d}_{fingerprint}.rejected.jsonl"
    return quarantine_hour_prefix(project, hour) + name


def member_hour(entry_name: str, window: HourWindow) -> datetime | None:
    """The hour a zip member holds, read loosely from its name; None if it does not say.

    A name naming an hour outside the window is treated as saying nothing.
    """
    match = _MEMBER_HOUR.search(entry_name.rsplit("/", 1)[-1])
    if not match:
        return None
    year, month, day, hour = (int(g) for g in match.groups())
    try:
        named = datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None
    return named if window.contains(named) else None

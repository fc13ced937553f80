"""``amplitude_ingest.stage_keys``: part and quarantine keys, content fingerprints, member
names read loosely, prefixes that never escape the stage."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.hours import HourWindow
from amplitude_ingest.stage_keys import (
    content_fingerprint,
    member_hour,
    normalize_prefix,
    part_key,
    quarantine_key,
    validate_label,
)

HOUR = datetime(2026, 1, 26, 5, tzinfo=UTC)
WINDOW = HourWindow(HOUR, HOUR + timedelta(hours=5))


def test_part_key_layout() -> None:
    key = part_key("web", HOUR, 3, 1, "0123456789abcdef", ".json")
    assert key == "events/web/2026/01/26/05/web_20260126T05_0003_001_0123456789abcdef.json"


def test_quarantine_is_outside_the_events_folder() -> None:
    key = quarantine_key("web", HOUR, 0, 0, "0123456789abcdef")
    assert key.startswith("_quarantine/web/2026/01/26/05/")
    assert not key.startswith("events/")


def test_fingerprint_changes_with_content_and_format_only() -> None:
    base = content_fingerprint(1234, 10, ".json")
    assert base == content_fingerprint(1234, 10, ".json")
    others = [(1235, 10, ".json"), (1234, 11, ".json"), (1234, 10, ".json.gz")]
    assert len({base, *(content_fingerprint(*a) for a in others)}) == 4


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("100011471/100011471_2026-01-26_5#0.json.gz", HOUR),
        ("100011471_2026-01-26_07#12.json.gz", HOUR + timedelta(hours=2)),
        ("42/42_2026-01-26_10.json", HOUR + timedelta(hours=5)),
        ("x/y/42_2026-01-26_10.json", None),  # not Amplitude's folder
        ("41/42_2026-01-26_10.json.gz", None),  # folder and file name disagree
        ("../42_2026-01-26_10.json.gz", None),
        ("42/42_2026-01-26_10.json.gz\n", None),
        ("100011471_2026-01-26_11#0.json.gz", None),  # outside the window
        ("../../evil.json.gz", None),
        ("100011471_2026-02-30_5#0.json.gz", None),
        ("", None),
    ],
)
def test_member_hour_reads_names_loosely(name: str, expected: datetime | None) -> None:
    assert member_hour(name, WINDOW) == expected


@given(st.text())
def test_any_entry_name_yields_an_hour_in_the_window_or_none(name: str) -> None:
    hour = member_hour(name, WINDOW)
    assert hour is None or WINDOW.contains(hour)


@given(st.text(min_size=1))
def test_prefixes_never_escape(prefix: str) -> None:
    try:
        normalized = normalize_prefix(prefix)
    except ConfigurationError:
        return
    assert ".." not in normalized.split("/")
    assert not normalized.startswith("/")
    assert "\\" not in normalized


@pytest.mark.parametrize("label", ["", "a b", "../x", "x/y", "-lead", "é", "a" * 65])
def test_bad_project_labels_are_refused(label: str) -> None:
    with pytest.raises(ConfigurationError, match="project label"):
        validate_label(label)

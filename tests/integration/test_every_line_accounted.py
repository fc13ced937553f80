"""Nothing is dropped silently: every line of an export member becomes an event or a
quarantined line, counted, on every path a member can take.

The paths: read as the zip downloads or from a spooled copy (an archive that cannot
stream), and a member whose name is Amplitude's (its lines validated one by one) or not
(every line quarantined with the name's reason). Members are planted in the bundled
Amplitude server with blank, whitespace-only and CRLF lines. The expected outcome is
computed here with the standard library's json, independently of ``amplitude_ingest.lines``.

The hypothesis seed is printed; replay one with ``AMPLITUDE_PROPERTY_SEED=<seed>``.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from amplitude_ingest.exporter import UNEXPECTED_NAME
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import API_KEY, SECRET_KEY, Harness

SEED = int(os.environ.get("AMPLITUDE_PROPERTY_SEED") or random.randrange(2**32))
START = datetime(2026, 1, 26, 3, tzinfo=UTC)
HOUR_ID = "20260126T03"
NOT_AMPLITUDES = "exports/not-amplitude.json.gz"
LINES = [
    b'{"uuid": "a", "event_type": "x"}',
    b'{"uuid": "b"}',
    b"",
    b" ",
    b"\t \t",
    b"\r",
    b"not json",
    b"[1, 2]",
]
# "seekable" is read as it downloads; "stored-streamed" cannot be, so it is spooled.
PATHS = [
    pytest.param("seekable", None, id="streamed-amplitude-name"),
    pytest.param("seekable", NOT_AMPLITUDES, id="streamed-other-name"),
    pytest.param("stored-streamed", None, id="spooled-amplitude-name"),
    pytest.param("stored-streamed", NOT_AMPLITUDES, id="spooled-other-name"),
]


@st.composite
def member_bodies(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.sampled_from(LINES), max_size=12))
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    last_newline = draw(st.booleans())
    return newline.join(lines) + (newline if lines and last_newline else b"")


def expected_lines(body: bytes) -> list[bytes]:
    """A member's lines: what lies between newlines, and a last piece that is not empty."""
    pieces = body.split(b"\n")
    return pieces[:-1] if pieces[-1] == b"" else pieces


def is_event(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAmplitude]:
    local = LocalAmplitude(
        api_key=API_KEY, secret_key=SECRET_KEY, cache_dir=tmp_path_factory.mktemp("cache")
    ).start()
    yield local
    local.stop()


@pytest.mark.parametrize(("layout", "entry_name"), PATHS)
@seed(SEED)
@settings(max_examples=15)
@given(body=member_bodies())
def test_every_line_is_an_event_or_quarantined_and_counted(
    server: LocalAmplitude, layout: str, entry_name: str | None, body: bytes
) -> None:
    print(f"hypothesis seed {SEED}: replay with AMPLITUDE_PROPERTY_SEED={SEED}")
    server.faults = FaultPlan(
        zip_layout=layout,
        member_bodies={HOUR_ID: body},
        entry_names={HOUR_ID: entry_name} if entry_name else {},
    )
    lines = expected_lines(body)
    if entry_name is None:
        events = [line for line in lines if is_event(line)]
        quarantined = [(n, line) for n, line in enumerate(lines, 1) if not is_event(line)]
    else:
        events, quarantined = [], list(enumerate(lines, 1))
    with tempfile.TemporaryDirectory() as folder:
        harness = Harness(server, Path(folder))
        try:
            summary = harness.run(START, START)
        finally:
            harness.close()
        root = Path(folder) / "stage"
        staged = [
            line
            for p in sorted((root / "events").rglob("*.json"))
            for line in p.read_bytes().split(b"\n")[:-1]
        ]
        records = [
            json.loads(line)
            for p in sorted((root / "_quarantine").rglob("*.jsonl"))
            for line in p.read_text().splitlines()
        ]
    assert summary.windows_spooled == (layout == "stored-streamed")
    assert (summary.events, summary.rejected_lines) == (len(events), len(quarantined))
    assert staged == events
    assert [(r["line_number"], r["line"].encode()) for r in records] == quarantined
    for record in records:
        line = record["line"].encode()
        if entry_name is not None:
            assert record["reason"] == UNEXPECTED_NAME
        elif not line.strip():
            assert record["reason"] == "blank line"

"""Unzipping while the export downloads: every zip layout Amplitude could send, the spooled
fallback, bounded parts and content-derived keys, against the local server."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from amplitude_laptop.stages import LocalStage
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import Harness

START = datetime(2026, 1, 26, 3, tzinfo=UTC)
H = timedelta(hours=1)


def staged(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "events").rglob("*.json"))
    }


@pytest.mark.parametrize("layout", ["seekable", "streamed", "streamed-zip64"])
def test_every_layout_streams_every_event_once(
    harness: Callable[..., Harness], layout: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(FaultPlan(zip_layout=layout))
    with caplog.at_level(logging.INFO):
        summary = h.run(START, START + 2 * H)
    planted = h.server.manifest(START, START + 2 * H)
    rows = [
        json.loads(line) for body in staged(h.stage.root).values() for line in body.splitlines()
    ]  # type: ignore[attr-defined]
    assert (summary.events, len(rows)) == (planted.rows, planted.rows)
    assert len({r["uuid"] for r in rows}) == planted.distinct_uuids
    assert summary.windows_spooled == 0
    assert "spool" not in caplog.text


def test_a_zip_that_cannot_stream_falls_back_to_the_spool_and_says_so(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(FaultPlan(zip_layout="stored-streamed"))
    with caplog.at_level(logging.WARNING):
        summary = h.run(START, START + 1 * H)
    planted = h.server.manifest(START, START + 1 * H)
    assert summary.events == planted.rows
    assert summary.windows_spooled == 2
    assert "downloading it whole to a spool file" in caplog.text
    assert "2 window(s) spooled" in summary.one_line()
    assert len(h.server.requests) == 4  # each window asked twice: streamed, then spooled


@pytest.mark.parametrize("layout", ["seekable", "streamed"])
def test_a_broken_stream_is_retried_whole_and_leaves_nothing(
    harness: Callable[..., Harness], layout: str
) -> None:
    faults = FaultPlan(zip_layout=layout, responses={"20260126T03": ["reset", "truncate"]})
    h = harness(faults)
    summary = h.run(START, START)
    assert summary.events == h.server.manifest(START, START).rows
    assert h.ledger.get([START])[START].attempts == 3
    assert not list(h.stage.root.rglob("*.partial"))  # type: ignore[attr-defined]


def test_parts_are_cut_at_line_ends_below_the_limit_and_named_by_content(
    amplitude: Callable[..., LocalAmplitude], harness: Callable[..., Harness], tmp_path: Path
) -> None:
    server = amplitude(sessions_per_hour=200)  # ~3.4 MB of JSON in one member
    limit = 1 << 20
    h = harness(server=server, max_part_bytes=limit)
    summary = h.run(START, START)
    first = staged(h.stage.root)  # type: ignore[attr-defined]
    assert summary.files == len(first) >= 3
    for key, body in first.items():
        assert body.endswith(b"\n"), key
        assert len(body) < limit + 20_000  # one line past the limit at most
        assert [json.loads(line)["uuid"] for line in body.splitlines()]
    assert sum(len(b.splitlines()) for b in first.values()) == server.manifest(START, START).rows

    # The same export, extracted again into another stage, gives the very same keys and bytes.
    root = tmp_path / "again"
    again = harness(server=server, stage=LocalStage(root), max_part_bytes=limit)
    again.run(START, START, force=True)
    assert staged(root) == first

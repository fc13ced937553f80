"""The extractor against the local Amplitude server, writing to a real folder stage."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from amplitude_ingest.config import Credentials
from amplitude_ingest.domain import HourStatus
from amplitude_ingest.errors import AmplitudeAuthError
from amplitude_ingest.hours import hour_range
from amplitude_laptop.stages import LocalStage
from amplitude_sample_server.server import FaultPlan, LocalAmplitude
from tests.support import API_KEY, SECRET_KEY, Harness

START = datetime(2026, 1, 26, 3, tzinfo=UTC)
H = timedelta(hours=1)


def stage_lines(stage_root: Path, folder: str = "events") -> list[dict[str, object]]:
    rows = []
    for path in sorted((stage_root / folder).rglob("*.json")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def data_files(stage_root: Path) -> list[Path]:
    return sorted(p for p in (stage_root / "events").rglob("*") if p.is_file())


def test_every_generated_event_lands_once(harness: Callable[..., Harness]) -> None:
    h = harness()
    summary = h.run(START, START + 5 * H)
    expected = h.server.manifest(START, START + 5 * H)
    rows = stage_lines(h.stage.root)  # type: ignore[attr-defined]
    assert summary.hours_done == 6
    assert summary.hours_failed == 0
    assert summary.events == expected.rows == len(rows)
    assert len({r["uuid"] for r in rows}) == expected.distinct_uuids
    assert len(data_files(h.stage.root)) == 6  # type: ignore[attr-defined]
    records = h.ledger.get(hour_range(START, START + 5 * H))
    assert {r.status for r in records.values()} == {HourStatus.DONE}
    assert sum(r.events for r in records.values()) == expected.rows
    assert all(r.attempts == 1 for r in records.values())


def test_a_second_run_of_the_same_window_is_a_no_op(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.run(START, START + 2 * H)
    requests_before = len(h.server.requests)
    again = h.run(START, START + 2 * H)
    assert again.hours_skipped == 3
    assert again.hours_done == 0
    assert len(h.server.requests) == requests_before


def test_forced_rerun_rewrites_the_same_keys(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.run(START, START + 2 * H)
    root: Path = h.stage.root  # type: ignore[attr-defined]
    before = {p: p.read_bytes() for p in data_files(root)}
    forced = h.run(START, START + 2 * H, force=True)
    assert forced.hours_done == 3
    assert {p: p.read_bytes() for p in data_files(root)} == before


def test_transient_faults_are_retried_until_the_hour_is_complete(
    harness: Callable[..., Harness],
) -> None:
    hour = "20260126T04"
    faults = FaultPlan(responses={hour: ["503", "429:7", "reset", "truncate"]})
    h = harness(faults, max_attempts=6)
    summary = h.run(START, START + 2 * H)
    assert summary.hours_done == 3
    assert summary.hours_failed == 0
    assert summary.events == h.server.manifest(START, START + 2 * H).rows
    assert 7.0 in h.sleeps  # Retry-After honoured
    record = h.ledger.get([START + H])[START + H]
    assert record.attempts == 5
    assert [r.status for r in h.server.requests if r.start == hour] == [503, 429, 200, 200, 200]


def test_a_corrupt_member_fails_its_hour_only_and_writes_nothing(
    harness: Callable[..., Harness],
) -> None:
    faults = FaultPlan(corrupt_hours={"20260126T04"})
    h = harness(faults, max_attempts=3)
    summary = h.run(START, START + 2 * H)
    assert (summary.hours_done, summary.hours_failed) == (2, 1)
    assert "corrupt" in summary.failures["20260126T04"]
    root: Path = h.stage.root  # type: ignore[attr-defined]
    assert not any((root / "events/default/2026/01/26/04").glob("*"))
    record = h.ledger.get([START + H])[START + H]
    assert (record.status, record.attempts) == (HourStatus.FAILED, 3)

    # Once Amplitude serves it intact, a run with no range resumes exactly that hour.
    faults.corrupt_hours.clear()
    resumed = h.run()
    assert resumed.hours_done >= 1
    assert h.ledger.get([START + H])[START + H].status is HourStatus.DONE
    assert h.ledger.get([START + H])[START + H].attempts == 4


def test_bad_lines_are_quarantined_with_reasons_and_counted(
    harness: Callable[..., Harness],
) -> None:
    h = harness(FaultPlan(bad_lines={"20260126T03": 3}))
    summary = h.run(START, START)
    root: Path = h.stage.root  # type: ignore[attr-defined]
    assert summary.rejected_lines == 3
    assert summary.events == h.server.manifest(START, START).rows
    quarantined = [
        json.loads(line)
        for path in (root / "_quarantine").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [q["line"] for q in quarantined] == ["this is not json", '{"truncated": ', "[1, 2, 3]"]
    assert [q["line_number"] for q in quarantined] == [2, 4, 6]
    assert quarantined[2]["reason"] == "JSON list, not an object"
    assert h.ledger.get([START])[START].rejected_lines == 3


def test_a_path_traversal_entry_name_is_harmless_and_quarantined_whole(
    harness: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness(FaultPlan(traversal_hours={"20260126T03"}))
    summary = h.run(START, START + H)
    planted = h.server.manifest(START, START)  # the hour whose one member is misnamed
    assert summary.rejected_members == 1
    assert not summary.ok  # the run says something is wrong (exit status 1)
    assert summary.events == h.server.manifest(START + H, START + H).rows
    assert summary.rejected_lines == planted.rows
    root: Path = h.stage.root  # type: ignore[attr-defined]
    assert not list((root / "events/default/2026/01/26/03").glob("*"))  # nothing to the pipe
    quarantined = [
        json.loads(line)
        for path in (root / "_quarantine/default/2026/01/26/03").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(quarantined) == planted.rows
    assert {q["zip_entry_name"] for q in quarantined} == {"../../evil.json.gz"}
    assert "not Amplitude's" in quarantined[0]["reason"]
    record = h.ledger.get([START])[START]
    assert record.error is not None
    assert "quarantined whole" in record.error
    assert not list(tmp_path.parent.glob("evil*"))
    assert not list(tmp_path.glob("evil*"))


def test_an_entry_naming_an_hour_outside_the_window_is_quarantined(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        FaultPlan(entry_names={"20260126T03": "100011471/100011471_2026-01-27_3#0.json.gz"})
    )
    summary = h.run(START, START)
    assert (summary.rejected_members, summary.events) == (1, 0)
    assert summary.rejected_lines == h.server.manifest(START, START).rows


def test_400_splits_the_window_down_to_what_amplitude_accepts(
    harness: Callable[..., Harness],
) -> None:
    h = harness(FaultPlan(max_window_hours=2), window_hours=8)
    summary = h.run(START, START + 7 * H)
    assert summary.hours_done == 8
    assert summary.hours_failed == 0
    assert summary.windows_split == 3  # 8 -> 4+4 -> 2+2+2+2
    assert summary.events == h.server.manifest(START, START + 7 * H).rows
    statuses = [r.status for r in h.server.requests]
    assert statuses.count(400) == 3
    assert statuses.count(200) == 4
    # parts of a multi-hour window are still filed by the hour they hold
    root: Path = h.stage.root  # type: ignore[attr-defined]
    assert len(data_files(root)) == 8


def test_504_on_a_range_splits_too(harness: Callable[..., Harness]) -> None:
    h = harness(FaultPlan(timeout_window_hours=1), window_hours=4)
    summary = h.run(START, START + 3 * H)
    assert (summary.hours_done, summary.windows_split) == (4, 3)


def test_a_one_hour_400_is_a_failure_of_that_hour_only(harness: Callable[..., Harness]) -> None:
    h = harness(FaultPlan(too_large_hours={"20260126T04"}))
    summary = h.run(START, START + 2 * H)
    assert (summary.hours_done, summary.hours_failed) == (2, 1)
    assert "400" in summary.failures["20260126T04"]
    assert h.ledger.get([START + H])[START + H].attempts == 1  # no pointless retries


def test_no_data_is_an_empty_hour(harness: Callable[..., Harness]) -> None:
    h = harness(FaultPlan(empty_hours={"20260126T04"}))
    summary = h.run(START, START + 2 * H)
    assert (summary.hours_done, summary.hours_empty) == (2, 1)
    assert h.ledger.get([START + H])[START + H].status is HourStatus.EMPTY


def test_bad_credentials_stop_at_once(
    amplitude: Callable[..., LocalAmplitude], harness: Callable[..., Harness]
) -> None:
    server = amplitude()
    h = harness(server=server, credentials=Credentials.of("wrong-key", "wrong-secret"))
    with pytest.raises(AmplitudeAuthError, match="AMP_API_KEY") as caught:
        h.run(START, START + 23 * H)
    assert "wrong-secret" not in str(caught.value)
    assert len(server.requests) <= h.config.concurrency
    assert h.sleeps == []
    records = h.ledger.get(hour_range(START, START + 23 * H))
    assert all(r.status is HourStatus.PENDING for r in records.values())


def test_concurrency_is_bounded(harness: Callable[..., Harness]) -> None:
    # A slow server makes requests overlap for certain: exactly three at a time.
    h = harness(FaultPlan(response_delay_seconds=0.3), concurrency=3)
    h.run(START, START + 11 * H)
    assert h.server.max_in_flight == 3


class CrashingStage(LocalStage):
    """A real folder stage whose process 'dies' after a number of committed parts."""

    def __init__(self, root: Path, crash_after: int) -> None:
        super().__init__(root)
        self.crash_after = crash_after

    def create(self):  # type: ignore[no-untyped-def]
        stage = self
        part = super().create()
        commit = part.commit

        def crash_or_commit(key: str) -> None:
            if key.startswith("events/") and stage.crash_after == 0:
                raise SystemExit("simulated crash")
            stage.crash_after -= key.startswith("events/")
            commit(key)

        part.commit = crash_or_commit  # type: ignore[method-assign]
        return part

    def delete(self, keys):  # type: ignore[no-untyped-def]
        if self.crash_after > 0:
            super().delete(keys)
        # after the crash a dead process cleans nothing up


def test_resume_after_a_crash_loses_nothing_and_duplicates_nothing(
    amplitude: Callable[..., LocalAmplitude], harness: Callable[..., Harness], tmp_path: Path
) -> None:
    server = amplitude(events_per_member=100)  # several parts per hour
    crashing = CrashingStage(tmp_path / "stage", crash_after=5)
    first = harness(server=server, stage=crashing, concurrency=1)
    with pytest.raises(SystemExit):
        first.run(START, START + 2 * H)
    leftovers = data_files(tmp_path / "stage")
    assert leftovers  # some parts were on the stage when the process died
    # A stale part from an older export of the same hour must not survive either.
    crashed_hour = tmp_path / "stage/events/default/2026/01/26/04"
    assert any(crashed_hour.glob("*.json"))  # the hour in flight had parts committed
    stale = crashed_hour / "default_20260126T04_0000_0000000000000000.json"
    stale.write_text('{"uuid": "stale"}\n')
    first.close()

    second = harness(server=server, stage=LocalStage(tmp_path / "stage"))
    summary = second.run(START, START + 2 * H)
    rows = stage_lines(tmp_path / "stage")
    expected = server.manifest(START, START + 2 * H)
    assert summary.hours_failed == 0
    assert len(rows) == expected.rows
    assert len({r["uuid"] for r in rows}) == expected.distinct_uuids
    assert not stale.exists()
    assert not list((tmp_path / "stage").rglob(".*.partial"))


def test_secrets_never_reach_logs_or_files(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    h = harness(
        FaultPlan(
            responses={"20260126T03": ["503"], "20260126T05": ["echo"]},
            corrupt_hours={"20260126T04"},
            bad_lines={"20260126T03": 2},
        ),
        max_attempts=2,
    )
    with caplog.at_level(logging.DEBUG):
        summary = h.run(START, START + 2 * H)
    assert "bad request from ***:***" in summary.failures["20260126T05"]  # echoed, masked
    ledger_errors = " ".join(str(r.error) for r in h.ledger.get([START + 2 * H]).values())
    assert "***" in ledger_errors
    for text in (caplog.text, str(summary.as_dict()), ledger_errors):
        assert API_KEY not in text
        assert SECRET_KEY not in text
    assert list((tmp_path / "stage/_quarantine").rglob("*.jsonl"))  # checked below too
    for path in tmp_path.rglob("*"):
        assert API_KEY not in path.name
        assert SECRET_KEY not in path.name
        if path.is_file() and "cache" not in str(path):
            content = path.read_bytes()
            assert API_KEY.encode() not in content
            assert SECRET_KEY.encode() not in content

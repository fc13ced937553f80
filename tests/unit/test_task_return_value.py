"""The task return value: the bounded summary ingest_amplitude() hands on, and the run
reference the wait step reads back out of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from snowflake.snowpark import Session

from amplitude_ingest.in_snowflake.session import SessionGate
from amplitude_ingest.in_snowflake.task_return_value import (
    MAX_MESSAGE_CHARS,
    RETURN_VALUE_LIMIT_BYTES,
    RunReferenceError,
    bound_summary,
    hand_on,
    parse_run_reference,
    return_value_text,
)

# ---- the run reference -------------------------------------------------------------------


def test_the_run_id_comes_from_the_summary_or_stands_alone() -> None:
    summary = json.dumps({"run_id": "run_2026_abc", "hours_done": 3})
    assert parse_run_reference(summary).run_id == "run_2026_abc"
    assert parse_run_reference("  0f1e2d3c4b5a  ").run_id == "0f1e2d3c4b5a"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "no run to check"),
        ("", "no run to check"),
        ('{"hours_done": 3}', "has no run_id"),
        ("{not json", "not JSON"),
        ("'; drop table x; --", "is not a run id"),
        ('{"run_id": "a b"}', "is not a run id"),
    ],
)
def test_a_missing_or_malformed_run_reference_says_what_to_do(
    value: str | None, message: str
) -> None:
    with pytest.raises(RunReferenceError, match=message):
        parse_run_reference(value)


# ---- the task return value --------------------------------------------------------------------


def summary_with_failures(count: int, message_chars: int = 400) -> dict[str, Any]:
    return {
        "run_id": "run42",
        "hours_planned": count + 10,
        "hours_done": 10,
        "hours_failed": count,
        "files": 123,
        "events": 456_789,
        "bytes": 10**12,
        "stopped_early": False,
        "duration_seconds": 2699.5,
        "failures": {
            f"2026-01-{1 + i // 24:02d}T{i % 24:02d}": "Export API answered 504 "
            + "x" * message_chars
            for i in range(count)
        },
    }


@pytest.mark.parametrize("failures", [0, 1, 5, 6, 744, 8760])
def test_the_return_value_stays_under_the_limit_whatever_failed(failures: int) -> None:
    summary = summary_with_failures(failures)
    bounded = bound_summary(summary)
    text = return_value_text(bounded)
    assert len(text.encode("utf-8")) <= 4_000
    assert bounded["run_id"] == "run42"
    assert bounded["hours_failed"] == failures
    assert bounded["failures_total"] == failures
    assert len(bounded["failures"]) == min(failures, 5)
    assert bounded["truncated"] is (failures > 0)  # messages of 400 chars are cut to 200
    assert all(len(m) <= 200 for m in bounded["failures"].values())


def test_a_small_summary_passes_through_whole() -> None:
    summary = {"run_id": "r", "hours_done": 2, "failures": {"2026-01-01T00": "404"}}
    assert bound_summary(summary) == {
        "run_id": "r",
        "hours_done": 2,
        "failures_total": 1,
        "failures": {"2026-01-01T00": "404"},
        "truncated": False,
    }


def test_multibyte_messages_are_measured_in_utf8_bytes() -> None:
    summary = {"run_id": "r", "failures": {f"h{i}": "é" * 199 for i in range(5)}, "note": "ü" * 150}
    bounded = bound_summary(summary, limit_bytes=1_200)
    assert len(json.dumps(bounded, separators=(",", ":"), ensure_ascii=False).encode()) <= 1_200
    assert bounded["failures_total"] == 5
    assert len(bounded["failures"]) < 5


def test_the_limit_cannot_exceed_snowflakes() -> None:
    with pytest.raises(ValueError, match="10000"):
        bound_summary({}, limit_bytes=RETURN_VALUE_LIMIT_BYTES + 1)
    with pytest.raises(ValueError, match="bound_summary"):
        return_value_text({"x": "y" * RETURN_VALUE_LIMIT_BYTES})


def test_a_failure_message_is_handed_on_as_one_line_cut_to_its_limit() -> None:
    """Pinned: since the cut is `text.cut`, a message spanning lines arrives on one line (it
    used to keep its line breaks), and a long one ends in "…" at MAX_MESSAGE_CHARS."""
    traceback = "Export API answered 500\n  Traceback (most recent call last):\n" + "x" * 300
    bounded = bound_summary({"run_id": "r", "failures": {"2026-01-01T00": traceback}})
    (message,) = bounded["failures"].values()
    assert message.startswith("Export API answered 500 Traceback (most recent call last): xx")
    assert len(message) == MAX_MESSAGE_CHARS
    assert message.endswith("…")
    assert bounded["truncated"] is True
    short = bound_summary({"run_id": "r", "failures": {"h": "404\nno data"}})
    assert short["failures"] == {"h": "404 no data"}
    assert short["truncated"] is False  # nothing was left out, the line break became a space


def test_nothing_is_handed_on_outside_a_task() -> None:
    """Snowpark local testing runs no SQL and no task: the export returns its summary and
    sets no return value. In Snowflake, SYSTEM$CURRENT_USER_TASK_NAME() names a task only
    when a task's statement or procedure calls it; NULL outside one is an assumption (its
    reference page does not state it), not observed here."""
    session = Session.builder.config("local_testing", True).create()
    try:
        assert hand_on(SessionGate(session), {"run_id": "r", "hours_done": 1}) is False
    finally:
        session.close()

"""The message a failed run fails with (``ExtractSummary.failure_message``): bounded however
many hours failed and however long their reasons, oldest hours first, with the run id."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.domain import ExtractSummary

hours = st.integers(min_value=0, max_value=23).map(lambda h: f"20260126T{h:02d}")


@given(failures=st.dictionaries(hours, st.text(min_size=1, max_size=5000), min_size=1))
def test_the_message_is_bounded_and_names_the_oldest_hours(failures: dict[str, str]) -> None:
    summary = ExtractSummary(hours_failed=len(failures), failures=failures, run_id="r-1")
    message = summary.failure_message()
    assert message.startswith(f"run r-1: {len(failures)} hour(s) failed")
    assert len(message) <= 200 + 3 * (200 + 16) + 40
    shown = sorted(failures)[:3]
    assert all(f"{hour}: " in message for hour in shown)
    if len(failures) > 3:
        assert message.endswith(f"; and {len(failures) - 3} more")


def test_given_up_hours_and_what_stays_done_are_said() -> None:
    summary = ExtractSummary(
        hours_done=5,
        hours_empty=1,
        hours_failed=2,
        hours_given_up=1,
        failures={"20260126T05": "x" * 300, "20260126T04": "HTTP 503"},
        run_id="abc",
    )
    assert summary.failure_message() == (
        "run abc: 2 hour(s) failed, 1 of them given up (not exported again unless forced); "
        "6 done stay done. First: 20260126T04: HTTP 503; 20260126T05: " + "x" * 199 + "…"
    )


def test_the_summary_line_says_where_the_hours_behind_are_counted_from() -> None:
    """After a backfill of old hours the gap to now is no part of the range asked for: the
    line says what would export it, so a demo of January does not read as a failure."""
    line = ExtractSummary(hours_done=24, hours_behind=7373).one_line()
    assert line.endswith(
        " | 7373 exportable hour(s) up to now not yet exported (a run with no range exports them)"
    )
    assert "not yet exported" not in ExtractSummary(hours_done=24).one_line()

"""Messages that quote something long (an error body, a failed hour's reason) are cut by one
helper, ``amplitude_ingest.errors.shorten``, to lengths pinned here; a key in a quoted
error body is masked before the cut, so no piece of it survives the cut either."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import ELLIPSIS, shorten
from amplitude_ingest.export_client import MAX_ERROR_EXCERPT
from amplitude_sample_server.server import FaultPlan
from tests.support import SECRET_KEY, Harness

START = datetime(2026, 1, 26, 3, tzinfo=UTC)


@given(text=st.text(max_size=300), limit=st.integers(min_value=1, max_value=250))
def test_shorten_keeps_short_text_and_cuts_long_text_to_the_limit(text: str, limit: int) -> None:
    cut = shorten(text, limit)
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut == text[: limit - 1] + ELLIPSIS
        assert len(cut) == limit


def test_an_error_body_is_quoted_on_one_line_in_exactly_200_characters(
    harness: Callable[..., Harness],
) -> None:
    # 190 characters, then the secret across the 200th: masked first, then cut (cut first,
    # its first ten characters would be quoted); line breaks become spaces.
    body = ("x " * 95).encode() + SECRET_KEY.encode() + b"\r\n  tail" * 100
    h = harness(FaultPlan(responses={"20260126T03": ["418"]}, error_body=body), max_attempts=1)
    summary = h.run(START, START)
    message = summary.failures["20260126T03"]
    prefix = "window 20260126T03: unexpected answer 418 from Amplitude: "
    assert message.startswith(prefix)
    excerpt = message.removeprefix(prefix)
    assert MAX_ERROR_EXCERPT == 200
    assert len(excerpt) == 200
    assert excerpt == ("x " * 95 + "***" + " tail" * 100)[:199] + ELLIPSIS
    assert SECRET_KEY[:4] not in message


def test_a_short_error_body_is_quoted_whole() -> None:
    assert shorten("bad request", MAX_ERROR_EXCERPT) == "bad request"

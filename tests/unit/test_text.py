"""`text.cut`, the one way the Snowflake procedures shorten a text for a message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.in_snowflake.text import DEFAULT_LIMIT, cut


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_a_cut_text_is_one_line_within_the_limit_and_says_when_it_lost_its_end(
    text: str, limit: int
) -> None:
    one_line = " ".join(text.split())
    out = cut(text, limit)
    assert len(out) <= limit
    assert out == " ".join(out.split())  # no line break, tab or double space left
    if len(one_line) <= limit:
        assert out == one_line
    else:
        assert out == one_line[: limit - 1] + "…"


def test_the_default_limit_is_300_characters() -> None:
    assert DEFAULT_LIMIT == 300
    assert cut("e" * 1000) == "e" * 299 + "…"
    assert cut("Access Denied\n  (Status Code: 403)") == "Access Denied (Status Code: 403)"


def test_a_limit_below_one_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cut("x", 0)

"""The app's run history keeps a failed call's first error as one line, masked, cut by the
procedures' one cut (in_snowflake.text.cut)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.in_snowflake.native_app import run_history
from amplitude_ingest.in_snowflake.text import cut

LIMIT = run_history.ERROR_CHARS


def test_a_long_error_spanning_lines_is_kept_on_one_line_and_cut_at_the_limit() -> None:
    error = RuntimeError("SQL compilation error:\nline 1\n" + "x" * 3000)
    text = run_history.error_text(error)
    assert text == cut(f"RuntimeError: {error}", LIMIT)
    assert text.startswith("RuntimeError: SQL compilation error: line 1 xxx")
    assert len(text) == LIMIT
    assert text.endswith("…")
    assert "\n" not in text


@given(
    secret=st.text(alphabet="abcdef0123456789", min_size=8, max_size=40),
    at=st.integers(min_value=LIMIT - 60, max_value=LIMIT + 10),
)
def test_a_secret_is_masked_before_the_cut_so_no_part_of_it_is_kept(secret: str, at: int) -> None:
    """A key straddling the limit: cutting first would keep its first characters."""
    message = "y" * at + secret + " and more"
    text = run_history.error_text(ValueError(message), (secret,))
    assert secret[:4] not in text.replace("***", "")
    assert len(text) <= LIMIT

"""The key pair into the app's secret: only plain tokens are spliced into ALTER SECRET, no
message ever shows a value, and the Streamlit's CALL carries the keys as bind variables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.in_snowflake.native_app import credentials, names

API_KEY = "0123456789abcdef0123456789abcdef"
SECRET_KEY = "fedcba9876543210fedcba9876543210"


def test_the_statement_sets_both_keys_of_the_apps_secret() -> None:
    assert credentials.alter_statement(f"  {API_KEY}\n", SECRET_KEY) == (
        f"alter secret {names.SECRET} set username = '{API_KEY}' password = '{SECRET_KEY}'"
    )


def test_the_streamlit_call_binds_the_keys() -> None:
    assert credentials.call_statement() == "call code.amplitude_set_credentials(?, ?)"


@pytest.mark.parametrize(
    ("api_key", "secret_key", "field"),
    [
        ("", SECRET_KEY, "API key is empty"),
        (API_KEY, None, "secret key is empty"),
        ("abc'def0123", SECRET_KEY, "API key is not an Amplitude key"),
        (API_KEY, "short", "secret key is not an Amplitude key"),
        (API_KEY, "a b c d e f g h", "secret key is not an Amplitude key"),
    ],
)
def test_a_value_that_is_not_a_key_is_refused_by_field_never_shown(
    api_key: str, secret_key: str | None, field: str
) -> None:
    with pytest.raises(credentials.CredentialsRejectedError, match=field) as refused:
        credentials.alter_statement(api_key, secret_key)  # type: ignore[arg-type]
    for value in (api_key, secret_key):
        if value and value.strip():
            assert value not in str(refused.value)


def _refusal(api_key: str) -> str:
    with pytest.raises(credentials.CredentialsRejectedError) as refused:
        credentials.alter_statement(api_key, SECRET_KEY)
    return str(refused.value)


# A refusal's text is one of two fixed messages, so it cannot carry any part of a value.
REFUSALS = {_refusal(""), _refusal("'; drop table x; --")}


@given(st.text(min_size=1, max_size=300))
def test_whatever_is_typed_either_stays_inside_its_literal_or_is_refused_unseen(
    typed: str,
) -> None:
    try:
        statement = credentials.alter_statement(typed, SECRET_KEY)
    except credentials.CredentialsRejectedError:
        assert _refusal(typed) in REFUSALS
        return
    literal = typed.strip()
    assert statement.count("'") == 4
    assert f"username = '{literal}'" in statement
    assert not set(literal) & {"'", "\\", ";", " ", "\n"}


def test_the_confirmation_names_the_secret_and_no_value() -> None:
    message = credentials.confirmation()
    assert names.SECRET in message
    assert API_KEY not in message
    assert SECRET_KEY not in message

"""How a name the Snowflake procedures splice into SQL must look (names.py), against
Snowflake's identifier rules ("Identifier requirements", sql-reference/identifiers-syntax)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.names import (
    qualify,
    validate_object_name,
    validate_qualified_name,
)

unquoted = st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,254}", fullmatch=True)
quoted = st.text(
    st.characters(exclude_characters='"', exclude_categories=("Cs",)), min_size=1, max_size=255
).map(lambda text: f'"{text}"')
identifiers = unquoted | quoted


@given(st.lists(identifiers, min_size=1, max_size=3))
def test_one_to_three_identifiers_are_an_object_name(parts: list[str]) -> None:
    name = ".".join(parts)
    assert validate_object_name(name, "stage") == name
    assert validate_object_name(f"@{name}", "stage") == name  # a stage's @ is dropped


@given(st.lists(unquoted, min_size=3, max_size=3))
def test_three_identifiers_are_a_qualified_name(parts: list[str]) -> None:
    name = ".".join(parts)
    assert validate_qualified_name(name) == name
    with pytest.raises(ConfigurationError, match="not a fully qualified name"):
        validate_qualified_name(".".join(parts[1:]))


@pytest.mark.parametrize(
    "name",
    [
        "AMPLITUDE.INGEST.STAGE; drop table x",
        "AMPLITUDE.INGEST.MY STAGE",
        "A.B.C.D",
        "A..C",
        "1STAGE",
        '"unterminated',
        "",
        "S" * 256,  # 255 characters at most
    ],
)
def test_anything_else_is_refused_naming_what_it_is(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^stage .* is not a Snowflake object name"):
        validate_object_name(name, "stage")
    with pytest.raises(ConfigurationError, match="not a fully qualified name"):
        validate_qualified_name(f"A.B.{name}" if name.count(".") == 0 else name)


def test_the_longest_identifier_snowflake_allows_passes() -> None:
    assert validate_object_name("S" * 255, "stage") == "S" * 255
    assert validate_object_name(f'"{"s" * 255}"', "stage") == f'"{"s" * 255}"'


def test_qualify_fills_in_what_is_missing_and_keeps_what_is_given() -> None:
    assert qualify("STAGE", "DB", "SCH") == "DB.SCH.STAGE"
    assert qualify("OTHER.STAGE", "DB", "SCH") == "DB.OTHER.STAGE"
    assert qualify("X.Y.STAGE", "DB", "SCH") == "X.Y.STAGE"
    assert qualify("STAGE", None, None) == "STAGE"

"""The pieces a test needs to run a procedure's handler under Snowpark local testing: the
`_snowflake` module Snowflake injects for a bound secret, the settings rows and the ledger
table as the deploy (sql/50) or the app's setup script creates them."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from typing import Any

import pytest

from amplitude_ingest.in_snowflake.ledger_table import COLUMNS
from amplitude_ingest.in_snowflake.names import SECRET_ALIAS
from tests.support import API_KEY, SECRET_KEY


def stand_in_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Snowflake injects for a procedure with SECRETS = ('amplitude_credentials' = ...)
    bound to a PASSWORD secret holding the test key pair."""
    stand_in = types.ModuleType("_snowflake")

    def get_username_password(alias: str) -> types.SimpleNamespace:
        assert alias == SECRET_ALIAS
        return types.SimpleNamespace(username=API_KEY, password=SECRET_KEY)

    stand_in.get_username_password = get_username_password  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_snowflake", stand_in)


def save_settings(session: Any, settings: Mapping[str, str], table: str) -> None:
    """The settings table's (NAME, VALUE) rows."""
    from snowflake.snowpark.types import StringType, StructField, StructType

    text = StructType([StructField("NAME", StringType()), StructField("VALUE", StringType())])
    session.create_dataframe(list(settings.items()), schema=text).write.save_as_table(table)


def create_ledger_table(session: Any, table: str) -> None:
    """An empty ledger table with the columns the ledger writes and its lease columns."""
    from snowflake.snowpark.types import (
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    kinds = {"HOUR": TimestampType(), "UPDATED_AT": TimestampType()}
    words = {"STATUS", "ERROR", "STAGE_KEYS", "RUN_ID", "LEASE_OWNER"}
    ledger = StructType(
        [
            StructField(c, kinds.get(c, StringType() if c in words else LongType()))
            for c in (*COLUMNS, "LEASE_OWNER")
        ]
        + [StructField("LEASE_EXPIRES_AT", TimestampType())]
    )
    session.create_dataframe([], schema=ledger).write.save_as_table(table)

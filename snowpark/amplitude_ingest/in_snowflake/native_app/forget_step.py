"""``CALL code.amplitude_forget(id_kind, id)``: the S3 form's forget, on the app's objects.

The whole procedure is in_snowflake/forget_procedure.py; the app's settings table names
what it works on: the app's stage and ledger, ``state.amplitude_forget_requests``, the
stage rewrites table and the rows procedure the app's setup script creates from sql/55's
definitions. As there, pass ``sha256:<hex>`` instead of the id to keep it out of query
history.
"""

from __future__ import annotations

from snowflake.snowpark import Session

from amplitude_ingest.in_snowflake import forget_procedure
from amplitude_ingest.in_snowflake.native_app import names


def amplitude_forget(session: Session, id_kind: str, id: str) -> dict:  # type: ignore[type-arg]
    """CALL code.amplitude_forget(id_kind, id)."""
    return forget_procedure.amplitude_forget(session, id_kind, id, names.SETTINGS_TABLE)

"""``CALL code.amplitude_forget(id_kind, id)``: the S3 form's forget, on the app's objects.

The whole procedure is in_snowflake/forget_procedure.py; the app's settings table names
what it works on: the app's stage and ledger, ``state.amplitude_forget_requests``, the
stage rewrites table and the rows procedure the app's setup script creates from sql/55's
definitions. As there, pass ``sha256:<hex>`` instead of the id to keep it out of query
history.
"""

from __future__ import annotations

from collections.abc import Iterable

from snowflake.snowpark import Session

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake import forget_procedure
from amplitude_ingest.in_snowflake.native_app import names
from amplitude_ingest.in_snowflake.settings_table import ForgetSettings


def missing_settings(settings: Iterable[str]) -> list[str]:
    """The settings rows forget needs that the app's settings table lacks."""
    present = {name.strip().lower() for name in settings}
    required = [n for n, field in ForgetSettings.model_fields.items() if field.is_required()]
    return [name for name in required if name not in present]


def amplitude_forget(session: Session, id_kind: str, id: str) -> dict:  # type: ignore[type-arg]
    """CALL code.amplitude_forget(id_kind, id)."""
    rows = session.table(names.SETTINGS).select("NAME").collect()
    missing = missing_settings(str(row[0]) for row in rows)
    if missing:
        # forget_procedure's own message names the S3 form's scripts; say the app's part.
        raise ConfigurationError(
            f"{names.SETTINGS} has no {', '.join(missing)}: this version of the app "
            "cannot forget (its setup script must create them); nothing was changed"
        )
    return forget_procedure.amplitude_forget(session, id_kind, id, names.SETTINGS)

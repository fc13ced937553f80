"""``CALL code.amplitude_forget(id_kind, id)``: the S3 form's forget, on the app's objects.

The forget itself is in_snowflake/forget_procedure.py; the app's settings table names
what it works on: the app's stage and ledger, ``state.amplitude_forget_requests``, the
stage rewrites table and the rows procedure the app's setup script creates from sql/55's
definitions. As there, pass ``sha256:<hex>`` instead of the id to keep it out of query
history.

The app's rows name its objects ``schema.object``: inside the app the app is the current
database, and its name is the consumer's choice at install, so no setup script can write
it. The S3 form's forget splices only ``database.schema.object`` names, so the names it
reads get the app's database in front (:func:`forget_settings`) before they are checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from snowflake.snowpark import Session

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake import forget_procedure
from amplitude_ingest.in_snowflake.names import qualify, validate_object_name
from amplitude_ingest.in_snowflake.native_app import names
from amplitude_ingest.in_snowflake.session import SessionGate, text_pairs
from amplitude_ingest.in_snowflake.settings_table import ForgetSettings
from amplitude_ingest.in_snowflake.stage import SnowflakeStage


def missing_settings(settings: Iterable[str]) -> list[str]:
    """The settings rows forget needs that the app's settings table lacks."""
    present = {name.strip().lower() for name in settings}
    required = [n for n, field in ForgetSettings.model_fields.items() if field.is_required()]
    return [name for name in required if name not in present]


def forget_settings(rows: Mapping[str, str | None], database: str) -> ForgetSettings:
    """Forget's view of the app's rows, each object name it reads (every field of
    ForgetSettings is one) in the app's database; other rows are left as they are."""
    missing = missing_settings(rows)
    if missing:
        # ForgetSettings' own message names the S3 form's scripts; say the app's part.
        raise ConfigurationError(
            f"{names.SETTINGS} has no {', '.join(missing)}: this version of the app "
            "cannot forget (its setup script must create them); nothing was changed"
        )
    in_app = {
        name: qualify(validate_object_name(value, name), database, None)
        if value and name.strip().lower() in ForgetSettings.model_fields
        else value
        for name, value in rows.items()
    }
    return ForgetSettings.from_rows(in_app, names.SETTINGS)


def amplitude_forget(session: Session, id_kind: str, id: str) -> dict:  # type: ignore[type-arg]
    """CALL code.amplitude_forget(id_kind, id)."""
    kind = forget_procedure.parse_kind(id_kind)
    digest = forget_procedure.digest_of(kind, id)
    del id  # from here on only the hash exists
    gate = SessionGate(session)
    with gate() as held:
        rows = text_pairs(held.table(names.SETTINGS).select("NAME", "VALUE").collect())
        database = str(held.get_current_database())
    settings = forget_settings(rows, database)
    stage = SnowflakeStage(gate, gate.qualify(settings.stage, "stage"))
    return forget_procedure.forget(gate.rows, stage, settings, kind, digest)

"""The settings table (``name``, ``value`` rows, sql/50 and sql/55 write them): its default
name, how a procedure reads it, and each procedure's typed view of it.

Every procedure reads the same table and takes the rows it knows: the export
(:class:`ProcedureConfig`), the wait step (:class:`WaitSettings`), the doctor
(:class:`DoctorSettings`) and forget (:class:`ForgetSettings`). Each view is a pydantic
model, so a value is checked, and a bad one named, before any SQL uses it. A name that
none of them knows is an error in every one of them, naming it (with the closest known
name): a misspelt setting cannot silently change nothing. Names are case-insensitive; an
empty value means the default.

Names spliced into SQL are checked against :mod:`amplitude_ingest.in_snowflake.names`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from amplitude_ingest.config import ExtractConfig, validated
from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.names import (
    IDENTIFIER,
    OBJECT_NAME,
    QUALIFIED_NAME,
    SCHEMA_NAME,
    UNQUOTED_NAME,
    validate_qualified_name,
)

# The table's own name, in whichever schema holds it (the S3 form's INGEST, the Native
# App's STATE: native_app/names.py).
SETTINGS_TABLE_NAME = "AMPLITUDE_INGEST_SETTINGS"
# The default of every procedure's `settings_table` argument; snowflake.yml passes the
# deployed one (its database may differ).
SETTINGS_TABLE = f"AMPLITUDE.INGEST.{SETTINGS_TABLE_NAME}"


def settings_query(settings_table: str) -> str:
    """The statement the procedures read the table with (the privilege replay runs it); the
    export reads it through the DataFrame API instead (`ingest.read_config`)."""
    return f"select name, value from {validate_qualified_name(settings_table)}"


# ---- the shapes a value must have -----------------------------------------------------------


def _shaped(pattern: re.Pattern[str], shape: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {shape}")
        return value

    return AfterValidator(check)


QualifiedName = Annotated[
    str, _shaped(QUALIFIED_NAME, "a fully qualified name (database.schema.object)")
]
ObjectName = Annotated[str, _shaped(OBJECT_NAME, "[database.][schema.]object")]
SchemaName = Annotated[str, _shaped(SCHEMA_NAME, "database.schema")]
UnquotedName = Annotated[str, _shaped(UNQUOTED_NAME, "an unquoted identifier")]
# DESCRIBE PROCEDURE takes the argument types: database.schema.name(type, ...).
ProcedureSignature = Annotated[
    str,
    _shaped(
        re.compile(rf"^{IDENTIFIER}\.{IDENTIFIER}\.{IDENTIFIER}\((?:[A-Za-z ,_0-9]*)\)$"),
        "database.schema.procedure(argument types)",
    ),
]
S3Url = Annotated[
    str,
    _shaped(
        re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.=/-]*)?$"),
        "an s3://bucket/prefix/ URL",
    ),
]
HostName = Annotated[str, _shaped(re.compile(r"^[a-z0-9.-]+(:[0-9]{1,5})?$"), "a host[:port]")]


class SettingsView(BaseModel):
    """What every view shares: parsed from the table's rows, each value checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # What writes the rows a view requires: named when one is missing.
    written_by: ClassVar[str] = "`make deploy` (sql/50_ledger_and_settings.sql writes them)"

    @classmethod
    def from_rows(cls, rows: Mapping[str, str | None], table: str = SETTINGS_TABLE) -> Self:
        """The view of the rows this model knows; the others' rows are left to them, a name
        nobody knows is an error."""
        values = {name.strip().lower(): value for name, value in rows.items() if value}
        missing = [
            name
            for name, field in cls.model_fields.items()
            if field.is_required() and name not in values
        ]
        if missing:
            raise ConfigurationError(
                f"the settings table {table} has no {', '.join(missing)}: run {cls.written_by}"
            )
        mine = {k: v for k, v in values.items() if k in cls.model_fields or k not in SETTING_NAMES}
        return validated(cls, mine, f"settings table {table}")


class ProcedureConfig(ExtractConfig, SettingsView):
    """``ingest_amplitude()``'s view: the extract's settings and where it writes."""

    # Qualified against the procedure's schema when read (SessionGate.qualify).
    stage: str = Field("AMPLITUDE_STAGE", description="the external stage the pipe watches")
    ledger_table: str = Field("AMPLITUDE_INGEST_LEDGER", description="the ledger table")
    forget_requests_table: str | None = Field(
        None, description="forgotten users, whose lines every export drops (sql/55)"
    )
    max_hours: int = Field(24 * 7, ge=1, description="cap on hours per call when resuming")
    # Tasks time out after an hour by default; stop cleanly before, watermark saved.
    time_budget_seconds: float | None = Field(
        45 * 60, gt=0, description="stop starting windows after this long (watermark saved)"
    )


class WaitSettings(SettingsView):
    """``amplitude_wait_for_loads()``'s view; the qualified names also name objects in its
    messages."""

    raw_table: QualifiedName = "AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW"
    ledger_table: QualifiedName = "AMPLITUDE.INGEST.AMPLITUDE_INGEST_LEDGER"
    pipe: QualifiedName = "AMPLITUDE.INGEST.AMPLITUDE_EVENTS_PIPE"
    root_task: UnquotedName = "AMPLITUDE_PIPELINE_ROOT"
    # Stage files amplitude_forget() rewrote (sql/55_forget.sql): replaced, not lost.
    stage_rewrites_table: QualifiedName = "AMPLITUDE.RAW.AMPLITUDE_STAGE_REWRITES"
    wait_timeout_seconds: float = Field(
        default=900, gt=0, description="how long to wait for the pipe"
    )
    wait_poll_seconds: float = Field(default=20, gt=0, description="seconds between two looks")

    @property
    def schema_name(self) -> str:
        return self.ledger_table.rsplit(".", 1)[0]

    @property
    def doctor(self) -> str:
        return f"{self.schema_name}.AMPLITUDE_DOCTOR"

    @property
    def files_view(self) -> str:
        return f"{self.schema_name}.AMPLITUDE_FILES_NOT_LOADED"

    def reexport_hint(self) -> str:
        return f"CALL {self.schema_name}.INGEST_AMPLITUDE('<first hour>', '<last hour>', true)"


class DoctorSettings(SettingsView):
    """``amplitude_doctor()``'s view: every object of the deployment it checks."""

    stage: QualifiedName
    raw_table: QualifiedName
    pipe: QualifiedName
    storage_integration: UnquotedName
    external_access_integration: UnquotedName
    secret: QualifiedName
    ingest_procedure: ProcedureSignature
    marker_cleanup_procedure: QualifiedName
    storage_check_procedure: QualifiedName
    dbt_project: QualifiedName
    dbt_version: str
    task_schema: SchemaName
    s3_url: S3Url
    export_host: HostName
    doctor_round_trip_seconds: float = Field(
        240, gt=0, description="how long the doctor waits for its marker to be loaded"
    )

    @property
    def database(self) -> str:
        return self.task_schema.split(".")[0]


class ForgetSettings(SettingsView):
    """``amplitude_forget()``'s view (``forget_requests_table`` is also the export's)."""

    written_by: ClassVar[str] = "sql/50 and sql/55 again"

    # Qualified against the procedure's schema when read (SessionGate.qualify).
    stage: ObjectName = "AMPLITUDE_STAGE"
    ledger_table: QualifiedName
    forget_requests_table: QualifiedName
    stage_rewrites_table: QualifiedName
    forget_rows_procedure: QualifiedName


class AppSettings(SettingsView):
    """The Native App's own rows (app/setup_script.sql writes them). The schedule and
    retention are read and checked where they are used (native_app.schedule, .retention);
    the object names are written for people and the app's health views to read."""

    written_by: ClassVar[str] = "`snow app run` (the app's setup script writes them)"

    stage_retention_days: str | None = None
    schedule_cron: str | None = None
    raw_table: str | None = None
    file_format: str | None = None
    run_history_table: str | None = None
    load_history_table: str | None = None
    forget_requests_table: str | None = None
    stage_rewrites_table: str | None = None
    external_access_integration: str | None = None
    secret: str | None = None
    task_schema: str | None = None
    root_task: str | None = None
    export_host: str | None = None


VIEWS: tuple[type[SettingsView], ...] = (
    ProcedureConfig,
    WaitSettings,
    DoctorSettings,
    ForgetSettings,
    AppSettings,
)
# Every name a procedure reads from the table: the one list, made of the views' fields.
SETTING_NAMES = frozenset(name for view in VIEWS for name in view.model_fields)

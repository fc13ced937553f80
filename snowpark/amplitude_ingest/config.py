"""Typed configuration of an extract, validated once, wherever it comes from.

:class:`ExtractConfig` is what the engine needs to run; the laptop CLI fills it from flags,
the environment and ``.env`` (``amplitude_laptop.settings``), the procedure from the rows of
its settings table (:mod:`amplitude_ingest.in_snowflake.ingest`). Both reject a name they do
not know and name the field in every message. Secrets are :class:`pydantic.SecretStr`: they
print as ``**********`` in a repr, a log line or a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.stage_keys import validate_label

EXPORT_PATH = "/api/2/export"
MAX_CONCURRENCY = 5  # Amplitude allows about 5 concurrent requests per project


class Region(StrEnum):
    """Amplitude data region; a key pair works against its own region only."""

    US = "us"
    EU = "eu"

    @property
    def base_url(self) -> str:
        return {
            Region.US: "https://amplitude.com",
            Region.EU: "https://analytics.eu.amplitude.com",
        }[self]


class Compression(StrEnum):
    """How parts are written to the stage. Snowflake reads both with ``type = json``."""

    NONE = "none"
    GZIP = "gzip"

    @property
    def extension(self) -> str:
        return ".json" if self is Compression.NONE else ".json.gz"


Positive = Annotated[int, Field(ge=1)]
M = TypeVar("M", bound=BaseModel)


class ExtractConfig(BaseModel):
    """Everything one extract run needs besides credentials and I/O objects."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    project: str = Field(
        "default", description="label in the stage keys, to keep Amplitude projects apart"
    )
    region: Region = Field(Region.US, description="'eu' for EU data residency")
    api_url: str | None = Field(
        None, description="base URL instead of the region's (a proxy, the local server)"
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=MAX_CONCURRENCY,
        description="requests in flight; Amplitude allows about 5 per project",
    )
    window_hours: Positive = Field(1, description="hours per request; 400/504 split it")
    max_attempts: Positive = Field(5, description="tries per window before it is failed")
    # A task retries a failed graph run twice, so one scheduled run can count three times.
    give_up_after_failed_runs: Positive = Field(
        24, description="runs in which an hour failed before it is given up (force retries it)"
    )
    lag_hours: int = Field(
        3, ge=0, description="Amplitude makes an hour exportable ~2 h after it ends"
    )
    initial_hours: Positive = Field(24, description="hours a first run without --start takes")
    max_hours: Positive = Field(24 * 31, description="cap on hours per run when resuming")
    compression: Compression = Field(Compression.NONE, description="'gzip' writes .json.gz")
    max_part_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        description="JSON bytes per stage part, cut at a line end; bounds what is spooled",
    )
    retry_wait_initial: float = Field(1.0, gt=0, description="first back-off, seconds")
    retry_wait_max: float = Field(60.0, gt=0, description="longest back-off, seconds")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to connect")
    # Amplitude prepares the whole export before the first byte: allow it minutes.
    read_timeout: float = Field(300.0, gt=0, description="seconds to wait for data")
    time_budget_seconds: float | None = Field(
        None, gt=0, description="stop starting windows after this long (watermark saved)"
    )
    # Longer than any run can last (a task times out after an hour): a lease left by a run
    # that was killed lapses on its own, and no live run's lease ever does.
    lease_seconds: float = Field(
        65 * 60, gt=0, description="how long a run holds the hours it exports"
    )

    @field_validator("project")
    @classmethod
    def _project_is_a_label(cls, value: str) -> str:
        try:
            return validate_label(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("region", "compression", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("api_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        base = value.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {base!r}")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; the key pair travels in a header")
        if parts.query or parts.fragment:
            raise ValueError("must be a base URL without query or fragment")
        return base

    @property
    def export_url(self) -> str:
        """The Export API endpoint; ``api_url`` overrides the region's host."""
        return (self.api_url or self.region.base_url) + EXPORT_PATH


class Credentials(BaseModel):
    """Amplitude project API key and secret key (HTTP Basic auth)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr
    secret_key: SecretStr

    @classmethod
    def of(cls, api_key: str, secret_key: str) -> Credentials:
        return cls(api_key=SecretStr(api_key), secret_key=SecretStr(secret_key))

    def as_basic_auth(self) -> tuple[str, str]:
        return (self.api_key.get_secret_value(), self.secret_key.get_secret_value())

    def values(self) -> list[str]:
        """Both secret values, for a log filter that scrubs them."""
        return list(self.as_basic_auth())


def describe_validation_error(
    exc: ValidationError, model: type[BaseModel], source: str, spell: Callable[[str], str] = str
) -> str:
    """One clause per problem, naming the field as the user spells it (``spell``).

    Input values are left out on purpose: a value may be a secret.
    """
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, list(model.model_fields), n=1)
            hint = f"; did you mean {spell(close[0])!r}?" if close else ""
            problems.append(f"{spell(name)!r} is not a setting{hint}")
            continue
        field = model.model_fields.get(name)
        why = f" ({field.description})" if field is not None and field.description else ""
        problems.append(f"{spell(name)}: {message}{why}")
    return f"{source}: " + "; ".join(problems)


def validated(
    model: type[M], values: Mapping[str, Any], source: str, spell: Callable[[str], str] = str
) -> M:
    """``model(**values)``, or a :class:`ConfigurationError` naming every bad field."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        # Not chained: pydantic's own message repeats the input values, and one may be a key.
        raise ConfigurationError(describe_validation_error(exc, model, source, spell)) from None

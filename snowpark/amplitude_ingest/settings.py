"""Constants, defaults and typed configuration. Secrets are wrapped so they never print."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.keys import validate_label

EXPORT_PATH = "/api/2/export"
DEFAULT_CONCURRENCY = 4  # Amplitude allows about 5 concurrent requests per project
MAX_CONCURRENCY = 5
DEFAULT_LAG_HOURS = 3
DEFAULT_INITIAL_HOURS = 24
DEFAULT_MAX_HOURS_PER_RUN = 24 * 31
DEFAULT_WINDOW_HOURS = 1
DEFAULT_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 10.0
# Amplitude prepares the whole export before the first byte: allow it minutes.
READ_TIMEOUT_SECONDS = 300.0


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


class Secret:
    """A string that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Credentials:
    """Amplitude project API key and secret key (HTTP Basic auth)."""

    api_key: Secret
    secret_key: Secret

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if environ is None else environ
        api_key = env.get("AMP_API_KEY", "").strip().strip("'\"")
        secret_key = env.get("AMP_SECRET_KEY", "").strip().strip("'\"")
        missing = [
            name
            for name, value in (("AMP_API_KEY", api_key), ("AMP_SECRET_KEY", secret_key))
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"{' and '.join(missing)} not set: put the Amplitude project's API key and "
                "secret key in the environment or in a .env file"
            )
        return cls(Secret(api_key), Secret(secret_key))

    def as_basic_auth(self) -> tuple[str, str]:
        return (self.api_key.reveal(), self.secret_key.reveal())


def export_url(region: Region, api_url: str | None) -> str:
    """The Export API endpoint; ``api_url`` overrides the region's host (proxies, tests)."""
    base = (api_url or region.base_url).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"--api-url must be an http(s) URL, got {base!r}")
    if parts.username or parts.password:
        raise ConfigurationError("--api-url must not carry credentials; use AMP_API_KEY")
    if parts.query or parts.fragment:
        raise ConfigurationError("--api-url must be a base URL without query or fragment")
    return base + EXPORT_PATH


@dataclass(frozen=True)
class ExtractSettings:
    """Everything one extract run needs besides credentials and I/O objects."""

    export_url: str
    project: str = "default"
    concurrency: int = DEFAULT_CONCURRENCY
    window_hours: int = DEFAULT_WINDOW_HOURS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    lag_hours: int = DEFAULT_LAG_HOURS
    initial_hours: int = DEFAULT_INITIAL_HOURS
    max_hours_per_run: int = DEFAULT_MAX_HOURS_PER_RUN
    compression: Compression = Compression.NONE
    retry_wait_initial: float = 1.0
    retry_wait_max: float = 60.0
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    read_timeout: float = READ_TIMEOUT_SECONDS
    time_budget_seconds: float | None = None

    def __post_init__(self) -> None:
        validate_label(self.project)
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigurationError(
                f"concurrency must be 1..{MAX_CONCURRENCY}: Amplitude allows about 5 "
                "concurrent requests per project"
            )
        if self.window_hours < 1:
            raise ConfigurationError("window hours must be at least 1")
        if self.max_attempts < 1:
            raise ConfigurationError("max attempts must be at least 1")
        if self.lag_hours < 0:
            raise ConfigurationError("lag hours cannot be negative")
        if self.max_hours_per_run < 1 or self.initial_hours < 1:
            raise ConfigurationError("hour caps must be at least 1")

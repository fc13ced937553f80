"""The laptop's configuration: one model, four sources, one precedence.

A setting comes from, first to last: a command-line flag, the environment (``AMP_*``),
the ``.env`` file, the default. Every field of
:class:`~amplitude_ingest.config.ExtractConfig` is a setting here too, under the same name
(``--window-hours`` / ``AMP_WINDOW_HOURS``), so the CLI and the procedure's settings table
speak one vocabulary. An ``AMP_*`` name that is not a setting is reported (other tools'
variables live in the same environment, so it is a warning, not an error).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from amplitude_ingest.config import Credentials, ExtractConfig, describe_validation_error
from amplitude_ingest.errors import ConfigurationError

ENV_PREFIX = "AMP_"
WorkerKind = Literal["process", "thread"]


def default_worker_kind() -> WorkerKind:
    """Processes where there is more than one core to use."""
    return "process" if (os.cpu_count() or 1) > 1 else "thread"


class LaptopSettings(ExtractConfig, BaseSettings):
    """What ``amplitude-ingest`` runs with; build it with :meth:`load`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",  # unknown AMP_* names are reported by load(), not fatal
        frozen=True,
        env_ignore_empty=True,
    )

    api_key: SecretStr | None = Field(None, description="Amplitude project API key")
    secret_key: SecretStr | None = Field(None, description="Amplitude project secret key")
    stage: str = Field(".local/stage", description="a folder, or s3://bucket/prefix")
    state_dir: Path = Field(
        Path(".local/state"), description="folder for the ledger, logs and download spool"
    )
    warehouse: Path = Field(Path(".local/warehouse.duckdb"), description="the DuckDB file")
    fsync: bool = Field(True, description="fsync local parts before publishing them")
    workers: WorkerKind = Field(
        default_factory=default_worker_kind,
        description="run windows in processes (every core) or threads",
    )

    @field_validator("api_key", "secret_key", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        # A key pasted with a stray space or quotes is still the key.
        if isinstance(value, str):
            return value.strip().strip("'\"") or None
        return value

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, env_file: Path | None = Path(".env")
    ) -> LaptopSettings:
        """Settings from ``flags`` (a None value means "not given"), the environment and
        ``env_file``, in that order of precedence (pydantic-settings' own)."""
        given = {name: value for name, value in (flags or {}).items() if value is not None}
        dotenv = read_env_file(env_file)
        try:
            return cls(_env_file=env_file if dotenv else None, **given)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise ConfigurationError(
                describe_validation_error(exc, cls, "configuration", spell_setting)
            ) from None

    def extract_config(self) -> ExtractConfig:
        """The engine's part of these settings (what a worker process receives)."""
        return ExtractConfig.model_validate(
            {name: getattr(self, name) for name in ExtractConfig.model_fields}
        )

    def credentials(self) -> Credentials:
        missing = [
            spell_env(name) for name in ("api_key", "secret_key") if getattr(self, name) is None
        ]
        if missing:
            raise ConfigurationError(
                f"{' and '.join(missing)} not set: put the Amplitude project's API key and "
                "secret key in the environment or in a .env file"
            )
        assert self.api_key is not None
        assert self.secret_key is not None
        return Credentials(api_key=self.api_key, secret_key=self.secret_key)

    def secret_values(self) -> list[str]:
        """The keys as set (possibly none), for the log filter that scrubs them."""
        return [s.get_secret_value() for s in (self.api_key, self.secret_key) if s is not None]


def spell_env(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def spell_setting(name: str) -> str:
    """How a user can set a field: its flag (if any) and its variable."""
    if name in ("api_key", "secret_key"):
        return spell_env(name)
    flag = {"state_dir": "state"}.get(name, name).replace("_", "-")
    return f"--{flag} / {spell_env(name)}"


def read_env_file(path: Path | None) -> dict[str, str | None]:
    """The ``.env`` file's values; an absent file is empty, an unreadable one an error."""
    if path is None or not path.exists():
        return {}
    from dotenv import dotenv_values

    try:
        with path.open(encoding="utf-8") as stream:
            return dict(dotenv_values(stream=stream))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read {path}: {type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}; "
            "fix the file or point --env-file elsewhere"
        ) from exc


def unknown_setting_warnings(
    environ: Mapping[str, str], dotenv: Mapping[str, str | None], env_file: Path | None
) -> list[str]:
    """One sentence per ``AMP_*`` name that is no setting, with the closest real one.

    The caller logs them once logging is set up (the log folder is itself a setting).
    """
    known = set(LaptopSettings.model_fields)
    warnings = []
    for where, values in (("environment", environ), (str(env_file), dotenv)):
        for name in sorted(values):
            if not name.upper().startswith(ENV_PREFIX):
                continue
            field = name[len(ENV_PREFIX) :].lower()
            if field in known:
                continue
            close = difflib.get_close_matches(field, sorted(known), n=1)
            hint = f"; did you mean {spell_env(close[0])}?" if close else ""
            warnings.append(f"{name} (in the {where}) is not a setting and is ignored{hint}")
    return warnings

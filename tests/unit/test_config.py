"""One configuration model, every source a user has, one precedence, and loud typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplitude_ingest.config import Compression, Credentials, ExtractConfig, Region
from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.settings_table import SETTING_NAMES, ProcedureConfig
from amplitude_laptop.settings import LaptopSettings, read_env_file, unknown_setting_warnings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AMP_* variable of the machine running the tests leaks in; cwd has no .env."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("AMP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_secrets_never_print() -> None:
    creds = Credentials.of("the-api-key", "the-secret")
    assert "the-secret" not in repr(creds)
    assert "the-api-key" not in str(creds)
    assert creds.as_basic_auth() == ("the-api-key", "the-secret")


def test_export_url() -> None:
    assert ExtractConfig().export_url == "https://amplitude.com/api/2/export"
    eu = ExtractConfig(region=Region.EU)
    assert eu.export_url == "https://analytics.eu.amplitude.com/api/2/export"
    local = ExtractConfig(api_url="http://127.0.0.1:8080/")
    assert local.export_url == "http://127.0.0.1:8080/api/2/export"
    with pytest.raises(ConfigurationError, match="credentials"):
        LaptopSettings.load({"api_url": "https://user:pw@proxy.example"}, None)


def test_concurrency_is_bounded_by_amplitudes_limit() -> None:
    with pytest.raises(ConfigurationError, match="concurrency") as caught:
        LaptopSettings.load({"concurrency": 6}, None)
    assert "Amplitude allows about 5" in str(caught.value)


# -- the laptop: flag over environment over .env over default --------------------------


def test_dotenv_stage_and_project_are_honoured(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMP_STAGE=s3://bucket/from-dotenv\nAMP_PROJECT=web\n")
    settings = LaptopSettings.load({}, env_file)
    assert settings.stage == "s3://bucket/from-dotenv"
    assert settings.project == "web"


def test_a_flag_beats_the_environment_which_beats_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMP_PROJECT=dotenv\nAMP_CONCURRENCY=1\nAMP_WINDOW_HOURS=6\n")
    monkeypatch.setenv("AMP_PROJECT", "environment")
    monkeypatch.setenv("AMP_CONCURRENCY", "2")
    settings = LaptopSettings.load({"project": "flag", "concurrency": None}, env_file)
    assert settings.project == "flag"  # flag over environment
    assert settings.concurrency == 2  # environment over .env (the flag was not given)
    assert settings.window_hours == 6  # .env over the default
    assert settings.lag_hours == 3  # the default


def test_quoted_dotenv_keys_are_unquoted_and_never_print(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMP_API_KEY = 'k1'\nAMP_SECRET_KEY=\" s1 \"\n")
    settings = LaptopSettings.load({}, env_file)
    assert settings.credentials().as_basic_auth() == ("k1", "s1")
    assert "k1" not in repr(settings)
    assert "s1" not in repr(settings)


def test_missing_credentials_name_the_variables(tmp_path: Path) -> None:
    settings = LaptopSettings.load({}, None)
    with pytest.raises(ConfigurationError, match="AMP_API_KEY and AMP_SECRET_KEY"):
        settings.credentials()


def test_an_unknown_amp_name_is_reported_with_the_closest_setting(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMP_CONCURENCY=3\nOTHER_TOOL=1\n")
    warnings = unknown_setting_warnings(
        {"AMP_STAGEE": "x", "PATH": "/bin"}, read_env_file(env_file), env_file
    )
    assert warnings == [
        "AMP_STAGEE (in the environment) is not a setting and is ignored; did you mean AMP_STAGE?",
        f"AMP_CONCURENCY (in the {env_file}) is not a setting and is ignored; "
        "did you mean AMP_CONCURRENCY?",
    ]


def test_a_bad_value_names_the_flag_and_the_variable(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMP_WINDOW_HOURS=zero\n")
    with pytest.raises(ConfigurationError, match="--window-hours / AMP_WINDOW_HOURS"):
        LaptopSettings.load({}, env_file)


def test_an_unreadable_dotenv_is_an_error_that_names_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"AMP_PROJECT=\xff\xfe\n")
    with pytest.raises(ConfigurationError, match=r"cannot read .*\.env"):
        LaptopSettings.load({}, env_file)


def test_the_engine_gets_exactly_its_own_fields() -> None:
    settings = LaptopSettings.load({"compression": "GZIP", "region": "EU", "stage": "x"}, None)
    config = settings.extract_config()
    assert type(config) is ExtractConfig
    assert (config.compression, config.region) == (Compression.GZIP, Region.EU)


# -- the procedure: the settings table -------------------------------------------------


def test_settings_rows_are_typed_and_case_insensitive() -> None:
    config = ProcedureConfig.from_rows(
        {"CONCURRENCY": "2", "Region": "eu", "stage": "db.ingest.stage", "lag_hours": ""}
    )
    assert (config.concurrency, config.region, config.stage) == (2, Region.EU, "db.ingest.stage")
    assert config.lag_hours == 3  # an empty value means the default
    assert config.max_hours == 24 * 7  # the procedure's own defaults
    assert config.time_budget_seconds == 45 * 60


def test_a_misspelt_setting_in_the_table_fails_with_its_name() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ProcedureConfig.from_rows({"concurency": "2"})
    message = str(caught.value)
    assert "'concurency' is not a setting" in message
    assert "did you mean 'concurrency'" in message
    assert "AMPLITUDE_INGEST_SETTINGS" in message


def test_a_settings_value_of_the_wrong_type_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="window_hours"):
        ProcedureConfig.from_rows({"window_hours": "two"})


# -- every name the deploy writes is one some procedure reads ---------------------------


def test_every_setting_the_deploy_writes_is_known() -> None:
    """The settings table is shared by the procedures: each name sql/50 writes is either the
    ingest procedure's own setting or one the doctor or the wait step reads, so the ingest
    procedure can reject every other name as a typo."""
    import re

    script = (Path(__file__).resolve().parents[2] / "sql/50_ledger_and_settings.sql").read_text()
    written = set(re.findall(r"^\s+\('(\w+)', '", script, flags=re.MULTILINE))
    assert "concurrency" in written
    assert written <= SETTING_NAMES
    others = SETTING_NAMES - set(ProcedureConfig.model_fields)
    assert ProcedureConfig.from_rows(dict.fromkeys(others, "x")) == ProcedureConfig.from_rows({})

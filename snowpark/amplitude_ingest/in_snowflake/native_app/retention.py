"""``CALL code.amplitude_apply_retention()``: remove loaded parts from the app's stage.

The internal stage would otherwise grow forever. Only a file the load history records as
LOADED is removed, once it is older than ``stage_retention_days``; a file that has not
loaded stays, whatever its age, for the failures view to show.

Why the setting is capped at 56 days: COPY's load metadata lasts 64 days. A loaded file
removed before then can never be loaded again. One that is still there later (retention
did not run for weeks) is still not loaded twice, because COPY skips a file whose
LAST_MODIFIED is older than 64 days when its load status is unknown, unless
LOAD_UNCERTAIN_FILES = TRUE, which the load step never sets ("Loading older files",
docs.snowflake.com/en/user-guide/data-load-considerations-load). The same rule means a
file that has not loaded within 64 days never will: ``stranded`` names them for the doctor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from snowflake.snowpark import Session

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.native_app import app_settings, names, run_history
from amplitude_ingest.in_snowflake.native_app.load_step import LOADED, stage_key

STEP = "retention"
DEFAULT_DAYS = 7
MAX_DAYS = 56
LOAD_METADATA_DAYS = 64


def retention_days(value: str | None) -> int:
    """The setting's value: empty means the default; outside 1..MAX_DAYS is an error."""
    if value is None or not value.strip():
        return DEFAULT_DAYS
    try:
        days = int(value.strip())
    except ValueError:
        raise ConfigurationError(
            f"{app_settings.RETENTION_DAYS} {value!r} is not a whole number of days"
        ) from None
    if not 1 <= days <= MAX_DAYS:
        raise ConfigurationError(
            f"{app_settings.RETENTION_DAYS} is {days}: it must be 1 to {MAX_DAYS}, below "
            f"COPY's {LOAD_METADATA_DAYS}-day load metadata"
        )
    return days


@dataclass(frozen=True)
class StagedFile:
    key: str
    last_modified: datetime  # aware, UTC


def staged_files(listing: Iterable[Mapping[str, Any]]) -> list[StagedFile]:
    """LIST's rows (``name``, ``last_modified`` as 'Wed, 2 Dec 2026 09:00:00 GMT')."""
    files = []
    for raw in listing:
        row = {str(k).lower(): v for k, v in raw.items()}
        key = stage_key(str(row["name"]))
        modified = row["last_modified"]
        if not isinstance(modified, datetime):
            modified = parsedate_to_datetime(str(modified))
        if key is not None:
            files.append(StagedFile(key, modified.astimezone(UTC)))
    return files


def loaded_keys(file_names: Iterable[tuple[str, str]]) -> set[str]:
    """Keys of the files the load history records as LOADED (file name, status)."""
    keys = set()
    for name, status in file_names:
        key = stage_key(name)
        if key is not None and status.upper() == LOADED:
            keys.add(key)
    return keys


def files_to_remove(
    staged: Sequence[StagedFile], loaded: set[str], now: datetime, days: int
) -> list[str]:
    cutoff = now - timedelta(days=days)
    return sorted(f.key for f in staged if f.key in loaded and f.last_modified <= cutoff)


def stranded(staged: Sequence[StagedFile], loaded: set[str], now: datetime) -> list[str]:
    """Files never loaded that COPY will now skip for good (older than load metadata)."""
    cutoff = now - timedelta(days=LOAD_METADATA_DAYS)
    return sorted(f.key for f in staged if f.key not in loaded and f.last_modified <= cutoff)


# ---- in Snowflake ---------------------------------------------------------------------------


def read_setting(session: Session, name: str) -> str | None:
    from snowflake.snowpark.functions import col, lower

    rows = (
        session.table(names.SETTINGS).filter(lower(col("NAME")) == name).select("VALUE").collect()
    )
    return None if not rows or rows[0][0] is None else str(rows[0][0])


def read_loaded(session: Session) -> set[str]:
    rows = session.table(names.LOAD_HISTORY).select("FILE_NAME", "STATUS").collect()
    return loaded_keys((str(r[0]), str(r[1])) for r in rows)


def list_statement() -> str:
    # LIST takes no bind variables; the stage name is the app's own constant.
    return f"list @{names.STAGE}/{names.EVENTS_FOLDER}"


def list_stage(session: Session) -> list[StagedFile]:
    from amplitude_ingest.in_snowflake.session import SessionGate

    return staged_files(SessionGate(session).records(list_statement()))


def amplitude_apply_retention(session: Session) -> dict:  # type: ignore[type-arg]  # VARIANT
    """CALL code.amplitude_apply_retention(); see the module docstring."""
    from amplitude_ingest.in_snowflake.session import SessionGate
    from amplitude_ingest.in_snowflake.stage import SnowflakeStage

    with run_history.recorded(session, STEP) as run:
        days = retention_days(read_setting(session, app_settings.RETENTION_DAYS))
        staged = list_stage(session)
        loaded = read_loaded(session)
        now = datetime.now(UTC)
        remove = files_to_remove(staged, loaded, now, days)
        SnowflakeStage(SessionGate(session), names.STAGE).delete(remove)
        run.summary = {
            "retention_days": days,
            "files_removed": len(remove),
            "files_kept": len(staged) - len(remove),
            "files_stranded": len(stranded(staged, loaded, now)),
        }
    return {"run_id": run.run_id, **run.summary}

"""The app's run history: one row per call of an app procedure (or task run of one).

The S3 form reads its runs from TASK_HISTORY and its loads from COPY_HISTORY; inside an
app the procedures write what they did themselves, so the app's health views and its
Streamlit read one table the app owns. Rows go in through Snowpark's DataFrame writer:
values travel as data, never spliced into SQL text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from snowflake.snowpark import Session

from amplitude_ingest.in_snowflake.native_app import names
from amplitude_ingest.in_snowflake.text import cut
from amplitude_ingest.redact import scrub

# The setup script's health views read SUCCEEDED / FAILED, as the finalizer writes them.
OK, FAILED = "SUCCEEDED", "FAILED"
COLUMNS = ("RUN_ID", "STEP", "STARTED_AT", "ENDED_AT", "STATUS", "SUMMARY", "FIRST_ERROR")
ERROR_CHARS = 2000


def now() -> datetime:
    """UTC, naive: the columns are TIMESTAMP_NTZ holding UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class RunRecord:
    step: str
    run_id: str = field(default_factory=new_run_id)
    started_at: datetime = field(default_factory=now)
    ended_at: datetime | None = None
    status: str = OK
    summary: Mapping[str, Any] = field(default_factory=dict)
    first_error: str | None = None

    def row(self) -> list[Any]:
        return [
            self.run_id,
            self.step,
            self.started_at,
            self.ended_at,
            self.status,
            dict(self.summary),
            self.first_error,
        ]


def error_text(error: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """The first error as the row keeps it: its type and message, secrets masked, on one
    line, cut (masked before it is cut, so no part of a secret survives the cut)."""
    return cut(scrub(f"{type(error).__name__}: {error}", secrets), ERROR_CHARS)


def schema() -> Any:
    from snowflake.snowpark.types import (
        StringType,
        StructField,
        StructType,
        TimestampType,
        VariantType,
    )

    kinds = {"STARTED_AT": TimestampType(), "ENDED_AT": TimestampType(), "SUMMARY": VariantType()}
    return StructType([StructField(name, kinds.get(name, StringType())) for name in COLUMNS])


def record(session: Session, run: RunRecord, table: str = names.RUN_HISTORY) -> None:
    session.create_dataframe([run.row()], schema=schema()).write.save_as_table(
        table, mode="append", column_order="name"
    )


@contextmanager
def recorded(
    session: Session, step: str, secrets: tuple[str, ...] = (), run_id: str | None = None
) -> Iterator[RunRecord]:
    """Record the block as one run: ``ok`` with the summary the block set, or ``failed``
    with its first error; the error is raised again, so nothing that failed reports
    success."""
    run = RunRecord(step=step, run_id=run_id or new_run_id())
    try:
        yield run
    except Exception as exc:
        run.status, run.first_error = FAILED, error_text(exc, secrets)
        raise
    finally:
        run.ended_at = now()
        record(session, run)

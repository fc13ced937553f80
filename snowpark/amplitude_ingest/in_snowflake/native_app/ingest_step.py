"""``CALL code.ingest_amplitude([start_hour, end_hour, force])``: the shipped export, in
the app.

The same handler as the S3 form (in_snowflake/ingest.py) with the app's settings table:
its rows name the app's internal stage (parts go up with ``put_stream``), the app's
ledger and forget requests. The key pair comes from the secret bound to the procedure under
``in_snowflake.names.SECRET_ALIAS`` (the app's PASSWORD secret), Amplitude through the app's
external access integration. Each call adds one row to the run history, ``failed`` with
its first error when an hour failed (the call still raises), and names the task that
started it, which is what the doctor's task_external_access check reads.
"""

from __future__ import annotations

from typing import Any, Optional

from snowflake.snowpark import Session

from amplitude_ingest.in_snowflake import ingest, task_return_value
from amplitude_ingest.in_snowflake.native_app import names, run_history
from amplitude_ingest.in_snowflake.session import Queries, SessionGate

STEP = "ingest"


def current_task(run_sql: Queries) -> str | None:
    """The task running this call, if one is (None for a worksheet CALL)."""
    try:
        value = run_sql(task_return_value.CURRENT_TASK_QUERY, ())[0][0]
    except NotImplementedError:  # Snowpark local testing runs no SQL, and no task either
        return None
    return str(value) if value else None


def ingest_amplitude(
    session: Session,
    # Snowpark reads these annotations to type the procedure; it knows Optional, not `X | None`.
    start_hour: Optional[str] = None,  # noqa: UP045
    end_hour: Optional[str] = None,  # noqa: UP045
    force: bool = False,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps plain `dict` to the VARIANT it returns
    """The app's export; see the module docstring."""
    task = current_task(SessionGate(session).rows)
    with run_history.recorded(session, STEP) as run:
        run.summary = {"task": task}
        result: dict[str, Any] = ingest.ingest_amplitude(
            session, start_hour, end_hour, bool(force), settings_table=names.SETTINGS
        )
        run.run_id = str(result["run_id"])
        run.summary = {**task_return_value.bound_summary(result), "task": task}
    return result

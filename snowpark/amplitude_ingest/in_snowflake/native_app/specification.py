"""The ``after_specification_change`` lifecycle callback: the consumer approved or
declined the app's external access request.

The callback is asynchronous and gets no status in its arguments; it reads the current
state with SHOW SPECIFICATIONS (developer-guide/native-apps/callbacks). The procedure is
declared without arguments; the handler would ignore any. On approve it records the
approval (the schedule still waits for the consumer to start it); on decline, or a
request back to pending (a new version asking again), it stops the schedule, so no task
keeps failing against a closed integration. Every call leaves a run-history row, which
is what the app's Streamlit shows as the approval's state.
"""

from __future__ import annotations

from snowflake.snowpark import Session

from amplitude_ingest.in_snowflake.native_app import doctor_checks, run_history, schedule
from amplitude_ingest.in_snowflake.session import SessionGate

STEP = "specification"


def reaction(status: str | None) -> str:
    """What the app does for a specification status: ``stop`` or ``record``."""
    return "record" if status == "APPROVED" else "stop"


def on_specification_change(session: Session, *args: object) -> str:
    """The callback; see the module docstring."""
    del args  # async callbacks carry no state: SHOW SPECIFICATIONS is the truth
    with run_history.recorded(session, STEP) as run:
        gate = SessionGate(session)
        status = doctor_checks.specification_status(gate.records(doctor_checks.SHOW_SPECIFICATIONS))
        run.status = status or "NONE"
        if reaction(status) == "stop":
            message = schedule.stop(gate.rows)
        else:
            message = f"specification {run.status.lower()}: start the schedule when ready"
        run.summary = {"specification": run.status, "message": message}
    return message

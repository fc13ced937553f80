"""``CALL code.amplitude_start_schedule()`` / ``amplitude_stop_schedule()``.

Approving the external access does not start anything: the consumer starts the schedule,
and start refuses (raises, saying what to do) until the specification is approved, a key
pair is set and the doctor has no FAIL. Start resumes the children first and the root last,
so no run begins before every task it triggers is ready (ALTER TASK: a child must be
resumed for the graph to run it; BRIEF, "Task graphs"). Stop suspends the root: no new run
starts, and a run under way finishes.
"""

from __future__ import annotations

from collections.abc import Sequence

from snowflake.snowpark import Session

from amplitude_ingest.errors import AmplitudeIngestError
from amplitude_ingest.in_snowflake.checks import FAIL, CheckResult
from amplitude_ingest.in_snowflake.native_app import names, run_history

STEP = "schedule"
STARTED, STOPPED = "started", "stopped"
# Checks whose absence blocks a start as surely as their failure.
REQUIRED = ("specification", "key_pair")


class ScheduleRefusedError(AmplitudeIngestError):
    """The schedule cannot start yet; the message lists what to do first."""


def blockers(results: Sequence[CheckResult]) -> list[str]:
    """What stands between the app and a started schedule, one line each (empty: none)."""
    present = {r.check_name for r in results}
    lines = [f"{name}: not checked" for name in REQUIRED if name not in present]
    for r in results:
        if r.status == FAIL:
            lines.append(f"{r.check_name}: {r.detail}" + (f" (fix: {r.fix})" if r.fix else ""))
    return lines


def refusal(lines: Sequence[str]) -> str:
    return (
        "the schedule was not started; first:\n  - "
        + "\n  - ".join(lines)
        + "\nthen CALL code.amplitude_start_schedule() again."
    )


def resume_statements() -> list[str]:
    # ALTER TASK takes no bind variables; the names are the app's own constants.
    return [f"alter task {task} resume" for task in names.TASKS]


def suspend_statements() -> list[str]:
    return [f"alter task {names.ROOT_TASK} suspend"]


def start(session: Session, results: Sequence[CheckResult]) -> str:
    lines = blockers(results)
    if lines:
        raise ScheduleRefusedError(refusal(lines))
    for statement in resume_statements():
        session.sql(statement).collect()
    return f"schedule started: {', '.join(names.TASKS)} resumed (the root last)"


def stop(session: Session) -> str:
    for statement in suspend_statements():
        session.sql(statement).collect()
    return f"schedule stopped: {names.ROOT_TASK} suspended (a run under way finishes)"


def amplitude_start_schedule(session: Session) -> str:
    """CALL code.amplitude_start_schedule(); see the module docstring."""
    from amplitude_ingest.in_snowflake.native_app import doctor_checks

    with run_history.recorded(session, STEP) as run:
        message = start(session, doctor_checks.run_checks(session))
        run.status, run.summary = STARTED, {"tasks": list(names.TASKS)}
    return message


def amplitude_stop_schedule(session: Session) -> str:
    """CALL code.amplitude_stop_schedule()."""
    with run_history.recorded(session, STEP) as run:
        message = stop(session)
        run.status, run.summary = STOPPED, {"task": names.ROOT_TASK}
    return message

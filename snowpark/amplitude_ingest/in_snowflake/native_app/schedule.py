"""``CALL code.amplitude_start_schedule()`` / ``amplitude_stop_schedule()``.

Approving the external access does not start anything: the consumer starts the schedule,
and start refuses (raises, saying what to do) until the specification is approved, a key
pair is set and the doctor has no FAIL. Start suspends the root, sets its schedule from the
``schedule_cron`` setting (ALTER TASK ... SET SCHEDULE needs the root suspended), then
resumes the children first and the root last, so no run begins before every task it
triggers is ready (ALTER TASK; BRIEF, "Task graphs"). Stop suspends the root: no new run
starts, and a run under way finishes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from snowflake.snowpark import Session

from amplitude_ingest.errors import AmplitudeIngestError, ConfigurationError
from amplitude_ingest.in_snowflake.checks import FAIL, CheckResult
from amplitude_ingest.in_snowflake.native_app import app_settings, names, run_history
from amplitude_ingest.in_snowflake.session import Queries, SessionGate

STEP = "schedule"
STARTED, STOPPED = "STARTED", "STOPPED"
# Checks whose absence blocks a start as surely as their failure.
REQUIRED = ("specification", "key_pair")
DEFAULT_CRON = "15 * * * *"  # a quarter past each hour: hour H is exportable about H+2h


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


# Five cron fields of digits, names, * / , - (the setting is spliced: ALTER TASK takes no
# bind variables, so nothing else may get in).
_CRON = re.compile(r"^[0-9A-Za-z*/,-]+(?: [0-9A-Za-z*/,-]+){4}$")


def cron_statement(cron: str | None) -> str:
    text = " ".join((cron or DEFAULT_CRON).split())
    if not _CRON.match(text):
        raise ConfigurationError(
            f"{app_settings.SCHEDULE_CRON} {cron!r} is not five cron fields (minute hour "
            "day-of-month month day-of-week), e.g. '15 * * * *'"
        )
    return f"alter task {names.ROOT_TASK} set schedule = 'USING CRON {text} UTC'"


def resume_statements(cron: str | None = None) -> list[str]:
    # ALTER TASK takes no bind variables; the names are the app's own constants.
    return [
        f"alter task {names.ROOT_TASK} suspend",
        cron_statement(cron),
        *(f"alter task {task} resume" for task in names.TASKS),
    ]


def suspend_statements() -> list[str]:
    return [f"alter task {names.ROOT_TASK} suspend"]


def doctor_results(rows: Sequence[Sequence[Any]]) -> list[CheckResult]:
    """The rows ``CALL code.amplitude_doctor()`` returned, as check results."""
    return [CheckResult(str(r[0]), str(r[1]), str(r[2] or ""), str(r[3] or "")) for r in rows]


def start(run_sql: Queries, results: Sequence[CheckResult], cron: str | None = None) -> str:
    lines = blockers(results)
    if lines:
        raise ScheduleRefusedError(refusal(lines))
    for statement in resume_statements(cron):
        run_sql(statement, ())
    return f"schedule started: {', '.join(names.TASKS)} resumed (the root last)"


def stop(run_sql: Queries) -> str:
    for statement in suspend_statements():
        run_sql(statement, ())
    return f"schedule stopped: {names.ROOT_TASK} suspended (a run under way finishes)"


def amplitude_start_schedule(session: Session) -> str:
    """CALL code.amplitude_start_schedule(); see the module docstring."""
    from amplitude_ingest.in_snowflake.native_app import retention

    gate = SessionGate(session)
    with run_history.recorded(session, STEP) as run:
        cron = retention.read_setting(session, app_settings.SCHEDULE_CRON)
        # The doctor procedure holds the secret and the integration its Amplitude probe
        # needs; this one need not.
        results = doctor_results(gate.rows(names.DOCTOR))
        message = start(gate.rows, results, cron)
        run.status, run.summary = STARTED, {"tasks": list(names.TASKS)}
    return message


def amplitude_stop_schedule(session: Session) -> str:
    """CALL code.amplitude_stop_schedule()."""
    with run_history.recorded(session, STEP) as run:
        message = stop(SessionGate(session).rows)
        run.status, run.summary = STOPPED, {"task": names.ROOT_TASK}
    return message

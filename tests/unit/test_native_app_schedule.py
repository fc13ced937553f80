"""Starting the app's schedule: refused until the external access is approved, a key pair
is set and the doctor has no FAIL; each case on its own, through the doctor's verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN, CheckResult
from amplitude_ingest.in_snowflake.native_app import names, schedule, specification
from amplitude_ingest.in_snowflake.native_app.doctor_checks import Found, verdicts

APPROVED = [{"name": "amplitude", "type": "EXTERNAL_ACCESS", "status": "APPROVED"}]
TASKS = [{"name": t.split(".")[-1].upper(), "state": "suspended"} for t in names.TASKS]
READY = Found(
    specifications=APPROVED,
    key_pair_set=True,
    settings_problem=None,
    tasks=TASKS,
    export_status=404,
    loads=[],
    task_ingests=[],
)


class Sent(list[str]):
    """The statements a start sent (the Queries callable SessionGate.rows is in Snowflake)."""

    def __call__(self, query: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        self.append(query)
        return []


@pytest.fixture
def sent() -> Sent:
    return Sent()


def test_a_ready_app_passes_every_check_it_can_before_the_first_run() -> None:
    results = verdicts(READY, "amplitude.com")
    assert schedule.blockers(results) == []
    assert {r.check_name: r.status for r in results} == {
        "specification": OK,
        "key_pair": OK,
        "settings": OK,
        "tasks": OK,
        "export_api": OK,
        "copy_from_app_stage": WARN,  # first observed by the first load
        "task_external_access": WARN,  # first observed by the first task run
        "stranded_files": OK,
    }


@pytest.mark.parametrize(
    ("case", "found", "blocker"),
    [
        (
            "pending",
            replace(
                READY,
                export_status=None,
                specifications=[{"type": "EXTERNAL_ACCESS", "status": "PENDING"}],
            ),
            "specification: the Amplitude external access request waits",
        ),
        (
            "declined",
            replace(
                READY,
                export_status=None,
                specifications=[{"type": "EXTERNAL_ACCESS", "status": "DECLINED"}],
            ),
            "specification: the Amplitude external access request was declined",
        ),
        (
            "never requested",
            replace(READY, export_status=None, specifications=[]),
            "specification: the app has requested no external access",
        ),
        (
            "no key pair",
            replace(READY, export_status=None, key_pair_set=False),
            "key_pair: no key pair has been set yet",
        ),
        (
            "keys refused",
            replace(READY, export_status=401),
            "export_api: amplitude.com refused the key pair (401)",
        ),
        (
            "no tasks",
            replace(READY, tasks=TASKS[:2]),
            "tasks: missing task(s): amplitude_ingest_root",
        ),
        (
            "bad setting",
            replace(READY, settings_problem="stage_retention_days is 90"),
            "settings: stage_retention_days is 90",
        ),
        (
            "eai closed",
            replace(READY, export_status=PermissionError("secret not allowed")),
            "export_api: no answer from amplitude.com",
        ),
    ],
)
def test_start_refuses_and_says_what_to_do(
    sent: Sent, case: str, found: Found, blocker: str
) -> None:
    with pytest.raises(schedule.ScheduleRefusedError) as refused:
        schedule.start(sent, verdicts(found, "amplitude.com"))
    message = str(refused.value)
    assert blocker in message, case
    assert message.startswith("the schedule was not started; first:")
    assert message.endswith("then CALL code.amplitude_start_schedule() again.")
    assert sent == [], "a refused start sends nothing"


def test_start_refuses_when_the_doctor_left_out_a_required_check(sent: Sent) -> None:
    only_fine = [CheckResult("tasks", OK, "all there")]
    with pytest.raises(schedule.ScheduleRefusedError, match="specification: not checked"):
        schedule.start(sent, only_fine)
    assert sent == []


def test_a_ready_start_sends_the_resume_statements_and_a_stop_suspends_the_root(
    sent: Sent,
) -> None:
    schedule.start(sent, verdicts(READY, "amplitude.com"), "5 */2 * * *")
    assert sent == schedule.resume_statements("5 */2 * * *")
    sent.clear()
    schedule.stop(sent)
    assert sent == schedule.suspend_statements()


def test_the_root_gets_its_schedule_while_suspended_and_is_resumed_last() -> None:
    statements = schedule.resume_statements(" 5  */2 * * * ")
    assert statements == [
        "alter task state.amplitude_ingest_root suspend",
        "alter task state.amplitude_ingest_root set schedule = 'USING CRON 5 */2 * * * UTC'",
        "alter task state.amplitude_finalize resume",
        "alter task state.amplitude_load resume",
        "alter task state.amplitude_ingest_root resume",
    ]
    assert schedule.suspend_statements() == ["alter task state.amplitude_ingest_root suspend"]


@pytest.mark.parametrize(
    ("rows", "status", "reaction"),
    [
        ([{"TYPE": "EXTERNAL_ACCESS", "STATUS": "APPROVED"}], "APPROVED", "record"),
        ([{"type": "EXTERNAL ACCESS", "status": "DECLINED"}], "DECLINED", "stop"),
        ([{"type": "EXTERNAL_ACCESS", "status": "PENDING"}], "PENDING", "stop"),
        (
            [
                {"type": "EXTERNAL_ACCESS", "status": "APPROVED"},
                {"type": "EXTERNAL_ACCESS", "status": "PENDING"},
            ],
            "PENDING",
            "stop",
        ),
        ([{"type": "SECURITY_INTEGRATION", "status": "APPROVED"}], None, "stop"),
    ],
)
def test_the_specification_callback_stops_the_schedule_unless_access_is_approved(
    rows: list[dict[str, str]], status: str | None, reaction: str
) -> None:
    from amplitude_ingest.in_snowflake.native_app.doctor_checks import specification_status

    assert specification_status(rows) == status
    assert specification.reaction(status) == reaction


def test_only_a_fail_blocks_a_start() -> None:
    results = [
        CheckResult("specification", OK, "approved"),
        CheckResult("key_pair", OK, "set"),
        CheckResult("copy_from_app_stage", WARN, "not yet observed"),
    ]
    assert schedule.blockers(results) == []
    assert schedule.blockers([*results, CheckResult("tasks", FAIL, "gone", "run again")]) == [
        "tasks: gone (fix: run again)"
    ]


@pytest.mark.parametrize(
    "cron", ["15 * * * *' ; drop table x", "* * * *", "15 * * * * *", "@hourly", "1 2 3 4 5;"]
)
def test_a_schedule_setting_that_is_not_five_cron_fields_is_refused(cron: str) -> None:
    from amplitude_ingest.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="five cron fields"):
        schedule.cron_statement(cron)


def test_no_schedule_setting_means_a_quarter_past_each_hour() -> None:
    assert schedule.cron_statement(None).endswith("'USING CRON 15 * * * * UTC'")


def test_the_doctor_procedures_rows_become_the_checks_start_weighs() -> None:
    rows = [
        ("specification", "ok", "approved", ""),
        ("key_pair", "fail", "no key pair has been set yet", None),
    ]
    results = schedule.doctor_results(rows)
    assert results[1] == CheckResult("key_pair", FAIL, "no key pair has been set yet", "")
    assert schedule.blockers(results) == ["key_pair: no key pair has been set yet"]

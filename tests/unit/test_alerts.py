"""Who is told when a run fails (amplitude_ingest.in_snowflake.alerts): the decision on recorded run
rows (as the finalizer writes them from TASK_HISTORY), the message texts, pinned, and that
no secret ever reaches a message."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake import alerts
from amplitude_ingest.in_snowflake.alerts import AlertSettings, Message, Run, Sent, decide
from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN

T0 = datetime(2026, 1, 26, 5, 20)
GRAPH = (
    "AMPLITUDE_PIPELINE_ROOT",
    "AMPLITUDE_WAIT_FOR_LOADS",
    "AMPLITUDE_DBT_BUILD",
    "AMPLITUDE_SOURCE_FRESHNESS",
)
SETTINGS = AlertSettings(
    runs_table="AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_RUNS",
    sent_table="AMPLITUDE.INGEST.AMPLITUDE_ALERTS_SENT",
    email_integration="AMPLITUDE_ALERT_EMAIL",
    email_recipients=("ops@example.com",),
    webhook_integration="AMPLITUDE_ALERT_WEBHOOK",
)


def row(
    group: str,
    at: datetime,
    states: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    summary: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    """A row of amplitude_pipeline_runs as sql/70's finalizer writes it."""
    states = states or {}
    errors = errors or {}
    tasks = [
        {
            "task": name,
            "state": states.get(name, "SUCCEEDED"),
            "attempt": None if states.get(name) == "DID_NOT_RUN" else 1,
            "error": errors.get(name),
            "return_value": json.dumps(summary or {"run_id": f"r-{group}", "hours_done": 3})
            if name == "AMPLITUDE_PIPELINE_ROOT"
            else None,
        }
        for name in GRAPH
    ]
    succeeded = all(t["state"] == "SUCCEEDED" for t in tasks)
    return (group, at, succeeded, json.dumps(tasks))


def run(*args: Any, **kwargs: Any) -> Run:
    return Run.from_row(row(*args, **kwargs))


GOOD = {}
WAIT_FAILED = {"AMPLITUDE_WAIT_FOR_LOADS": "FAILED", "AMPLITUDE_DBT_BUILD": "DID_NOT_RUN"}
WAIT_ERROR = {
    "AMPLITUDE_WAIT_FOR_LOADS": "run r-g2: 2 of the 3 files this run wrote are not in "
    "AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW: events/a.json, events/b.json."
}


# ---- what counts as a failure ------------------------------------------------------------------


def test_a_run_whose_tasks_all_succeeded_is_good() -> None:
    assert run("g1", T0).problems() == []


def test_a_failed_task_a_task_that_did_not_run_and_failed_or_given_up_hours_are_problems() -> None:
    bad = run(
        "g2",
        T0,
        states={**WAIT_FAILED, "AMPLITUDE_SOURCE_FRESHNESS": "FAILED"},
        errors={**WAIT_ERROR, "AMPLITUDE_SOURCE_FRESHNESS": "ERROR STALE: 30 hours old"},
        summary={"run_id": "r-g2", "hours_failed": 2, "hours_given_up": 1},
    )
    assert bad.problems() == [
        "AMPLITUDE_DBT_BUILD did not run (suspended, or never reached)",
        "AMPLITUDE_SOURCE_FRESHNESS failed (attempt 1): ERROR STALE: 30 hours old",
        "AMPLITUDE_WAIT_FOR_LOADS failed (attempt 1): " + WAIT_ERROR["AMPLITUDE_WAIT_FOR_LOADS"],
        "2 hours failed to export",
        "1 hour given up after repeated failures (exported again only with force)",
    ]


def test_given_up_hours_make_a_run_whose_tasks_succeeded_a_failure() -> None:
    """H2's summary carries hours_given_up; the run itself succeeded."""
    given_up = run("g3", T0, summary={"run_id": "r-g3", "hours_given_up": 4})
    assert given_up.succeeded is True
    assert given_up.problems() == [
        "4 hours given up after repeated failures (exported again only with force)"
    ]


def test_a_summary_without_the_new_counts_is_read_as_none() -> None:
    assert run("g4", T0, summary={"run_id": "r-g4", "hours_failed": "n/a"}).problems() == []


# ---- the decision ------------------------------------------------------------------------


def sent(kind: str, at: datetime, group: str | None = None) -> Sent:
    return Sent(at, kind, group)


def test_a_failed_run_is_told_once_and_its_retry_is_the_same_run() -> None:
    failed = run("g2", T0, states=WAIT_FAILED, errors=WAIT_ERROR)
    message = decide([failed], [], T0 + timedelta(minutes=1), SETTINGS)
    assert message is not None
    assert (message.kind, message.run_group_id) == ("failure", "g2")
    # The finalizer runs again after the retry of the same graph run, still failing.
    told = [sent("failure", T0 + timedelta(minutes=1), "g2")]
    assert decide([failed], told, T0 + timedelta(minutes=9), SETTINGS) is None


def test_later_failed_runs_are_the_same_failure_reminded_at_most_daily() -> None:
    runs = [run(f"g{i}", T0 + timedelta(hours=i), states=WAIT_FAILED) for i in range(30)]
    told = [sent("failure", T0, "g0")]
    # Every hourly run for the first day: nothing new.
    for hours in range(1, 24):
        assert decide(runs[: hours + 1], told, T0 + timedelta(hours=hours), SETTINGS) is None
    reminder = decide(runs[:25], told, T0 + timedelta(hours=24, minutes=1), SETTINGS)
    assert reminder is not None
    assert reminder.kind == "reminder"
    assert reminder.run_group_id == "g24"
    told.append(sent("reminder", T0 + timedelta(hours=24, minutes=1), "g24"))
    assert decide(runs[:26], told, T0 + timedelta(hours=25), SETTINGS) is None


def test_the_first_good_run_after_a_failure_says_recovered_once() -> None:
    runs = [run("g1", T0, states=WAIT_FAILED), run("g2", T0 + timedelta(hours=1))]
    told = [sent("failure", T0, "g1")]
    message = decide(runs, told, T0 + timedelta(hours=1, minutes=1), SETTINGS)
    assert message is not None
    assert (message.kind, message.run_group_id) == ("recovered", "g2")
    told.append(sent("recovered", T0 + timedelta(hours=1, minutes=1), "g2"))
    runs.append(run("g3", T0 + timedelta(hours=2)))
    assert decide(runs, told, T0 + timedelta(hours=2, minutes=1), SETTINGS) is None


def test_a_retry_that_succeeds_recovers_the_run_it_failed() -> None:
    """The finalizer runs after the failed attempt, then after the successful retry of the
    same graph run: the record is rewritten, and the next decision is 'recovered'."""
    told = [sent("failure", T0, "g1")]
    message = decide(
        [run("g1", T0 + timedelta(minutes=8))], told, T0 + timedelta(minutes=9), SETTINGS
    )
    assert message is not None
    assert message.kind == "recovered"


def test_good_runs_with_nothing_reported_send_nothing() -> None:
    runs = [run(f"g{i}", T0 + timedelta(hours=i)) for i in range(5)]
    assert decide(runs, [], T0 + timedelta(hours=5), SETTINGS) is None
    assert decide([], [], T0, SETTINGS) is None


def test_no_run_for_the_configured_time_is_told_then_reminded_daily() -> None:
    runs = [run("g1", T0)]
    hours = SETTINGS.no_success_hours
    assert decide(runs, [], T0 + timedelta(hours=hours - 1), SETTINGS) is None
    first = decide(runs, [], T0 + timedelta(hours=hours), SETTINGS)
    assert first is not None
    assert first.kind == "no_run"
    told = [sent("no_run", T0 + timedelta(hours=hours), "g1")]
    assert decide(runs, told, T0 + timedelta(hours=hours + 23), SETTINGS) is None
    again = decide(runs, told, T0 + timedelta(hours=hours + 24), SETTINGS)
    assert again is not None
    assert again.kind == "no_run"
    assert "still no pipeline run" in again.subject
    # The graph runs again: recovered.
    runs.append(run("g2", T0 + timedelta(hours=hours + 30)))
    back = decide(runs, told, T0 + timedelta(hours=hours + 30, minutes=1), SETTINGS)
    assert back is not None
    assert back.kind == "recovered"


@settings(max_examples=200, deadline=None, print_blob=True)
@given(
    outcomes=st.lists(st.booleans(), min_size=1, max_size=60),
    gap_minutes=st.integers(min_value=5, max_value=240),
)
def test_at_most_one_message_per_failure_and_a_day_and_one_recovered_after_it(
    outcomes: list[bool], gap_minutes: int
) -> None:
    """Runs good or failed at any spacing, the decision made after each (as the finalizer
    does): per failure streak one opening message, reminders at least a day apart, and
    exactly one 'recovered' when a good run ends the streak."""
    runs: list[Run] = []
    told: list[Sent] = []
    for i, good in enumerate(outcomes):
        at = T0 + timedelta(minutes=gap_minutes * i)
        runs.append(run(f"g{i}", at, states=None if good else WAIT_FAILED))
        message = decide(runs, told, at + timedelta(minutes=1), SETTINGS)
        if message is not None:
            told.append(sent(message.kind, at + timedelta(minutes=1), message.run_group_id))
    streaks = 0
    previous_good = True
    for good in outcomes:
        if not good and previous_good:
            streaks += 1
        previous_good = good
    assert sum(t.kind == "failure" for t in told) == streaks
    ended = streaks - (0 if outcomes[-1] else 1)
    assert sum(t.kind == "recovered" for t in told) == ended
    reminders = [t for t in told if t.kind in alerts.OPENING]
    for earlier, later in itertools.pairwise(reminders):
        if later.kind == "reminder":
            assert later.sent_at - earlier.sent_at >= alerts.REMIND_EVERY


# ---- the texts, pinned --------------------------------------------------------------------------


def test_the_failure_message_text() -> None:
    failed = run(
        "1234567890",
        T0,
        states=WAIT_FAILED,
        errors=WAIT_ERROR,
        summary={"run_id": "r-20260126T0515", "hours_failed": 2},
    )
    message = decide([failed], [], T0, SETTINGS)
    assert message == Message(
        "failure",
        "1234567890",
        "[amplitude-ingest] AMPLITUDE: pipeline run failed",
        """\
The Amplitude pipeline run that finished 2026-01-26 05:20 UTC failed.

What failed:
- AMPLITUDE_DBT_BUILD did not run (suspended, or never reached)
- AMPLITUDE_WAIT_FOR_LOADS failed (attempt 1): run r-g2: 2 of the 3 files this run wrote \
are not in AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW: events/a.json, events/b.json.
- 2 hours failed to export

Graph run: 1234567890
Export run id: r-20260126T0515

Look further:
  select * from AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_RUNS where run_group_id = '1234567890';
  select * from AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_HEALTH;

You are told once per failure, reminded at most once a day while it lasts, and told when \
a run succeeds again.""",
    )
    assert message.webhook_text() == (
        "[amplitude-ingest] AMPLITUDE: pipeline run failed | The Amplitude pipeline run that "
        "finished 2026-01-26 05:20 UTC failed. | What failed: | - AMPLITUDE_DBT_BUILD did "
        "not run (suspended, or never reached) | - AMPLITUDE_WAIT_FOR_LOADS failed (attempt "
        "1): run r-g2: 2 of the 3 files this run wrote are not in "
        "AMPLITUDE.RAW.AMPLITUDE_EVENTS_RAW: events/a.json, events/b.json. | - 2 hours "
        "failed to export | Graph run: 1234567890 | Export run id: r-20260126T0515 | Look "
        "further: | select * from AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_RUNS where "
        "run_group_id = '1234567890'; | select * from "
        "AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_HEALTH; | You are told once per failure, "
        "reminded at most once a day while it lasts, and told when a run succeeds again."
    )


def test_the_reminder_no_run_recovered_and_test_texts() -> None:
    runs = [run(f"g{i}", T0 + timedelta(hours=i), states=WAIT_FAILED) for i in range(3)]
    reminder = alerts.reminder_message(runs, T0 + timedelta(days=1), SETTINGS)
    assert reminder.subject == "[amplitude-ingest] AMPLITUDE: pipeline still failing"
    assert reminder.body.splitlines()[0] == (
        "The Amplitude pipeline is still failing: 3 runs failed since 2026-01-26 05:20 UTC; "
        "the latest finished 2026-01-26 07:20 UTC."
    )
    no_run = alerts.no_run_message(run("g1", T0), T0 + timedelta(hours=30), SETTINGS)
    assert no_run.subject == "[amplitude-ingest] AMPLITUDE: no pipeline run"
    assert no_run.body.splitlines()[:2] == [
        "No run of the Amplitude pipeline has finished for 30 hours (more than "
        "no_success_hours = 24); the last one finished 2026-01-26 05:20 UTC and succeeded.",
        "The root task may be suspended or its warehouse gone: run `make doctor` or "
        "CALL amplitude_doctor().",
    ]
    recovered = alerts.recovered_message(run("g9", T0), SETTINGS)
    assert recovered == Message(
        "recovered",
        "g9",
        "[amplitude-ingest] AMPLITUDE: pipeline recovered",
        "The Amplitude pipeline run that finished 2026-01-26 05:20 UTC succeeded after the "
        "failure reported before.\n\nGraph run: g9\nExport run id: r-g9",
    )
    test = alerts.test_message(T0, SETTINGS)
    assert test.body == (
        "A test message sent 2026-01-26 05:20 UTC on request (amplitude_doctor).\n"
        "Channels set: email, webhook."
    )


def test_a_message_names_at_most_five_problems() -> None:
    many = Run(
        "g1",
        T0,
        False,
        tuple(alerts.TaskOutcome(f"TASK_{i}", "FAILED", 1, f"boom {i}") for i in range(8)),
    )
    body = alerts.failure_message(many, SETTINGS).body
    assert body.count("\n- TASK_") == 5
    assert "- and 3 more" in body


# ---- no secret in a message ---------------------------------------------------------------------

HEX_KEY = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
WORDS = st.text(alphabet="abcdefghij klmnop:.,()/-", max_size=60)


@settings(max_examples=300, deadline=None, print_blob=True)
@given(
    api_key=HEX_KEY,
    secret_key=HEX_KEY,
    slack_path=st.from_regex(r"T[0-9A-Z]{8}/B[0-9A-Z]{8}/[0-9A-Za-z]{24}", fullmatch=True),
    before=WORDS,
    after=WORDS,
)
def test_no_key_or_webhook_url_reaches_a_message(
    api_key: str, secret_key: str, slack_path: str, before: str, after: str
) -> None:
    """Whatever an error text carries (a third party echoing a URL with credentials, a
    key, the Slack webhook, the secret placeholder), the messages do not carry it on."""
    error = (
        f"{before} https://{api_key}:{secret_key}@amplitude.com/api/2/export failed; "
        f"posting to https://hooks.slack.com/services/{slack_path} gave 500; "
        f"Authorization: Basic {api_key}{secret_key} key={api_key} "
        f"SNOWFLAKE_WEBHOOK_SECRET {after}"
    )
    failed = run("g1", T0, states=WAIT_FAILED, errors={"AMPLITUDE_WAIT_FOR_LOADS": error})
    for message in (
        alerts.failure_message(failed, SETTINGS),
        alerts.reminder_message([failed], T0, SETTINGS),
    ):
        for text in (message.subject, message.body, message.webhook_text()):
            assert api_key not in text
            assert secret_key not in text
            assert slack_path not in text
            assert "SNOWFLAKE_WEBHOOK_SECRET" not in text


def test_scrub_keeps_what_a_reader_needs() -> None:
    text = (
        "run r-20260126T0515: 2 of 3 files: "
        "events/web/2026/01/26/05/web_20260126T05_0000_ffffffffffffffff.json, "
        "query 01b9c2d4-0000-4a5b-0000-0001e2f3a4b5"
    )
    assert alerts.scrub(text) == text


# ---- settings ----------------------------------------------------------------------------

BASE = {
    "runs_table": "AMPLITUDE.INGEST.AMPLITUDE_PIPELINE_RUNS",
    "sent_table": "AMPLITUDE.INGEST.AMPLITUDE_ALERTS_SENT",
}


def test_without_a_channel_setting_alerts_are_off_and_nothing_is_sent() -> None:
    settings_ = AlertSettings.from_rows({**BASE, "no_success_hours": "24"})
    assert settings_.channels == []
    issued: list[str] = []

    def run_sql(query: str, params: Any) -> list[Any]:
        issued.append(query)
        if query.startswith("select name, value"):
            return list(BASE.items())
        raise AssertionError(f"nothing else may run: {query}")

    assert alerts.notify(run_sql, "AMPLITUDE.INGEST.AMPLITUDE_ALERT_SETTINGS") == {
        "sent": None,
        "reason": "alerts are off: no channel is set",
    }
    assert len(issued) == 1


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ({"runs_table": BASE["runs_table"]}, "sent_table is missing"),
        ({**BASE, "email_integration": "x; drop table y"}, "not an integration name"),
        ({**BASE, "email_recipients": "ops@example.com, it's@x"}, "not an address"),
        ({**BASE, "no_success_hours": "0"}, "at least 1"),
        ({**BASE, "no_sucess_hours": "4"}, "unknown alert settings: no_sucess_hours"),
        ({**BASE, "runs_table": "runs; drop"}, "runs"),
    ],
)
def test_a_wrong_setting_is_an_error_that_names_it(rows: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        AlertSettings.from_rows(rows)


# ---- the doctor's rows -------------------------------------------------------------------------


def test_the_doctor_says_alerts_are_off_without_a_channel() -> None:
    off = alerts.alerts_off_check(AlertSettings.from_rows(BASE))
    assert (off.check_name, off.status) == ("alerts", WARN)
    assert off.detail.startswith("alerts are off")
    on = alerts.alerts_off_check(SETTINGS)
    assert (on.status, on.detail) == (OK, "alerts go to: email, webhook")


DESC_ROWS = [
    ("ENABLED", "Boolean", "true", "false"),
    ("ALLOWED_RECIPIENTS", "List", "ops@example.com,dev@example.com", "[]"),
]


def test_the_doctor_fails_a_recipient_the_integration_does_not_allow() -> None:
    """CREATE NOTIFICATION INTEGRATION refuses an unverified address in ALLOWED_RECIPIENTS
    (user-guide/notifications/email-notifications): on the list means verified then."""
    allowed = alerts.allowed_recipients(DESC_ROWS)
    assert allowed == ["ops@example.com", "dev@example.com"]
    assert alerts.recipients_check(SETTINGS, allowed).status == OK
    stranger = AlertSettings(**{**SETTINGS.__dict__, "email_recipients": ("cfo@example.com",)})
    failed = alerts.recipients_check(stranger, allowed)
    assert failed.status == FAIL
    assert "not on it: cfo@example.com" in failed.detail
    assert alerts.recipients_check(SETTINGS, None).status == WARN
    assert alerts.allowed_recipients([("ENABLED", "Boolean", "true", "false")]) is None


def test_the_doctor_sends_a_test_message_on_request() -> None:
    calls: list[tuple[str, list[Any]]] = []

    def run_sql(query: str, params: Any) -> list[Any]:
        calls.append((query, list(params)))
        if query.startswith("select name, value"):
            return [
                *BASE.items(),
                ("email_integration", "AMPLITUDE_ALERT_EMAIL"),
                ("email_recipients", "ops@example.com"),
            ]
        if query == alerts.now_query():
            return [(T0,)]
        return []

    result = alerts.test_send_check(run_sql, "AMPLITUDE.INGEST.AMPLITUDE_ALERT_SETTINGS")
    assert (result.status, result.detail) == (OK, "test message sent to: email")
    sends = [c for c in calls if c[0] == alerts.SEND_EMAIL]
    assert sends == [
        (
            alerts.SEND_EMAIL,
            [
                "AMPLITUDE_ALERT_EMAIL",
                "ops@example.com",
                "[amplitude-ingest] AMPLITUDE: test message",
                "A test message sent 2026-01-26 05:20 UTC on request (amplitude_doctor).\n"
                "Channels set: email.",
            ],
        )
    ]
    recorded = [c for c in calls if c[0].startswith("insert into")]
    assert recorded[0][1] == ["test", None, "[amplitude-ingest] AMPLITUDE: test message", "email"]


def test_a_test_message_that_cannot_be_sent_is_a_failed_row() -> None:
    def run_sql(query: str, params: Any) -> list[Any]:
        if query.startswith("select name, value"):
            return [*BASE.items(), ("webhook_integration", "AMPLITUDE_ALERT_WEBHOOK")]
        if query == alerts.now_query():
            return [(T0,)]
        if query == alerts.SEND_WEBHOOK:
            raise RuntimeError(
                "Integration 'AMPLITUDE_ALERT_WEBHOOK' does not exist or not authorized."
            )
        return []

    result = alerts.test_send_check(run_sql, "AMPLITUDE.INGEST.AMPLITUDE_ALERT_SETTINGS")
    assert result.status == FAIL
    assert "does not exist or not authorized" in result.detail


def test_the_doctors_rows_in_order_with_the_test_message_on_request() -> None:
    def run_sql(query: str, params: Any) -> list[Any]:
        if query.startswith("select name, value"):
            return [
                *BASE.items(),
                ("email_integration", "AMPLITUDE_ALERT_EMAIL"),
                ("email_recipients", "ops@example.com"),
            ]
        if query == "describe notification integration AMPLITUDE_ALERT_EMAIL":
            return DESC_ROWS
        if query == alerts.now_query():
            return [(T0,)]
        return []

    table = "AMPLITUDE.INGEST.AMPLITUDE_ALERT_SETTINGS"
    rows = alerts.doctor_checks(run_sql, table)
    assert [(r.check_name, r.status) for r in rows] == [("alerts", OK), ("alert_recipients", OK)]
    with_test = alerts.doctor_checks(run_sql, table, send_test=True)
    assert [(r.check_name, r.status) for r in with_test][-1] == ("alert_test_message", OK)


def test_the_doctor_says_so_when_the_alert_settings_cannot_be_read() -> None:
    def run_sql(query: str, params: Any) -> list[Any]:
        raise RuntimeError("Object 'AMPLITUDE_ALERT_SETTINGS' does not exist or not authorized.")

    (row,) = alerts.doctor_checks(run_sql, "AMPLITUDE.INGEST.AMPLITUDE_ALERT_SETTINGS")
    assert (row.check_name, row.status) == ("alerts", FAIL)
    assert "does not exist or not authorized" in row.detail

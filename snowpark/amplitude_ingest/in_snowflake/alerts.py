"""Who is told when the pipeline fails, what they read, and when they are told again.

`CALL amplitude_send_alerts()` runs at the end of every graph run (the finalizer, sql/70)
and from the ALERT that fires when no run has succeeded for a while (sql/75). It reads the
run history (`amplitude_pipeline_runs`, one row per graph run, each task's last attempt),
the messages already sent (`amplitude_alerts_sent`) and the alert settings
(`amplitude_alert_settings`), decides at most one message, sends it to every channel that
is set, and records it. Without a channel setting nothing is sent.

When (the decision is `decide()`, a plain function of those rows and the time):
  failure    the latest run failed and nobody has been told about a failure since the last
             good run: one message per failure, however many runs and retries it spans
             (a retry has the run's GRAPH_RUN_GROUP_ID, so it is the same run)
  reminder   the failure lasts and the last message about it is a day old or more
  no_run     no run at all for `no_success_hours` after the last good one (the root
             suspended, the warehouse gone): a finalizer cannot report a run that never
             happened, so the ALERT calls this; reminded daily like a failure
  recovered  the first good run after a failure or a silence was reported
A run fails when a task of the graph failed or did not run (the finalizer records it
DID_NOT_RUN), or when the root's summary says hours failed or were given up
(`hours_failed`, `hours_given_up`, read when present). The wait step's "files not loaded"
and dbt's source freshness error are task failures, named with their error.

Messages say what failed, the run ids, the first errors and the queries to look further.
They never carry a secret: error texts are scrubbed (`scrub`) of URLs' credentials,
webhook paths, key-like tokens and SYSTEM$SEND_SNOWFLAKE_NOTIFICATION's placeholders, and
the procedure never holds a key or the webhook URL (Snowflake fills the URL in from the
secret: user-guide/notifications/webhook-notifications).

The doctor's rows for alerts (`doctor_checks`) are built here from answers Snowflake gave,
as CheckResult rows; amplitude_ingest.in_snowflake.doctor wires them in.

Pure logic is plain functions of plain values; the handler runs its queries through a
`Queries` callable (as the wait step does), so tests feed recorded rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN, CheckResult
from amplitude_ingest.in_snowflake.names import UNQUOTED_NAME, validate_qualified_name
from amplitude_ingest.in_snowflake.session import Queries, SessionGate, text_pairs
from amplitude_ingest.in_snowflake.settings_table import SETTINGS_TABLE, settings_query
from amplitude_ingest.in_snowflake.text import cut

if TYPE_CHECKING:
    from snowflake.snowpark import Session

ALERT_SETTINGS_TABLE_NAME = "AMPLITUDE_ALERT_SETTINGS"
REMIND_EVERY = timedelta(days=1)
DEFAULT_NO_SUCCESS_HOURS = 24
PROBLEMS_IN_MESSAGE = 5
SUBJECT_PREFIX = "[amplitude-ingest]"
# What the procedure reads from its settings table (sql/75 and the channel scripts write them).
SETTINGS = (
    "runs_table",
    "sent_table",
    "email_integration",
    "email_recipients",
    "webhook_integration",
    "no_success_hours",
)
DOC_EMAIL = "https://docs.snowflake.com/en/user-guide/notifications/email-notifications"
DOC_WEBHOOK = "https://docs.snowflake.com/en/user-guide/notifications/webhook-notifications"

_EMAIL = re.compile(r"^[^@\s,'\"\\]+@[^@\s,'\"\\]+\.[^@\s,'\"\\]+$")


def alert_settings_table(settings_table: str) -> str:
    """The alerts' settings table lives beside the ingest settings table (sql/75)."""
    return f"{settings_table.rsplit('.', 1)[0]}.{ALERT_SETTINGS_TABLE_NAME}"


ALERT_SETTINGS_TABLE = alert_settings_table(SETTINGS_TABLE)


# ---- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSettings:
    """The rows of amplitude_alert_settings, validated before any SQL uses them."""

    runs_table: str
    sent_table: str
    email_integration: str | None = None
    email_recipients: tuple[str, ...] = ()
    webhook_integration: str | None = None
    no_success_hours: int = DEFAULT_NO_SUCCESS_HOURS

    @property
    def email_on(self) -> bool:
        return bool(self.email_integration and self.email_recipients)

    @property
    def channels(self) -> list[str]:
        out = []
        if self.email_on:
            out.append("email")
        if self.webhook_integration:
            out.append("webhook")
        return out

    @property
    def database(self) -> str:
        return self.runs_table.split(".")[0]

    @classmethod
    def from_rows(cls, rows: Mapping[str, str | None]) -> AlertSettings:
        values = {k.strip().lower(): (v or "").strip() for k, v in rows.items()}
        unknown = sorted(set(values) - set(SETTINGS))
        if unknown:
            raise ConfigurationError(f"unknown alert settings: {', '.join(unknown)}")
        for name in ("runs_table", "sent_table"):
            if not values.get(name):
                raise ConfigurationError(f"alert setting {name} is missing (re-run sql/75)")
        integrations = {}
        for name in ("email_integration", "webhook_integration"):
            value = values.get(name) or None
            if value is not None and not UNQUOTED_NAME.match(value):
                raise ConfigurationError(f"alert setting {name} is not an integration name")
            integrations[name] = value
        listed = values.get("email_recipients", "").split(",")
        recipients = tuple(r.strip() for r in listed if r.strip())
        bad = [r for r in recipients if not _EMAIL.match(r)]
        if bad:
            raise ConfigurationError(f"alert setting email_recipients: not an address: {bad[0]!r}")
        hours_text = values.get("no_success_hours") or str(DEFAULT_NO_SUCCESS_HOURS)
        try:
            hours = int(hours_text)
        except ValueError as exc:
            raise ConfigurationError("alert setting no_success_hours must be a number") from exc
        if hours < 1:
            raise ConfigurationError("alert setting no_success_hours must be at least 1")
        return cls(
            runs_table=validate_qualified_name(values["runs_table"]),
            sent_table=validate_qualified_name(values["sent_table"]),
            email_integration=integrations["email_integration"],
            email_recipients=recipients,
            webhook_integration=integrations["webhook_integration"],
            no_success_hours=hours,
        )


# ---- the run history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskOutcome:
    task: str
    state: str
    attempt: int | None = None
    error: str | None = None
    return_value: str | None = None


@dataclass(frozen=True)
class Run:
    """One row of amplitude_pipeline_runs."""

    run_group_id: str
    finished_at: datetime
    succeeded: bool
    tasks: tuple[TaskOutcome, ...]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Run:
        run_group_id, finished_at, succeeded, tasks = row[:4]
        items = json.loads(tasks) if isinstance(tasks, str) else (tasks or [])
        outcomes = tuple(
            TaskOutcome(
                task=str(item.get("task")),
                state=str(item.get("state")),
                attempt=int(item["attempt"]) if item.get("attempt") is not None else None,
                error=None if item.get("error") is None else str(item["error"]),
                return_value=None
                if item.get("return_value") is None
                else str(item["return_value"]),
            )
            for item in items
        )
        return cls(str(run_group_id), finished_at, bool(succeeded), outcomes)

    def summary(self) -> dict[str, Any]:
        """The root's bounded summary (the task return value that parses as an object)."""
        for outcome in self.tasks:
            if outcome.return_value:
                try:
                    value = json.loads(outcome.return_value)
                except ValueError:
                    continue
                if isinstance(value, dict) and "run_id" in value:
                    return value
        return {}

    def problems(self) -> list[str]:
        """What failed in this run, one line each, scrubbed; empty: a good run."""
        out = []
        for outcome in sorted(self.tasks, key=lambda t: t.task):
            if outcome.state == "SUCCEEDED":
                continue
            if outcome.state == "DID_NOT_RUN":
                out.append(f"{outcome.task} did not run (suspended, or never reached)")
                continue
            attempt = f" (attempt {outcome.attempt})" if outcome.attempt else ""
            error = f": {cut(scrub(outcome.error))}" if outcome.error else ""
            out.append(f"{outcome.task} {outcome.state.lower()}{attempt}{error}")
        if not self.succeeded and not out:
            out.append("the run is recorded as failed")
        summary = self.summary()
        failed, given_up = _count(summary, "hours_failed"), _count(summary, "hours_given_up")
        if failed:
            out.append(f"{failed} hour{'s' if failed != 1 else ''} failed to export")
        if given_up:
            out.append(
                f"{given_up} hour{'s' if given_up != 1 else ''} given up after repeated "
                "failures (exported again only with force)"
            )
        return out

    @property
    def good(self) -> bool:
        return not self.problems()


def _count(summary: Mapping[str, Any], key: str) -> int:
    value = summary.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# ---- secrets never leave ---------------------------------------------------------------------

_SCRUBBERS = (
    # user:password@ in a URL
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), r"\1***@"),
    # webhook paths: Slack's, Teams' workflows, anything after /services/ or /workflows/
    (re.compile(r"(?i)(/services/|/workflows/)[^\s'\"]+"), r"\1***"),
    # HTTP Basic / Bearer credentials
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._-]{8,}"), r"\1 ***"),
    # key-like tokens: 20+ characters of hex (Amplitude's keys are 32), or 40+ letters
    # and digits mixed; stage keys and run ids (with _ and /) stay readable
    (re.compile(r"\b[0-9a-fA-F]{20,}\b"), "***"),
    (re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9+]{40,}={0,2}"), "***"),
    # SYSTEM$SEND_SNOWFLAKE_NOTIFICATION fills these in, in the message too
    (re.compile(r"SNOWFLAKE_WEBHOOK_\w+"), "REDACTED"),
)


def scrub(text: str | None) -> str:
    """The text with anything that may be a credential replaced by ***."""
    out = text or ""
    for pattern, replacement in _SCRUBBERS:
        out = pattern.sub(replacement, out)
    return out


# ---- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One row of amplitude_alerts_sent."""

    sent_at: datetime
    kind: str
    run_group_id: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Sent:
        return cls(row[0], str(row[1]), None if row[2] is None else str(row[2]))


@dataclass(frozen=True)
class Message:
    kind: str  # failure, reminder, no_run, recovered, test
    run_group_id: str | None
    subject: str
    body: str

    def webhook_text(self) -> str:
        """One line, no quote or backslash: valid inside the integration's JSON body
        template whether or not Snowflake escapes the message it substitutes."""
        text = f"{self.subject} | " + " | ".join(
            line.strip() for line in self.body.splitlines() if line.strip()
        )
        text = text.replace('"', "'").replace("\\", "/")
        return "".join(ch for ch in text if ch.isprintable())


OPENING = ("failure", "reminder", "no_run")


def episode(sent: Iterable[Sent]) -> tuple[bool, datetime | None]:
    """Whether people were told of a problem not yet recovered, and when last."""
    last_told: datetime | None = None
    last_recovered: datetime | None = None
    for row in sent:
        if row.kind in OPENING and (last_told is None or row.sent_at > last_told):
            last_told = row.sent_at
        if row.kind == "recovered" and (last_recovered is None or row.sent_at > last_recovered):
            last_recovered = row.sent_at
    is_open = last_told is not None and (last_recovered is None or last_told > last_recovered)
    return is_open, last_told


def decide(
    runs: Sequence[Run], sent: Sequence[Sent], now: datetime, settings: AlertSettings
) -> Message | None:
    """The one message to send now, or None. See the module docstring."""
    ordered = sorted(runs, key=lambda r: r.finished_at)
    latest = ordered[-1] if ordered else None
    is_open, last_told = episode(sent)
    due = last_told is None or now - last_told >= REMIND_EVERY
    if latest is not None and not latest.good:
        if not is_open:
            return failure_message(latest, settings)
        return reminder_message(ordered, now, settings) if due else None
    if latest is not None and now - latest.finished_at >= timedelta(
        hours=settings.no_success_hours
    ):
        if not is_open or due:
            return no_run_message(latest, now, settings, reminder=is_open)
        return None
    if is_open and latest is not None:
        return recovered_message(latest, settings)
    return None


# ---- the texts -----------------------------------------------------------------------------------


def _subject(settings: AlertSettings, what: str) -> str:
    return f"{SUBJECT_PREFIX} {settings.database}: {what}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _look_further(run_group_id: str | None, settings: AlertSettings) -> list[str]:
    lines = ["Look further:"]
    if run_group_id:
        lines.append(
            f"  select * from {settings.runs_table} where run_group_id = '{run_group_id}';"
        )
    health = settings.runs_table.rsplit(".", 1)[0] + ".AMPLITUDE_PIPELINE_HEALTH"
    lines.append(f"  select * from {health};")
    return lines


def _problem_lines(run: Run) -> list[str]:
    problems = run.problems()
    lines = [f"- {p}" for p in problems[:PROBLEMS_IN_MESSAGE]]
    if len(problems) > PROBLEMS_IN_MESSAGE:
        lines.append(f"- and {len(problems) - PROBLEMS_IN_MESSAGE} more")
    return lines


def _ids(run: Run) -> list[str]:
    export_run = run.summary().get("run_id")
    return [
        f"Graph run: {run.run_group_id}",
        "Export run id: "
        + (scrub(str(export_run)) if export_run else "none (the export did not report one)"),
    ]


FOOTER = (
    "You are told once per failure, reminded at most once a day while it lasts, "
    "and told when a run succeeds again."
)


def failure_message(run: Run, settings: AlertSettings) -> Message:
    body = "\n".join(
        [
            f"The Amplitude pipeline run that finished {_when(run.finished_at)} failed.",
            "",
            "What failed:",
            *_problem_lines(run),
            "",
            *_ids(run),
            "",
            *_look_further(run.run_group_id, settings),
            "",
            FOOTER,
        ]
    )
    return Message("failure", run.run_group_id, _subject(settings, "pipeline run failed"), body)


def reminder_message(ordered: Sequence[Run], now: datetime, settings: AlertSettings) -> Message:
    latest = ordered[-1]
    streak = 0
    for run in reversed(ordered):
        if run.good:
            break
        streak += 1
    since = ordered[len(ordered) - streak].finished_at
    body = "\n".join(
        [
            f"The Amplitude pipeline is still failing: {streak} run{'s' if streak != 1 else ''} "
            f"failed since {_when(since)}; the latest finished {_when(latest.finished_at)}.",
            "",
            "What failed in the latest run:",
            *_problem_lines(latest),
            "",
            *_ids(latest),
            "",
            *_look_further(latest.run_group_id, settings),
            "",
            FOOTER,
        ]
    )
    return Message(
        "reminder", latest.run_group_id, _subject(settings, "pipeline still failing"), body
    )


def no_run_message(
    latest: Run, now: datetime, settings: AlertSettings, reminder: bool = False
) -> Message:
    hours = int((now - latest.finished_at).total_seconds() // 3600)
    body = "\n".join(
        [
            f"No run of the Amplitude pipeline has finished for {hours} hours (more than "
            f"no_success_hours = {settings.no_success_hours}); the last one finished "
            f"{_when(latest.finished_at)} and succeeded.",
            "The root task may be suspended or its warehouse gone: "
            "run `make doctor` or CALL amplitude_doctor().",
            "",
            f"Last graph run: {latest.run_group_id}",
            "",
            *_look_further(None, settings),
            "",
            FOOTER,
        ]
    )
    what = "still no pipeline run" if reminder else "no pipeline run"
    return Message("no_run", latest.run_group_id, _subject(settings, what), body)


def recovered_message(run: Run, settings: AlertSettings) -> Message:
    body = "\n".join(
        [
            f"The Amplitude pipeline run that finished {_when(run.finished_at)} succeeded "
            "after the failure reported before.",
            "",
            *_ids(run),
        ]
    )
    return Message("recovered", run.run_group_id, _subject(settings, "pipeline recovered"), body)


def test_message(now: datetime, settings: AlertSettings) -> Message:
    body = "\n".join(
        [
            f"A test message sent {_when(now)} on request (amplitude_doctor).",
            f"Channels set: {', '.join(settings.channels) or 'none'}.",
        ]
    )
    return Message("test", None, _subject(settings, "test message"), body)


# ---- the queries and the sends -----------------------------------------------------------------


def runs_query(settings: AlertSettings) -> str:
    # A month is ample to find the start of a failure streak and the last good run.
    return (
        "select run_group_id, finished_at, succeeded, tasks "
        f"from {settings.runs_table} where finished_at >= dateadd(day, -30, sysdate()) "
        "order by finished_at"
    )


def sent_query(settings: AlertSettings) -> str:
    return (
        f"select sent_at, kind, run_group_id from {settings.sent_table} "
        "where sent_at >= dateadd(day, -30, sysdate())"
    )


def record_query(settings: AlertSettings) -> str:
    return (
        f"insert into {settings.sent_table} (sent_at, kind, run_group_id, subject, channels) "
        "select sysdate(), ?, ?, ?, ?"
    )


def now_query() -> str:
    return "select sysdate()"


# SYSTEM$SEND_EMAIL(integration, recipients, subject, body): USAGE on the integration; the
# recipients must be verified users of the account (user-guide/notifications/
# email-notifications). SYSTEM$SEND_SNOWFLAKE_NOTIFICATION with the message passed through
# SANITIZE_WEBHOOK_CONTENT, so no placeholder in an error text can pull the secret into a
# message (sql-reference/functions/sanitize_webhook_content); sending needs USAGE on the
# integration and READ on its secret (user-guide/notifications/webhook-notifications).
SEND_EMAIL = "call system$send_email(?, ?, ?, ?)"
SEND_WEBHOOK = (
    "call system$send_snowflake_notification("
    "snowflake.notification.text_plain(snowflake.notification.sanitize_webhook_content(?)), "
    "snowflake.notification.integration(?))"
)


def send(run_sql: Queries, message: Message, settings: AlertSettings) -> list[str]:
    """Send to every channel set; the channels it went to."""
    channels = []
    if settings.email_on:
        run_sql(
            SEND_EMAIL,
            [
                settings.email_integration,
                ",".join(settings.email_recipients),
                message.subject,
                message.body,
            ],
        )
        channels.append("email")
    if settings.webhook_integration:
        run_sql(SEND_WEBHOOK, [message.webhook_text(), settings.webhook_integration])
        channels.append("webhook")
    return channels


def queries(settings: AlertSettings, settings_table: str) -> list[str]:
    """Every statement the procedure runs but the sends (`SEND_EMAIL`, `SEND_WEBHOOK`,
    which run only with a channel set); tests replay them against sql/privileges.yml."""
    return [
        settings_query(settings_table),
        now_query(),
        runs_query(settings),
        sent_query(settings),
        record_query(settings),
    ]


def read_settings(run_sql: Queries, settings_table: str) -> AlertSettings:
    return AlertSettings.from_rows(text_pairs(run_sql(settings_query(settings_table), [])))


def notify(run_sql: Queries, settings_table: str, test: bool = False) -> dict[str, Any]:
    """The whole procedure over a `run_sql(query, params) -> rows` callable."""
    settings = read_settings(run_sql, settings_table)
    if not settings.channels:
        return {"sent": None, "reason": "alerts are off: no channel is set"}
    now = run_sql(now_query(), [])[0][0]
    if test:
        message: Message | None = test_message(now, settings)
    else:
        runs = [Run.from_row(r) for r in run_sql(runs_query(settings), [])]
        sent = [Sent.from_row(r) for r in run_sql(sent_query(settings), [])]
        message = decide(runs, sent, now, settings)
    if message is None:
        return {"sent": None, "reason": "nothing new to tell"}
    channels = send(run_sql, message, settings)
    run_sql(
        record_query(settings),
        [message.kind, message.run_group_id, message.subject, ",".join(channels)],
    )
    return {"sent": message.kind, "run_group_id": message.run_group_id, "channels": channels}


def amplitude_send_alerts(
    session: Session,
    test: bool = False,
    settings_table: str = ALERT_SETTINGS_TABLE,
) -> dict:  # type: ignore[type-arg]  # Snowpark maps a plain dict to the VARIANT it returns
    """CALL amplitude_send_alerts([test [, settings_table]]): the finalizer and the ALERT."""
    return notify(SessionGate(session).rows, settings_table, test)


# ---- for the doctor -----------------------------------------------------------------------------


def integration_query(settings: AlertSettings) -> str | None:
    """DESC of the email integration: its ALLOWED_RECIPIENTS. CREATE NOTIFICATION
    INTEGRATION fails when an address in ALLOWED_RECIPIENTS is not verified (user-guide/
    notifications/email-notifications), so an address on that list was verified when the
    integration was made; an address off it cannot be sent to."""
    if not settings.email_integration:
        return None
    return f"describe notification integration {settings.email_integration}"


def allowed_recipients(rows: Iterable[Sequence[Any]]) -> list[str] | None:
    """ALLOWED_RECIPIENTS from DESC INTEGRATION rows (property, type, value, default);
    None when the integration sets no list (any verified user may then receive)."""
    for row in rows:
        if str(row[0]).upper() == "ALLOWED_RECIPIENTS":
            found = re.findall(r"[^\s,\[\]'\"]+@[^\s,\[\]'\"]+", str(row[2] or ""))
            return [f.lower() for f in found] or None
    return None


def alerts_off_check(settings: AlertSettings | None) -> CheckResult:
    """ "alerts are off" when no channel is set."""
    if settings is None or not settings.channels:
        return CheckResult(
            "alerts",
            WARN,
            "alerts are off: no email or webhook channel is set, so nobody is told when a "
            "run fails",
            "make deploy-alerts ALERT_EMAILS=you@example.com (and/or export "
            "AMP_ALERT_WEBHOOK_SECRET=... first): README, Alerts",
        )
    return CheckResult("alerts", OK, f"alerts go to: {', '.join(settings.channels)}")


def recipients_check(settings: AlertSettings | None, allowed: list[str] | None) -> CheckResult:
    """Each email recipient is on the integration's ALLOWED_RECIPIENTS, which Snowflake
    only accepts for verified addresses of users in the account.

    `allowed`: `allowed_recipients()` of the DESC rows; None: the integration sets no list
    (then no query this role may run can tell; the test message proves it)."""
    if settings is None or not settings.email_on:
        return CheckResult("alert_recipients", OK, "no email channel")
    if allowed is None:
        return CheckResult(
            "alert_recipients",
            WARN,
            "the email integration has no ALLOWED_RECIPIENTS, so no query can tell whether "
            "the recipients are verified users of this account",
            "send the test message (CALL amplitude_send_alerts(true)); each recipient verifies "
            f"their address in Snowsight: {DOC_EMAIL}",
        )
    missing = [r for r in settings.email_recipients if r.lower() not in allowed]
    if missing:
        return CheckResult(
            "alert_recipients",
            FAIL,
            "SYSTEM$SEND_EMAIL reaches only verified addresses of users in the account, and "
            f"only those on ALLOWED_RECIPIENTS: not on it: {', '.join(missing)}",
            "each recipient verifies their address in Snowsight (Profile), or an admin calls "
            "SYSTEM$START_USER_EMAIL_VERIFICATION('<user>'); then make deploy-alerts "
            f"ALERT_EMAILS=... again: {DOC_EMAIL}",
        )
    return CheckResult(
        "alert_recipients",
        OK,
        f"{len(settings.email_recipients)} recipient(s), each on ALLOWED_RECIPIENTS "
        "(verified when the integration was made)",
    )


def test_send_check(run_sql: Queries, settings_table: str) -> CheckResult:
    """Send a test message on request; the row says where it went or why it could not."""
    try:
        result = notify(run_sql, settings_table, test=True)
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure as a row
        return CheckResult(
            "alert_test_message",
            FAIL,
            f"the test message could not be sent: {cut(scrub(str(exc)))}",
            f"check the integrations' grants and the recipients: {DOC_EMAIL}, {DOC_WEBHOOK}",
        )
    if result.get("sent") is None:
        return CheckResult("alert_test_message", WARN, str(result.get("reason")))
    return CheckResult(
        "alert_test_message", OK, f"test message sent to: {', '.join(result['channels'])}"
    )


def doctor_checks(
    run_sql: Queries, settings_table: str = ALERT_SETTINGS_TABLE, send_test: bool = False
) -> list[CheckResult]:
    """The doctor's rows for alerts, in order: whether they are on, whether the email
    recipients are allowed (verified) ones, and, on request, a test message."""
    try:
        settings: AlertSettings | None = read_settings(run_sql, settings_table)
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure as a row
        return [
            CheckResult(
                "alerts",
                FAIL,
                f"cannot read the alert settings: {cut(scrub(str(exc)))}",
                "re-run sql/75_alerts.sql (make deploy-graph)",
            )
        ]
    rows = [alerts_off_check(settings)]
    allowed: list[str] | None = None
    query = integration_query(settings) if settings is not None else None
    if query is not None:
        try:
            allowed = allowed_recipients(run_sql(query, []))
        except Exception as exc:  # noqa: BLE001
            rows.append(
                CheckResult(
                    "alert_recipients",
                    FAIL,
                    f"cannot describe the email integration: {cut(scrub(str(exc)))}",
                    "make deploy-alerts ALERT_EMAILS=... (it grants USAGE to the pipeline role)",
                )
            )
            query = None
    if query is not None:
        rows.append(recipients_check(settings, allowed))
    if send_test:
        rows.append(test_send_check(run_sql, settings_table))
    return rows


def doctor_queries(
    settings: AlertSettings, settings_table: str = ALERT_SETTINGS_TABLE
) -> list[str]:
    """What `doctor_checks` runs besides the procedure's own queries (for the replay)."""
    out = [settings_query(settings_table)]
    query = integration_query(settings)
    if query is not None:
        out.append(query)
    return out

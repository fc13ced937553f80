"""`CALL amplitude_doctor()`: is this deployment wired end to end? What to do if not.

`make deploy` runs it before it resumes the schedule, `make doctor` runs it any time, and
a worksheet can call it. One row per check: its status (ok, warn, fail), what it found,
and the command that fixes it. With `strict => true` the call fails when a check fails,
so `make` stops.

Checks, in order:
  storage_integration  SYSTEM$VALIDATE_STORAGE_INTEGRATION on the stage's S3 prefix (the
                       IAM trust: DESC INTEGRATION gives the values the trust policy needs),
                       both run by AMPLITUDE_CHECK_STORAGE_INTEGRATION(), an owner's-rights
                       procedure of the admin role (sql/30): the pipeline role holds no
                       USAGE on the integration, so it cannot point stages at the bucket
  pipe                 SYSTEM$PIPE_STATUS: running, and its notification channel (the SQS
                       queue the bucket's event notification must send to)
  export_api           a request to the Export API through the external access integration,
                       with the bound secret (an hour long before any project: 404 is good)
  secret               the secret is readable and not empty, and ingest_amplitude() is bound
                       to the integration and the secret (DESCRIBE PROCEDURE)
  dbt_project          the dbt project object exists and runs dbt >= the version required
                       (DESCRIBE DBT PROJECT's dbt_version; unreadable is a failure)
  tasks                each task of the graph exists; its state; the last error of each;
                       a started graph with a suspended task fails, naming SHOW TASKS'
                       last_suspended_reason (as does any task suspended due to errors)
  round_trip           a marker file written to events/_doctor/ through the stage arrives in
                       the raw table through the pipe (then its rows and file are removed).
                       The clean-up also runs first in every doctor run: a marker the pipe
                       loaded after an earlier run gave up waiting is removed by the next
  alerts ...           alerts on or off, email recipients allowed (verified), and with
                       `test_alert => true` a test message: amplitude_ingest/in_snowflake/alerts.py

This module is the round of checks and the handler; the rest is split by what it does:
  doctor_verdicts.py    each check's row, a plain function of recorded answers
  doctor_sql.py         the statements it sends (`queries()`: the privilege replay's list)
  doctor_round_trip.py  the marker's trip through stage and pipe; `Probe`, the only I/O
  settings_table.py     `DoctorSettings`, its view of the settings table
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from amplitude_ingest.errors import AmplitudeIngestError
from amplitude_ingest.in_snowflake import alerts
from amplitude_ingest.in_snowflake.checks import FAIL, CheckResult
from amplitude_ingest.in_snowflake.doctor_round_trip import Probe, attempt, round_trip
from amplitude_ingest.in_snowflake.doctor_sql import (
    dbt_project_query,
    describe_procedure_query,
    marker_cleanup_query,
    pipe_status_query,
    show_tasks_query,
    storage_check_query,
    task_history_query,
)
from amplitude_ingest.in_snowflake.doctor_verdicts import (
    check_dbt_project,
    check_export_api,
    check_pipe,
    check_round_trip,
    check_secret,
    check_storage_integration,
    check_tasks,
    report,
)
from amplitude_ingest.in_snowflake.names import SECRET_ALIAS
from amplitude_ingest.in_snowflake.session import SessionGate, text_pairs
from amplitude_ingest.in_snowflake.settings_table import (
    SETTINGS_TABLE,
    DoctorSettings,
    settings_query,
)
from amplitude_ingest.in_snowflake.text import cut

if TYPE_CHECKING:
    from collections.abc import Callable

    from snowflake.snowpark import DataFrame, Session

# An hour long before any Amplitude project existed: the request proves the host is
# reachable and the key pair accepted (404: no data) without exporting anything.
PROBE_HOUR = "20100101T00"


class DoctorFailedError(AmplitudeIngestError):
    """A check failed (strict mode): the message is the report."""


def storage_answer(value: Any) -> tuple[str, list[dict[str, str]]]:
    """AMPLITUDE_CHECK_STORAGE_INTEGRATION()'s VARIANT (Snowpark hands it over as JSON
    text): SYSTEM$VALIDATE_STORAGE_INTEGRATION's answer, and the trust values of DESC
    INTEGRATION as its rows (property, property_value)."""
    answer = json.loads(value) if isinstance(value, str) else value
    if not isinstance(answer, Mapping):
        raise AmplitudeIngestError(f"unexpected answer from the storage check: {cut(str(value))}")
    trust = answer.get("integration") or {}
    rows = [{"property": str(k), "property_value": str(v)} for k, v in trust.items()]
    return str(answer.get("validation") or ""), rows


def export_url(settings: DoctorSettings) -> str:
    return f"https://{settings.export_host}/api/2/export?start={PROBE_HOUR}&end={PROBE_HOUR}"


def run_checks(
    probe: Probe,
    settings: DoctorSettings,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckResult]:
    # First, the rows of any marker the pipe loaded after an earlier run stopped waiting for
    # it (the pipe is asynchronous: a late marker would otherwise stay in the raw table).
    late = attempt(lambda: int(_first(probe.sql(marker_cleanup_query(settings))) or 0))
    storage = attempt(lambda: storage_answer(_first(probe.sql(storage_check_query(settings)))))
    validated = storage if isinstance(storage, Exception) else storage[0]
    described = [] if isinstance(storage, Exception) else storage[1]
    pipe_answer = attempt(lambda: str(_first(probe.sql(pipe_status_query(settings)))))
    credentials = attempt(probe.secret)
    url = export_url(settings)
    status = (
        credentials
        if isinstance(credentials, Exception)
        else attempt(lambda: probe.http_status(url, *credentials))
    )
    description = attempt(lambda: probe.sql(describe_procedure_query(settings)))
    projects = attempt(lambda: probe.sql(dbt_project_query(settings)))
    shown = attempt(lambda: probe.sql(show_tasks_query(settings)))
    history = attempt(
        lambda: probe.sql(task_history_query(settings), [settings.task_schema.split(".")[1]])
    )
    last_runs = (
        {}
        if isinstance(history, Exception)
        else {str(r.get("name", "")).upper(): r for r in history}
    )
    trip = round_trip(probe, settings, clock, sleep)
    return [
        check_storage_integration(validated, described, settings),
        check_pipe(pipe_answer, settings),
        check_export_api(status, settings, url),
        check_secret(credentials, description, settings),
        check_dbt_project(projects, settings),
        check_tasks(shown, last_runs, settings),
        check_round_trip(trip, pipe_answer, settings, late),
    ]


def _first(rows: Sequence[Mapping[str, Any]]) -> Any:
    if not rows:
        raise AmplitudeIngestError("the query returned no row")
    return next(iter(rows[0].values()))


# ---- in Snowflake ---------------------------------------------------------------------------


class SessionProbe:
    """The Probe over a Snowpark session, inside the procedure."""

    def __init__(self, session: Session) -> None:
        self._gate = SessionGate(session)

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._gate.records(query, params)

    def secret(self) -> tuple[str, str]:
        import _snowflake  # exists inside Snowflake only (ignored by mypy config)

        credentials = _snowflake.get_username_password(SECRET_ALIAS)
        return str(credentials.username), str(credentials.password)

    def http_status(self, url: str, username: str, password: str) -> int:
        token = b64encode(f"{username}:{password}".encode()).decode()
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})  # noqa: S310 - https only, host from settings
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return int(response.status)  # the body (an export) is never read
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def put(self, location: str, name: str, data: bytes) -> None:
        with self._gate() as session:
            session.file.put_stream(
                io.BytesIO(data), f"{location}{name}", auto_compress=False, overwrite=True
            )


def amplitude_doctor(
    session: Session,
    strict: bool = False,
    settings_table: str = SETTINGS_TABLE,
    test_alert: bool = False,
) -> DataFrame:
    """CALL amplitude_doctor([strict [, settings_table [, test_alert]]]): one row per check;
    `test_alert => true` also sends a test message to every alert channel that is set."""
    gate = SessionGate(session)
    rows = gate.rows(settings_query(settings_table))
    settings = DoctorSettings.from_rows(text_pairs(rows), settings_table)
    results = run_checks(SessionProbe(session), settings) + alerts.doctor_checks(
        gate.rows, alerts.alert_settings_table(settings_table), send_test=bool(test_alert)
    )
    if strict and any(r.status == FAIL for r in results):
        raise DoctorFailedError(report(results))
    return session.create_dataframe(
        [[r.check_name, r.status, r.detail, r.fix] for r in results],
        schema=["CHECK_NAME", "STATUS", "DETAIL", "FIX"],
    )

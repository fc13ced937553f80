"""``CALL code.amplitude_doctor()``: the app's checks, one CheckResult row each.

The rows have the S3 form's doctor's shape (check_name, status, detail, fix). Three of
the checks answer what only an account can: the docs leave each open, so the doctor
reports what it found on this account's first runs.

  specification             the external access request is approved (SHOW SPECIFICATIONS)
  key_pair                  amplitude_set_credentials() has stored a key pair (run history)
  settings                  the settings table parses (the export's own parser) and
                            stage_retention_days is in range
  tasks                     the three tasks of the graph exist (SHOW TASKS IN SCHEMA state)
  export_api                one Export API request through the app's EAI with the app's
                            PASSWORD secret (an hour before any project: 404 is good).
                            Open point: an app-owned PASSWORD secret behind an app-owned
                            EAI is documented for OAuth only
  copy_from_app_stage       the load history holds a LOADED file. Open point: COPY from the
                            app's own internal stage
  task_external_access      an ingest run started by the root task succeeded. Open point: a
                            task (on the app's own warehouse) calling a Python procedure
                            with external access
  stranded_files            no staged file older than COPY's 64-day load metadata is unloaded

Verdicts are plain functions of what Snowflake answered (tests feed them plain values);
:func:`gather` is the only I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from snowflake.snowpark import DataFrame, Session

from amplitude_ingest.errors import ConfigurationError
from amplitude_ingest.in_snowflake.checks import FAIL, OK, WARN, CheckResult
from amplitude_ingest.in_snowflake.native_app import app_settings, names, retention, run_history
from amplitude_ingest.in_snowflake.native_app.credentials import STEP as CREDENTIALS_STEP
from amplitude_ingest.in_snowflake.native_app.load_step import LOADED

INGEST_STEP = "ingest"
DOC_SPECS = "https://docs.snowflake.com/en/developer-guide/native-apps/requesting-app-specs-eai"
EXTERNAL_ACCESS = "EXTERNAL_ACCESS"
SHOW_SPECIFICATIONS = "show specifications"  # an app may omit IN APPLICATION (its page)
SHOW_TASKS = f"show tasks in schema {names.TASK_SCHEMA}"
SET_KEYS = (
    "Set the key pair in the app's Streamlit (Credentials), or CALL "
    "code.amplitude_set_credentials(?, ?) with the keys as bind variables"
)


@dataclass(frozen=True)
class Found:
    """What the doctor found: each answer, or the exception asking for it raised."""

    specifications: list[Mapping[str, Any]] | Exception
    key_pair_set: bool | Exception
    settings_problem: str | None
    tasks: list[Mapping[str, Any]] | Exception
    export_status: int | Exception | None  # None: not asked (not approved, or no keys)
    loads: list[tuple[str, str | None]] | Exception  # (status, first_error) per file
    task_ingests: list[tuple[str, str | None]] | Exception  # (status, first_error)
    stranded: list[str] | Exception = field(default_factory=list)


def settings_problem(rows: Mapping[str, str | None]) -> str | None:
    """What is wrong with the app's settings rows, or None: the export's own parser, then
    the retention's range (the Streamlit checks a change with this before saving it)."""
    from amplitude_ingest.in_snowflake.settings_table import ProcedureConfig

    try:
        ProcedureConfig.from_rows(dict(rows), names.SETTINGS)
        by_name = {name.strip().lower(): value for name, value in rows.items()}
        retention.retention_days(by_name.get(app_settings.RETENTION_DAYS))
    except ConfigurationError as exc:
        return str(exc)
    return None


def specification_status(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """APPROVED when every external access specification is; else DECLINED if one is,
    else PENDING; None when the app has requested none."""
    statuses = [
        str(_lower(r).get("status", "")).upper()
        for r in rows
        if str(_lower(r).get("type", "")).upper().replace(" ", "_") == EXTERNAL_ACCESS
    ]
    if not statuses:
        return None
    if all(s == "APPROVED" for s in statuses):
        return "APPROVED"
    return "DECLINED" if "DECLINED" in statuses else "PENDING"


def check_specification(rows: list[Mapping[str, Any]] | Exception) -> CheckResult:
    if isinstance(rows, Exception):
        return CheckResult("specification", FAIL, f"SHOW SPECIFICATIONS failed: {rows}")
    status = specification_status(rows)
    if status == "APPROVED":
        return CheckResult("specification", OK, "the Amplitude external access is approved")
    what = {
        None: "the app has requested no external access: run `snow app run` again (setup)",
        "DECLINED": "the Amplitude external access request was declined",
        "PENDING": "the Amplitude external access request waits for approval",
    }[status]
    return CheckResult(
        "specification",
        FAIL,
        f"{what}; nothing calls Amplitude until it is approved",
        f"Approve the app's external access request in Snowsight (the app's page) ({DOC_SPECS})",
    )


def check_key_pair(found: bool | Exception) -> CheckResult:
    if isinstance(found, Exception):
        return CheckResult("key_pair", FAIL, f"run history unreadable: {found}", SET_KEYS)
    if found:
        return CheckResult("key_pair", OK, f"a key pair is stored in {names.SECRET}")
    return CheckResult("key_pair", FAIL, "no key pair has been set yet", SET_KEYS)


def check_settings(problem: str | None) -> CheckResult:
    if problem:
        return CheckResult(
            "settings",
            FAIL,
            problem,
            f"Fix the row in {names.SETTINGS} (the app's Streamlit, Settings)",
        )
    return CheckResult("settings", OK, f"{names.SETTINGS} parses")


def check_tasks(rows: list[Mapping[str, Any]] | Exception) -> CheckResult:
    if isinstance(rows, Exception):
        return CheckResult("tasks", FAIL, f"SHOW TASKS failed: {rows}")
    shown = {str(_lower(r).get("name", "")).lower(): r for r in rows}
    wanted = [t.split(".")[-1] for t in names.TASKS]
    missing = [t for t in wanted if t not in shown]
    if missing:
        return CheckResult(
            "tasks",
            FAIL,
            f"missing task(s): {', '.join(missing)}",
            "Run `snow app run` again: the setup script creates the task graph",
        )
    states = ", ".join(f"{t} {str(_lower(shown[t]).get('state', '?')).lower()}" for t in wanted)
    return CheckResult("tasks", OK, states)


def check_export_api(status: int | Exception | None, host: str) -> CheckResult:
    name = "export_api"
    if status is None:
        return CheckResult(
            name,
            WARN,
            "not tried: the external access must be approved and a key pair set first",
        )
    if isinstance(status, Exception):
        return CheckResult(
            name,
            FAIL,
            f"no answer from {host} through {names.EXTERNAL_ACCESS_INTEGRATION}: {status}",
            "If the error names the secret or the integration, this account does not let an "
            "app's PASSWORD secret work behind the app's own external access integration "
            "(documented for OAuth only): report it with this row",
        )
    if status in (200, 404):
        return CheckResult(
            name,
            OK,
            f"{host} answered {status} through the app's integration with the app's "
            "PASSWORD secret (confirmed on this account)",
        )
    if status in (401, 403):
        return CheckResult(
            name,
            FAIL,
            f"{host} refused the key pair ({status}): wrong keys, or the other data region",
            SET_KEYS + "; or set the region setting to eu (or us)",
        )
    return CheckResult(name, WARN, f"{host} is reachable but answered {status}")


def check_copy_from_app_stage(loads: list[tuple[str, str | None]] | Exception) -> CheckResult:
    name = "copy_from_app_stage"
    if isinstance(loads, Exception):
        return CheckResult(name, FAIL, f"{names.LOAD_HISTORY} unreadable: {loads}")
    if any(status.upper() == LOADED for status, _ in loads):
        return CheckResult(name, OK, "COPY has loaded files from the app's stage")
    failed = [error for status, error in loads if status.upper() != LOADED]
    if failed:
        return CheckResult(
            name,
            FAIL,
            f"no file has loaded yet; the first error: {failed[0] or 'none given'}",
            f"See {names.FAILURES_VIEW}",
        )
    return CheckResult(name, WARN, "not yet observed: the first amplitude_load() run shows it")


def check_task_external_access(runs: list[tuple[str, str | None]] | Exception) -> CheckResult:
    name = "task_external_access"
    if isinstance(runs, Exception):
        return CheckResult(name, FAIL, f"{names.RUN_HISTORY} unreadable: {runs}")
    if any(status == run_history.OK for status, _ in runs):
        return CheckResult(name, OK, "the root task has run ingest_amplitude() to the end")
    if runs:
        return CheckResult(
            name,
            FAIL,
            f"every ingest run by the task failed; the last error: {runs[-1][1] or 'none'}",
            "If the error is about external access or the secret inside a task, report it with "
            "this row: a worksheet CALL code.ingest_amplitude() shows whether only tasks fail",
        )
    return CheckResult(name, WARN, "not yet observed: the first scheduled run shows it")


def check_stranded(stranded: list[str] | Exception) -> CheckResult:
    name = "stranded_files"
    if isinstance(stranded, Exception):
        return CheckResult(name, WARN, f"could not list the stage: {stranded}")
    if stranded:
        return CheckResult(
            name,
            FAIL,
            f"{len(stranded)} file(s) never loaded and are older than COPY's "
            f"{retention.LOAD_METADATA_DAYS}-day load metadata, so COPY skips them for good: "
            f"{', '.join(stranded[:5])}",
            "Re-export those hours: CALL code.ingest_amplitude(start, end, true)",
        )
    return CheckResult(name, OK, "no unloaded file is past load metadata")


def verdicts(found: Found, host: str) -> list[CheckResult]:
    return [
        check_specification(found.specifications),
        check_key_pair(found.key_pair_set),
        check_settings(found.settings_problem),
        check_tasks(found.tasks),
        check_export_api(found.export_status, host),
        check_copy_from_app_stage(found.loads),
        check_task_external_access(found.task_ingests),
        check_stranded(found.stranded),
    ]


def task_ingests(rows: Sequence[tuple[str, str | None, Any]]) -> list[tuple[str, str | None]]:
    """Ingest runs (status, first_error, summary) that a task started: the summary
    names the task (``ingest_step`` records it)."""
    picked = []
    for status, error, summary in rows:
        data = json.loads(summary) if isinstance(summary, str) else (summary or {})
        if isinstance(data, Mapping) and data.get("task"):
            picked.append((status, error))
    return picked


def _lower(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in row.items()}


def _attempt(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported, not raised
        return exc


# ---- in Snowflake ---------------------------------------------------------------------------


def gather(session: Session) -> tuple[Found, str]:
    from snowflake.snowpark.functions import col

    from amplitude_ingest.in_snowflake import doctor
    from amplitude_ingest.in_snowflake.ingest import read_config
    from amplitude_ingest.in_snowflake.session import SessionGate, text_pairs

    gate = SessionGate(session)

    def rows(query: str) -> list[Mapping[str, Any]]:
        return list(gate.records(query))

    def history(step: str) -> list[tuple[str, str | None, Any]]:
        frame = session.table(names.RUN_HISTORY).filter(col("STEP") == step)
        picked = frame.sort(col("STARTED_AT")).select("STATUS", "FIRST_ERROR", "SUMMARY")
        return [(str(r[0]), r[1], r[2]) for r in picked.collect()]

    settings = _attempt(
        lambda: text_pairs(session.table(names.SETTINGS).select("NAME", "VALUE").collect())
    )
    problem = str(settings) if isinstance(settings, Exception) else settings_problem(settings)
    config = _attempt(lambda: read_config(gate, names.SETTINGS))
    specs = _attempt(lambda: rows(SHOW_SPECIFICATIONS))
    keys = _attempt(
        lambda: any(status == run_history.OK for status, _, _ in history(CREDENTIALS_STEP))
    )
    approved = not isinstance(specs, Exception) and specification_status(specs) == "APPROVED"
    host, status = "the Amplitude host", None
    if not isinstance(config, Exception):
        url = config.export_url
        host = url.split("/")[2]
        if approved and keys is True:
            probe = doctor.SessionProbe(session)
            # The S3 form's probe hour: long before any project, so 404 means reachable.
            query = f"{url}?start={doctor.PROBE_HOUR}&end={doctor.PROBE_HOUR}"
            status = _attempt(lambda: probe.http_status(query, *probe.secret()))
    loads = _attempt(
        lambda: [
            (str(r[0]), r[1])
            for r in session.table(names.LOAD_HISTORY).select("STATUS", "FIRST_ERROR").collect()
        ]
    )
    staged = _attempt(lambda: retention.list_stage(session))
    loaded = _attempt(lambda: retention.read_loaded(session))
    stranded = (
        staged
        if isinstance(staged, Exception)
        else loaded
        if isinstance(loaded, Exception)
        else retention.stranded(staged, loaded, datetime.now(UTC))
    )
    found = Found(
        specifications=specs,
        key_pair_set=keys,
        settings_problem=problem,
        tasks=_attempt(lambda: rows(SHOW_TASKS)),
        export_status=status,
        loads=loads,
        task_ingests=_attempt(lambda: task_ingests(history(INGEST_STEP))),
        stranded=stranded,
    )
    return found, host


def run_checks(session: Session) -> list[CheckResult]:
    found, host = gather(session)
    return verdicts(found, host)


def amplitude_doctor(session: Session) -> DataFrame:
    """CALL code.amplitude_doctor(): one row per check."""
    results = run_checks(session)
    return session.create_dataframe(
        [[r.check_name, r.status, r.detail, r.fix] for r in results],
        schema=["CHECK_NAME", "STATUS", "DETAIL", "FIX"],
    )
